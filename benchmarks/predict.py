"""Batch inference vs `learn.predict` called per image: images/s, same model, same images, median of repeats.

    python benchmarks/predict.py [--arch resnet18] [--size 128] [--n 64] [--repeats 3] [--bs 64]

Baseline: a fastai `Learner` (from `data.get_dls` + `vision_learner`, as training makes it) and `learn.predict(row)`
in a loop, one image at a time. Measured against it, on the same model weights and the same image files:
  - `Predictor.probs` (fashion_clf.predict: one test DataLoader, `learn.get_preds`, reduced-size JPEG decoding),
  - plain fastai `learn.get_preds(dl=learn.dls.test_dl(df))`,
  - and, as the ceiling of any batched method, the network's forward pass alone on the already decoded batch.
Where the batched methods reach the ceiling, the ratio is bounded by the network's arithmetic, not by overhead.
Bar (issue 7): batch >= 10x the per-image images/s. Prints a table and the ratios; no network needed.
"""
import argparse, os, statistics, tempfile, time, warnings
from pathlib import Path

warnings.filterwarnings('ignore')  # a benchmark's output is its table
import numpy as np
import torch
from fastai.vision.all import vision_learner, BCEWithLogitsLossFlat

from fashion_clf.core import IMAT_LABELS
from fashion_clf.data import toy_dataset, get_dls
from fashion_clf.model import get_arch, save_model
from fashion_clf.predict import Predictor


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--arch', default='resnet18', help='architecture (fastai/torchvision name)')
    ap.add_argument('--size', type=int, default=128, help='model input size, px')
    ap.add_argument('--img', type=int, default=256, help='stored image size, px')
    ap.add_argument('--n', type=int, default=64, help='images')
    ap.add_argument('--repeats', type=int, default=3, help='repeats (median reported)')
    ap.add_argument('--bs', type=int, default=64, help='batch size of the batched methods')
    ap.add_argument('--threads', type=int, default=0, help='torch threads (0: torch default)')
    a = ap.parse_args()
    if a.threads: torch.set_num_threads(a.threads)

    tmp = Path(tempfile.mkdtemp())
    df = toy_dataset(tmp, n=a.n, size=a.img, seed=0)
    df['path'] = [str(tmp/'images'/f'{i}.jpg') for i in df.image_id]
    dls = get_dls(df, None, vocab=IMAT_LABELS, size=a.size, bs=a.bs, valid='random', valid_pct=0.25, device='cpu', num_workers=0)
    learn = vision_learner(dls, get_arch(a.arch), pretrained=False, loss_func=BCEWithLogitsLossFlat())
    save_model(learn.model, tmp/'run', a.arch, IMAT_LABELS, a.size)
    pred = Predictor.from_run(tmp/'run', bs=a.bs, device='cpu')
    learn.model.eval()
    rows = [df.iloc[i] for i in range(len(df))]

    def per_image():
        with learn.no_bar(): return np.stack([learn.predict(r)[2].numpy() for r in rows])
    def fastai_batch():
        with learn.no_bar(): return learn.get_preds(dl=learn.dls.test_dl(df, bs=a.bs))[0].numpy()
    def predictor():
        return pred.probs(df.path.tolist())[0]

    xb = torch.cat([b[0] for b in pred.dl(df.path.tolist())]).cpu().as_subclass(torch.Tensor)  # decoded, normalized images
    def forward_only():  # the network alone: the ceiling for any batched method
        with torch.inference_mode(): return torch.sigmoid(learn.model(xb)).numpy()

    methods = {'learn.predict per image (baseline)': per_image, 'learn.get_preds on test_dl (fastai)': fastai_batch,
               'Predictor.probs (fashion_clf)': predictor, 'network forward only, no decoding (ceiling)': forward_only}
    base_name = 'learn.predict per image (baseline)'
    for f in methods.values(): f()  # warm-up
    # the repeats are interleaved (A B C, B C A, ...): a change of load on a shared machine hits every method alike
    ts, outs, names = {k: [] for k in methods}, {}, list(methods)
    load0 = os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan')
    for r in range(a.repeats):
        for name in names[r % len(names):] + names[:r % len(names)]:
            t = time.perf_counter(); outs[name] = methods[name](); ts[name].append(time.perf_counter() - t)
    load1 = os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan')
    res = {k: a.n/statistics.median(v) for k, v in ts.items()}
    base = res[base_name]
    print(f"{a.arch} at {a.size}px, {a.n} JPEGs of {a.img}px, bs {a.bs}, {torch.get_num_threads()} torch threads, "
          f"{a.repeats} interleaved repeats (median), load average {load0:.1f} -> {load1:.1f}")
    for k, v in res.items():
        per_rep = [tb/tk for tb, tk in zip(ts[base_name], ts[k])]
        print(f"  {k:38s} {v:8.1f} images/s  {v/base:6.1f}x  (per-repeat ratios {min(per_rep):.1f}-{max(per_rep):.1f}x)")
    ref = outs['learn.predict per image (baseline)']
    for k, o in outs.items():
        if o is not ref: print(f"  max |p - p_baseline| {k}: {np.abs(o - ref).max():.2e}")


if __name__ == '__main__': main()
