"""Benchmark the near-duplicate search of `fashion_clf.eda`: hashing speed, robustness of the hash, pair search at 1M.

Usage:
  python benchmarks/dedup.py hash   [--dir /tmp/dedup_bench] [--n 1000] [--repeats 3]
  python benchmarks/dedup.py robust [--dir /tmp/dedup_bench] [--n 1000] [--copies 200]
  python benchmarks/dedup.py pairs  [--n 1000000] [--planted 1000] [--repeats 3]

`hash` writes (once; reused when present) N synthetic pictures as a fetch store keeps them (JPEG, 384 px a side, the
default `fashion-fetch --max-size`) and hashes the same files several ways, in one run, the order of the methods
turned at each repeat; images/s is the median over the repeats:
  - `imagehash.phash(Image.open(f))`: the library as its documentation shows it (full decode);
  - `imagehash.phash` of `core.load_image(f, size=64)`, plus the 4x4 colour thumbnail eda keeps: the library on
    eda's reduced decode, like for like;
  - eda's hash (pHash + 4x4 colour thumbnail) decoding at >= 32 px, and at >= 64 px as `eda.hash_files` runs it in
    this process (the default);
  - the hash step alone, on images decoded beforehand: imagehash's phash and dhash against eda's stacked DCT;
  - `eda.hash_files` with a pool of 2 processes: the rate once started (from the times of N and 4N files; the
    start, forkserver + importing fashion_clf.eda in each process, is printed apart);
  - `eda.hash_files` again with its cache (nothing to decode: stat + lookup).
It also checks that eda's pHash has the same bits as `imagehash.phash` given the same decoded image.
imagehash is optional (pip install imagehash): without it those rows are skipped.

`robust` copies the first COPIES pictures several ways (JPEG quality 30, 0.6x and 1/3 size, twice the size as PNG,
WebP) and reports, per copy kind and for decoding at >= 32 px and >= 64 px, the share found within 4 bits and the
largest colour distance; and, among the N distinct pictures, the pairs within 4 bits, with and without the colour check.

`pairs` draws N random 64-bit hashes with PLANTED copies at 0-6 bits, and times the search (median of repeats):
exact duplicates by grouping (`np.unique`), near pairs within 4 bits among the N (`eda.near_pairs`, multi-index
hashing, colour check included), and the N against 50,000 (train against validation + test). The baseline is brute
force (every pair's popcount), timed on 2,000 queries and scaled to all pairs; the planted pairs must all be found,
and on the 2,000 queries the pairs must equal brute force's.
"""
import argparse, io, os, statistics, sys, threading, time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
from PIL import Image

from fashion_clf.core import load_image, scan_images
from fashion_clf.eda import _thumbs, dct_hashes, hamming, hash_files, near_pairs, _groups, _mih

try: import imagehash
except ImportError: imagehash = None


def store(d:Path, n:int)->pd.DataFrame:
    "N synthetic pictures at 384 px, written once into `d`"
    from fashion_clf.synth import make_dataset
    imgs = d/'synth/images/train'
    if not imgs.is_dir() or len(list(imgs.glob('*.jpg'))) < n:
        t = time.perf_counter(); make_dataset(d/'synth', n_train=n, n_valid=0, n_test=0, seed=1, size=384)
        print(f"wrote {n} pictures in {time.perf_counter() - t:.0f} s")
    f = scan_images(imgs)
    return f.iloc[np.argsort(f.image_id.astype(int).to_numpy())[:n]].reset_index(drop=True)


def ours(paths, draft):
    "eda's hash, the loop of `_hash_chunk` with the decode size as a parameter"
    th = [_thumbs(p, draft) for p in paths]
    return dct_hashes(np.stack([t[0] for t in th]))


def run(f)->tuple:
    "`(wall s, CPU s)` of `f()`: the CPU of this process and of its child processes (a pool's, polled every 50 ms)"
    me, seen, stop = psutil.Process(), {}, threading.Event()
    def cpu(c):
        t = c.cpu_times(); return t.user + t.system
    base = {}
    for c in me.children(recursive=True):
        try: base[c.pid] = cpu(c)
        except psutil.Error: pass
    def poll():
        while not stop.is_set():
            for c in me.children(recursive=True):
                try: seen[c.pid] = cpu(c) - base.get(c.pid, 0)
                except psutil.Error: pass
            stop.wait(0.05)
    th = threading.Thread(target=poll, daemon=True); th.start()
    c0, t0 = time.process_time(), time.perf_counter()
    f()
    wall, own = time.perf_counter() - t0, time.process_time() - c0
    stop.set(); th.join()
    return wall, own + sum(seen.values())


def colour(im):
    "The 4x4 colour thumbnail eda keeps beside the hash (for the imagehash rows, to compare like with like)"
    return np.asarray(im.resize((4, 4), Image.Resampling.BOX))


def bench_hash(a):
    files = store(Path(a.dir), a.n)
    paths = files.path.tolist()
    kb = np.mean([os.path.getsize(p) for p in paths]) / 1024
    print(f"{len(paths)} files, {kb:.0f} KiB each on average, {os.cpu_count()} cores, median of {a.repeats} repeats")
    ims = [load_image(p, size=64) for p in paths]
    m = {}
    if imagehash:
        m['imagehash.phash(Image.open(f)) (full decode), no colour'] = lambda: [imagehash.phash(Image.open(p)) for p in paths]
        m['imagehash.phash(load_image(f, size=64)) + colour'] = lambda: [(imagehash.phash(im), colour(im)) for im in map(lambda p: load_image(p, size=64), paths)]
    m['eda, decode >= 32 px'] = lambda: ours(paths, 32)
    m['eda, decode >= 64 px: eda.hash_files, 1 process (the default hash)'] = lambda: hash_files(files, workers=0)
    if imagehash:
        m['hash step only (decoded images): imagehash.phash + colour'] = lambda: [(imagehash.phash(im), colour(im)) for im in ims]
        m['hash step only (decoded images): imagehash.dhash + colour'] = lambda: [(imagehash.dhash(im), colour(im)) for im in ims]
    m['hash step only (decoded images): eda _thumbs + dct_hashes'] = lambda: dct_hashes(np.stack([_thumbs(im)[0] for im in ims]))
    ts = {k: [] for k in m}
    for r in range(a.repeats):
        for k in (list(m) if r % 2 == 0 else list(m)[::-1]): ts[k].append(run(m[k]))
    med = lambda v: tuple(statistics.median(x) for x in zip(*v))
    res = {k: (len(paths) / med(v)[0], med(v)[1] / len(paths)) for k, v in ts.items()}
    # the pool: its start (forkserver, each process imports fashion_clf.eda) cancels out between N and 4N files
    big = pd.concat([files] * 4, ignore_index=True)
    t1, t4 = [], []
    for _ in range(a.repeats): t1.append(run(lambda: hash_files(files, workers=2))); t4.append(run(lambda: hash_files(big, workers=2)))
    (w1, c1), (w4, c4) = med(t1), med(t4)
    res['eda.hash_files, pool of 2 processes, once started'] = (3 * len(files) / (w4 - w1), (c4 - c1) / (3 * len(files)))
    cache = Path(a.dir)/'hashes.npz'
    hash_files(files, cache, workers=0)
    tc = []
    for _ in range(a.repeats): tc.append(run(lambda: hash_files(files, cache, workers=0)))
    assert hash_files(files, cache, workers=0).attrs['hashed'] == 0
    res['eda.hash_files again, from its cache (stat + lookup)'] = (len(paths) / med(tc)[0], med(tc)[1] / len(paths))
    base = next(iter(res.values()))[0]
    print(f"\n| method | images/s | × first row | CPU ms per image |\n|---|---|---|---|")
    for k, (v, c) in res.items(): print(f"| {k} | {v:,.0f} | {v / base:.2f} | {1000 * c:.2f} |")
    print(f"\nthe pool's start: {w1 - len(files) / res['eda.hash_files, pool of 2 processes, once started'][0]:.1f} s; "
          f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if imagehash:
        lib = np.array([int(str(imagehash.phash(im)), 16) for im in ims], dtype=np.uint64)
        same = (lib == ours(paths, 64)).mean()
        print(f"eda's pHash equals imagehash.phash on the same decoded image for {same:.1%} of the files")


def _enc(im, **kw):
    b = io.BytesIO(); im.save(b, **kw); return b.getvalue()

COPIES = {'JPEG quality 30': lambda im: _enc(im, format='JPEG', quality=30),
          '0.6× size, JPEG 75': lambda im: _enc(im.resize((im.width * 6 // 10, im.height * 6 // 10)), format='JPEG', quality=75),
          '1/3 size, JPEG 85': lambda im: _enc(im.resize((im.width // 3, im.height // 3)), format='JPEG', quality=85),
          '2× size, PNG': lambda im: _enc(im.resize((im.width * 2, im.height * 2), Image.Resampling.BICUBIC), format='PNG'),
          'WebP quality 60': lambda im: _enc(im, format='WEBP', quality=60)}


def bench_robust(a):
    files = store(Path(a.dir), a.n)
    print(f"{len(files)} distinct pictures; copies of the first {a.copies}; found = within 4 bits\n")
    print("| copy | decode | found | largest distance | largest colour distance |\n|---|---|---|---|---|")
    for draft in (32, 64):
        th = [_thumbs(p, draft) for p in files.path]
        H, C = dct_hashes(np.stack([t[0] for t in th])), np.stack([t[1] for t in th]).astype(np.int16)
        for name, f in COPIES.items():
            d, c = [], []
            for p, h, col in zip(files.path[:a.copies], H, C):
                g, col2 = _thumbs(f(Image.open(p).convert('RGB')), draft)
                d.append(int(hamming(h, dct_hashes(g[None])[0])[0])); c.append(np.abs(col - col2).mean())
            print(f"| {name} | >= {draft} px | {np.mean(np.array(d) <= 4):.1%} | {max(d)} | {max(c):.1f} |")
        hs = pd.DataFrame({'phash': H, 'colour': list(map(bytes, C.astype(np.uint8)))})
        n0, n1 = len(near_pairs(hs, max_colour=255)), len(near_pairs(hs))
        cd = near_pairs(hs, max_colour=255).colour
        print(f"| distinct pairs within 4 bits (of {len(H) * (len(H) - 1) // 2:,}) | >= {draft} px | {n0} without the colour check, "
              f"{n1} with it | | smallest colour distance among them: {cd.min() if len(cd) else float('nan'):.1f} |")


def bench_pairs(a):
    rng = np.random.default_rng(0)
    h = rng.integers(0, 2**64, a.n, dtype=np.uint64)
    src, dst = rng.choice(a.n, (2, a.planted), replace=False)
    flips = [np.uint64(sum(1 << int(b) for b in rng.choice(64, k, replace=False))) for k in rng.integers(0, 5, a.planted)]
    h[dst] = h[src] ^ np.array(flips, dtype=np.uint64)
    t = pd.DataFrame({'phash': h, 'colour': [bytes(48)] * a.n})
    ref = t.iloc[:50_000]
    print(f"{a.n:,} random hashes, {a.planted} planted copies at 0-4 bits; median of {a.repeats} repeats\n")
    ts = {}
    def time_(name, f):
        v = []
        for _ in range(a.repeats): s, c = time.perf_counter(), time.process_time(); r = f(); v.append((time.perf_counter() - s, time.process_time() - c))
        ts[name] = tuple(statistics.median(x) for x in zip(*v)); return r
    def exact():
        u, inv = np.unique(h, return_inverse=True); return _groups(inv, len(u))
    time_('exact duplicates: np.unique + groups', exact)
    p = time_(f'near pairs within 4 bits among {a.n:,} (eda.near_pairs)', lambda: near_pairs(t))
    time_(f'{a.n:,} against 50,000 (eda.near_pairs)', lambda: near_pairs(t, ref))
    q = h[:2000]
    s, c = time.perf_counter(), time.process_time(); bf = [np.flatnonzero(hamming(x, h) <= 4) for x in q]
    scale = (a.n - 1) / 2 / len(q)
    ts[f'baseline: brute force, all {a.n * (a.n - 1) // 2:,} pairs (timed on 2,000 queries, scaled)'] = ((time.perf_counter() - s) * scale, (time.process_time() - c) * scale)
    found = set(zip(p.i, p.j))
    assert all((min(x, y), max(x, y)) in found for x, y in zip(src, dst)), 'a planted pair was missed'
    i, j = _mih(q, h, 4)
    assert set(zip(i, j)) == {(x, y) for x, ys in enumerate(bf) for y in ys}, 'differs from brute force'
    print("| step | wall s | CPU s |\n|---|---|---|")
    for k, (w, c) in ts.items(): print(f"| {k} | {w:,.1f} | {c:,.1f} |")
    print(f"\nall {a.planted} planted pairs found ({len(p)} pairs in all); on 2,000 queries the pairs equal brute force's")


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('what', choices=['hash', 'robust', 'pairs'])
    ap.add_argument('--dir', default='/tmp/dedup_bench')
    ap.add_argument('--n', type=int, default=None)
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--copies', type=int, default=200)
    ap.add_argument('--planted', type=int, default=1000)
    a = ap.parse_args()
    a.n = a.n or (1_000_000 if a.what == 'pairs' else 1000)
    {'hash': bench_hash, 'robust': bench_robust, 'pairs': bench_pairs}[a.what](a)
