"""How long `fashion-fetch` takes to find out that there is nothing to do, at the full scale of the competition.

Builds (once, cached in WORK) a Kaggle-form `train.json` of 1,014,544 records (~8 long-tailed labels of 228 each) and
a fetch store whose `manifest.csv` lists every record as `ok` (no image files: a resume never opens them), then:

1. runs `fashion-fetch train.json OUT` (and with `--shard 0/4`) as a user would, several times: wall time until it
   exits having fetched nothing, and its peak RSS (the process's own `ru_maxrss`; with nothing to fetch it starts no
   other process); with `--baseline REV`, the command of `fashion_clf/fetch.py` as it was at git revision REV too, in
   the same rounds;
2. times the steps in this process: reading the records (`load_imat`), reading the manifest (`read_manifest`), and
   planning (`_plan`) against the planning loop of earlier versions (a Python loop over every record with dict
   lookups, kept here as the baseline), measured in the same run.

    python benchmarks/fetch_resume.py                 # 1,014,544 records, 3 repeats
    python benchmarks/fetch_resume.py --n 100000      # smaller, quicker
    python benchmarks/fetch_resume.py --baseline 7a24901   # also the command as it was at that commit
"""
import argparse, csv, os, statistics, subprocess, sys, time
from collections import Counter
from pathlib import Path

import numpy as np
import orjson

from fashion_clf.core import MANIFEST_COLUMNS, read_manifest
from fashion_clf.fetch import FetchConfig, _plan, _records, image_path, shard_of

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[1]
RUNNER = """import importlib.util, sys
spec = importlib.util.spec_from_file_location('fashion_clf.fetch_baseline', sys.argv.pop(1))
m = importlib.util.module_from_spec(spec); sys.modules[spec.name] = m; spec.loader.exec_module(m)
sys.exit(m.fashion_fetch())
"""


def baseline_cmd(rev, work):
    "A command line running the `fashion-fetch` of `fashion_clf/fetch.py` at git revision `rev`"
    src = subprocess.run(['git', '-C', str(ROOT), 'show', f'{rev}:fashion_clf/fetch.py'], capture_output=True, text=True, check=True).stdout
    (work / 'fetch_baseline.py').write_text(src); (work / 'fetch_baseline_cli.py').write_text(RUNNER)
    return [sys.executable, str(work / 'fetch_baseline_cli.py'), str(work / 'fetch_baseline.py')]


def make_json(path: Path, n: int, seed=0):
    "A Kaggle-form train.json of `n` records: string ids from 1, wish.com-like URLs, ~8 long-tailed labels of 228"
    rng = np.random.default_rng(seed)
    p = 1 / np.arange(1, 229) ** 0.9; p /= p.sum()
    k = rng.poisson(7, n) + 1
    labels = rng.choice(np.arange(1, 229), size=k.sum(), p=p).astype(str)
    ends = np.cumsum(k)
    imgs = [{'url': f'https://contestimg.wish.com/api/webimage/{i:024x}-large', 'imageId': str(i)} for i in range(1, n + 1)]
    anns = [{'labelId': list(dict.fromkeys(labels[e - m:e].tolist())), 'imageId': str(i)}  # (no label twice in an image)
            for i, (e, m) in enumerate(zip(ends, k), 1)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps({'images': imgs, 'annotations': anns}))


def make_manifest(out: Path, n: int):
    "OUT/manifest.csv with every record of `make_json` as `ok`"
    out.mkdir(parents=True, exist_ok=True)
    with open(out / 'manifest.csv', 'w', newline='') as f:
        w = csv.writer(f, lineterminator='\n')
        w.writerow(MANIFEST_COLUMNS)
        for i in range(1, n + 1):
            s = str(i)
            w.writerow([s, f'https://contestimg.wish.com/api/webimage/{i:024x}-large', 'ok', image_path(s) + '.jpg', '', 200, 1,
                        31000 + i % 9000, 384, 384, 600, 600, 0.25, ''])


def run_cli(cmd, work):
    "Run `cmd`; returns (seconds, its peak RSS in MiB, its output)"
    with open(work / 'log', 'w+') as log:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        _, status, ru = os.wait4(p.pid, 0)  # this process's own rusage (ru_maxrss in KiB)
        dt = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0); out = log.read()
    if p.returncode: raise RuntimeError(f'{cmd[:2]} failed ({p.returncode}): {out[-2000:]}')
    return dt, ru.ru_maxrss / 1024, out


def old_plan(recs, prev, k, n, limit, retry_failed):
    "The planning loop of earlier versions: a Python loop over every record, hashing each id for shards (the baseline)"
    counts = Counter(records=len(recs))
    dup = recs.image_id.duplicated()
    counts['duplicates'] = int(dup.sum())
    recs = recs[~dup]
    if n > 1: recs = recs[[shard_of(i, n) == k for i in recs.image_id]]
    if limit: recs = recs.iloc[:limit]
    counts['selected'] = len(recs)
    pst = dict(zip(prev.image_id, prev.status)); patt = dict(zip(prev.image_id, prev.attempts.fillna(0).astype(int)))
    jobs, bad = [], []
    for i, u in zip(recs.image_id, recs.url):
        s = pst.get(i)
        if s == 'ok': counts['already_ok'] += 1; continue
        if s == 'error' and not retry_failed: counts['skipped_failed'] += 1; continue
        jobs.append((i, u, patt.get(i, 0)))
    return recs, jobs, bad, counts


def timed(f, *a, **kw):
    t0 = time.perf_counter(); r = f(*a, **kw); return time.perf_counter() - t0, r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--n', type=int, default=1_014_544, help='records')
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--work', default='/tmp/fetch_resume', help='scratch folder (the JSON and manifest are cached here)')
    ap.add_argument('--baseline', default=None, help='a git revision whose fashion-fetch to time as well (e.g. 7a24901)')
    a = ap.parse_args()
    work = Path(a.work) / str(a.n)
    js, out = work / 'train.json', work / 'store'
    if not js.exists():
        t = timed(make_json, js, a.n)[0]; print(f'made {js} ({js.stat().st_size / 2**20:.0f} MiB) in {t:.0f} s')
    if not (out / 'manifest.csv').exists():
        t = timed(make_manifest, out, a.n)[0]
        print(f'made {out / "manifest.csv"} ({(out / "manifest.csv").stat().st_size / 2**20:.0f} MiB) in {t:.0f} s')
    print(f'{a.n:,} records, all ok in the manifest; {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}')

    ff = [str(BIN / 'fashion-fetch')]
    cli = {'fashion-fetch JSON OUT': ff + [str(js), str(out), '--no-progress'],
           'fashion-fetch JSON OUT --shard 0/4': ff + [str(js), str(out), '--no-progress', '--shard', '0/4']}
    if a.baseline:
        old = baseline_cmd(a.baseline, work)
        cli.update({f'{a.baseline}: JSON OUT': old + [str(js), str(out), '--no-progress'],
                    f'{a.baseline}: JSON OUT --shard 0/4': old + [str(js), str(out), '--no-progress', '--shard', '0/4']})
    res = {k: [] for k in cli}
    for rep in range(a.repeats):
        for name, cmd in cli.items():
            dt, rss, o = run_cli(cmd, work)
            assert 'fetched 0 of 0' in o and 'already ok' in o, o
            res[name].append((dt, rss))
            print(f'  {name:<40} {dt:6.1f} s  peak RSS {rss:6.0f} MiB  load {os.getloadavg()[0]:.1f}', flush=True)

    steps = {k: [] for k in ('load_imat (records)', 'read_manifest', '_plan', 'old planning loop (baseline)',
                             '_plan --shard 0/4', 'old loop --shard 0/4')}
    for rep in range(a.repeats):
        t, recs = timed(_records, js); steps['load_imat (records)'].append(t)
        t, prev = timed(read_manifest, out); steps['read_manifest'].append(t)
        t, r = timed(_plan, recs, prev, FetchConfig()); steps['_plan'].append(t)
        assert not r[1] and r[3]['already_ok'] == a.n
        t, r = timed(old_plan, recs, prev, 0, 1, None, False); steps['old planning loop (baseline)'].append(t)
        assert r[3]['already_ok'] == a.n
        t, r = timed(_plan, recs, prev, FetchConfig(shard='0/4')); steps['_plan --shard 0/4'].append(t)
        t, r2 = timed(old_plan, recs, prev, 0, 4, None, False); steps['old loop --shard 0/4'].append(t)
        assert r[3]['already_ok'] == r2[3]['already_ok'] == len(r[0])
        del recs, prev

    print(f'\n{a.n:,} records, median of {a.repeats}:')
    print(f'{"":<42}{"seconds":>9}{"peak RSS MiB":>14}')
    for k, v in res.items():
        print(f'{k:<42}{statistics.median(x for x, _ in v):9.1f}{max(r for _, r in v):14.0f}')
    for k, v in steps.items(): print(f'  {k:<40}{statistics.median(v):9.2f}')
    ratio = statistics.median(steps['old planning loop (baseline)']) / statistics.median(steps['_plan'])
    ratio4 = statistics.median(steps['old loop --shard 0/4']) / statistics.median(steps['_plan --shard 0/4'])
    print(f'_plan is {ratio:.1f}x faster than the old loop ({ratio4:.1f}x with --shard 0/4)')


if __name__ == '__main__':
    main()
