"""A check of the GPU paths, ready to run on a CUDA machine: mixed precision, channels-last, DataLoader workers, TTA.

On a synthetic dataset of a few thousand pictures, with the torchvision weights cache seeded with random resnet34
weights (so the pretrained branch runs offline: frozen body, then unfrozen), it measures

- the DataLoader alone (no model): training images/s with the default number of workers;
- training: `--steps` optimizer steps at `--size` px with `train.create_learner`'s defaults on a GPU (bf16 or fp16 mixed
  precision, channels-last), images/s, and the share of the time the GPU waited for data (the time between the end of
  one step and the arrival of the next batch, over the whole);
- prediction with test-time augmentation through `predict.Predictor` (the model saved and loaded as `model.pth`),
  images/s.

On a GPU machine:   python benchmarks/gpu_check.py                       (defaults: 3,000 images, 224 px, 200 steps, resnet34)
On a CPU (CI):      python benchmarks/gpu_check.py --cpu --arch xresnet_tiny --size 64 --steps 12 --n 192 --bs 16
It prints a table and writes it as JSON (`--out`).
"""
import argparse, json, math, os, tempfile, time
from pathlib import Path

import numpy as np
import torch

from fashion_clf.core import load_imat, label_vocab, num_workers
from fashion_clf.data import get_dls  # (first: it imports fastai without its torch.jit deprecation warning)
from fastai.callback.core import Callback, CancelFitException
from fashion_clf.model import seed_weights_cache, save_model
from fashion_clf.predict import Predictor
from fashion_clf.synth import make_dataset
from fashion_clf.train import create_learner


class StepTimer(Callback):
    "Time the optimizer steps and the waits for data between them; stop the fit after `steps` steps"
    order = 99
    def __init__(self, steps:int, warmup:int=10): self.steps, self.warmup, self.n, self.wait, self.busy, self.last = steps, warmup, 0, 0., 0., None
    def _sync(self):
        if torch.cuda.is_available(): torch.cuda.synchronize()
    def before_batch(self):
        if not self.training: return
        t = time.perf_counter()
        if self.last is not None and self.n >= self.warmup: self.wait += t - self.last
        self.t0 = t
    def after_batch(self):
        if not self.training: return
        self._sync(); t = time.perf_counter()
        if self.n >= self.warmup: self.busy += t - self.t0
        self.last, self.n = t, self.n + 1
        if self.n >= self.warmup + self.steps: raise CancelFitException


def loader_speed(dl, batches:int)->float:
    "Images/s of a DataLoader alone, over `batches` batches after one to warm up"
    it = iter(dl); next(it)
    t, n = time.perf_counter(), 0
    for _ in range(batches):
        try: b = next(it)
        except StopIteration: it = iter(dl); b = next(it)
        n += len(b[0])
    if torch.cuda.is_available(): torch.cuda.synchronize()
    return n / (time.perf_counter() - t)


def main(a):
    work = Path(a.data or tempfile.mkdtemp(prefix='gpu_check-'))
    if not (work/'train.json').exists():
        make_dataset(work, n_train=a.n, n_valid=a.n // 10, n_test=0, seed=0, size=a.img)
    os.environ.setdefault('TORCH_HOME', str(work/'torch'))
    if a.pretrained: seed_weights_cache(a.arch)
    trn, val = load_imat(work/'train.json', warn=False), load_imat(work/'validation.json', warn=False)
    device = 'cpu' if a.cpu else None
    dls = get_dls(trn, work, valid=val, vocab=label_vocab(trn, val), size=a.size, bs=a.bs, device=device)
    res = dict(device=torch.cuda.get_device_name() if torch.cuda.is_available() and not a.cpu else 'cpu', arch=a.arch,
               size=a.size, bs=a.bs, images=len(trn), num_workers=num_workers(), cpus=os.cpu_count())
    res['loader_images_per_s'] = loader_speed(dls.train, a.loader_batches)
    learn = create_learner(dls, a.arch, pretrained=a.pretrained, path=work/'run')
    learn.unfreeze()
    timer = StepTimer(a.steps, a.warmup)
    res['mixed_precision'] = str(learn.mixed_precision.amp_mode) if hasattr(learn, 'mixed_precision') else 'no'
    res['channels_last'] = hasattr(learn, 'channels_last')
    with learn.no_bar(), learn.no_logging():
        learn.fit(math.ceil((a.steps + a.warmup) / len(dls.train)) + 1, 1e-3, cbs=timer)
    total = timer.wait + timer.busy
    res.update(train_steps=timer.n - a.warmup, train_images_per_s=(timer.n - a.warmup) * a.bs / total,
               data_wait_share=timer.wait / total)
    if hasattr(learn, 'channels_last') or hasattr(learn, 'mixed_precision'): learn.to_contiguous(to_fp32=True)
    save_model(learn.model, work/'run', a.arch, dls.vocab, a.size, dls.preprocess)
    pr = Predictor.from_run(work/'run', bs=a.bs, device='cpu' if a.cpu else None)
    paths = dls.valid_ds.items.path.tolist()
    pr.probs(paths[:a.bs])  # warm up
    t = time.perf_counter(); p, ok = pr.probs(paths, tta=True)
    res.update(tta_passes=pr.pre.tta_n + 1, predict_tta_images_per_s=len(paths) / (time.perf_counter() - t), predicted=int(ok.sum()))
    assert np.isfinite(p).all() and ok.all()
    w = max(map(len, res))
    for k, v in res.items(): print(f"{k:<{w}}  {v:.4g}" if isinstance(v, float) else f"{k:<{w}}  {v}")
    if a.out: Path(a.out).write_text(json.dumps(res, indent=1))
    return res


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--n', type=int, default=3000, help='synthetic training images')
    ap.add_argument('--img', type=int, default=320, help='side of the stored synthetic pictures')
    ap.add_argument('--size', type=int, default=224, help='training size')
    ap.add_argument('--steps', type=int, default=200, help='timed training steps')
    ap.add_argument('--warmup', type=int, default=10, help='untimed steps first')
    ap.add_argument('--bs', type=int, default=64)
    ap.add_argument('--arch', default='resnet34')
    ap.add_argument('--no-pretrained', dest='pretrained', action='store_false', help='random weights (for archs without ImageNet weights)')
    ap.add_argument('--loader-batches', type=int, default=30, help='batches timed for the DataLoader alone')
    ap.add_argument('--cpu', action='store_true', help='run on the CPU even when there is a GPU')
    ap.add_argument('--data', help='a folder for the synthetic dataset (reused when present)')
    ap.add_argument('--out', help='write the results as JSON there')
    a = ap.parse_args()
    if a.arch.startswith('xresnet_'): a.pretrained = False
    main(a)
