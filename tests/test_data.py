"""Integration tests of `fashion_clf.data`: folders given as users type them (relative, `~`) and used later from other
working directories and worker processes, and the bad-image log written from DataLoader worker processes.

Unit behaviour (the manifest join, the spec, splits, `SafeDL`, the cache, `test_dl`) is tested in `nbs/03_data.ipynb`."""
import warnings
from pathlib import Path

import pandas as pd
import pytest
import torch

from fashion_clf.core import ManifestWriter
from fashion_clf.data import toy_dataset, image_paths, image_items, get_dls, BadImageLog, TOY_LABELS

torch.set_num_threads(1)
KW = dict(vocab=TOY_LABELS, bs=4, device='cpu')

@pytest.fixture(scope='module')
def project(tmp_path_factory):
    "`proj/data/images/{train,validation}/<id>.jpg` (ids restart at 1 in each, as in the competition) and a fetch store `proj/store`"
    root = tmp_path_factory.mktemp('proj')
    trn = toy_dataset(root/'data', n=12, size=32, seed=0, split='train')
    val = toy_dataset(root/'data', n=8, size=32, seed=1, split='validation')
    with ManifestWriter(root/'store') as w:
        for i in trn.image_id:
            (root/'store/images/x').mkdir(parents=True, exist_ok=True)
            (root/'store/images/x'/f'{i}.jpg').write_bytes((root/'data/images/train'/f'{i}.jpg').read_bytes())
            w.write(dict(image_id=i, url='http://example.com/', status='ok', path=f'images/x/{i}.jpg'))
    return root, trn, val

def test_relative_and_home_folders_from_another_cwd(project, monkeypatch, tmp_path):
    """Folders given relative to the working directory (the Kaggle layout, a fetch store) or with `~` give absolute paths,
    and loaders built from them keep working after the working directory changes, in worker processes too
    (a relative plain folder and a relative store alone: see the notebook)"""
    root, trn, val = project
    ref = [str(root/'data/images/train'/f'{i}.jpg') for i in trn.image_id]
    monkeypatch.chdir(root)
    assert image_paths(trn, 'data', split='train').path.tolist() == ref
    monkeypatch.setenv('HOME', str(root.parent))
    assert image_paths(trn, f'~/{root.name}/data', split='train').path.tolist() == ref
    assert image_paths(trn, f'~/{root.name}/store').path.tolist() == [str(root/'store/images/x'/f'{i}.jpg') for i in trn.image_id]
    dls = get_dls(trn, 'data', valid=val, size=16, num_workers=1, **KW)
    assert dls.valid_ds.items.path.tolist() == [str(root/'data/images/validation'/f'{i}.jpg') for i in val.image_id]
    monkeypatch.chdir(tmp_path)
    assert sum(len(b[0]) for b in dls.valid) == 8 and sum(len(b[0]) for b in dls.train) == 12

def test_bad_image_log_from_worker_processes(project, tmp_path):
    "A file that fails to decode in a DataLoader worker process is logged in the log file (one line per failure, whole)"
    root, trn, val = project
    items = image_items(trn, root/'data', valid=val)
    bad = [items.path[2], items.path[len(trn) + 3]]  # one training and one validation file, damaged after the check
    for p in bad:
        f = tmp_path/Path(p).relative_to(root); f.parent.mkdir(parents=True, exist_ok=True); f.write_text('<html>gone</html>')
    items = items.assign(path=[str(tmp_path/Path(p).relative_to(root)) if p in bad else p for p in items.path])
    log = BadImageLog(tmp_path/'bad_images.csv')
    dls = get_dls(items, valid='is_valid', size=16, num_workers=2, check=False, bad_log=log, **KW)
    assert sum(len(b[0]) for b in dls.train) == 12 and sum(len(b[0]) for b in dls.valid) == 7
    got = log.read()
    assert dict(zip(got.path.map(lambda p: Path(p).name), got.split)) == {'3.jpg': 'train', '4.jpg': 'valid'}
    assert got.problem.str.startswith('UnidentifiedImageError').all()

def test_default_bad_image_log_counts_failures_in_workers(project, tmp_path):
    "`dls.bad_log` (no file given) counts the files that failed in worker processes"
    root, trn, val = project
    items = image_items(trn, root/'data', check=False)
    f = tmp_path/'2.jpg'; f.write_text('<html>gone</html>')
    items.loc[1, 'path'] = str(f)
    dls = get_dls(items, valid='random', valid_pct=0.25, size=16, num_workers=2, check=False, **KW)
    for _ in dls.train: pass
    for _ in dls.valid: pass
    assert dls.bad_log.count() == 1
