"Tests of fashion_clf.server: normal serving, every fault kind, the request counter and the fashion-serve CLI"
import http.client, io, os, signal, subprocess, sys, time, urllib.parse, urllib.request
from pathlib import Path

import pytest
from PIL import Image

from fashion_clf.server import serve_images, parse_fault, jpeg_bomb, ImageServer

BIN = Path(sys.executable).parent


@pytest.fixture(scope='module')
def srv_folder(tmp_path_factory):
    d = tmp_path_factory.mktemp('web')
    (d / 'sub').mkdir()
    Image.new('RGB', (120, 90), 'teal').save(d / 'sub' / 'a.jpg', quality=90)
    Image.new('RGBA', (20, 20), (0, 0, 0, 0)).save(d / 'b.png')
    (d.parent / 'outside.txt').write_text('secret')
    return d


def get(url, method='GET', timeout=10):
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    c.request(method, u.path + (f'?{u.query}' if u.query else ''))
    r = c.getresponse()
    res = r.status, dict(r.getheaders()), r.read()
    c.close()
    return res


def test_normal_and_counter(srv_folder):
    jpg = (srv_folder / 'sub' / 'a.jpg').read_bytes()
    with serve_images(srv_folder) as url:
        assert url.startswith('http://127.0.0.1:')
        st, hd, body = get(f'{url}/sub/a.jpg')
        assert (st, hd['Content-Type'], body) == (200, 'image/jpeg', jpg)
        assert get(f'{url}/b.png')[1]['Content-Type'] == 'image/png'
        assert get(f'{url}/sub/a.jpg', 'HEAD')[0] == 200
        assert get(f'{url}/missing.jpg')[0] == 404
        assert get(f'{url}/sub')[0] == 404  # a folder is not a file
        for bad in ('/../outside.txt', '/%2e%2e/outside.txt', '/sub/../../outside.txt', '//etc/passwd'):
            st, _, body = get(url + bad)
            assert st == 404 and b'secret' not in body, bad
        assert url.requests['/sub/a.jpg'] == 2
        url.server.reset()
        assert sum(url.requests.values()) == 0
    with pytest.raises(FileNotFoundError, match='not a folder'):
        with serve_images(srv_folder / 'nope'): pass


def test_two_servers_and_latency(srv_folder):
    with serve_images(srv_folder) as u1, serve_images(srv_folder, latency=0.2) as u2:
        assert u1 != u2
        t = time.perf_counter(); get(f'{u2}/sub/a.jpg'); assert time.perf_counter() - t >= 0.2
        assert u1.requests == {} and u2.requests['/sub/a.jpg'] == 1


def test_status_faults(srv_folder):
    with serve_images(srv_folder) as url:
        for code in (404, 410, 403, 500, 502, 503):
            assert get(f'{url}/fault/{code}/sub/a.jpg')[0] == code
        st, hd, _ = get(f'{url}/fault/429:7/sub/a.jpg')
        assert (st, hd['Retry-After']) == (429, '7')
        assert get(f'{url}/fault/bogus/sub/a.jpg')[0] == 400


def test_flaky_per_path_and_dict(srv_folder):
    with serve_images(srv_folder, faults={'/sub/a.jpg': 'flaky:1:500'}) as url:
        assert [get(f'{url}/sub/a.jpg')[0] for _ in range(3)] == [500, 200, 200]
        assert [get(f'{url}/fault/flaky:2/sub/a.jpg')[0] for _ in range(3)] == [503, 503, 200]
        url.faults['b.png'] = '410'  # faults can change while it runs
        assert get(f'{url}/b.png')[0] == 410
    with pytest.raises(ValueError, match='unknown fault'): ImageServer(srv_folder, faults={'a': 'wat'})


def test_body_faults(srv_folder):
    jpg = (srv_folder / 'sub' / 'a.jpg').read_bytes()
    with serve_images(srv_folder) as url:
        st, hd, body = get(f'{url}/fault/truncate:0.25/sub/a.jpg')
        assert (st, body) == (200, jpg[:len(jpg) // 4])
        st, hd, body = get(f'{url}/fault/html/sub/a.jpg')
        assert st == 200 and hd['Content-Type'].startswith('text/html') and b'<html>' in body
        st, hd, body = get(f'{url}/fault/empty/sub/a.jpg')
        assert (st, body) == (200, b'')
        st, hd, body = get(f'{url}/fault/big:1/sub/a.jpg')
        assert st == 200 and 'Content-Length' not in hd and len(body) == len(jpg) + 2**20 and body.startswith(jpg)
        st, hd, body = get(f'{url}/fault/biglen:1/sub/a.jpg')
        assert int(hd['Content-Length']) == len(body) == len(jpg) + 2**20
        with pytest.raises(Image.DecompressionBombError):
            Image.open(io.BytesIO(get(f'{url}/fault/bomb/sub/a.jpg')[2]))


def test_timing_faults(srv_folder):
    with serve_images(srv_folder) as url:
        t = time.perf_counter(); st = get(f'{url}/fault/slow:0.4/sub/a.jpg')[0]
        assert st == 200 and time.perf_counter() - t >= 0.4
        u = urllib.parse.urlsplit(url)
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
        t = time.perf_counter(); c.request('GET', '/fault/trickle:0.1/sub/a.jpg'); r = c.getresponse()
        t_head = time.perf_counter() - t
        body = r.read(); t_body = time.perf_counter() - t
        assert t_head < 0.3 and t_body >= 0.7 and body == (srv_folder / 'sub' / 'a.jpg').read_bytes()


def test_redirects(srv_folder):
    jpg = (srv_folder / 'sub' / 'a.jpg').read_bytes()
    with serve_images(srv_folder) as url:
        assert urllib.request.urlopen(f'{url}/fault/redirect:2/sub/a.jpg').read() == jpg
        with pytest.raises(urllib.error.HTTPError, match='redirect'):
            urllib.request.urlopen(f'{url}/fault/loop/sub/a.jpg')
        assert url.requests['/fault/loop/sub/a.jpg'] >= 5


def test_resets(srv_folder):
    with serve_images(srv_folder) as url:
        with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
            get(f'{url}/fault/reset/sub/a.jpg')
        with pytest.raises((ConnectionError, http.client.IncompleteRead, http.client.HTTPException, OSError)):
            get(f'{url}/fault/resetbody/sub/a.jpg')
        assert get(f'{url}/sub/a.jpg')[0] == 200  # the server survives


def test_parse_fault_and_bomb():
    assert parse_fault('slow:2') == ('slow', (2.0,))
    assert parse_fault('big:3') == ('big', (3.0,))
    with pytest.raises(ValueError): parse_fault('404:1')
    b = io.BytesIO(); Image.new('RGB', (8, 8)).save(b, 'JPEG', progressive=True)
    assert Image.open(io.BytesIO(jpeg_bomb(b.getvalue(), 300, 200))).size == (300, 200)


def test_cli(srv_folder):
    p = subprocess.Popen([str(BIN / 'fashion-serve'), str(srv_folder), '--port', '0'], stdout=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        url = line.split(' at ')[-1].strip()
        assert url.startswith('http://127.0.0.1:'), line
        assert get(f'{url}/sub/a.jpg')[0] == 200
        p.send_signal(signal.SIGTERM)
        assert p.wait(10) == 0
    finally:
        if p.poll() is None: p.kill()
    h = subprocess.run([str(BIN / 'fashion-serve'), '--help'], capture_output=True, text=True)
    assert h.returncode == 0 and '--port' in h.stdout and '--latency' in h.stdout
