"""The full scale of the competition, measured: time and peak memory of each step a user runs on 1,014,544 images.

Builds once (in `--work`/<n>, reused when present) the data of a real run, in the layout `fashion-train` expects:

    train.json        n records in Kaggle's form (string ids, a plain-string URL per image, ~8 labels of 228 per image,
                      long-tailed, a few labels repeated within an image as in the real file)
    validation.json   9,897 records, likewise          test.json   39,706 records (int ids, no annotations)
    images/train/     a fetch store: manifest.csv lists every record as `ok`, `path` = images/xx/<id>.jpg, and every
    images/validation/  such file exists: a hard link (`os.link`) to one of 64 real 400x533-ish JPEGs in `jpegs/`,
    images/test/        so that file checks and decoding are real but the disk holds 64 images

then runs each step in a fresh process (so that its peak memory is its own) and reports its wall time (median of
`--repeats`) and peak RSS (the largest of the repeats), against the targets: each step <= 60 s, the training-data setup
(load + image_paths + get_dls at two sizes) <= 6 GB.

 1. `core.load_imat` of train.json
 2. `fashion-fetch train.json images/train` resuming over the complete manifest (the console script; until it exits
    having found nothing to do)
 3. `data.image_paths` of train (the manifest join)
 4. `data.get_dls` at 224 px with the validation set as `fashion-train` gives it (the first call: `image_items`'
    manifest joins, label check and file check over every file), then `get_dls(dls.df, size=128)` as each later
    progressive-resizing stage does; `core.check_image_files` over every file timed alone too; and, in a separate
    process, fastai's own machinery over the same items: a bare `Datasets` + `dataloaders`, and the stock
    `ImageDataLoaders.from_df`, beside ours
 5. `fashion-eda train.json validation.json test.json --images images/train --report DIR`
 6. `metrics.tune_thresholds` on 9,897 x 228 simulated probabilities (`metrics.simulate_probs`)
 7. prediction bookkeeping for the 39,706 test ids: `make_submission`, `write_submission`, `check_submission` of the
    written file, `save_probs` (and `find_images` of test.json in its store)

The machine may be shared: the load average is printed before and after each step and recorded. Results go to
`--out`.json and `--out`.md (default: WORK/<n>/scale.json, .md).

    python benchmarks/scale.py                       # 1,014,544 records, 3 repeats (building the data: a few minutes)
    python benchmarks/scale.py --n 20000 --repeats 1 # a quick try
    python benchmarks/scale.py --steps setup,fastai  # some steps only
    python benchmarks/scale.py --profile setup       # also profile a step (cProfile, top functions printed and saved)
"""
import argparse, cProfile, gc, io, json, os, pstats, resource, shutil, statistics, subprocess, sys, threading, time, warnings
from pathlib import Path

import numpy as np
import orjson

N_TRAIN, N_VALID, N_TEST, N_LABELS = 1_014_544, 9_897, 39_706, 228
N_JPEGS = 64
JPEG_SIZES = [(400, 533)] * 5 + [(533, 400), (400, 400), (360, 533)]  # (w, h), cycled over the 64 files
BIN = Path(sys.executable).parent
GB = 1e9
STEP_TARGET_S, SETUP_TARGET_GB = 60, 6

# ------------------------------------------------------------------------------------------------ building the data

def _labels(n, rng, mean=8, dup_share=0.002):
    "`n` label lists: k ~ 1 + Poisson(mean - 1) distinct labels of 228 (Zipf-like weights, without replacement), strings"
    w = 1 / np.arange(1, N_LABELS + 1) ** 1.1
    logw = np.log(w)[rng.permutation(N_LABELS)]  # which label id is frequent: shuffled, as in the real file
    k = np.clip(rng.poisson(mean - 1, n) + 1, 1, 22)
    names = np.array([str(i) for i in range(1, N_LABELS + 1)], dtype=object)
    out = []
    for s in range(0, n, 50_000):  # weighted sampling without replacement: the top k of log w + Gumbel noise
        kk = k[s:s + 50_000]
        keys = logw + rng.gumbel(size=(len(kk), N_LABELS))
        top = np.argsort(-keys, axis=1)[:, :kk.max()]
        out += [names[r[:m]].tolist() for r, m in zip(top, kk)]
    for i in rng.choice(n, max(1, int(n * dup_share)), replace=False): out[i].append(out[i][0])  # a label repeated
    return out


def _urls(n, rng, split):
    h = rng.integers(0, 2**63, (n, 2))
    return [f'https://contestimg.wish.com/api/webimage/{a:016x}{b & 0xffffffff:08x}-{split[0]}-large' for a, b in h.tolist()]


def write_json(path, n, split, seed, labelled=True):
    "A Kaggle-form competition file of `n` records: string ids and annotations when `labelled`, else int ids and none"
    rng = np.random.default_rng(seed)
    urls = _urls(n, rng, split)
    d = {'images': [{'url': u, 'imageId': str(i) if labelled else i} for i, u in enumerate(urls, 1)]}
    if labelled: d['annotations'] = [{'labelId': l, 'imageId': str(i)} for i, l in enumerate(_labels(n, rng), 1)]
    tmp = path.with_suffix('.tmp'); tmp.write_bytes(orjson.dumps(d)); os.replace(tmp, path)


def make_jpegs(d, n=N_JPEGS, seed=0):
    "`n` real JPEGs, ~400x533, of product-photo-like content (light background, a coloured shape, texture): their paths"
    from PIL import Image, ImageDraw, ImageFilter
    d.mkdir(parents=True, exist_ok=True)
    rng, out = np.random.default_rng(seed), []
    for k in range(n):
        w, h = JPEG_SIZES[k % len(JPEG_SIZES)]
        p = d/f'{k:02d}.jpg'
        if not p.exists():
            bg = tuple(int(v) for v in rng.integers(200, 256, 3))
            im = Image.new('RGB', (w, h), bg); dr = ImageDraw.Draw(im)
            col = tuple(int(v) for v in rng.integers(0, 200, 3))
            x0, y0 = rng.integers(20, w // 3), rng.integers(20, h // 3)
            (dr.ellipse if k % 2 else dr.rectangle)([x0, y0, w - rng.integers(20, w // 3), h - rng.integers(20, h // 3)], fill=col)
            a = np.asarray(im).astype(np.int16) + rng.normal(0, 12, (h, w, 3)).astype(np.int16)  # texture: JPEGs of real size
            im = Image.fromarray(a.clip(0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.6))
            im.save(p, quality=90, progressive=(k % 16 == 15))
        out.append(p)
    return out


def make_store(store, n, jpegs, seed=0):
    "A fetch store of `n` records (ids 1..n, as in the JSON): every one `ok` in manifest.csv, its file a hard link"
    import pandas as pd
    from PIL import Image
    from fashion_clf.core import MANIFEST_COLUMNS
    from fashion_clf.fetch import image_path
    if (store/'.complete').exists(): return 0.
    t0 = time.perf_counter()
    ids = [str(i) for i in range(1, n + 1)]
    rel = [image_path(i) + '.jpg' for i in ids]
    for sub in {r.rsplit('/', 1)[0] for r in rel}: (store/sub).mkdir(parents=True, exist_ok=True)
    src = [str(p) for p in jpegs]
    dims = [Image.open(p).size for p in jpegs]
    sizes = [p.stat().st_size for p in jpegs]
    root = str(store)
    for i, r in enumerate(rel):  # the links (a rerun after an interruption skips those made)
        try: os.link(src[i % len(src)], f'{root}/{r}')
        except FileExistsError: pass
    t_link = time.perf_counter() - t0
    rng = np.random.default_rng(seed)
    j = np.arange(n) % len(src)
    wh = np.array(dims)[j]
    url = orjson.loads((store.parent.parent/f'{store.name}.json').read_bytes())['images']  # the same URLs as the JSON
    m = pd.DataFrame({'image_id': ids, 'url': [u['url'] for u in url], 'status': 'ok', 'path': rel, 'error': '',
                      'http_status': 200, 'attempts': 1, 'bytes': np.array(sizes)[j] + rng.integers(0, 4000, n),
                      'width': wh[:, 0], 'height': wh[:, 1], 'orig_width': wh[:, 0], 'orig_height': wh[:, 1],
                      'seconds': rng.uniform(0.05, 1.5, n).round(3), 'detail': ''})
    m[MANIFEST_COLUMNS].to_csv(store/'manifest.csv', index=False)
    (store/'.complete').write_text('')
    return t_link


def du(path):
    "Bytes on disk under `path`, hard links counted once (`du -s`)"
    r = subprocess.run(['du', '-s', '-B1', str(path)], capture_output=True, text=True)
    return int(r.stdout.split()[0]) if r.returncode == 0 else -1


def build(d, n):
    "Write the data into `d` (skipping what is there); a dict of what it cost"
    d.mkdir(parents=True, exist_ok=True)
    cost, t0 = {}, time.perf_counter()
    for name, k, lab, seed in (('train', n, True, 1), ('validation', N_VALID, True, 2), ('test', N_TEST, False, 3)):
        p = d/f'{name}.json'
        if not p.exists():
            t = time.perf_counter(); write_json(p, k, name, seed, lab); cost[f'{name}.json s'] = round(time.perf_counter() - t, 1)
    jpegs = make_jpegs(d/'jpegs')
    for name, k in (('train', n), ('validation', N_VALID), ('test', N_TEST)):
        t = time.perf_counter(); tl = make_store(d/'images'/name, k, jpegs)
        if tl: cost[f'store {name} s'] = round(time.perf_counter() - t, 1); cost[f'store {name}: links s'] = round(tl, 1)
    if cost:
        cost['total s'] = round(time.perf_counter() - t0, 1)
        cost['disk bytes'] = du(d)
        cost['manifest.csv bytes'] = (d/'images'/'train'/'manifest.csv').stat().st_size
        cost['train.json bytes'] = (d/'train.json').stat().st_size
        cost['jpegs bytes'] = sum(p.stat().st_size for p in jpegs)
        (d/'build.json').write_text(json.dumps(cost, indent=1))
        print(f"built {d} in {cost['total s']:.0f} s: {json.dumps(cost)}", flush=True)
    return json.loads((d/'build.json').read_text()) if (d/'build.json').exists() else cost

# ------------------------------------------------------------------------------------------------ measuring, in a child

class Meter:
    "Wall time and peak RSS of the phases of this process: RSS sampled every 5 ms, and `ru_maxrss` when it rises"
    def __init__(self, prof=None):
        import psutil
        self.proc, self.rows, self.phase, self.maxes, self.stop, self.prof = psutil.Process(), [], 0, {}, False, prof
        threading.Thread(target=self._sample, daemon=True).start()
    def _sample(self):
        while not self.stop:
            ph, r = self.phase, self.proc.memory_info().rss
            self.maxes[ph] = max(self.maxes.get(ph, 0), r); time.sleep(0.005)
    def __call__(self, name, f, *args, _target=STEP_TARGET_S, **kw):
        "Run `f(*args, **kw)` as phase `name` (whose time target is `_target` seconds, None for none); its result"
        gc.collect()
        self.phase += 1; ph = self.phase
        ru0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        l0, t0, c0 = os.getloadavg()[0], time.perf_counter(), time.process_time()
        if self.prof: self.prof.enable()
        r = f(*args, **kw)
        if self.prof: self.prof.disable()
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        self.phase += 1
        ru1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        peak = ru1 if ru1 > ru0 else max(self.maxes.get(ph, 0), self.proc.memory_info().rss)
        self.rows.append(dict(step=name, target_s=_target, seconds=dt, cpu_seconds=cpu, peak_rss=peak, rss_after=self.proc.memory_info().rss,
                              load=[round(l0, 2), round(os.getloadavg()[0], 2)]))
        print(f'    {name:<58} {dt:7.2f} s  peak {peak / GB:5.2f} GB  (load {l0:.1f})', flush=True)
        return r


def child_load(d, m):
    from fashion_clf.core import load_imat
    df = m('load_imat train.json', load_imat, d/'train.json')
    assert len(df) == int(d.name), len(df)


def _setup_args(d):
    from fashion_clf.core import load_imat
    return load_imat(d/'train.json', warn=False), load_imat(d/'validation.json', warn=False)


def child_setup(d, m):
    "The training-data setup in the order `fashion-train` does it, then its parts alone"
    from fashion_clf.core import load_imat, check_image_files
    from fashion_clf.data import image_paths, image_items, get_dls
    tr = m('load_imat train.json', load_imat, d/'train.json', warn=False)
    va = m('load_imat validation.json', load_imat, d/'validation.json', warn=False)
    st, vst = d/'images'/'train', d/'images'/'validation'
    p = m('image_paths train (manifest join)', image_paths, tr, st, split='train')
    assert len(p) == len(tr) and os.path.exists(p.path.iloc[-1]); del p
    dls = m('get_dls 224 (first call: image_items + file check + fastai)', get_dls, tr, st, valid=va, valid_src=vst, size=224, bs=64)
    assert len(dls.train_ds) == len(tr) and len(dls.valid_ds) == len(va), (len(dls.train_ds), len(dls.valid_ds))
    items = dls.df
    dls = None  # (as `learn.dls = dls_fn(size)`: the stage's loaders replace the last ones)
    dls = m('get_dls 128 from dls.df (each later stage)', get_dls, items, valid='is_valid', size=128, bs=64)
    m.setup_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    del dls
    # the parts, alone (after the whole: they do not raise the setup's peak above)
    m('  part: image_items(check=False) (joins + label check)', image_items, tr, st, va, vst, check=False, _target=None)
    bad = m('  part: core.check_image_files over every file', check_image_files, items.path, _target=None)
    assert not len(bad), bad.head()
    x, y = m('  part: get_dls 224 (again) + one training batch', lambda: get_dls(items, valid='is_valid', size=224, bs=64, check=False).one_batch(), _target=None)


def child_fastai(d, m):
    "fastai's machinery over the same items: a bare `Datasets`, the stock `ImageDataLoaders.from_df`, and our `get_dls`"
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        from fastai.vision.all import (Datasets, ColReader, ColSplitter, PILImage, MultiCategorize, OneHotEncode, Resize,
                                       ToTensor, IntToFloatTensor, ImageDataLoaders, MultiCategoryBlock)
    from fashion_clf.core import IMAT_LABELS
    from fashion_clf.data import image_items, get_dls
    tr, va = _setup_args(d)
    items = m('image_items(check=False) (the items: ours)', image_items, tr, d/'images'/'train', va, d/'images'/'validation', check=False, _target=None)
    del tr, va
    def bare():
        splits = ColSplitter('is_valid')(items)
        ds = Datasets(items, tfms=[[ColReader('path'), PILImage.create], [ColReader('labels'), MultiCategorize(IMAT_LABELS), OneHotEncode(N_LABELS)]],
                      splits=splits)
        return ds.dataloaders(bs=64, num_workers=0, after_item=[Resize(224), ToTensor()], after_batch=[IntToFloatTensor()])
    a = m('fastai: bare Datasets + dataloaders (vocab given)', bare, _target=None); del a
    a = m('fastai: ImageDataLoaders.from_df (stock, vocab inferred)', ImageDataLoaders.from_df, items, path='/', fn_col='path',
          label_col='labels', valid_col='is_valid', y_block=MultiCategoryBlock, item_tfms=Resize(224), bs=64, num_workers=0, _target=None); del a
    a = m('ours: get_dls(items, check=False) at 224', get_dls, items, valid='is_valid', size=224, bs=64, check=False, _target=None); del a


def child_tune(d, m):
    from fashion_clf.metrics import simulate_probs, tune_thresholds
    y, p = simulate_probs(N_VALID, N_LABELS, seed=0)
    th = m(f'tune_thresholds {N_VALID:,} x {N_LABELS} (auto, 5-fold CV)', tune_thresholds, y, p, [str(i) for i in range(1, N_LABELS + 1)])
    assert th['mode'] in ('global', 'per_label'), th['mode']


def child_predict(d, m):
    from fashion_clf.core import load_imat
    from fashion_clf.metrics import simulate_probs, tune_thresholds
    from fashion_clf.predict import make_submission, write_submission, check_submission, save_probs, find_images
    vocab = [str(i) for i in range(1, N_LABELS + 1)]
    y, p = simulate_probs(N_VALID, N_LABELS, seed=0)
    th = tune_thresholds(y, p, vocab, folds=0, mode='per_label')
    ids = load_imat(d/'test.json').image_id.tolist()
    probs = simulate_probs(len(ids), N_LABELS, seed=1)[1]
    probs[::200] = np.nan  # images that could not be read: the prior labels
    out = d/'predict'; out.mkdir(exist_ok=True)
    t0 = time.perf_counter()
    f = m(f'  part: find_images test.json ({len(ids):,}) in its store', find_images, d/'test.json', d/'images'/'test', _target=None)
    assert (f.problem == '').all()
    sub = m('  part: make_submission', make_submission, ids, probs, vocab, th, _target=None)
    m('  part: write_submission', write_submission, sub, out/'submission.csv', _target=None)
    c = m('  part: check_submission (the written file, against test.json)', check_submission, out/'submission.csv', d/'test.json', _target=None)
    assert c.ok and not c.warnings, c
    m('  part: save_probs (compressed .npz)', save_probs, out/'probs.npz', ids, probs, vocab, _target=None)
    m.rows.append(dict(step='prediction bookkeeping: the parts above', target_s=STEP_TARGET_S, seconds=time.perf_counter() - t0,
                       peak_rss=max(r['peak_rss'] for r in m.rows), load=[m.rows[0]['load'][0], round(os.getloadavg()[0], 2)]))


CHILDREN = {'load': child_load, 'setup': child_setup, 'fastai': child_fastai, 'tune': child_tune, 'predict': child_predict}


def child_main(step, d, profile=None):
    warnings.simplefilter('ignore')
    pr = cProfile.Profile() if profile else None  # (the measured calls only: not the imports)
    m = Meter(pr); m.setup_peak = None
    CHILDREN[step](Path(d), m)
    if pr: pr.dump_stats(profile)
    m.stop = True
    res = dict(rows=m.rows, maxrss=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, setup_peak=m.setup_peak)
    print('@@RESULT ' + json.dumps(res), flush=True)

# ------------------------------------------------------------------------------------------------ the parent

def run(cmd, log, env=None):
    "Run `cmd`: (wall seconds, its peak RSS in bytes, its output); an error stops the benchmark"
    with open(log, 'w+') as f:
        t0 = time.perf_counter()
        p = subprocess.Popen([str(c) for c in cmd], stdout=f, stderr=subprocess.STDOUT, env=env)
        _, status, ru = os.wait4(p.pid, 0)
        dt = time.perf_counter() - t0
        f.seek(0); out = f.read()
    if os.waitstatus_to_exitcode(status): sys.exit(f'{cmd[:3]} failed ({os.waitstatus_to_exitcode(status)}):\n{out[-3000:]}')
    return dt, ru.ru_maxrss * 1024, out


def child(step, d, log, profile=None):
    "Run child step `step` in a fresh process: its rows"
    cmd = [sys.executable, __file__, '--child', step, '--work', d] + (['--profile-file', profile] if profile else [])
    dt, rss, out = run(cmd, log, env=dict(os.environ, MPLBACKEND='Agg', PYTHONWARNINGS='ignore'))
    res = json.loads(next(l for l in out.splitlines() if l.startswith('@@RESULT '))[9:])
    res['wall'], res['wait4_maxrss'] = dt, rss
    return res


def command(name, cmd, d, log, check=None, profile=None):
    "Time console script `cmd` (the process's own wait4 peak RSS)"
    if profile: cmd = [sys.executable, '-m', 'cProfile', '-o', profile] + cmd
    l0 = os.getloadavg()[0]
    dt, rss, out = run(cmd, log, env=dict(os.environ, MPLBACKEND='Agg'))
    if check: assert check in out, out[-2000:]
    print(f'    {name:<58} {dt:7.2f} s  peak {rss / GB:5.2f} GB  (load {l0:.1f})', flush=True)
    return dict(rows=[dict(step=name, target_s=STEP_TARGET_S, seconds=dt, peak_rss=rss, load=[round(l0, 2), round(os.getloadavg()[0], 2)])])


STEPS = ('load', 'fetch', 'setup', 'fastai', 'eda', 'tune', 'predict')
GROUPS = {'load': '1. load_imat of train.json (a fresh process)',
          'fetch': '2. fashion-fetch resuming over the complete manifest (the console script)',
          'setup': '3-4. the training-data setup, one process, in the order fashion-train does it (then its parts alone)',
          'fastai': "4. fastai's own machinery beside ours, same items, one process",
          'eda': '5. fashion-eda (the console script)',
          'tune': '6. threshold tuning',
          'predict': '7. prediction bookkeeping for the test ids'}


def measure(step, d, repeats, logs, profile=None):
    "The rows of step `step`, each the median time and largest peak RSS of `repeats` runs"
    runs = []
    for r in range(repeats if not profile else 1):
        log = logs/f'{step}-{r}.log'
        if step == 'fetch':
            res = command('fashion-fetch train.json images/train (resume, nothing to do)',
                          [BIN/'fashion-fetch', d/'train.json', d/'images'/'train', '--no-progress'], d, log, 'fetched 0 of 0', profile)
        elif step == 'eda':
            rep = d/'eda_report'; shutil.rmtree(rep, ignore_errors=True)
            res = command('fashion-eda train.json validation.json test.json --images',
                          [BIN/'fashion-eda', d/'train.json', d/'validation.json', d/'test.json', '--images', d/'images'/'train',
                           '--report', rep], d, log, 'report.html', profile)
        else: res = child(step, d, log, profile)
        runs.append(res)
    rows = []
    for i, row in enumerate(runs[0]['rows']):
        ts = [x['rows'][i]['seconds'] for x in runs]
        rows.append(dict(row, group=step, seconds=statistics.median(ts), all_seconds=[round(t, 2) for t in ts],
                         peak_rss=max(x['rows'][i]['peak_rss'] for x in runs), load=[runs[0]['rows'][i]['load'][0], runs[-1]['rows'][i]['load'][1]]))
    extra = dict(maxrss=max(x.get('maxrss') or x['rows'][-1]['peak_rss'] for x in runs),
                 setup_peak=max((x['setup_peak'] for x in runs if x.get('setup_peak')), default=None))
    return rows, extra


def report(rows, setup, n, args, build_cost, load):
    "The table as text and markdown, and the JSON record"
    head = f"{'step':<62}{'seconds':>9}{'peak RSS GB':>13}{'target':>9}{'ok':>5}"
    group = None
    lines, md = [head, '-' * len(head)], ['| step | seconds | peak RSS GB | target | within | all runs (s) | load (before, after) |',
                                          '|---|---:|---:|---:|:---:|---|---|']
    for r in rows:
        if r.get('group') != group:
            group = r.get('group'); lines.append(GROUPS[group]); md.append(f'| **{GROUPS[group]}** | | | | | | |')
        t = r['target_s']; r['within'] = None if t is None else r['seconds'] <= t
        ok = '' if t is None else ('yes' if r['within'] else 'NO')
        lines.append(f"{r['step']:<62}{r['seconds']:9.2f}{r['peak_rss'] / GB:13.2f}{(f'<= {t}' if t else ''):>9}{ok:>5}")
        md.append(f"| {r['step'].strip()} | {r['seconds']:.2f} | {r['peak_rss'] / GB:.2f} | {f'<= {t} s' if t else ''} | {ok} | "
                  f"{', '.join(map(str, r.get('all_seconds', [])))} | {r['load'][0]}, {r['load'][1]} |")
    if setup is not None:
        s_ok = setup['peak'] <= SETUP_TARGET_GB * GB
        t = f"training-data setup (load + image_paths + get_dls 224 + get_dls 128), one process: peak RSS {setup['peak'] / GB:.2f} GB " \
            f"(target <= {SETUP_TARGET_GB} GB: {'yes' if s_ok else 'NO'}); {setup['seconds']:.1f} s in all"
        lines += ['', t]; md += ['', t]
        setup['within'] = s_ok
    foot = (f"{n:,} training records; {os.cpu_count()} cores, load average {load[0]} before, {load[1]} after "
            f"(the machine is shared: wall times on a loaded machine overstate); median of {args.repeats} runs, peak RSS the largest")
    lines += ['', foot]; md += ['', foot]
    return '\n'.join(lines), '\n'.join(md)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--n', type=int, default=N_TRAIN, help='training records')
    ap.add_argument('--repeats', type=int, default=3, help='runs of each step (the median time is reported)')
    ap.add_argument('--work', default='/tmp/scale', help='where the data are built (in WORK/<n>; reused when present)')
    ap.add_argument('--out', default=None, help='write the results to OUT.json and OUT.md (default: WORK/<n>/scale)')
    ap.add_argument('--steps', default=','.join(STEPS), help=f'steps to run, of {",".join(STEPS)}')
    ap.add_argument('--profile', default='', help='steps to profile too (cProfile, one extra run each; e.g. setup,eda)')
    ap.add_argument('--child', default=None, help=argparse.SUPPRESS)
    ap.add_argument('--profile-file', default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child: return child_main(a.child, a.work, a.profile_file)
    d = Path(a.work)/str(a.n)
    load0 = round(os.getloadavg()[0], 2)
    print(f'{os.cpu_count()} cores, load average {os.getloadavg()}; data in {d}', flush=True)
    cost = build(d, a.n)
    logs = d/'logs'; logs.mkdir(exist_ok=True)
    rows, setup = [], None
    steps = [s.strip() for s in a.steps.split(',') if s.strip()]
    for s in steps:
        if s not in STEPS: sys.exit(f'unknown step {s!r} (of {", ".join(STEPS)})')
        print(f'{s}: {a.repeats} run(s), load average {os.getloadavg()[0]:.1f}', flush=True)
        rs, extra = measure(s, d, a.repeats, logs)
        rows += rs
        for r in rs: print(f"  {r['step']:<62}{r['seconds']:8.2f} s {r['peak_rss'] / GB:6.2f} GB   runs {r['all_seconds']}", flush=True)
        if s == 'setup':
            setup = dict(peak=extra['setup_peak'], seconds=sum(r['seconds'] for r in rs if not r['step'].startswith('  part')))
    load1 = round(os.getloadavg()[0], 2)
    text, md = report(rows, setup, a.n, a, cost, (load0, load1))
    print('\n' + text)
    profiles = {}
    for s in [s.strip() for s in a.profile.split(',') if s.strip()]:
        prof = logs/f'{s}.prof'
        print(f'\nprofiling {s} (one run under cProfile, slower than above) ...', flush=True)
        measure(s, d, 1, logs, profile=str(prof))
        b = io.StringIO(); st = pstats.Stats(str(prof), stream=b).strip_dirs()
        st.sort_stats('cumulative').print_stats(30); st.sort_stats('tottime').print_stats(20)
        profiles[s] = b.getvalue(); (logs/f'{s}.prof.txt').write_text(b.getvalue())
        print(b.getvalue())
    out = Path(a.out) if a.out else d/'scale'
    out.parent.mkdir(parents=True, exist_ok=True)
    rec = dict(n=a.n, repeats=a.repeats, cores=os.cpu_count(), load=[load0, load1], command=' '.join(sys.argv), build=cost,
               rows=rows, setup=setup, targets=dict(step_s=STEP_TARGET_S, setup_gb=SETUP_TARGET_GB), profiles=profiles)
    Path(f'{out}.json').write_text(json.dumps(rec, indent=1, default=str))
    Path(f'{out}.md').write_text(f'`{" ".join(["python benchmarks/scale.py"] + sys.argv[1:])}`\n\n' + md +
                                 (f"\n\nbuilding the data: {json.dumps(cost)}\n" if cost else '\n'))
    print(f'\nwritten {out}.json and {out}.md')


if __name__ == '__main__':
    main()
