"""Benchmark reduced-size JPEG decoding (`data.load_draft`) against fastai's stock `PILImage.create` pipeline.

Usage: python benchmarks/decode.py [--n 300] [--src 400] [--size 128] [--repeats 5] [--images DIR]

Writes N synthetic fashion pictures as `--src`-px JPEGs (`synth.make_dataset`; or uses the JPEGs in `--images`), then
runs the per-item pipeline of a training `DataLoader` on the same files with both openers, in alternation, several times:

- stock: `PILImage.create` -> `Resize(size, Squish)` -> `ToTensor`  (what `ImageBlock` does)
- draft: `DraftOpen(size)` (`load_draft`: libjpeg's 1/2, 1/4, 1/8 scaled decoding) -> `Resize(size, Squish)` -> `ToTensor`

and prints images/s (median of the repeats) of each and their ratio. A whole-`DataLoader` figure (`get_dls` with
`fast_decode` on and off, no augmentation, `num_workers=0`) is measured the same way. Both are single-process, so the
ratio is the per-core gain; with worker processes throughput scales with the cores for both.
"""
import argparse, os, statistics, tempfile, time
from pathlib import Path
import numpy as np, pandas as pd, torch
from PIL import Image
from fastai.vision.all import PILImage, Resize, ResizeMethod, ToTensor, Pipeline
from fashion_clf.data import DraftOpen, get_dls

def make_images(d, n, src):
    "`n` synthetic fashion JPEGs of `src` px (the long side) in `d`; their paths"
    from fashion_clf.synth import make_dataset
    make_dataset(d, n_train=n, n_valid=0, n_test=0, seed=0, size=src, n_workers=1)
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
        rs = Resize(a.size, method=ResizeMethod.Squish)
        stock, draft = Pipeline([PILImage.create, rs, ToTensor()]), Pipeline([DraftOpen(a.size), rs, ToTensor()])
        x0, x1 = stock(files[0]), draft(files[0])
        assert x0.shape == x1.shape == (3, a.size, a.size), (x0.shape, x1.shape)
        diff = float((x0.float() - x1.float()).abs().mean())
        r = bench({'stock': lambda: run_items(stock, files), 'draft': lambda: run_items(draft, files)}, a.repeats)
        print(f"item pipeline   stock PILImage.create: {r['stock']:7.1f} img/s   draft: {r['draft']:7.1f} img/s   "
              f"ratio {r['draft']/r['stock']:.2f}x   (mean |pixel diff| {diff:.1f}/255)")
        if not a.no_dls:
            df = pd.DataFrame({'image_id': [Path(f).stem for f in files], 'labels': [['1']]*len(files), 'path': files})
            kw = dict(vocab=['1'], size=a.size, bs=64, valid='random', valid_pct=0.01, aug=False, num_workers=0, device='cpu')
            dl0, dl1 = get_dls(df, fast_decode=False, **kw), get_dls(df, fast_decode=True, **kw)
            r2 = bench({'stock': lambda: run_dl(dl0), 'draft': lambda: run_dl(dl1)}, a.repeats)
            print(f"DataLoader      fast_decode=False:     {r2['stock']:7.1f} img/s   True:  {r2['draft']:7.1f} img/s   "
                  f"ratio {r2['draft']/r2['stock']:.2f}x")
