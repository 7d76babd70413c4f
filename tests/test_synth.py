"""Tests of the fashion-synth console script and of parallel generation: the CLI's output (in 2 worker processes, into a
relative folder) equals an in-process serial run byte for byte; --set-url; user errors; the defaults (the unit tests
of the generator and of the files it writes are in nbs/10_synth.ipynb)"""
import json, os, shutil, subprocess, sys
from pathlib import Path

import pytest
from PIL import Image

from fashion_clf.core import load_imat
from fashion_clf.synth import make_dataset, synth_image

CLI = Path(sys.executable).with_name('fashion-synth')
JSONS = ('train.json', 'validation.json', 'test.json', 'test_labels.json')
ARGS = dict(n_train=40, n_valid=12, n_test=10, seed=3, size=160, base_url='http://127.0.0.1:8765')


def run_cli(*args, cwd=None, timeout=300):
    return subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=timeout)


def files(root):
    "Every file under `root` (relative path -> bytes), but synth.json, which holds timings"
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(Path(root).rglob('*')) if p.is_file() and p.name != 'synth.json'}


@pytest.fixture(scope='module')
def cli_run(tmp_path_factory):
    "The CLI run with every generation flag, in 2 processes, into the relative folder 'data'"
    cwd = tmp_path_factory.mktemp('synth_cli')
    flags = [x for k, v in ARGS.items() for x in (f"--{k.replace('_', '-')}", v)]
    r = run_cli('data', *flags, '--workers', 2, cwd=cwd)
    assert r.returncode == 0, r.stderr
    return cwd/'data', r


def test_cli_summary_and_meta(cli_run):
    out, r = cli_run
    assert r.stdout.splitlines()[-1].startswith('data: 62 images in ') and ', 2 processes); URLs start with http://127.0.0.1:8765' in r.stdout
    meta = json.loads((out/'synth.json').read_text())
    assert (meta['seed'], meta['size'], meta['workers']) == (3, 160, 2)
    assert meta['counts'] == {'train': 40, 'validation': 12, 'test': 10} and meta['images_per_second'] > 0


def test_parallel_equals_serial(cli_run, tmp_path):
    "The CLI's output (2 worker processes) equals an in-process serial run with the same options, byte for byte"
    a, b = files(cli_run[0]), files(make_dataset(tmp_path/'serial', **ARGS, workers=1))
    assert a.keys() == b.keys() and len(a) == 62 + 5
    assert [k for k in a if a[k] != b[k]] == []
    c = files(make_dataset(tmp_path/'other', 5, 0, 0, seed=4, size=160, workers=1))
    assert c['images/train/1.jpg'] != a['images/train/1.jpg']  # another seed, other bytes


def test_cli_set_url(cli_run, tmp_path):
    d = tmp_path/'copy'; shutil.copytree(cli_run[0], d)
    r = run_cli('copy', '--set-url', '--base-url', 'http://127.0.0.1:9999', cwd=tmp_path)
    assert r.returncode == 0 and r.stdout.strip() == 'copy: URLs now start with http://127.0.0.1:9999', r.stderr
    for f in JSONS: assert all(u.startswith('http://127.0.0.1:9999/images/') for u in load_imat(d/f, warn=False).url)
    assert files(d) != files(cli_run[0]) and json.loads((d/'synth.json').read_text())['base_url'] == 'http://127.0.0.1:9999'


@pytest.mark.parametrize('args, msg', [
    (['--set-url'], '--set-url needs --base-url'),
    (['--n-train', '-1'], 'n_train must be a non-negative int, got -1'),
    (['--set-url', '--base-url', 'http://x'], 'synth.json: no such file'),
])
def test_cli_user_errors(tmp_path, args, msg):
    r = run_cli(tmp_path/'empty', *args)
    assert r.returncode == 1 and r.stderr.startswith('fashion-synth: error: ') and msg in r.stderr, r.stderr
    assert 'Traceback' not in r.stderr


def test_cli_help():
    r = run_cli('--help')
    assert r.returncode == 0
    for flag in ('--n-train', '--n-valid', '--n-test', '--seed', '--base-url', '--size', '--workers', '--set-url'):
        assert flag in r.stdout, flag
    assert 'pictures in train.json' in r.stdout and '--progress' not in r.stdout


def test_defaults(tmp_path):
    "By default: full-size pictures, every core (the pool for 32 pictures or more), the placeholder base URL"
    out = make_dataset(tmp_path/'full', 32, 0, 0)
    meta = json.loads((out/'synth.json').read_text())
    assert (meta['workers'], meta['size'], meta['base_url']) == (os.cpu_count(), None, 'http://127.0.0.1:8000')
    for i in (1, 2, 32):
        assert Image.open(out/f'images/train/{i}.jpg').size == synth_image(0, 'train', i)[0].size
