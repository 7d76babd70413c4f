"""Benchmark `fashion_clf.eda` at competition scale.

Usage:
  python benchmarks/eda.py labels [--n 1000000] [--repeats 3] [--baseline-n 100000]
  python benchmarks/eda.py scale [--dir /tmp/eda_scale] [--repeats 2] [--n-train 1014544]

`labels` builds a DataFrame of N images with ~8 labels each (7.9 on average, drawn from the 228 labels with Zipf-like
frequencies, like the real train.json: Poisson(10) draws less repeats; every label is a distinct str object, as
`core.load_imat` returns them) and times, as the median of several repeats:
  - the CSR multi-hot matrix from the DataFrame's label lists (`core.encode_sparse` over the 228 labels, what eda does
    unless an id outside 1..228 occurs; then it first takes `core.label_vocab`, also timed)
  - `label_counts` + `labels_per_image` on that matrix
  - `cooccurrence` (XᵀX, 228×228) on that matrix, its `method='pairs'` variant, and the derived views (conditional, lift, top pairs)
  - the whole path from the DataFrame: matrix + counts + co-occurrence by XᵀX (the bar: ≤ 5 s for 1M images)
The baseline for counts + co-occurrence is the plain-Python way (a Counter over each image's labels and
`itertools.combinations` of them), timed once on the first BASELINE_N images and scaled linearly to N.

`scale` writes (once; reused when present) Kaggle-form train.json (1,014,544 records, ~8 long-tailed labels of 228),
validation.json (9,897) and test.json (39,706, int ids, no annotations), and a fetch store whose manifest.csv lists
every training image (98% ok, the rest 404s and timeouts) with paths pointing at 8 real small JPEGs. It then runs
`fashion-eda train.json validation.json test.json --images STORE --report REPORT` under `/usr/bin/time -v` and prints
its wall time and peak memory (the bar: ≤ 60 s), beside the baseline of loading the three JSON files alone
(`core.load_imat`, a fresh process) measured in the same run: what eda itself costs is the difference.
"""
import argparse, os, re, statistics, subprocess, sys, time
from collections import Counter
from itertools import combinations
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
from PIL import Image

from fashion_clf.core import MANIFEST_COLUMNS, encode_sparse, label_vocab
from fashion_clf.eda import label_counts, labels_per_image, cooccurrence, conditional, lift, top_pairs

BIN = Path(sys.executable).parent


def make_labels(n, seed=0):
    "A DataFrame `image_id, labels` of `n` images, ~8 distinct labels each, skewed label frequencies"
    rng = np.random.default_rng(seed)
    p = 1 / np.arange(1, 229) ** 1.1; p /= p.sum()
    k = rng.poisson(10, n).clip(1, 25)
    # draw with replacement, then drop repeats within an image (as load_imat does): ~7.9 distinct labels per image
    flat = rng.choice(228, int(k.sum()), p=p) + 1
    ends = np.cumsum(k)
    labels = [list(dict.fromkeys(a)) for a in np.split(flat.astype('U3').tolist(), ends[:-1])]
    return pd.DataFrame({'image_id': np.arange(1, n + 1).astype(str), 'labels': labels})


def timeit(f, repeats):
    "Median wall time of `f` over `repeats` calls, and its result; the median CPU time goes to `timeit.cpu`"
    ts, cs, r = [], [], None
    for _ in range(repeats):
        c, t = time.process_time(), time.perf_counter(); r = f(); ts.append(time.perf_counter() - t); cs.append(time.process_time() - c)
    timeit.cpu = statistics.median(cs)
    return statistics.median(ts), r


def python_loop(labels):
    "Counts and pair counts the plain-Python way"
    cnt, pairs = Counter(), Counter()
    for ls in labels:
        cnt.update(ls)
        pairs.update(combinations(sorted(ls, key=int), 2))
    return cnt, pairs


def bench_labels(a):
    t = time.perf_counter(); df = make_labels(a.n)
    nnz = int(df.labels.map(len).sum())
    print(f"built {a.n:,} images, {nnz:,} labels ({nnz / a.n:.2f}/image) in {time.perf_counter() - t:.1f}s; median of {a.repeats} repeats:")
    v = label_vocab()  # the 228 labels: what eda encodes with unless an id outside 1..228 occurs
    tb, X = timeit(lambda: encode_sparse(df.labels, v), a.repeats); cb = timeit.cpu
    tv, _ = timeit(lambda: label_vocab(df.labels), a.repeats); cv = timeit.cpu
    tc, (c, k) = timeit(lambda: (label_counts(X, v), labels_per_image(X)), a.repeats); cc = timeit.cpu
    tx, C = timeit(lambda: cooccurrence(X, v), a.repeats); cx = timeit.cpu
    tq, Cq = timeit(lambda: cooccurrence(X, v, method='pairs'), a.repeats); cq = timeit.cpu
    assert (Cq.values == C.values).all()
    td, _ = timeit(lambda: (conditional(C), lift(C), top_pairs(C, 20), top_pairs(C, 20, by='lift', min_count=100)), a.repeats); cd = timeit.cpu
    one = lambda method: (lambda X: (label_counts(X, v), cooccurrence(X, v, method=method)))(encode_sparse(df.labels, v))
    tall, (c2, C2) = timeit(lambda: one('sparse'), a.repeats); call = timeit.cpu
    tall2, _ = timeit(lambda: one('pairs'), a.repeats); call2 = timeit.cpu
    assert (np.diag(C.values) == c['count'].values).all() and (C2.values == C.values).all()
    nb = min(a.baseline_n, a.n)
    t = time.perf_counter(); cnt, pairs = python_loop(df.labels.iloc[:nb]); tp = (time.perf_counter() - t) * a.n / nb
    Cs = cooccurrence(df.labels.iloc[:nb], v)  # cross-check against the loop on the same images
    assert all(Cs.loc[x, y] == n_ for (x, y), n_ in list(pairs.items())[:2000]) and all(Cs.loc[l, l] == n_ for l, n_ in cnt.items())
    print(f"  {'step':52s} {'wall s':>7s} {'CPU s':>7s}")
    row = lambda name, t, c, extra='': print(f"  {name:52s} {t:7.2f} {c:7.2f}   {extra}")
    row('multi-hot CSR (core.encode_sparse, 228 labels)', tb, cb)
    row('core.label_vocab (only when an id outside 1..228)', tv, cv)
    row('label_counts + labels_per_image', tc, cc)
    row(f'cooccurrence (XᵀX, {len(v)}×{len(v)})', tx, cx, f'{C.values.sum() - nnz:,} ordered pairs')
    row("cooccurrence(method='pairs')", tq, cq, 'bincount of label pairs, grouped by labels per image')
    row('conditional + lift + 2× top_pairs', td, cd)
    row('DataFrame -> X -> counts + co-occurrence (XᵀX)', tall, call, 'bar: <= 5 s')
    row("  the same with method='pairs' (what the report uses)", tall2, call2)
    row('Python Counter + combinations', tp, tp, f'timed on {nb:,} images, scaled to {a.n:,}: ratio {tp / tall:.1f}x (XᵀX), {tp / tall2:.1f}x (pairs)')
    print(f"  load average while running: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (wall times on a busy machine overstate; CPU times do not)")


# ---------------------------------------------------------------- the full-scale fashion-eda run
N_TRAIN, N_VALID, N_TEST = 1_014_544, 9_897, 39_706
JPEG_SIZES = [(384, 384), (384, 512), (288, 384), (384, 384), (384, 256), (384, 384), (300, 384), (384, 480)]


def _url(i, split):
    return f'https://contestimg.wish.com/api/webimage/{split[0]}{i:07d}5a1b2c3d4e5f-large'


def _kaggle_json(path, n, split, seed, labelled=True):
    "Write a Kaggle-form competition file of `n` records (int ids and no annotations when not `labelled`)"
    ids = [str(i) for i in range(1, n + 1)]
    d = {'images': [{'url': _url(i, split), 'imageId': (s if labelled else i)} for i, s in enumerate(ids, 1)]}
    if labelled:
        d['annotations'] = [{'labelId': l, 'imageId': i} for i, l in zip(ids, make_labels(n, seed).labels)]
    path.write_bytes(orjson.dumps(d))


def _jpegs(store):
    "Eight small real JPEGs of different sizes and colours under `store/images/00/`; their relative paths"
    (store/'images'/'00').mkdir(parents=True, exist_ok=True)
    rels = []
    for k, (w, h) in enumerate(JPEG_SIZES):
        y, x = np.mgrid[0:h, 0:w]
        a = np.dstack([(x * 255 // w + 40 * k) % 256, (y * 255 // h) % 256, np.full_like(x, 30 * k % 256)]).astype(np.uint8)
        a[h // 4: 3 * h // 4, w // 4: 3 * w // 4] = 250  # a light square, like a product on a white background
        rel = f'images/00/sample{k}.jpg'
        Image.fromarray(a).save(store/rel, quality=85)
        rels.append(rel)
    return rels


def _manifest(store, n, seed):
    "A 1-row-per-image manifest of `n` training images: 98% ok (paths cycling over the eight JPEGs), 404s and timeouts"
    rng = np.random.default_rng(seed)
    rels = _jpegs(store)
    sizes = [(store/r).stat().st_size for r in rels]
    k = np.arange(n) % len(rels)
    st = rng.choice(np.array(['ok', 'error', 'transient'], dtype=object), n, p=[0.98, 0.015, 0.005])
    ok = st == 'ok'
    orig = np.array([(600, 600), (600, 800), (450, 600), (600, 600), (800, 533), (600, 600), (500, 640), (600, 750)])[k]
    stored = np.array(JPEG_SIZES)[k]
    nan = lambda v: np.where(ok, v, np.nan)
    m = pd.DataFrame({'image_id': np.arange(1, n + 1).astype(str), 'url': [_url(i, 'train') for i in range(1, n + 1)],
                      'status': st, 'path': np.where(ok, np.array(rels, dtype=object)[k], ''),
                      'error': np.select([st == 'error', st == 'transient'], ['http_404', 'timeout'], ''),
                      'http_status': np.select([ok, st == 'error'], [200, 404], np.nan), 'attempts': 1,
                      'bytes': nan(rng.integers(30_000, 120_000, n)), 'width': nan(stored[:, 0]), 'height': nan(stored[:, 1]),
                      'orig_width': nan(orig[:, 0]), 'orig_height': nan(orig[:, 1]),
                      'seconds': rng.uniform(0.05, 1.5, n).round(3), 'detail': ''})
    for c in ('http_status', 'bytes', 'width', 'height', 'orig_width', 'orig_height'): m[c] = m[c].astype('Int64')
    m[MANIFEST_COLUMNS].to_csv(store/'manifest.csv', index=False)


def make_scale(dst, n_train=N_TRAIN, n_valid=N_VALID, n_test=N_TEST, seed=0):
    "Write the competition files and the fetch store of the scale benchmark into `dst` (skipping what is there)"
    dst = Path(dst); dst.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    for name, n, lab in (('train', n_train, True), ('validation', n_valid, True), ('test', n_test, False)):
        if not (dst/f'{name}.json').exists(): _kaggle_json(dst/f'{name}.json', n, name, seed + len(name), lab)
    if not (dst/'store'/'manifest.csv').exists(): _manifest(dst/'store', n_train, seed)
    print(f"data in {dst} ({time.perf_counter() - t:.0f} s to make): train.json {(dst/'train.json').stat().st_size / 2**20:.0f} MiB, "
          f"manifest.csv {(dst/'store'/'manifest.csv').stat().st_size / 2**20:.0f} MiB")
    return dst


def timed(cmd):
    "Run `cmd` under `/usr/bin/time -v`: (wall s, peak RSS GiB, stdout, CPU s)"
    r = subprocess.run(['/usr/bin/time', '-v', *map(str, cmd)], capture_output=True, text=True)
    if r.returncode: sys.exit(f"{cmd[0]} failed ({r.returncode}):\n{r.stderr[-3000:]}")
    wall = re.search(r'Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)', r.stderr).groups()
    secs = int(wall[0] or 0) * 3600 + int(wall[1]) * 60 + float(wall[2])
    rss = int(re.search(r'Maximum resident set size \(kbytes\): (\d+)', r.stderr).group(1)) / 2**20
    cpu = sum(float(re.search(rf'{k} time \(seconds\): ([\d.]+)', r.stderr).group(1)) for k in ('User', 'System'))
    return secs, rss, r.stdout, cpu


LOAD_ONLY = "import sys, warnings; from fashion_clf.core import load_imat\nwarnings.simplefilter('ignore')\nfor f in sys.argv[1:]: load_imat(f)"


def bench_scale(a):
    dst = make_scale(a.dir, a.n_train)
    jsons = [dst/f'{k}.json' for k in ('train', 'validation', 'test')]
    runs, base = [], []
    for i in range(a.repeats):
        base.append(timed([sys.executable, '-c', LOAD_ONLY, *jsons]))
        runs.append(timed([BIN/'fashion-eda', *jsons, '--images', dst/'store', '--report', dst/'report']))
    med = lambda xs, j: statistics.median(x[j] for x in xs)
    print(f"fashion-eda train.json validation.json test.json --images store --report report  ({a.n_train:,} training records, "
          f"a {a.n_train:,}-row manifest), median of {a.repeats}:")
    print(f"  {'':34s} {'wall s':>7s} {'CPU s':>7s} {'peak RSS GiB':>13s}")
    print(f"  {'baseline: load_imat of the 3 files':34s} {med(base, 0):7.1f} {med(base, 3):7.1f} {med(base, 1):13.2f}")
    print(f"  {'fashion-eda, whole report':34s} {med(runs, 0):7.1f} {med(runs, 3):7.1f} {med(runs, 1):13.2f}   bar: <= 60 s; "
          f"{med(runs, 0) / med(base, 0):.1f}x the load alone")
    print(f"  each run (wall s): {[round(r[0], 1) for r in runs]}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
          "(on a busy machine wall times overstate; CPU times much less)")
    print('  ' + runs[-1][2].strip().splitlines()[-1])


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = ap.add_subparsers(dest='what', required=True)
    p = sub.add_parser('labels', help='label statistics on N images')
    p.add_argument('--n', type=int, default=1_000_000)
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--baseline-n', type=int, default=100_000)
    p = sub.add_parser('scale', help='fashion-eda on a 1,014,544-record train.json and a 1M-row manifest')
    p.add_argument('--dir', default='/tmp/eda_scale', help='where the generated data and the report go (kept for reuse)')
    p.add_argument('--repeats', type=int, default=2)
    p.add_argument('--n-train', type=int, default=N_TRAIN)
    a = ap.parse_args()
    bench_scale(a) if a.what == 'scale' else bench_labels(a)
