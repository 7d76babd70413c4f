"""Near-duplicates by content across many files, processes and the commands as users type them: `fashion-eda` with
training, validation and test stores holding re-encoded, resized and renamed copies of the same photos (found, and
nothing else), its hash caches reused on the second run; the hashing pool against one process; `fashion-train
--drop-duplicates-of` leaving out training images that are copies of validation and test images, and listing them.
The functions themselves are tested in nbs/02_eda.ipynb and nbs/05_train.ipynb."""
import json, os, shutil, subprocess, sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fashion_clf.core import ManifestWriter, load_imat, scan_images
from fashion_clf.eda import hash_files, image_hashes
from fashion_clf.synth import make_dataset

BIN = Path(sys.executable).parent
ENV = dict(os.environ, MPLBACKEND='Agg', FASHION_TRAIN_DEFAULTS='')


def copy_as(src:Path, dst:Path, how:int):
    "A copy of picture `src` at `dst`: re-encoded (JPEG quality 35), half size, or 1.5× size as PNG"
    im = Image.open(src).convert('RGB'); w, h = im.size
    if how == 0: im.save(dst.with_suffix('.jpg'), quality=35)
    elif how == 1: im.resize((w // 2, h // 2)).save(dst.with_suffix('.jpg'), quality=90)
    else: im.resize((w * 3 // 2, h * 3 // 2), Image.Resampling.BICUBIC).save(dst.with_suffix('.png'))


@pytest.fixture(scope='module')
def project(tmp_path_factory):
    """data/ (the synthetic competition files: 120 training, 40 validation, 40 test pictures), a training fetch store,
    and validation and test folders with planted copies: 5 training pictures in validation (ids 41-45), 3 validation
    pictures in test (ids 41-43)"""
    d = tmp_path_factory.mktemp('dedup')
    ds = make_dataset(d/'data', n_train=120, n_valid=40, n_test=40, seed=3, size=128, workers=1)
    tr = load_imat(ds/'train.json', warn=False)
    s = d/'stores/train'; (s/'images').mkdir(parents=True)
    with ManifestWriter(s) as w:
        for iid, url in zip(tr.image_id, tr.url):
            shutil.copy(ds/f'images/train/{iid}.jpg', s/f'images/{iid}.jpg')
            w.write(dict(image_id=iid, url=url, status='ok', path=f'images/{iid}.jpg', http_status=200, attempts=1, bytes=1000,
                         width=128, height=128, orig_width=128, orig_height=128, seconds=0.01))
    shutil.copytree(ds/'images/validation', d/'stores/validation'); shutil.copytree(ds/'images/test', d/'stores/test')
    for k, t in enumerate(['3', '17', '56', '90', '111']): copy_as(ds/f'images/train/{t}.jpg', d/f'stores/validation/{41 + k}', k % 3)
    for k, v in enumerate(['2', '20', '33']): copy_as(ds/f'images/validation/{v}.jpg', d/f'stores/test/{41 + k}', k % 3)
    return d


PLANTED = {('train', '3', 'validation', '41'), ('train', '17', 'validation', '42'), ('train', '56', 'validation', '43'),
           ('train', '90', 'validation', '44'), ('train', '111', 'validation', '45'),
           ('validation', '2', 'test', '41'), ('validation', '20', 'test', '42'), ('validation', '33', 'test', '43')}


def run(cmd, *args, cwd):
    return subprocess.run([BIN/cmd, *map(str, args)], capture_output=True, text=True, timeout=600, cwd=cwd, env=ENV)


def test_eda_finds_the_copies(project):
    args = ('data/train.json', 'data/validation.json', 'data/test.json', '--images', 'stores/train', '--valid-images',
            'stores/validation', '--test-images', 'stores/test', '--samples', '2', '--report', 'rep')
    r = run('fashion-eda', *args, cwd=project)
    assert r.returncode == 0, r.stderr
    rep = project/'rep'
    d = pd.read_csv(rep/'duplicates.csv', dtype=str)
    assert set(zip(d.split_a, d.image_id_a, d.split_b, d.image_id_b)) == PLANTED  # every copy, and no distinct picture
    s = pd.read_csv(rep/'duplicates_summary.csv').set_index(['split a', 'split b'])
    assert s.loc[('train', 'validation'), ['pairs', 'images in a', 'images in b']].tolist() == [5, 5, 5]
    assert s.loc[('train', 'train'), 'pairs'] == 0
    page = (rep/'report.html').read_text()
    assert '5 images of train are near-duplicates of images of validation or test' in page
    assert (rep/'duplicate_pairs.png').exists() and page.count('data:image/png;base64,') == len(list(rep.glob('*.png')))
    assert pd.read_csv(rep/'hashes.csv').set_index('split')['hashed now'].to_dict() == {'train': 120, 'validation': 45, 'test': 43}
    for st in ('train', 'validation', 'test'): assert (project/f'stores/{st}/hashes.npz').exists()
    r = run('fashion-eda', *args[:-1], 'rep2', cwd=project)  # again: every hash from the stores' caches
    assert r.returncode == 0, r.stderr
    h = pd.read_csv(project/'rep2/hashes.csv').set_index('split')
    assert h['hashed now'].sum() == 0 and h['hashes from cache'].tolist() == [120, 45, 43]
    assert pd.read_csv(project/'rep2/duplicates.csv', dtype=str).equals(d)


def test_eda_store_errors(project):
    r = run('fashion-eda', 'data/train.json', '--test-images', 'stores/nope', '--report', 'bad', cwd=project)
    assert r.returncode == 1 and r.stderr.strip().splitlines() == [f"fashion-eda: error: {project}/stores/nope: no such image folder"], r.stderr
    r = run('fashion-eda', 'data/train.json', '--duplicates', '--report', 'bad', cwd=project)
    assert r.returncode == 1 and '--duplicates needs image stores' in r.stderr
    assert not (project/'bad').exists()
    r = run('fashion-eda', '--help', cwd=project)
    for flag in ('--valid-images', '--test-images', '--duplicates', '--max-distance', '--workers'): assert flag in r.stdout, flag


def test_pool_equals_one_process(tmp_path, project):
    "Hashing in a pool of processes gives what one process gives; a store that grows is hashed for its new files only"
    files = scan_images(project/'data/images')
    one = hash_files(files, workers=0)
    two = hash_files(files, tmp_path/'hashes.npz', workers=2, chunk=16)
    assert len(one) == len(files) == 200 and one.equals(two)
    half = files.iloc[::2]
    h = hash_files(half, tmp_path/'h2.npz', workers=2, chunk=16)
    assert h.attrs == dict(files=100, cached=0, hashed=100, failed=0)
    h = hash_files(files, tmp_path/'h2.npz', workers=2, chunk=16)
    assert h.attrs == dict(files=200, cached=100, hashed=100, failed=0) and h.equals(one)


def test_train_drops_copies(tmp_path, project):
    "fashion-train --drop-duplicates-of: training images that are copies of validation or test images are left out and listed"
    d = tmp_path/'data'; shutil.copytree(project/'data', d, ignore=shutil.ignore_patterns('hashes.npz'))
    (tmp_path/'test').mkdir(); shutil.copytree(project/'data/images/test', tmp_path/'test/images')
    copies = {'4': 'images/validation/7.jpg', '8': 'images/validation/12.jpg', '15': 'images/validation/30.jpg', '16': 'images/test/5.jpg'}
    for k, (t, src) in enumerate(copies.items()): copy_as(project/'data'/src, d/f'images/train/{t}', k % 2)  # .jpg: replaces the picture
    r = run('fashion-train', 'data', '--images', 'data/images/train', '--valid-images', 'data/images/validation',
            '--drop-duplicates-of', 'data/images/validation', 'test', '--run-dir', 'run', '--arch', 'xresnet_tiny', '--sizes', '32',
            '--epochs', '1', '--lr', '0.01', '--bs', '32', '--no-pretrained', cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert f"left out 4 of 120 training images, near-duplicates of images in {d}/images/validation, {tmp_path}/test" in r.stdout
    dd = pd.read_csv(tmp_path/'run/duplicates_dropped.csv', dtype=str)
    assert sorted(zip(dd.image_id, dd.duplicate_id)) == [('15', '30'), ('16', '5'), ('4', '7'), ('8', '12')]
    assert set(dd.duplicate_of) == {str(d/'images/validation'), str(tmp_path/'test')}
    cfg = json.loads((tmp_path/'run/config.json').read_text())['run']
    assert cfg['data']['drop_duplicates_of'] == [str(d/'images/validation'), str(tmp_path/'test')]
    assert (cfg['duplicates_dropped'], cfg['n_images']) == (4, 116 + 40)
