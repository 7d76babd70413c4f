"End-to-end tests of the synthetic dataset generator: the console script, determinism across processes, the JSON schema, speed"
import json, os, subprocess, sys, time
from pathlib import Path

import numpy as np
import pytest

from fashion_clf.core import load_imat, read_label_names, IMAT_LABELS
from fashion_clf.synth import make_dataset, set_base_url, synth_label_map, synth_image

pytestmark = pytest.mark.filterwarnings("ignore::fashion_clf.core.ImatWarning")  # repeated label ids are on purpose
CLI = Path(sys.executable).with_name('fashion-synth')
JSONS = ('train.json', 'validation.json', 'test.json', 'test_labels.json')

def run_cli(*args, timeout=180):
    exe = [str(CLI)] if CLI.exists() else [sys.executable, '-c', 'from fashion_clf.synth import fashion_synth; fashion_synth()']
    return subprocess.run(exe + [str(a) for a in args], capture_output=True, text=True, timeout=timeout)

def files(root):
    "Every file under `root` (relative path -> bytes), but the timing record"
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(Path(root).rglob('*')) if p.is_file() and p.name != 'synth.json'}

@pytest.fixture(scope='module')
def cli_data(tmp_path_factory):
    out = tmp_path_factory.mktemp('synth_cli')/'data'
    r = run_cli(out, '--n-train', 40, '--n-valid', 12, '--n-test', 10, '--seed', 3, '--size', 160, '--workers', 2)
    assert r.returncode == 0, r.stderr
    assert '62 images' in r.stdout and 'images/s' in r.stdout, r.stdout
    return out

def test_cli_help():
    r = run_cli('--help')
    assert r.returncode == 0
    for flag in ('--n-train', '--n-valid', '--n-test', '--seed', '--base-url', '--size', '--workers', '--set-url'):
        assert flag in r.stdout, flag

def test_cli_end_to_end(cli_data):
    for f in JSONS + ('label_map.csv', 'synth.json'): assert (cli_data/f).exists(), f
    tr, va, te, tl = [load_imat(cli_data/f) for f in JSONS]
    assert [len(tr), len(va), len(te), len(tl)] == [40, 12, 10, 10]
    for df, split in ((tr, 'train'), (va, 'validation'), (te, 'test')):
        for u in df.url:
            assert u.startswith('http://127.0.0.1:8000/images/' + split + '/')
            assert (cli_data/u.split('/', 3)[3]).stat().st_size > 500
    assert (te.url == tl.url).all() and te.labels.map(len).sum() == 0 and tl.labels.map(len).min() >= 3
    names = read_label_names(cli_data/'label_map.csv')
    assert set(l for ls in tr.labels for l in ls) <= set(names.labelId)
    meta = json.loads((cli_data/'synth.json').read_text())
    assert meta['seed'] == 3 and meta['counts'] == {'train': 40, 'validation': 12, 'test': 10}

def test_cli_set_url(cli_data, tmp_path):
    import shutil
    d = tmp_path/'copy'; shutil.copytree(cli_data, d)
    r = run_cli(d, '--set-url', '--base-url', 'http://127.0.0.1:9999')
    assert r.returncode == 0, r.stderr
    for f in JSONS: assert all(u.startswith('http://127.0.0.1:9999/images/') for u in load_imat(d/f).url)
    assert run_cli(d, '--set-url').returncode != 0  # --set-url needs --base-url

def test_json_schema(cli_data):
    tr = json.loads((cli_data/'train.json').read_text())
    assert set(tr) == {'images', 'annotations'}
    assert [im['imageId'] for im in tr['images']] == [str(i) for i in range(1, 41)]
    assert all(set(im) == {'url', 'imageId'} and isinstance(im['url'], str) for im in tr['images'])
    assert [a['imageId'] for a in tr['annotations']] == [str(i) for i in range(1, 41)]
    ok = set(IMAT_LABELS)
    for a in tr['annotations']:
        assert set(a) == {'labelId', 'imageId'} and all(isinstance(l, str) and l in ok for l in a['labelId'])
    assert any(len(a['labelId']) != len(set(a['labelId'])) for a in tr['annotations'])  # a repeated label id
    te = json.loads((cli_data/'test.json').read_text())
    assert set(te) == {'images'} and [im['imageId'] for im in te['images']] == list(range(1, 11))
    tl = json.loads((cli_data/'test_labels.json').read_text())
    assert all(len(a['labelId']) == len(set(a['labelId'])) for a in tl['annotations'])

def test_determinism_across_processes(cli_data, tmp_path):
    "The CLI's output (2 worker processes) equals an in-process serial run, byte for byte"
    out = make_dataset(tmp_path/'serial', 40, 12, 10, seed=3, size=160, n_workers=1)
    a, b = files(cli_data), files(out)
    assert a.keys() == b.keys() and all(a[k] == b[k] for k in a), [k for k in a if a[k] != b.get(k)][:5]
    c = files(make_dataset(tmp_path/'other', 5, 0, 0, seed=4, size=160, n_workers=1))
    assert c['images/train/1.jpg'] != a['images/train/1.jpg']

def test_label_stats():
    labs = [synth_image(0, 'validation', i, size=32)[2] for i in range(1, 401)]
    n = np.array([len(l) for l in labs])
    assert 6.5 < n.mean() < 9.5 and n.min() >= 3 and n.max() <= 15
    assert len({l for ls in labs for l in ls}) >= 50

def test_generation_speed(tmp_path):
    "Full-size pictures on all cores: a loose sanity bound, not a benchmark (the real figure is in synth.json)"
    t = time.perf_counter()
    out = make_dataset(tmp_path/'speed', 150, 0, 50)
    secs = time.perf_counter() - t
    meta = json.loads((out/'synth.json').read_text())
    print(f"200 full-size images in {secs:.1f}s ({meta['images_per_second']} images/s, {meta['n_workers']} processes)")
    assert meta['n_workers'] == (os.cpu_count() or 1)
    assert secs < 120
