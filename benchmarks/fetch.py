"""Benchmark `fashion-fetch`: its decoding-process pool, and the whole fetcher against img2dataset and a naive downloader.

A few thousand realistic JPEGs (the synthetic dataset of `fashion_clf.synth` when available, else textured 600x600
product-like pictures made here) are served by `fashion-serve` with a small added latency, fetched and resized to
MAX_SIZE (384). In the same run, several repeats each, rotating the order:

Pools (`--only pools`): the fetcher (`fetch_images`, same options) with each way of running the decoders:
- `socketpair`: the hand-made pool of earlier versions, kept here as the baseline: processes `fork`ed from the
  fetching process, fed by the event loop itself through socket pairs (up to 4 tasks each), no helper thread;
- `forkserver`, `spawn`: `concurrent.futures.ProcessPoolExecutor` with that start method, driven from the event loop
  with `loop.run_in_executor` (`fashion_clf.fetch._Decoders`, what fetch uses).

Tools (`--only tools`):
- `fashion-fetch` (the command);
- img2dataset, installed in its own virtual environment (NOT a project dependency), with the same resize target
  (longest side MAX_SIZE, never enlarged, area filter), the same number of processes, its best thread count (swept
  first), and its per-sample sha256 and EXIF extraction turned off (we do neither);
- a naive Kaggle-style downloader: a process pool, urllib, full decode, resize, save;
- the ceiling: the pure verify+decode+resize+encode+write rate of a pool of PROCS processes on local files
  (`fashion_clf.fetch.process_image`), no network.

Reported: median images/s end to end (process start to exit) and, for the pools, in the steady state (between 10% and
90% of the manifest rows, so without start-up and tail), the CPU time of the whole process tree per stored image
(exact: this process is made a child subreaper, so the fork server and every worker are waited for and counted) and
the peak memory (sum of the RSS of the process tree, polled at 20 Hz). On a shared machine compare only ratios
within one run, and look at the spread.

    python benchmarks/fetch.py --only pools --repeats 5          # the decoding pools
    python benchmarks/fetch.py                                   # everything: 3000 images, 3 repeats, 5 ms latency
    python -m venv /tmp/i2d-venv && /tmp/i2d-venv/bin/pip install img2dataset   # the img2dataset baseline, once
"""
import argparse, asyncio, collections, ctypes, functools, io, json, math, os, resource, shutil, signal, socket, statistics
import subprocess, sys, threading, time
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np
import psutil
from PIL import Image, ImageDraw, ImageFilter

import fashion_clf.fetch as F  # imported here too so that fork servers and spawned workers preload it, as the command's do

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


# ---------------------------------------------------------------- the socket-pair pool of earlier versions (baseline)
def _sp_watch_parent(ppid):
    while True:
        time.sleep(0.5)
        if os.getppid() != ppid: os._exit(0)


def _sp_main(conn):
    "A worker process: run `process_image` on each task received on `conn`, send back its result; stop on None or EOF"
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_sp_watch_parent, args=(os.getppid(),), daemon=True).start()
    while True:
        try: args = conn.recv()
        except (EOFError, OSError): return
        if args is None: return
        try: res = F.process_image(*args)
        except Exception as e: res = {'ok': False, 'error': 'decode', 'detail': repr(e)}
        conn.send(res)


class _SpWorker:
    __slots__ = ('proc', 'conn', 'pending')
    def __init__(self, proc, conn): self.proc, self.conn, self.pending = proc, conn, collections.deque()


class SocketPairPool:
    "`n` forked worker processes fed by the event loop itself through socket pairs (no helper threads), up to `depth` tasks each"
    def __init__(self, n, depth=4):
        self.ctx = mp.get_context('fork')
        self.depth, self.loop, self.waiters, self.closed = depth, None, collections.deque(), False
        self.workers = [self._spawn() for _ in range(n)]

    def start(self): return self  # (started by __init__)

    def _spawn(self):
        a, b = self.ctx.Pipe()  # a socket pair: large buffers, so that sending a task rarely waits for the worker
        for c in (a, b):
            s = socket.fromfd(c.fileno(), socket.AF_UNIX, socket.SOCK_STREAM)
            for o in (socket.SO_SNDBUF, socket.SO_RCVBUF): s.setsockopt(socket.SOL_SOCKET, o, 4 * 2**20)
            s.close()
        p = self.ctx.Process(target=_sp_main, args=(b,), daemon=True); p.start()
        b.close()
        w = _SpWorker(p, a)
        if self.loop is not None: self.loop.add_reader(a.fileno(), self._readable, w)
        return w

    def _readable(self, w):
        try:
            while w.conn.poll():
                res = w.conn.recv(); fut = w.pending.popleft()
                if not fut.done(): fut.set_result(res)
                self._wake()
        except (EOFError, OSError): self._died(w)

    def _died(self, w):
        if w not in self.workers: return
        self.loop.remove_reader(w.conn.fileno())
        w.conn.close(); w.proc.join(1)
        err = BrokenProcessPool(f'a decoding process died (exit code {w.proc.exitcode})')
        for fut in w.pending:
            if not fut.done(): fut.set_exception(err)
        self.workers[self.workers.index(w)] = self._spawn()
        self._wake()

    def _wake(self):
        while self.waiters:
            f = self.waiters.popleft()
            if not f.done(): f.set_result(None); return

    async def run(self, f, *args, alone=False):
        "`process_image(*args)` in a worker process (`f` and `alone` are fetch's pool interface; this pool ignores them)"
        if self.loop is None:
            self.loop = asyncio.get_running_loop()
            for w in self.workers: self.loop.add_reader(w.conn.fileno(), self._readable, w)
        while True:
            w = min(self.workers, key=lambda w: len(w.pending))
            if len(w.pending) < self.depth: break
            fut = self.loop.create_future(); self.waiters.append(fut)
            await fut
        fut = self.loop.create_future()
        w.pending.append(fut)
        try: w.conn.send(args)
        except OSError: self._died(w)
        return await fut

    def close(self, wait=True):
        if self.closed: return
        self.closed = True
        for w in self.workers:
            if self.loop is not None and not self.loop.is_closed():
                try: self.loop.remove_reader(w.conn.fileno())
                except Exception: pass
            if wait:
                try: w.conn.send(None)
                except OSError: pass
        for w in self.workers:
            w.proc.join(30 if wait else 0.1)
            if w.proc.is_alive(): w.proc.terminate(); w.proc.join(5)
            w.conn.close()


POOLS = {'socketpair': lambda n: SocketPairPool(n),
         'forkserver': functools.partial(F._Decoders, method='forkserver'),
         'spawn': functools.partial(F._Decoders, method='spawn')}


def child(a):
    "`--child POOL`: one fetch with that pool (what the parent measures)"
    F._Decoders = POOLS[a.child]
    F.fetch_images(a.json, a.out, max_size=a.max_size, quality=a.quality, workers=a.procs, concurrency=a.concurrency,
                   progress=False, verbose=True)


# ---------------------------------------------------------------- runners
def _subreaper():
    "Make this process the reaper of its orphaned descendants (Linux), so their CPU time can be counted"
    try: return ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except Exception: return False


def _reap(keep):
    "Wait for the children of this process not in `keep` (orphans handed to us), so their CPU time counts"
    t0 = time.time()
    while time.time() - t0 < 30:
        kids = [c.pid for c in psutil.Process().children() if c.pid not in keep]
        if not kids: return
        for pid in kids:
            try: os.waitpid(pid, 0)
            except ChildProcessError: pass


def _cpu_children():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _tree_cpu(ps):
    "CPU seconds (user + system) of process `ps` and of all its descendants, now"
    own = sum(ps.cpu_times()[:2])
    rest = 0.0
    for q in ps.children(recursive=True):
        try: rest += sum(q.cpu_times()[:2])
        except psutil.Error: pass
    return own, rest


def run_measured(cmd, env=None, keep=(), manifest=None, n=0):
    """Run `cmd`; returns (seconds, peak RSS of its process tree in MiB, CPU seconds of the tree, output, steady).
    `steady`: None, or with a `manifest` of `n` rows to come, (seconds, CPU seconds of the main process, CPU seconds
    of its descendants) between 10% and 90% of the rows."""
    c0, t0 = _cpu_children(), time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    ps, peak, out, marks = psutil.Process(p.pid), 0, [], {}
    th = threading.Thread(target=lambda: out.append(p.stdout.read()), daemon=True); th.start()
    while p.poll() is None:
        try: peak = max(peak, sum(q.memory_info().rss for q in [ps] + ps.children(recursive=True)))
        except psutil.Error: pass
        if manifest is not None and len(marks) < 2:
            try: rows = Path(manifest).read_bytes().count(b'\n') - 1
            except OSError: rows = 0
            for f in (0.1, 0.9):
                if f not in marks and rows >= f * n:
                    try: marks[f] = (time.perf_counter(), *_tree_cpu(ps))
                    except psutil.Error: pass
        time.sleep(0.05)
    dt = time.perf_counter() - t0
    th.join()
    _reap(set(keep))
    if p.returncode: raise RuntimeError(f'{cmd[0]} failed ({p.returncode}):\n{"".join(out)[-3000:]}')
    steady = tuple(b - a for a, b in zip(marks[0.1], marks[0.9])) if len(marks) == 2 else None
    return dt, peak / 2**20, _cpu_children() - c0, ''.join(out), steady


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
    with ProcessPoolExecutor(procs, mp_context=mp.get_context('forkserver')) as ex:
        list(ex.map(_ceil_one, [(str(folder / rels[0]), str(out), 'warm', max_size, quality)] * procs))
        t0 = time.perf_counter()
        res = list(ex.map(_ceil_one, [(str(folder / r), str(out), F.image_path(str(i)), max_size, quality) for i, r in enumerate(rels)], chunksize=16))
        dt = time.perf_counter() - t0
    assert all(res), 'ceiling: some images failed'
    return len(rels) / dt


def _ceil_one(a):
    path, out, rel, max_size, quality = a
    return F.process_image(Path(path).read_bytes(), out, rel, max_size, quality)['ok']


def _table(title, res, names, base, n, steady=False):
    """Print the medians of `res[name] = [(img/s, MiB, CPU ms/img, steady img/s, steady CPU ms/img of the main process,
    of the decoders)]` with ratios against `base`"""
    med = lambda k, i: statistics.median(r[i] for r in res[k])
    spread = lambda k, i: (max(r[i] for r in res[k]) - min(r[i] for r in res[k])) / med(k, i)
    print(f'\n{title}')
    print(f'{"":<22}{"img/s":>7}{"spread":>7}{"ratio":>7}' + (f'{"steady":>8}{"spread":>7}{"ratio":>7}' if steady else '') +
          f'{"CPU ms/img":>11}{"spread":>7}{"ratio":>7}' + (f'{"steady CPU: fetcher + decoders":>32}' if steady else '') +
          f'{"peak MiB":>9}')
    for k in names:
        line = f'{k:<22}{med(k, 0):7.1f}{spread(k, 0):7.0%}{med(k, 0) / med(base, 0):6.2f}x'
        if steady: line += f'{med(k, 3):8.1f}{spread(k, 3):7.0%}{med(k, 3) / med(base, 3):6.2f}x'
        line += f'{med(k, 2):11.2f}{spread(k, 2):7.0%}{med(k, 2) / med(base, 2):6.2f}x'
        if steady: line += f'{med(k, 4):15.2f} + {med(k, 5):5.2f} = {med(k, 4) + med(k, 5):5.2f}'.rjust(32)
        print(line + f'{max(r[1] for r in res[k]):9.0f}')
    print(f'(median of each column; spread = (max - min) / median over the repeats; ratio: against {base})')
    return {k: dict(zip(('img_s', 'peak_mib', 'cpu_ms', 'steady_img_s', 'steady_cpu_fetcher', 'steady_cpu_decoders'),
                        map(list, zip(*res[k])))) for k in names}


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
    ap.add_argument('--only', choices=['all', 'pools', 'tools'], default='all', help='which comparison to run')
    ap.add_argument('--pools', default='socketpair,forkserver,spawn', help='decoding pools to compare')
    ap.add_argument('--i2d', default='/tmp/i2d-venv/bin/img2dataset', help='img2dataset executable ("" to skip)')
    ap.add_argument('--i2d-threads', default='4,8,16,32', help='thread counts to sweep for img2dataset')
    ap.add_argument('--naive-procs', type=int, default=16, help='processes of the naive downloader')
    ap.add_argument('--work', default='/tmp/fashion_bench', help='scratch folder (images are cached here)')
    ap.add_argument('--save', default=None, help='write the results as JSON to this file')
    ap.add_argument('--child', choices=list(POOLS), help=argparse.SUPPRESS)
    ap.add_argument('--json', help=argparse.SUPPRESS)
    ap.add_argument('--out', help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child: return child(a)

    reaper = _subreaper()
    work = Path(a.work); work.mkdir(parents=True, exist_ok=True)
    rels = make_images(work / f'web{a.n}', a.n)
    web = work / f'web{a.n}'
    srv = subprocess.Popen([str(BIN / 'fashion-serve'), str(web), '--port', '0', '--latency', str(a.latency)],
                           stdout=subprocess.PIPE, text=True)
    results = {}
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
        sproc = psutil.Process(srv.pid)

        def fetch():
            return [str(BIN / 'fashion-fetch'), str(work / 'train.json'), str(out), '--max-size', str(a.max_size),
                    '--quality', str(a.quality), '--workers', str(a.procs), '--concurrency', str(a.concurrency), '--no-progress']

        def pool(name):
            return [sys.executable, __file__, '--child', name, '--json', str(work / 'train.json'), '--out', str(out),
                    '--max-size', str(a.max_size), '--quality', str(a.quality), '--procs', str(a.procs),
                    '--concurrency', str(a.concurrency)]

        def i2d(t):
            return [a.i2d, '--url_list', str(work / 'urls.csv'), '--input_format', 'csv', '--url_col', 'url',
                    '--output_format', 'files', '--output_folder', str(out), '--processes_count', str(a.procs),
                    '--thread_count', str(t), '--image_size', str(a.max_size), '--resize_mode', 'keep_ratio_largest',
                    '--resize_only_if_bigger', 'True', '--encode_quality', str(a.quality), '--timeout', '10',
                    '--retries', '0', '--enable_wandb', 'False', '--number_sample_per_shard', str(per_shard),
                    '--compute_hash', 'None', '--extract_exif', 'False', '--distributor', 'multiprocessing']

        def naive():
            return [sys.executable, '-c', NAIVE, str(work / 'urls.csv'), str(out), str(a.max_size), str(a.quality), str(a.naive_procs)]

        def once(name, cmd, manifest=False):
            shutil.rmtree(out, ignore_errors=True); out.mkdir()
            s0 = sum(sproc.cpu_times()[:2])
            dt, mem, cpu, log, steady = run_measured(cmd, env=env, keep={srv.pid}, manifest=out / 'manifest.csv' if manifest else None, n=a.n)
            scpu = sum(sproc.cpu_times()[:2]) - s0
            n_ok = count_jpgs(out)
            if n_ok < a.n * 0.99: print(f'  warning: {name} stored only {n_ok} of {a.n}\n{log[-2000:]}')
            r, ms = n_ok / dt, 1000 * (cpu + scpu) / max(n_ok, 1)
            st, sm, sd = (0.8 * a.n / steady[0], 1000 * steady[1] / (0.8 * a.n), 1000 * steady[2] / (0.8 * a.n)) if steady else (float('nan'),) * 3
            print(f'  {name:<22} {n_ok:>6} images  {dt:6.2f} s  {r:7.1f} img/s' +
                  (f'  steady {st:7.1f} img/s, CPU ms/img {sm:.2f} fetcher + {sd:.2f} decoders' if manifest else '') +
                  f'  peak RSS {mem:6.0f} MiB  CPU {ms:5.2f} ms/img (server {1000 * scpu / max(n_ok, 1):.2f})  '
                  f'load {os.getloadavg()[0]:.1f}', flush=True)
            return r, mem, ms, st, sm, sd

        def rounds(tools, manifest):
            res, names = {k: [] for k in tools}, list(tools)
            for rep in range(a.repeats):
                print(f'repeat {rep + 1}/{a.repeats}:')
                for name in names[rep % len(names):] + names[:rep % len(names)]: res[name].append(once(name, tools[name], manifest))
            return res

        print(f'{a.n} images ({web}), latency {a.latency * 1000:.0f} ms, max size {a.max_size}, quality {a.quality}, '
              f'{a.procs} decoding processes, {os.cpu_count()} cores, CPU accounting of orphans: {reaper}')
        if a.only in ('all', 'pools'):
            names = a.pools.split(',')
            print('decoding pools (fetch_images, same options):')
            res = rounds({k: pool(k) for k in names}, True)
            results['pools'] = _table(f'decoding pools: median of {a.repeats}', res, names, names[0], a.n, steady=True)
        if a.only in ('all', 'tools'):
            tools = {'fashion-fetch': fetch(), 'naive (pool+urllib)': naive()}
            have_i2d = bool(a.i2d) and Path(a.i2d).exists()
            if have_i2d:
                print(f'img2dataset thread sweep ({a.procs} processes):')
                sweep = {t: once(f'img2dataset t={t}', i2d(t))[0] for t in map(int, a.i2d_threads.split(','))}
                best = max(sweep, key=sweep.get)
                print(f'  best thread count: {best}')
                tools[f'img2dataset (t={best})'] = i2d(best)
            else: print(f'img2dataset not found at {a.i2d!r}: skipped (see the docstring to install it)')
            res = rounds(tools, False)
            names = list(tools)
            shutil.rmtree(out, ignore_errors=True); out.mkdir()
            ceil = ceiling(web, rels, a.procs, a.max_size, a.quality, out)
            shutil.rmtree(out, ignore_errors=True)
            results['tools'] = _table(f'tools: median of {a.repeats} (ratio: tool against fashion-fetch)', res, names, 'fashion-fetch', a.n)
            results['ceiling'] = ceil
            ff = statistics.median(results['tools']['fashion-fetch']['img_s'])
            print(f'{"ceiling (pool, local)":<24}{ceil:8.1f}   fashion-fetch reaches {ff / ceil:.0%} of it')
        print('CPU ms/img: CPU time of the whole process tree plus the server\'s, per stored image; on a shared, loaded '
              'machine it is steadier than img/s; 2000 / (CPU ms/img) is the rate 2 idle cores would allow.')
    finally:
        srv.terminate(); srv.wait(10)
    if a.save: Path(a.save).write_text(json.dumps({'args': vars(a), **results}, indent=1))


if __name__ == '__main__':
    main()
