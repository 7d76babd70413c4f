"""Benchmark CPU training steps with and without `train.keep_freed_memory` (glibc malloc keeps freed memory).

Usage: python benchmarks/malloc.py [--arch xresnet_small] [--size 96] [--bs 64] [--steps 15] [--repeats 5]

Each measurement is a fresh process (malloc settings are per process) that builds the model channels-last, warms up with
3 steps, then times `--steps` training steps (forward, backward, AdamW) on one random batch; the two settings run in
alternation, `--repeats` times each. Prints the median ms per image, the kernel (sys) CPU seconds and the minor page
faults of the timed steps, and the ratio of the medians.
"""
import argparse, json, statistics, subprocess, sys

CHILD = r'''
import json, resource, sys, time, torch
from fashion_clf.model import get_arch
from fashion_clf.train import keep_freed_memory
arch, size, bs, steps, keep = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == '1'
if keep: assert keep_freed_memory()
m = get_arch(arch)(n_out=228).to(memory_format=torch.channels_last)
opt = torch.optim.AdamW(m.parameters(), 1e-3)
x = torch.randn(bs, 3, size, size).contiguous(memory_format=torch.channels_last); y = (torch.rand(bs, 228) < .05).float()
def step():
    loss = torch.nn.functional.binary_cross_entropy_with_logits(m(x), y); loss.backward(); opt.step(); opt.zero_grad()
for _ in range(3): step()
r0, t = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
for _ in range(steps): step()
dt, r1 = time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps(dict(ms=dt / steps / bs * 1000, sys=r1.ru_stime - r0.ru_stime, faults=r1.ru_minflt - r0.ru_minflt)))
'''

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--arch', default='xresnet_small'); ap.add_argument('--size', type=int, default=96)
    ap.add_argument('--bs', type=int, default=64); ap.add_argument('--steps', type=int, default=15)
    ap.add_argument('--repeats', type=int, default=5)
    a = ap.parse_args()
    res = {'default': [], 'keep': []}
    for _ in range(a.repeats):
        for k in res:
            out = subprocess.run([sys.executable, '-c', CHILD, a.arch, str(a.size), str(a.bs), str(a.steps), str(int(k == 'keep'))],
                                 capture_output=True, text=True, check=True).stdout
            res[k].append(json.loads(out.strip().splitlines()[-1]))
    med = {k: {f: statistics.median(r[f] for r in v) for f in ('ms', 'sys', 'faults')} for k, v in res.items()}
    print(f"{a.arch} at {a.size} px, bs {a.bs}, {a.steps} steps, {a.repeats} alternating repeats (median)")
    for k, m in med.items():
        print(f"  {k:8s} {m['ms']:6.2f} ms/img   sys {m['sys']:5.2f}s   minor faults {m['faults']:>9,.0f}   "
              f"(ms/img per repeat: {', '.join('%.2f' % r['ms'] for r in res[k])})")
    print(f"  ratio    {med['default']['ms'] / med['keep']['ms']:.2f}x faster with keep_freed_memory")
