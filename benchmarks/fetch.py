"""Benchmark `fashion-fetch` against img2dataset and a naive downloader on the same loopback workload.

A few thousand realistic JPEGs (the synthetic dataset of `fashion_clf.synth` when available, else textured 600x600
product-like pictures made here) are served by `fashion-serve` with a small added latency. In the same run, several
repeats each, rotating the order:

- `fashion-fetch` (this package);
- img2dataset, installed in its own virtual environment (NOT a project dependency), with the same resize target
  (longest side MAX_SIZE, never enlarged, area filter), the same number of processes, its best thread count (swept
  first), and its per-sample sha256 and EXIF extraction turned off (we do neither);
- a naive Kaggle-style downloader: a process pool, urllib, full decode, resize, save.

It also measures the ceiling: the pure verify+decode+resize+encode+write rate of a pool of PROCS processes on local
files (`fashion_clf.fetch.process_image`), no network. Reports median images/s, the ratios, and the peak memory (sum of
the RSS of the process tree, polled at 20 Hz).

    python benchmarks/fetch.py                       # defaults: 3000 images, 3 repeats, 5 ms latency
    python -m venv /tmp/i2d-venv && /tmp/i2d-venv/bin/pip install img2dataset   # the baseline, once
"""
import argparse, io, json, math, os, resource, shutil, statistics, subprocess, sys, tempfile, time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import psutil
from PIL import Image, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


# ---------------------------------------------------------------- workload
def _product(i, size=600):
    "A product-photo-like JPEG: a plain or gradient background, a textured garment shape, a shadow"
    rng = np.random.default_rng(i)
    bg = rng.integers(200, 250, 3)
    yy = np.linspace(0, 1, size)[:, None, None]
    a = np.broadcast_to(bg - 25 * yy * rng.random(), (size, size, 3)).astype(np.float32).copy()
    im = Image.fromarray(a.clip(0, 255).astype(np.uint8))
    d = ImageDraw.Draw(im)
    col = tuple(int(c) for c in rng.integers(20, 230, 3))
    cx, cy, w, h = size // 2 + rng.integers(-60, 60), size // 2 + rng.integers(-60, 60), rng.integers(150, 260), rng.integers(180, 280)
    pts = [(cx - w, cy - h), (cx + w, cy - h), (cx + w * 0.7, cy + h), (cx - w * 0.7, cy + h)]
    d.polygon([(x + 10, y + 10) for x, y in pts], fill=(150, 150, 150))  # shadow
    d.polygon(pts, fill=col)
    for _ in range(rng.integers(0, 12)):
        x0, y0 = rng.integers(cx - w, cx + w), rng.integers(cy - h, cy + h)
        d.line([(x0, y0), (x0 + rng.integers(-80, 80), y0 + rng.integers(-80, 80))], fill=tuple(int(c) for c in rng.integers(0, 255, 3)), width=int(rng.integers(2, 9)))
    tex = rng.normal(0, rng.uniform(2, 6), (size, size, 1))
    arr = np.asarray(im.filter(ImageFilter.GaussianBlur(1.2))).astype(np.float32) + tex
    b = io.BytesIO()
    Image.fromarray(arr.clip(0, 255).astype(np.uint8)).save(b, 'JPEG', quality=int(rng.integers(80, 95)))
    return b.getvalue()


def _write_product(args):
    i, folder = args
    (Path(folder) / f'{i}.jpg').write_bytes(_product(i))


def make_images(folder: Path, n: int):
    "Fill `folder` with `n` JPEGs (synthetic dataset if available); returns the relative paths"
    folder.mkdir(parents=True, exist_ok=True)
    have = sorted(str(p.relative_to(folder)) for p in folder.rglob('*.jpg'))
    if len(have) >= n: return have[:n]
    shutil.rmtree(folder); folder.mkdir(parents=True)
    try:
        from fashion_clf.synth import make_dataset
        make_dataset(folder, n, 0, 0, seed=0)
        src = 'fashion_clf.synth.make_dataset'
    except Exception as e:  # not written yet, or another signature: make our own
        print(f'(synthetic dataset unavailable: {type(e).__name__}: {e}; using textured 600x600 pictures)')
        shutil.rmtree(folder); folder.mkdir(parents=True)
        with ProcessPoolExecutor() as ex: list(ex.map(_write_product, [(i, str(folder)) for i in range(n)], chunksize=64))
        src = 'benchmarks/fetch.py textured pictures'
    have = sorted(str(p.relative_to(folder)) for p in folder.rglob('*.jpg'))[:n]
    print(f'made {len(have)} images with {src}')
    return have


# ---------------------------------------------------------------- runners
def _cpu_children():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_measured(cmd, env=None, cwd=None):
    "Run `cmd`; returns (seconds, peak RSS of its process tree in MiB, CPU seconds of the tree, output)"
    c0, t0 = _cpu_children(), time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=cwd, text=True)
    ps, peak = psutil.Process(p.pid), 0
    out = []
    import threading
    th = threading.Thread(target=lambda: out.append(p.stdout.read()), daemon=True); th.start()
    while p.poll() is None:
        try:
            rss = sum(q.memory_info().rss for q in [ps] + ps.children(recursive=True))
            peak = max(peak, rss)
        except psutil.Error: pass
        time.sleep(0.05)
    th.join()
    dt = time.perf_counter() - t0
    if p.returncode: raise RuntimeError(f'{cmd[0]} failed ({p.returncode}):\n{"".join(out)[-3000:]}')
    return dt, peak / 2**20, _cpu_children() - c0, ''.join(out)


def count_jpgs(folder: Path):
    return sum(1 for _ in Path(folder).rglob('*.jpg'))


NAIVE = r'''
import io, os, sys, urllib.request
from multiprocessing import Pool
from PIL import Image
urls, out, max_size, quality, procs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
def get(a):
    i, url = a
    try:
        data = urllib.request.urlopen(url, timeout=10).read()
        im = Image.open(io.BytesIO(data)).convert('RGB')           # full decode
        w, h = im.size; r = max_size / max(w, h)
        if r < 1: im = im.resize((max(1, round(w * r)), max(1, round(h * r))), Image.Resampling.BOX)
        im.save(os.path.join(out, f'{i}.jpg'), quality=quality)
        return 1
    except Exception: return 0
if __name__ == '__main__':
    lines = [l.strip() for l in open(urls) if l.strip()][1:]
    with Pool(procs) as p: print(sum(p.imap_unordered(get, enumerate(lines), chunksize=8)), 'ok')
'''


def ceiling(folder, rels, procs, max_size, quality, out):
    "Images/s of `process_image` in a pool of `procs` processes on local files (read, decode, resize, encode, write)"
    from fashion_clf.fetch import process_image, image_path
    import multiprocessing as mp
    with ProcessPoolExecutor(procs, mp_context=mp.get_context('forkserver')) as ex:
        list(ex.map(_ceil_one, [(str(folder / rels[0]), str(out), 'warm', max_size, quality)] * procs))
        t0 = time.perf_counter()
        res = list(ex.map(_ceil_one, [(str(folder / r), str(out), image_path(str(i)), max_size, quality) for i, r in enumerate(rels)], chunksize=16))
        dt = time.perf_counter() - t0
    assert all(res), 'ceiling: some images failed'
    return len(rels) / dt


def _ceil_one(a):
    from fashion_clf.fetch import process_image
    path, out, rel, max_size, quality = a
    return process_image(Path(path).read_bytes(), out, rel, max_size, quality)['ok']


# ---------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--n', type=int, default=3000, help='number of images')
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--latency', type=float, default=0.005, help='seconds the server adds to each response')
    ap.add_argument('--max-size', type=int, default=384)
    ap.add_argument('--quality', type=int, default=90)
    ap.add_argument('--procs', type=int, default=os.cpu_count(), help='decoding processes for every tool')
    ap.add_argument('--concurrency', type=int, default=128, help='fashion-fetch --concurrency')
    ap.add_argument('--i2d', default='/tmp/i2d-venv/bin/img2dataset', help='img2dataset executable ("" to skip)')
    ap.add_argument('--i2d-threads', default='4,8,16,32', help='thread counts to sweep for img2dataset')
    ap.add_argument('--naive-procs', type=int, default=16, help='processes of the naive downloader')
    ap.add_argument('--work', default='/tmp/fashion_bench', help='scratch folder (images are cached here)')
    a = ap.parse_args()

    work = Path(a.work); work.mkdir(parents=True, exist_ok=True)
    rels = make_images(work / f'web{a.n}', a.n)
    web = work / f'web{a.n}'
    srv = subprocess.Popen([str(BIN / 'fashion-serve'), str(web), '--port', '0', '--latency', str(a.latency)],
                           stdout=subprocess.PIPE, text=True)
    try:
        line = srv.stdout.readline()
        base = line.split(' at ')[-1].strip()
        assert base.startswith('http://'), line
        urls = [f'{base}/{r}' for r in rels]
        (work / 'train.json').write_text(json.dumps({'images': [{'imageId': str(i), 'url': u} for i, u in enumerate(urls)]}))
        (work / 'urls.csv').write_text('url\n' + '\n'.join(urls) + '\n')
        env = {**os.environ, 'NO_ALBUMENTATIONS_UPDATE': '1', 'WANDB_MODE': 'disabled', 'PYTHONWARNINGS': 'ignore'}
        out = work / 'out'
        per_shard = math.ceil(a.n / (2 * a.procs))

        def fetch():
            return [str(BIN / 'fashion-fetch'), str(work / 'train.json'), str(out), '--max-size', str(a.max_size),
                    '--quality', str(a.quality), '--workers', str(a.procs), '--concurrency', str(a.concurrency), '--no-progress']

        def i2d(t):
            return [a.i2d, '--url_list', str(work / 'urls.csv'), '--input_format', 'csv', '--url_col', 'url',
                    '--output_format', 'files', '--output_folder', str(out), '--processes_count', str(a.procs),
                    '--thread_count', str(t), '--image_size', str(a.max_size), '--resize_mode', 'keep_ratio_largest',
                    '--resize_only_if_bigger', 'True', '--encode_quality', str(a.quality), '--timeout', '10',
                    '--retries', '0', '--enable_wandb', 'False', '--number_sample_per_shard', str(per_shard),
                    '--compute_hash', 'None', '--extract_exif', 'False', '--distributor', 'multiprocessing']

        def naive():
            return [sys.executable, '-c', NAIVE, str(work / 'urls.csv'), str(out), str(a.max_size), str(a.quality), str(a.naive_procs)]

        sproc = psutil.Process(srv.pid)

        def once(name, cmd):
            shutil.rmtree(out, ignore_errors=True); out.mkdir()
            s0 = sum(sproc.cpu_times()[:2])
            dt, mem, cpu, log = run_measured(cmd, env=env)
            scpu = sum(sproc.cpu_times()[:2]) - s0
            n_ok = count_jpgs(out)
            if n_ok < a.n * 0.99: print(f'  warning: {name} stored only {n_ok} of {a.n}\n{log[-2000:]}')
            r, ms = n_ok / dt, 1000 * (cpu + scpu) / max(n_ok, 1)
            print(f'  {name:<22} {n_ok:>6} images  {dt:6.2f} s  {r:7.1f} img/s  peak RSS {mem:6.0f} MiB  '
                  f'CPU {ms:5.2f} ms/img (server {1000 * scpu / max(n_ok, 1):.2f})  load {os.getloadavg()[0]:.1f}', flush=True)
            return r, mem, ms

        tools = {'fashion-fetch': fetch(), 'naive (pool+urllib)': naive()}
        have_i2d = bool(a.i2d) and Path(a.i2d).exists()
        if have_i2d:
            print(f'img2dataset thread sweep ({a.procs} processes):')
            sweep = {t: once(f'img2dataset t={t}', i2d(t))[0] for t in map(int, a.i2d_threads.split(','))}
            best = max(sweep, key=sweep.get)
            print(f'  best thread count: {best}')
            tools[f'img2dataset (t={best})'] = i2d(best)
        else: print(f'img2dataset not found at {a.i2d!r}: skipped (see the docstring to install it)')

        res = {k: [] for k in tools}
        names = list(tools)
        for rep in range(a.repeats):
            print(f'repeat {rep + 1}/{a.repeats}:')
            for name in names[rep % len(names):] + names[:rep % len(names)]: res[name].append(once(name, tools[name]))
        shutil.rmtree(out, ignore_errors=True); out.mkdir()
        ceil = ceiling(web, rels, a.procs, a.max_size, a.quality, out)
        shutil.rmtree(out, ignore_errors=True)
    finally:
        srv.terminate(); srv.wait(10)

    med = {k: statistics.median(r for r, _, _ in v) for k, v in res.items()}
    mem = {k: max(m for _, m, _ in v) for k, v in res.items()}
    cpu = {k: statistics.median(c for _, _, c in v) for k, v in res.items()}
    print(f'\n{a.n} images ({web}), latency {a.latency * 1000:.0f} ms, max size {a.max_size}, quality {a.quality}, '
          f'{a.procs} decoding processes, {os.cpu_count()} cores; median of {a.repeats}')
    print(f'{"tool":<24}{"img/s":>9}{"ratio":>8}{"CPU ms/img":>12}{"ratio":>8}{"peak MiB":>10}   (ratios: fashion-fetch vs tool)')
    ff, fc = med['fashion-fetch'], cpu['fashion-fetch']
    for k in names: print(f'{k:<24}{med[k]:9.1f}{ff / med[k]:7.2f}x{cpu[k]:12.2f}{cpu[k] / fc:7.2f}x{mem[k]:10.0f}')
    print('CPU ms/img: CPU time of the tool\'s whole process tree plus the server\'s, per stored image; on a shared, '
          'loaded machine it is steadier than img/s; 2000 / (CPU ms/img) is the rate 2 idle cores would allow.')
    print(f'{"ceiling (pool, local)":<24}{ceil:9.1f}{"":>10}  fashion-fetch reaches {ff / ceil:.0%} of it')


if __name__ == '__main__':
    main()
