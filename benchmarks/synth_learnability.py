"""Are the synthetic labels learnable, and not trivially so?

Makes a synthetic dataset with `fashion_clf.synth.make_dataset` (full-size product photos), decodes every picture down
to PX x PX, then compares, in micro-F1 on the validation split at threshold 0.5:

- a mean-colour baseline: one logistic regression per label on the picture's mean RGB (scikit-learn);
- a small CNN trained from scratch on CPU (plain torch: 6 convs, BCE, AdamW, one-cycle) for a fixed budget.

Also reports the generation speed of the dataset it makes (images/s, all cores). Not run in CI. Example:

    .venv/bin/python benchmarks/synth_learnability.py --n-train 3000 --n-valid 600 --px 64 --epochs 12

With `--speed N` it measures the generator instead: N full-size pictures rendered by `make_dataset` in one process
(the baseline) and on every core, median images/s of `--repeats` runs each (interleaved, so a change in the machine's
load hits both), and the ratio of the two:

    .venv/bin/python benchmarks/synth_learnability.py --speed 200
"""
import argparse, json, os, statistics, tempfile, time
from pathlib import Path
import numpy as np, torch, torch.nn as nn, torch.nn.functional as F
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

from fashion_clf.core import load_imat, label_vocab, encode_labels, load_image
from fashion_clf.synth import make_dataset

def load_split(root, split, px):
    "Images of a split decoded to (n, 3, px, px) uint8 (JPEG draft mode, then squash-resize) and its labels"
    df = load_imat(Path(root)/f'{split}.json', warn=False)  # (one annotation in 50 repeats a label id, on purpose)
    xs = [np.asarray(load_image(Path(root)/u.split('/', 3)[3], size=px * 2).resize((px, px), Image.BILINEAR)) for u in df.url]
    return np.stack(xs).transpose(0, 3, 1, 2), df

def conv(ni, nf, stride=1): return nn.Sequential(nn.Conv2d(ni, nf, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(nf), nn.ReLU())

def small_cnn(n_out):
    "A plain 6-conv network: stride-2 stem, three conv+pool stages, global pooling"
    return nn.Sequential(conv(3, 32, 2), conv(32, 48), nn.MaxPool2d(2), conv(48, 96), nn.MaxPool2d(2),
                         conv(96, 160), nn.MaxPool2d(2), conv(160, 256), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Dropout(.1), nn.Linear(256, n_out))

def train_cnn(xt, yt, xv, epochs, bs=64, lr=3e-3, seed=0, score=None):
    torch.manual_seed(seed)
    m = small_cnn(yt.shape[1]).to(memory_format=torch.channels_last); opt = torch.optim.AdamW(m.parameters(), lr=lr, weight_decay=1e-2)
    steps = epochs * ((len(xt) + bs - 1) // bs)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    xt_, yt_ = torch.from_numpy(xt), torch.from_numpy(yt).float()
    t0 = time.perf_counter()
    norm = lambda x: ((x.float() / 255 - .5) / .25).contiguous(memory_format=torch.channels_last)
    def predict():
        m.eval()
        with torch.no_grad(): return torch.cat([torch.sigmoid(m(norm(torch.from_numpy(xv[i:i + 256])))) for i in range(0, len(xv), 256)]).numpy()
    for ep in range(epochs):
        m.train(); perm = torch.randperm(len(xt_))
        for i in range(0, len(perm), bs):
            b = perm[i:i + bs]; x = norm(xt_[b])
            if torch.rand(1) < .5: x = x.flip(3)
            loss = F.binary_cross_entropy_with_logits(m(x), yt_[b])
            opt.zero_grad(); loss.backward(); opt.step(); sched.step()
        el = time.perf_counter() - t0
        print(f"  epoch {ep + 1}/{epochs}: {el:.0f}s training" + (f", validation micro-F1 {score(predict()):.3f}" if score else ''), flush=True)
        t0 = time.perf_counter() - el  # evaluation time does not count as training
    return predict()

def mean_colour_baseline(xt, yt, xv):
    ft, fv = xt.reshape(len(xt), 3, -1).mean(2) / 255, xv.reshape(len(xv), 3, -1).mean(2) / 255
    P = np.zeros((len(xv), yt.shape[1]))
    for j in range(yt.shape[1]):
        if yt[:, j].min() == yt[:, j].max(): P[:, j] = yt[0, j]; continue
        P[:, j] = LogisticRegression(max_iter=500).fit(ft, yt[:, j]).predict_proba(fv)[:, 1]
    return P

def generation_speed(n, repeats=3, size=None):
    "Median images/s of `make_dataset` writing `n` pictures, by number of worker processes (1 and every core)"
    rates = {1: [], max(2, os.cpu_count() or 1): []}
    for k in range(repeats):
        for w in rates:
            with tempfile.TemporaryDirectory() as d:
                t = time.perf_counter(); make_dataset(d, n, 0, 0, seed=k, size=size, workers=w)
                rates[w].append(n / (time.perf_counter() - t))
    return {w: statistics.median(r) for w, r in rates.items()}

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--n-train', type=int, default=3000); p.add_argument('--n-valid', type=int, default=600)
    p.add_argument('--px', type=int, default=64); p.add_argument('--epochs', type=int, default=12)
    p.add_argument('--seed', type=int, default=0); p.add_argument('--threads', type=int, default=2)
    p.add_argument('--data', default=None, help='reuse (or create) the dataset in this folder')
    p.add_argument('--speed', type=int, default=0, help='only measure the generator on this many pictures')
    p.add_argument('--repeats', type=int, default=3, help='runs per setting for --speed (the median is reported)')
    a = p.parse_args()
    if a.speed:
        r = generation_speed(a.speed, a.repeats)
        (w1, s1), (wn, sn) = r.items()
        print(f"make_dataset, {a.speed} full-size pictures, median of {a.repeats}: {s1:.1f} images/s in {w1} process, "
              f"{sn:.1f} images/s in {wn} processes: {sn / s1:.2f}x (load average {os.getloadavg()[0]:.1f})")
        raise SystemExit(0)
    torch.set_num_threads(a.threads)
    root = Path(a.data or tempfile.mkdtemp(prefix='synth_bench_'))
    if not (root/'validation.json').exists():
        t = time.perf_counter(); make_dataset(root, a.n_train, a.n_valid, 0, seed=a.seed)
        meta = json.loads((root/'synth.json').read_text())
        print(f"generated {a.n_train + a.n_valid} images in {meta['seconds']:.1f}s: {meta['images_per_second']} images/s "
              f"({meta['workers']} processes)")
    xt, dt = load_split(root, 'train', a.px); xv, dv = load_split(root, 'validation', a.px)
    vocab = label_vocab(dt, dv)
    yt, yv = encode_labels(dt.labels, vocab), encode_labels(dv.labels, vocab)
    print(f"{int((yt.sum(0) > 0).sum())} labels occur in train; {yt.sum(1).mean():.2f} labels per image (train)")
    mic = lambda P: f1_score(yv, P >= .5, average='micro', zero_division=0)
    prior = np.tile(yt.mean(0), (len(yv), 1))
    print(f"label-frequency prior (no image): micro-F1 {mic(prior):.3f}")
    print(f"mean-colour logistic regression:  micro-F1 {mic(mean_colour_baseline(xt, yt, xv)):.3f}")
    t = time.perf_counter(); P = train_cnn(xt, yt, xv, a.epochs, seed=a.seed, score=mic); secs = time.perf_counter() - t
    print(f"small CNN from scratch at {a.px}px, {a.epochs} epochs ({secs:.0f}s CPU training): micro-F1 {mic(P):.3f}")
    f1s = f1_score(yv, P >= .5, average=None, zero_division=0); sup = yv.sum(0)
    worst = sorted((f, v, s) for f, v, s in zip(f1s, vocab, sup) if s >= 5)[:8]
    print('hardest labels (F1, id, support):', [(round(float(f), 2), v, int(s)) for f, v, s in worst])
