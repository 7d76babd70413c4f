"""Benchmark a CPU training epoch: images served from memory (`get_dls(cache=True)`) and channels-last tensors.

Usage: python benchmarks/train_epoch.py [--n 1000] [--src 160] [--size 64] [--arch xresnet_small] [--repeats 3]

Writes N synthetic fashion pictures (`synth.make_dataset`, `--src` px, as the demo stores them), then measures, in
alternation and `--repeats` times (median), on the same files and the same model:

- the training DataLoader alone (augmentation on, `num_workers=0`): `cache=False` against `cache=True`;
- a training step (forward, backward, optimizer) on random batches: contiguous against channels-last;
- a whole `learn.fit(1)` epoch: `cache=False` + contiguous (the old default on a CPU) against `cache=True` + channels-last.

and prints each pair's seconds per epoch and their ratio. All use the threads torch uses by default (the machine's cores).
The process's malloc settings are left alone (see `benchmarks/malloc.py` for `keep_freed_memory`, which `fashion-train`
turns on). On a machine shared with others' jobs, repeat the run: the pairs alternate, so load slows both alike.
"""
import argparse, statistics, tempfile, time
from pathlib import Path
import torch
from fastai.vision.all import set_seed
from fashion_clf.core import load_imat, label_vocab
from fashion_clf.data import get_dls
from fashion_clf.train import create_learner

def bench(fns:dict, repeats:int)->dict:
    "Median seconds of `repeats` runs of each callable in `fns` (run in alternation, after one warm-up each)"
    for f in fns.values(): f()
    res = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            t = time.perf_counter(); f(); res[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in res.items()}

def data_epoch(dls):
    for xb, yb in dls.train: pass

def steps(learn, size, n_batches, bs):
    "`n_batches` training steps of `learn.model` on random batches"
    m, opt = learn.model.train(), torch.optim.AdamW(learn.model.parameters(), 1e-3)
    x, y = torch.randn(bs, 3, size, size), (torch.rand(bs, learn.dls.c) < .05).float()
    if hasattr(learn, 'channels_last'): m.to(memory_format=torch.channels_last); x = x.contiguous(memory_format=torch.channels_last)
    for _ in range(n_batches):
        loss = torch.nn.functional.binary_cross_entropy_with_logits(m(x), y); loss.backward(); opt.step(); opt.zero_grad()

def fit_epoch(learn): learn.fit(1, 1e-3)

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--n', type=int, default=1000, help='training images (and a fifth as many for validation)')
    ap.add_argument('--src', type=int, default=160, help='stored size of the generated JPEGs (px)')
    ap.add_argument('--size', type=int, default=64, help='training size (px)')
    ap.add_argument('--arch', default='xresnet_small')
    ap.add_argument('--bs', type=int, default=64)
    ap.add_argument('--repeats', type=int, default=3)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        from fashion_clf.synth import make_dataset
        make_dataset(d, n_train=a.n, n_valid=a.n // 5, n_test=0, seed=0, size=a.src, progress=False)
        trn, val = load_imat(Path(d)/'train.json', warn=False), load_imat(Path(d)/'validation.json', warn=False)
        vocab = label_vocab(trn, val)
        kw = dict(vocab=vocab, size=a.size, bs=a.bs, num_workers=0, device='cpu')
        set_seed(0); plain = get_dls(trn, d, valid=val, **kw)
        t = time.perf_counter(); cached = get_dls(plain.df, cache=True, **kw)  # the same items (checked, `is_valid`): decoding only
        t_cache = time.perf_counter() - t
        print(f"{a.n} training images of {a.src} px at {a.size} px, {a.arch}, bs {a.bs}, {torch.get_num_threads()} threads, "
              f"{a.repeats} repeats (median); caching both splits took {t_cache:.1f}s")
        r = bench({'plain': lambda: data_epoch(plain), 'cache': lambda: data_epoch(cached)}, a.repeats)
        print(f"DataLoader epoch       cache=False {r['plain']:6.2f}s   cache=True     {r['cache']:6.2f}s   ratio {r['plain']/r['cache']:.2f}x")
        nb = len(plain.train)
        l0 = create_learner(plain, a.arch, pretrained=False, channels_last=False)
        l1 = create_learner(cached, a.arch, pretrained=False, channels_last=True)
        r = bench({'contiguous': lambda: steps(l0, a.size, nb, a.bs), 'channels_last': lambda: steps(l1, a.size, nb, a.bs)}, a.repeats)
        print(f"training steps/epoch   contiguous  {r['contiguous']:6.2f}s   channels-last  {r['channels_last']:6.2f}s   "
              f"ratio {r['contiguous']/r['channels_last']:.2f}x")
        for l in (l0, l1): l.remove_cbs([c for c in l.cbs if type(c).__name__ == 'ProgressCallback']); l.logger = lambda *_: None
        r = bench({'old': lambda: fit_epoch(l0), 'new': lambda: fit_epoch(l1)}, a.repeats)
        print(f"learn.fit(1) epoch     plain+contiguous {r['old']:6.2f}s   cache+channels-last {r['new']:6.2f}s   "
              f"ratio {r['old']/r['new']:.2f}x (validation included)")
