"""Benchmark the label statistics of `fashion_clf.eda` at competition scale.

Usage: python benchmarks/eda.py [--n 1000000] [--repeats 3] [--baseline-n 100000]

Builds a DataFrame of N images with ~8 labels each (7.9 on average, drawn from the 228 labels with Zipf-like
frequencies, like the real train.json: Poisson(10) draws less repeats; every label is a distinct str object, as `core.load_imat` returns them) and
times, as the median of several repeats:
  - `multi_hot`: the CSR multi-hot matrix from the DataFrame's label lists   (baseline: `core.encode_sparse`)
  - `label_counts` + `labels_per_image` on that matrix
  - `cooccurrence` (XᵀX, 228×228) on that matrix, its `method='pairs'` variant, and the derived views (conditional, lift, top pairs)
  - the whole path from the DataFrame: matrix + counts + co-occurrence by XᵀX (the bar: ≤ 5 s for 1M images)
The baseline for counts + co-occurrence is the plain-Python way (a Counter over each image's labels and
`itertools.combinations` of them), timed once on the first BASELINE_N images and scaled linearly to N.
"""
import argparse, os, statistics, time
from collections import Counter
from itertools import combinations

import numpy as np
import pandas as pd

from fashion_clf.core import encode_sparse, label_vocab
from fashion_clf.eda import multi_hot, label_counts, labels_per_image, cooccurrence, conditional, lift, top_pairs


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
    "Median wall time of `f` over `repeats` calls, and its result; the median CPU time goes to CPU[f]"
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


if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--n', type=int, default=1_000_000)
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--baseline-n', type=int, default=100_000)
    a = ap.parse_args()
    t = time.perf_counter(); df = make_labels(a.n)
    nnz = int(df.labels.map(len).sum())
    print(f"built {a.n:,} images, {nnz:,} labels ({nnz / a.n:.2f}/image) in {time.perf_counter() - t:.1f}s; median of {a.repeats} repeats:")
    vocab = label_vocab()
    tb, (X, v) = timeit(lambda: multi_hot(df), a.repeats); cb = timeit.cpu
    te, M = timeit(lambda: encode_sparse(df.labels, vocab), a.repeats); ce = timeit.cpu
    assert (M != X).nnz == 0
    tc, (c, k) = timeit(lambda: (label_counts(X, v), labels_per_image(X)), a.repeats); cc = timeit.cpu
    tx, C = timeit(lambda: cooccurrence(X, v), a.repeats); cx = timeit.cpu
    tq, Cq = timeit(lambda: cooccurrence(X, v, method='pairs'), a.repeats); cq = timeit.cpu
    assert (Cq.values == C.values).all()
    td, _ = timeit(lambda: (conditional(C), lift(C), top_pairs(C, 20), top_pairs(C, 20, by='lift', min_count=100)), a.repeats); cd = timeit.cpu
    tall, (c2, C2) = timeit(lambda: (lambda X_v: (label_counts(*X_v), cooccurrence(*X_v)))(multi_hot(df)), a.repeats); call = timeit.cpu
    tall2, _ = timeit(lambda: (lambda X_v: (label_counts(*X_v), cooccurrence(*X_v, method='pairs')))(multi_hot(df)), a.repeats); call2 = timeit.cpu
    assert (np.diag(C.values) == c['count'].values).all() and (C2.values == C.values).all()
    nb = min(a.baseline_n, a.n)
    t = time.perf_counter(); cnt, pairs = python_loop(df.labels.iloc[:nb]); tp = (time.perf_counter() - t) * a.n / nb
    Cs = cooccurrence(df.labels.iloc[:nb], vocab)  # cross-check against the loop on the same images
    assert all(Cs.loc[x, y] == n_ for (x, y), n_ in list(pairs.items())[:2000]) and all(Cs.loc[l, l] == n_ for l, n_ in cnt.items())
    print(f"  {'step':40s} {'wall s':>7s} {'CPU s':>7s}")
    row = lambda name, t, c, extra='': print(f"  {name:40s} {t:7.2f} {c:7.2f}   {extra}")
    row('multi_hot (CSR from the label lists)', tb, cb, f'baseline core.encode_sparse {te:.2f}s wall, {ce:.2f}s CPU: ratio {te / tb:.1f}x')
    row('label_counts + labels_per_image', tc, cc)
    row(f'cooccurrence (XᵀX, {len(v)}×{len(v)})', tx, cx, f'{C.values.sum() - nnz:,} ordered pairs')
    row("cooccurrence(method='pairs')", tq, cq, 'bincount of label pairs, grouped by labels per image')
    row('conditional + lift + 2× top_pairs', td, cd)
    row('DataFrame -> counts + co-occurrence (XᵀX)', tall, call, 'bar: <= 5 s')
    row("  the same with method='pairs'", tall2, call2)
    row('Python Counter + combinations', tp, tp, f'timed on {nb:,} images, scaled to {a.n:,}: ratio {tp / tall:.1f}x (XᵀX), {tp / tall2:.1f}x (pairs)')
    print(f"  load average while running: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (wall times on a busy machine overstate; CPU times do not)")
