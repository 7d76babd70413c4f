"""Benchmark reduced-size JPEG decoding (`Preprocess(draft=True)`, i.e. `core.load_image` with a size) against full
decoding with the same spec and against fastai's stock `PILImage.create` + `Resize` pipeline.

Usage: python benchmarks/decode.py [--n 300] [--src 400] [--size 128] [--repeats 5] [--images DIR]

Writes N synthetic fashion pictures as `--src`-px JPEGs (`synth.make_dataset`; or uses the JPEGs in `--images`), then
runs the per-item pipeline of a training `DataLoader` on the same files with each opener, in alternation, `--repeats`
times (median):

- stock: `PILImage.create` -> `Resize(size, Squish)` -> `ToTensor`        (what fastai's `ImageBlock` does)
- full:  `PreprocessOpen(Preprocess(draft=False), size)` -> `ToTensor`     (our spec, every pixel decoded)
- draft: `PreprocessOpen(Preprocess(draft=True), size)` -> `ToTensor`      (libjpeg's 1/2, 1/4, 1/8 scaled decoding)

and prints images/s of each, the ratios draft/stock and draft/full, and the mean pixel difference of draft against full.
A whole-`DataLoader` figure (`get_dls` with `Preprocess(draft=False)` and `Preprocess(draft=True)`, no augmentation,
`num_workers=0`) is measured the same way. All single-process, so the ratios are per-core gains; with worker
processes throughput scales with the cores for all of them. Others' jobs on a shared machine slow every variant
alike (they alternate), but repeat the run when the machine is busy.
"""
import argparse, statistics, tempfile, time
from pathlib import Path
import pandas as pd, torch
from PIL import Image
from fastai.vision.all import PILImage, Resize, ResizeMethod, ToTensor, Pipeline
from fashion_clf.data import Preprocess, PreprocessOpen, get_dls
from fashion_clf.synth import make_dataset

def make_images(d, n, src):
    "`n` synthetic fashion JPEGs of `src` px (the long side) in `d`; their paths"
    make_dataset(d, n_train=n, n_valid=0, n_test=0, seed=0, size=src, workers=1)
    return sorted(str(p) for p in (Path(d)/'images'/'train').glob('*.jpg'))

def run_items(pipe, files):
    t = time.perf_counter()
    for f in files: pipe(f)
    return len(files)/(time.perf_counter() - t)

def run_dl(dls):
    t, n = time.perf_counter(), 0
    for xb, yb in dls.train.new(shuffle=False, drop_last=False): n += len(xb)
    return n/(time.perf_counter() - t)

def bench(fns:dict, repeats:int)->dict:
    "Median of `repeats` runs of each callable in `fns` (run in alternation, after one warm-up each)"
    for f in fns.values(): f()
    res = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items(): res[k].append(f())
    return {k: statistics.median(v) for k, v in res.items()}

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--n', type=int, default=300, help='images')
    ap.add_argument('--src', type=int, default=400, help='stored size of the generated JPEGs (px)')
    ap.add_argument('--size', type=int, default=128, help='training size (px)')
    ap.add_argument('--repeats', type=int, default=5)
    ap.add_argument('--images', default=None, help='use the JPEGs in this folder instead of generating them')
    ap.add_argument('--no-dls', action='store_true', help='skip the whole-DataLoader measurement')
    a = ap.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as d:
        files = (sorted(str(p) for p in Path(a.images).rglob('*.jpg'))[:a.n] if a.images else make_images(d, a.n, a.src))
        sz = Image.open(files[0]).size
        print(f"{len(files)} JPEGs, first {sz[0]}x{sz[1]}, training size {a.size}, {a.repeats} repeats, 1 thread")
        pipes = {'stock': Pipeline([PILImage.create, Resize(a.size, method=ResizeMethod.Squish), ToTensor()]),
                 'full': Pipeline([PreprocessOpen(Preprocess(draft=False), a.size), ToTensor()]),
                 'draft': Pipeline([PreprocessOpen(Preprocess(draft=True), a.size), ToTensor()])}
        xs = {k: p(files[0]).float() for k, p in pipes.items()}
        assert all(x.shape == (3, a.size, a.size) for x in xs.values()), {k: x.shape for k, x in xs.items()}
        diff = float((xs['draft'] - xs['full']).abs().mean())
        r = bench({k: (lambda p=p: run_items(p, files)) for k, p in pipes.items()}, a.repeats)
        print(f"item pipeline   stock {r['stock']:7.1f} img/s   full {r['full']:7.1f} img/s   draft {r['draft']:7.1f} img/s   "
              f"draft/stock {r['draft']/r['stock']:.2f}x   draft/full {r['draft']/r['full']:.2f}x   "
              f"(mean |draft - full| {diff:.1f}/255)")
        if not a.no_dls:
            df = pd.DataFrame({'image_id': [Path(f).stem for f in files], 'labels': [['1']]*len(files), 'path': files})
            kw = dict(vocab=['1'], size=a.size, bs=64, valid='random', valid_pct=0.01, aug=False, num_workers=0, device='cpu')
            dl0, dl1 = get_dls(df, preprocess=Preprocess(draft=False), **kw), get_dls(df, preprocess=Preprocess(draft=True), **kw)
            r2 = bench({'full': lambda: run_dl(dl0), 'draft': lambda: run_dl(dl1)}, a.repeats)
            print(f"DataLoader      Preprocess(draft=False) {r2['full']:7.1f} img/s   draft=True {r2['draft']:7.1f} img/s   "
                  f"ratio {r2['draft']/r2['full']:.2f}x")
