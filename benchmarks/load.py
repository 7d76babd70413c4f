"""Benchmark `load_imat` and `encode_sparse` on a competition-sized JSON of the real schema.

Usage: python benchmarks/load.py [--n 1000000] [--repeats 3]

Writes a Kaggle-form train.json with N images (~8 labels each, string ids, plain-string urls) to a temporary folder,
then loads it several times and prints records/s (median) and the process's peak resident memory.
`json.load` alone is measured in the same run as the baseline, so the ratio shows what validation costs on top of parsing.
"""
import argparse, json, multiprocessing as mp, resource, statistics, tempfile, time, warnings
from pathlib import Path
import numpy as np
from fashion_clf.core import load_imat, encode_sparse, label_vocab

def make_json(path, n, seed=0):
    "Write a Kaggle-form train.json with `n` images to `path`"
    rng = np.random.default_rng(seed)
    p = 1 / np.arange(1, 229) ** 1.1; p /= p.sum()
    nl = np.clip(rng.poisson(8, n), 1, 20)
    imgs = [{"url": f"https://contestimg.wish.com/api/webimage/{i:024x}-large", "imageId": str(i + 1)} for i in range(n)]
    anns = [{"labelId": [str(l + 1) for l in rng.choice(228, k, replace=False, p=p)], "imageId": str(i + 1)}
            for i, k in enumerate(nl)]
    with open(path, 'w') as f: json.dump({"images": imgs, "annotations": anns}, f)

def timeit(f, repeats):
    ts = []
    for _ in range(repeats):
        t = time.perf_counter(); r = f(); ts.append(time.perf_counter() - t)
    return statistics.median(ts), r

if __name__ == '__main__':
    ap = argparse.ArgumentParser()
    ap.add_argument('--n', type=int, default=1_000_000)
    ap.add_argument('--repeats', type=int, default=3)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / 'train.json'
        # generated in a child process so that the peak memory below is the loader's alone
        t = time.perf_counter(); c = mp.Process(target=make_json, args=(p, a.n)); c.start(); c.join(); print(f"wrote {a.n:,} records ({p.stat().st_size/2**20:.0f} MiB) in {time.perf_counter()-t:.1f}s")
        tj = timeit(lambda: json.load(open(p)), a.repeats)[0]  # the parsed dict is dropped before load_imat runs
        warnings.simplefilter('ignore')
        tl, df = timeit(lambda: load_imat(p), a.repeats)
        te, m = timeit(lambda: encode_sparse(df.labels, label_vocab()), a.repeats)
    print(f"json.load (baseline): {tj:.2f}s  {a.n/tj:,.0f} records/s")
    print(f"load_imat:            {tl:.2f}s  {a.n/tl:,.0f} records/s  ({tl/tj:.2f}x json.load alone)")
    print(f"encode_sparse:        {te:.2f}s  {m.nnz:,} labels")
    print(f"peak RSS of this process (parse + load + encode, kept DataFrame): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/2**10:.0f} MiB")
