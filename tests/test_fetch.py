"""Tests of fashion_clf.fetch against the local server's faults: every fault kind ends as the right manifest row
(never a crash, never a stray or partial file), resume requests nothing twice, a SIGKILLed (or interrupted) run
restarted ends with the same store as an uninterrupted one, ids cannot write outside OUT, only http(s) is fetched,
and the command line (relative paths, its errors, its options)."""
import asyncio, io, json, os, signal, subprocess, sys, time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest
from PIL import Image

from fashion_clf.core import MANIFEST_COLUMNS, read_manifest
from fashion_clf.fetch import fetch_images
from fashion_clf.server import serve_images, ImageServer

BIN = Path(sys.executable).parent
FAST = dict(progress=False, verbose=False, backoff=0.01, max_backoff=0.05, retries=2, read_timeout=0.5,
            timeout=3, connect_timeout=1, max_mb=1, workers=2, concurrency=16)


def jpeg(seed, w=160, h=120, mode='RGB', fmt='JPEG'):
    a = np.random.default_rng(seed).integers(0, 255, (h // 8 + 1, w // 8 + 1, 3), dtype=np.uint8)
    im = Image.fromarray(a).resize((w, h), Image.Resampling.BILINEAR).convert(mode)
    b = io.BytesIO(); im.save(b, fmt, quality=90); return b.getvalue()


@pytest.fixture(scope='module')
def web(tmp_path_factory):
    d = tmp_path_factory.mktemp('web')
    for i in range(300): (d / f'{i}.jpg').write_bytes(jpeg(i))
    (d / 'cmyk.jpg').write_bytes(jpeg(1, mode='CMYK'))
    (d / 'grey.jpg').write_bytes(jpeg(2, mode='L'))
    (d / 'alpha.png').write_bytes(jpeg(3, mode='RGBA', fmt='PNG'))
    (d / 'big.jpg').write_bytes(jpeg(4, 1000, 800))
    return d


def files_under(d: Path):
    "Relative paths of every file under `d`"
    return sorted(str(p.relative_to(d)) for p in Path(d).rglob('*') if p.is_file())


def check_store(out: Path, m: pd.DataFrame):
    "The store holds exactly the ok rows' files (no stray or temporary files) and every one is a whole JPEG"
    ok = m[m.status == 'ok']
    imgs = [f for f in files_under(out) if f not in ('manifest.csv',) and not f.startswith('summary')]
    assert sorted(imgs) == sorted(ok.path), (imgs, list(ok.path))
    for p in ok.path: Image.open(out / p).load()


# (fault spec, expected status, expected error kind, expected attempts with retries=2)
FAULTS = [
    ('404', 'error', 'http_404', 1), ('410', 'error', 'http_410', 1), ('403', 'error', 'http_403', 1),
    ('500', 'transient', 'http_500', 3), ('503', 'transient', 'http_503', 3),
    ('429:0.6', 'transient', 'http_429', 3), ('429:500', 'transient', 'http_429', 1),  # Retry-After > max_retry_after
    ('flaky:2:429', 'ok', None, 3), ('flaky:1', 'ok', None, 2),
    ('slow:2', 'transient', 'timeout', 3), ('trickle:0.8', 'transient', 'timeout', 3),
    ('truncate', 'error', 'truncated', 1), ('html', 'error', 'not_image', 1), ('empty', 'error', 'not_image', 1),
    ('loop', 'error', 'redirects', 1), ('redirect:2', 'ok', None, 1), ('big:3', 'error', 'too_large', 1),
    ('biglen:3', 'error', 'too_large', 1), ('reset', 'transient', 'connection', 3),
    ('resetbody', 'transient', 'connection', 3), ('bomb', 'error', 'decompression_bomb', 1),
]


class RecordingServer(ImageServer):
    "An `ImageServer` that records when each request arrived and the most requests it was handling at once"
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw); self.now = self.peak = 0; self.times = {}
    async def handle(self, request):
        self.now += 1; self.peak = max(self.peak, self.now)
        self.times.setdefault(request.path, []).append(time.monotonic())
        try: return await super().handle(request)
        finally: self.now -= 1


def test_every_fault_kind(web, tmp_path):
    out = tmp_path / 'out'
    srv = RecordingServer(web).start()
    try:
        url = srv.url
        ids = [f'f{i}' for i in range(len(FAULTS))]
        urls = [f'{url}/fault/{spec}/{i}.jpg' for i, (spec, *_) in enumerate(FAULTS)]
        extra = {'ftp': 'ftp://127.0.0.1/1.jpg', 'file': 'file:///etc/passwd', 'nohost': 'http:///x.jpg',
                 'junk': 'not a url', 'refused': 'http://127.0.0.1:1/x.jpg', 'cmyk': f'{url}/cmyk.jpg',
                 'grey': f'{url}/grey.jpg', 'alpha': f'{url}/alpha.png', 'big': f'{url}/big.jpg', 'gone': f'{url}/nope.jpg'}
        df = pd.DataFrame({'image_id': ids + list(extra), 'url': urls + list(extra.values())})
        m = fetch_images(df, out, max_size=256, **FAST)
    finally: srv.stop()
    assert list(m.columns) == MANIFEST_COLUMNS and len(m) == len(df)
    r = m.set_index('image_id')
    for i, (spec, status, err, attempts) in enumerate(FAULTS):
        row = r.loc[f'f{i}']
        got = (row.status, row.error or None, int(row.attempts))
        assert got == (status, err, attempts), (spec, got, row.detail)
    for k in ('ftp', 'file', 'nohost', 'junk'): assert (r.status[k], r.error[k], r.attempts[k]) == ('error', 'bad_url', 0), k
    assert (r.status['refused'], r.error['refused']) == ('transient', 'connection')
    assert (r.status['gone'], r.http_status['gone']) == ('error', 404)
    for k in ('cmyk', 'grey', 'alpha', 'big'):
        assert r.status[k] == 'ok', (k, r.detail[k])
        assert Image.open(out / r.path[k]).mode == 'RGB'
    assert (r.width['big'], r.height['big'], r.orig_width['big'], r.orig_height['big']) == (256, 205, 1000, 800)
    f = {spec: f'f{i}' for i, (spec, *_) in enumerate(FAULTS)}
    t = srv.times[f"/fault/429:0.6/{f['429:0.6'][1:]}.jpg"]
    assert len(t) == 3 and min(np.diff(t)) >= 0.6, np.diff(t)  # each retry waited the Retry-After (the backoff is <= 0.05 s)
    assert r.bytes[f['big:3']] > 2**20 and r.bytes[f['biglen:3']] == 0  # big streamed until the cap; biglen refused by its header
    check_store(out, m)
    s = json.loads((out / 'summary.json').read_text())
    assert s['ok'] == (m.status == 'ok').sum() and s['errors']['bad_url'] == 4 and s['errors']['timeout'] == 2


def test_resume_requests_nothing_twice(web, tmp_path):
    out = tmp_path / 'out'
    def recs(url): return pd.DataFrame({'image_id': [str(i) for i in range(40)] + ['t', 'p'],
                                        'url': [f'{url}/{i}.jpg' for i in range(40)] + [f'{url}/fault/flaky:3/1.jpg', f'{url}/fault/404/2.jpg']})
    with serve_images(web) as url:
        m1 = fetch_images(recs(url), out, **{**FAST, 'retries': 1})
        assert all(url.requests[f'/{i}.jpg'] == 1 for i in range(40))
        assert url.requests['/fault/flaky:3/1.jpg'] == 2 and url.requests['/fault/404/2.jpg'] == 1
        assert m1.set_index('image_id').status[['t', 'p']].tolist() == ['transient', 'error']
        url.requests.clear()  # (not server.reset(): the flaky count must go on)
        m2 = fetch_images(recs(url), out, **{**FAST, 'retries': 1})  # only the transient failure is asked for again
        assert dict(url.requests) == {'/fault/flaky:3/1.jpg': 2}
        assert m2.set_index('image_id').loc['t', ['status', 'attempts']].tolist() == ['ok', 4]
        url.server.reset()
        m3 = fetch_images(recs(url), out, **FAST, retry_failed=True)  # only the permanent failure
        assert dict(url.requests) == {'/fault/404/2.jpg': 1}
    with serve_images(web) as url:  # a new server, so new URLs: stored images are known by their id
        fetch_images(recs(url), out, **FAST)
        assert sum(url.requests.values()) == 0
    assert (m3.status == 'ok').sum() == 41
    check_store(out, m3)
    assert len(read_manifest(out, latest=False)) == 42 + 1 + 1


def test_duplicates_shards_limit(web, tmp_path):
    with serve_images(web) as url:
        df = pd.DataFrame({'image_id': [str(i) for i in range(30)] + ['3', '4'], 'url': [f'{url}/{i}.jpg' for i in range(30)] + [f'{url}/9.jpg'] * 2})
        parts = [fetch_images(df, tmp_path / 'sh', shard=f'{k}/3', **FAST) for k in range(3)]
        assert all(url.requests[f'/{i}.jpg'] == 1 for i in range(30))  # duplicates fetched once, shards disjoint
        ids = pd.concat(parts).image_id
        assert sorted(ids, key=int) == [str(i) for i in range(30)] and ids.is_unique
        assert len(read_manifest(tmp_path / 'sh')) == 30
        assert sorted(p.name for p in (tmp_path / 'sh').glob('summary*')) == [f'summary-{k}-of-3.json' for k in range(3)]
        assert fetch_images(df, tmp_path / 'lim', limit=7, **FAST).image_id.tolist() == [str(i) for i in range(7)]
    with pytest.raises(ValueError, match='shard'): fetch_images(df, tmp_path / 'x', shard='3/3', **FAST)


def test_in_flight_is_bounded(web, tmp_path):
    srv = RecordingServer(web, latency=0.05).start()
    try:
        df = pd.DataFrame({'image_id': [str(i) for i in range(60)], 'url': [f'{srv.url}/{i}.jpg' for i in range(60)]})
        m = fetch_images(df, tmp_path / 'o', **{**FAST, 'concurrency': 4})
    finally: srv.stop()
    assert (m.status == 'ok').all() and sum(srv.requests.values()) == 60
    assert 2 <= srv.peak <= 4, srv.peak  # parallel, but never more than `concurrency` requests at once
    srv = RecordingServer(web, latency=0.05).start()
    try:
        df = pd.DataFrame({'image_id': [str(i) for i in range(30)], 'url': [f'{srv.url}/{i}.jpg' for i in range(30)]})
        m = fetch_images(df, tmp_path / 'o2', **{**FAST, 'concurrency': 8, 'per_host': 2})
    finally: srv.stop()
    assert (m.status == 'ok').all() and srv.peak == 2, srv.peak  # the per-host connection cap holds


def test_traversal_ids_stay_inside(web, tmp_path):
    out = tmp_path / 'deep' / 'out'
    bad = ['../../escape', '/etc/abs', 'a/../../b', '..', '.', 'C:\\win', 'x/y', '..\\..\\w', 'NUL', 'ok_id', 'Ünï cødé', '%2e%2e']
    with serve_images(web) as url:
        m = fetch_images(pd.DataFrame({'image_id': bad, 'url': [f'{url}/{i}.jpg' for i in range(len(bad))]}), out, **FAST)
    assert (m.status == 'ok').all() and m.image_id.tolist() == bad
    assert files_under(tmp_path) == sorted(f'deep/out/{f}' for f in files_under(out))
    for p in m.path:
        assert (out / p).resolve().is_relative_to(out.resolve()) and p.count('/') == 2
    assert len(set(m.path)) == len(bad)
    check_store(out, m)


def test_max_size_0_keeps_bytes_and_runs_in_a_loop(web, tmp_path):
    async def in_loop(url):  # as in Jupyter: an event loop is already running in this thread
        return fetch_images(pd.DataFrame({'image_id': ['a', 'b', 'c'], 'url': [f'{url}/5.jpg', f'{url}/alpha.png', f'{url}/fault/truncate/6.jpg']}),
                            tmp_path / 'o', max_size=0, **FAST)
    with serve_images(web) as url: m = asyncio.run(in_loop(url)).set_index('image_id')
    assert (tmp_path / 'o' / m.path['a']).read_bytes() == (web / '5.jpg').read_bytes()
    assert m.path['b'].endswith('.png') and m.error['c'] == 'truncated'


def test_json_input_and_cli(web, tmp_path):
    ff = str(BIN / 'fashion-fetch')
    with serve_images(web) as url:
        (tmp_path / 'train.json').write_text(json.dumps({'images': [{'imageId': str(i), 'url': f'{url}/{i}.jpg'} for i in range(12)],
                                                         'annotations': [{'imageId': str(i), 'labelId': ['1', '2']} for i in range(12)]}))
        p = subprocess.run([ff, 'train.json', 'o', '--max-size', '64', '--quality', '80', '--limit', '10'],  # paths as typed
                           capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert p.returncode == 0, p.stderr
        assert 'fetched 10 of 10' in p.stdout
        m = read_manifest(tmp_path / 'o')
        assert len(m) == 10 and (m.status == 'ok').all() and m.width.max() == 64
    h = subprocess.run([ff, '--help'], capture_output=True, text=True)
    for flag in ('--max-size', '--concurrency', '--per-host', '--retries', '--shard', '--limit', '--retry-failed', '--quality',
                 '--workers', '--timeout', '--connect-timeout', '--read-timeout', '--max-mb', '--max-pixels', '--max-redirects',
                 '--backoff', '--max-backoff', '--max-retry-after', '--resample', '--no-progress', '--no-verbose'):
        assert flag in h.stdout, flag
    assert 'largest response body accepted, in MiB' in h.stdout  # FetchConfig's comments are the help
    for args, msg in (([str(tmp_path / 'missing.json'), 'o2'], 'missing.json: no such file'),
                      (['train.json', 'o2', '--shard', '3/3'], "shard '3/3': need 0 <= K < N")):
        bad = subprocess.run([ff, *args], capture_output=True, text=True, cwd=tmp_path)
        assert bad.returncode == 1 and bad.stderr.startswith('fashion-fetch: error: ') and msg in bad.stderr, bad.stderr
        assert 'Traceback' not in bad.stderr


UNGUARDED = """
import os, pandas as pd
from fashion_clf.fetch import fetch_images
url = os.environ['FETCH_TEST_URL']
fetch_images(pd.DataFrame({'image_id': ['1', '2'], 'url': [f'{url}/1.jpg', 'ftp://x/2.jpg']}), 'out', progress=False)
"""


def test_script_without_main_guard_stops_at_once(web, tmp_path):
    "Decoding processes import the calling script: without the `__main__` guard it must stop with advice, writing nothing"
    (tmp_path / 'unguarded.py').write_text(UNGUARDED)
    with serve_images(web) as url:
        p = subprocess.run([sys.executable, 'unguarded.py'], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                           env={**os.environ, 'FETCH_TEST_URL': url})
        assert sum(url.requests.values()) == 0
    assert p.returncode == 1 and "must call fetch_images under `if __name__ == '__main__':`" in p.stderr, p.stderr[-2000:]
    assert not (tmp_path / 'out' / 'manifest.csv').exists()  # not even the bad URL's row


def _store(out):
    "What a run leaves: the bytes of every stored file and the latest manifest state"
    m = read_manifest(out).sort_values('image_id').reset_index(drop=True)
    files = {f: (out / f).read_bytes() for f in files_under(out) if f.startswith('images/')}
    return m[['image_id', 'url', 'status', 'path', 'error', 'width', 'height', 'orig_width', 'orig_height']], files


@pytest.mark.parametrize('sig', [signal.SIGKILL, signal.SIGINT, signal.SIGTERM])
def test_kill_and_restart_matches_uninterrupted(web, tmp_path, sig):
    n = 300
    with serve_images(web, latency=0.02) as url:
        ids = [str(i) for i in range(n)]
        urls = [f'{url}/{i}.jpg' if i % 50 else f'{url}/fault/404/{i}.jpg' for i in range(n)]
        j = tmp_path / 'train.json'
        j.write_text(json.dumps({'images': [{'imageId': i, 'url': u} for i, u in zip(ids, urls)]}))
        cmd = [str(BIN / 'fashion-fetch'), str(j), None, '--max-size', '96', '--concurrency', '8', '--no-progress']
        ref, out = tmp_path / 'ref', tmp_path / 'out'
        assert subprocess.run([c if c else str(ref) for c in cmd], capture_output=True).returncode == 0
        with open(tmp_path / 'log', 'w') as log:
            p = subprocess.Popen([c if c else str(out) for c in cmd], stdout=log, stderr=subprocess.STDOUT)
        kids, t0 = [], time.time()
        while time.time() - t0 < 60:
            try: kids = psutil.Process(p.pid).children(recursive=True) or kids
            except psutil.Error: pass
            man = out / 'manifest.csv'
            if man.exists() and man.read_bytes().count(b'\n') > n // 3: break
            time.sleep(0.01)
        p.send_signal(sig)
        rc = p.wait(30)
        assert rc == (-9 if sig == signal.SIGKILL else 130), rc
        if sig != signal.SIGKILL:  # a clean stop says so, and how to go on
            log = (tmp_path / 'log').read_text()
            assert 'run the same command to resume' in log and 'fashion-fetch: interrupted' in log, log
        psutil.wait_procs(kids, timeout=10)  # orphaned workers notice and exit
        assert kids and not any(k.is_running() and k.status() != psutil.STATUS_ZOMBIE for k in kids)
        done = len(read_manifest(out))
        assert n // 3 <= done < n, done
        assert subprocess.run([c if c else str(out) for c in cmd], capture_output=True).returncode == 0
        a, b = _store(ref), _store(out)
        pd.testing.assert_frame_equal(a[0], b[0])
        assert a[1].keys() == b[1].keys() and a[1] == b[1]
        assert not any((out / '.tmp').glob('*'))
