"""Tests of fashion_clf.server over real HTTP: every fault kind, HEAD and content types, paths outside the folder, faults
changed while it runs, latency, and the fashion-serve console script (the parser and the basic examples are in
nbs/11_server.ipynb)"""
import http.client, io, signal, socket, subprocess, sys, time, urllib.error, urllib.parse, urllib.request
from pathlib import Path

import pytest
from PIL import Image

from fashion_clf.server import FAULT_KINDS, serve_images

BIN = Path(sys.executable).parent


@pytest.fixture(scope='module')
def web(tmp_path_factory):
    d = tmp_path_factory.mktemp('site') / 'web'
    (d / 'sub').mkdir(parents=True)
    Image.new('RGB', (120, 90), 'teal').save(d / 'sub' / 'a.jpg', quality=90)
    Image.new('RGBA', (20, 20), (0, 0, 0, 0)).save(d / 'b.png')
    (d.parent / 'outside.txt').write_text('secret')
    return d


@pytest.fixture(scope='module')
def jpg(web): return (web / 'sub' / 'a.jpg').read_bytes()


@pytest.fixture(scope='module')
def url(web):
    "One server for the fault tests; each test asks for paths of its own"
    with serve_images(web) as u: yield u


def get(url, method='GET', timeout=10):
    "(status, headers, body) of one request, following no redirects"
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    c.request(method, u.path + (f'?{u.query}' if u.query else ''))
    r = c.getresponse()
    res = r.status, dict(r.getheaders()), r.read()
    c.close()
    return res


# one test per fault kind, named test_fault_<kind>

def test_fault_status(url):
    for code in (403, 404, 410, 500, 502, 503):
        st, _, body = get(f'{url}/fault/{code}/sub/a.jpg')
        assert (st, body) == (code, f'{code} (injected)'.encode())


def test_fault_429(url):
    st, hd, _ = get(f'{url}/fault/429:7/sub/a.jpg')
    assert (st, hd['Retry-After']) == (429, '7')
    assert get(f'{url}/fault/429/b.png')[1]['Retry-After'] == '1'


def test_fault_flaky(url):
    assert [get(f'{url}/fault/flaky:1:500/sub/a.jpg')[0] for _ in range(3)] == [500, 200, 200]
    assert [get(f'{url}/fault/flaky:2/b.png')[0] for _ in range(3)] == [503, 503, 200]  # counted per path
    assert url.server.failed['/fault/flaky:2/b.png'] == 2


def test_fault_slow(url, jpg):
    t = time.perf_counter(); st, _, body = get(f'{url}/fault/slow:0.4/sub/a.jpg')
    assert (st, body) == (200, jpg) and time.perf_counter() - t >= 0.4


def test_fault_trickle(url, jpg):
    "Headers at once, then 8 pieces 0.1 s apart: most of the time passes after the headers"
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
    c.request('GET', '/fault/trickle:0.1/sub/a.jpg'); r = c.getresponse()
    t = time.perf_counter(); body = r.read()
    assert time.perf_counter() - t >= 0.6 and body == jpg


def test_fault_truncate(url, jpg):
    st, hd, body = get(f'{url}/fault/truncate:0.25/sub/a.jpg')
    assert (st, body, int(hd['Content-Length'])) == (200, jpg[:len(jpg) // 4], len(jpg) // 4)


def test_fault_html(url):
    st, hd, body = get(f'{url}/fault/html/sub/a.jpg')
    assert st == 200 and hd['Content-Type'].startswith('text/html') and body.startswith(b'<html>')


def test_fault_empty(url):
    st, hd, body = get(f'{url}/fault/empty/sub/a.jpg')
    assert (st, hd['Content-Type'], body) == (200, 'image/jpeg', b'')


def test_fault_loop(url):
    st, hd, _ = get(f'{url}/fault/loop/sub/a.jpg')
    assert (st, hd['Location']) == (302, '/fault/loop/sub/a.jpg')
    with pytest.raises(urllib.error.HTTPError, match='redirect'): urllib.request.urlopen(f'{url}/fault/loop/b.png')
    assert url.requests['/fault/loop/b.png'] >= 5


def test_fault_redirect(url):
    st, hd, _ = get(f'{url}/fault/redirect:2/b.png')
    assert (st, hd['Location']) == (302, '/fault/redirect:2/b.png?hop=1')
    assert get(f'{url}/fault/redirect:2/b.png?hop=0')[0] == 200


def test_fault_big(url, jpg):
    st, hd, body = get(f'{url}/fault/big:1/sub/a.jpg')
    assert st == 200 and 'Content-Length' not in hd and len(body) == len(jpg) + 2**20 and body.startswith(jpg)


def test_fault_biglen(url, jpg):
    st, hd, body = get(f'{url}/fault/biglen:1/sub/a.jpg')
    assert int(hd['Content-Length']) == len(body) == len(jpg) + 2**20 and body.startswith(jpg)


def test_fault_reset(url):
    with pytest.raises((ConnectionError, http.client.HTTPException)): get(f'{url}/fault/reset/sub/a.jpg')
    assert get(f'{url}/sub/a.jpg')[0] == 200  # the server survives


def test_fault_resetbody(url):
    with pytest.raises((ConnectionError, http.client.IncompleteRead)): get(f'{url}/fault/resetbody/sub/a.jpg')
    assert get(f'{url}/sub/a.jpg')[0] == 200


def test_fault_bomb(url):
    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(get(f'{url}/fault/bomb/sub/a.jpg')[2]))


def test_every_fault_kind_is_tested():
    assert {n[len('test_fault_'):] for n in globals() if n.startswith('test_fault_')} == set(FAULT_KINDS) | {'status'}


def test_head_types_and_paths_outside(url):
    st, hd, body = get(f'{url}/sub/a.jpg', 'HEAD')
    assert (st, hd['Content-Type'], body) == (200, 'image/jpeg', b'')
    assert get(f'{url}/b.png')[1]['Content-Type'] == 'image/png'
    assert get(f'{url}/sub')[0] == 404  # a folder is not a file
    for bad in ('/../outside.txt', '/%2e%2e/outside.txt', '/sub/../../outside.txt', '/sub/%2E%2E/%2E%2E/outside.txt'):
        st, _, body = get(url + bad)
        assert st == 404 and b'secret' not in body, bad


def test_faults_change_while_running_and_reset(web):
    with serve_images(web, faults={'b.png': 'flaky:1'}) as url:
        assert [get(f'{url}/b.png')[0] for _ in range(2)] == [503, 200]
        url.faults['sub/a.jpg'] = '410'
        assert get(f'{url}/sub/a.jpg')[0] == 410
        del url.faults['sub/a.jpg']
        assert get(f'{url}/sub/a.jpg')[0] == 200
        url.server.reset()
        assert sum(url.requests.values()) == 0
        assert get(f'{url}/b.png')[0] == 503  # the flaky count starts again


def test_two_servers_and_latency(web):
    with serve_images(web) as u1, serve_images(web, latency=0.2) as u2:
        assert u1 != u2
        t = time.perf_counter(); get(f'{u2}/sub/a.jpg'); assert time.perf_counter() - t >= 0.2
        assert u1.requests == {} and u2.requests == {'/sub/a.jpg': 1}


def serve(*args, cwd=None):
    return subprocess.Popen([str(BIN / 'fashion-serve'), *map(str, args)], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_cli_serves_a_relative_folder_until_sigterm(web):
    p = serve('web', '--port', 0, cwd=web.parent)
    try:
        line = p.stdout.readline()
        assert line.startswith(f'Serving {web.resolve()} at http://127.0.0.1:'), line
        base = line.split(' at ')[-1].strip()
        assert get(f'{base}/sub/a.jpg')[0] == 200 and get(f'{base}/fault/404/sub/a.jpg')[0] == 404
        p.send_signal(signal.SIGTERM)
        assert p.wait(10) == 0
    finally:
        if p.poll() is None: p.kill()


def test_cli_user_errors(web):
    p = serve(web / 'nope', '--port', 0)
    assert p.wait(20) == 1 and p.stderr.read().strip() == f'fashion-serve: error: {web}/nope: not a folder'
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); s.listen()
        p = serve(web, '--port', s.getsockname()[1])
        assert p.wait(20) == 1
        err = p.stderr.read()
        assert err.startswith(f'fashion-serve: error: cannot listen on 127.0.0.1:{s.getsockname()[1]}') and 'Traceback' not in err


def test_cli_help():
    h = subprocess.run([str(BIN / 'fashion-serve'), '--help'], capture_output=True, text=True)
    assert h.returncode == 0 and 'folder whose files are served' in h.stdout
    assert '--port' in h.stdout and '--latency' in h.stdout
