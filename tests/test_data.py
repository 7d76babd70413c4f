"Tests of `fashion_clf.data`: the fetch-manifest join, the splitters, `get_dls` (vocabulary, augmentation, new sizes) and reduced-size JPEG decoding"
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from fastai.vision.all import PILImage, Resize, ResizeMethod, ToTensor, Pipeline, Flip
from fashion_clf.core import IMAT_LABELS, encode_labels
from fashion_clf.data import (toy_dataset, image_paths, load_draft, DraftOpen, with_valid, StratifiedSplitter,
                              get_splitter, get_dls, TOY_LABELS)

torch.set_num_threads(1)
KW = dict(device='cpu', num_workers=0)

@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    "Kaggle-like layout: images/train and images/validation, ids restarting at 1 in each"
    d = tmp_path_factory.mktemp('toy')
    trn = toy_dataset(d, n=40, size=64, seed=0, split='train')
    val = toy_dataset(d, n=12, size=64, seed=1, split='validation')
    return d, trn, val

def _manifest(rows):
    "A manifest in fetch's form from (image_id, status, path) rows"
    m = pd.DataFrame(rows, columns=['image_id', 'status', 'path']).assign(url='http://x/')
    for c in ['error', 'http_status', 'attempts', 'bytes', 'width', 'height', 'orig_width', 'orig_height', 'seconds', 'detail']: m[c] = ''
    return m

# --- which images: manifest join

def test_manifest_join_keeps_only_fetched_latest_rows(toy, tmp_path):
    d, trn, _ = toy
    store = tmp_path/'store'; (store/'images').mkdir(parents=True)
    for i in ('1', '2', '3', '4'): (store/'images'/f'{i}.jpg').write_bytes((d/'images/train'/f'{i}.jpg').read_bytes())
    # 1 ok; 2 ok then failed on a re-fetch (the latest row counts); 3 failed then ok; 4 error; the rest never fetched
    _manifest([('1', 'ok', 'images/1.jpg'), ('2', 'ok', 'images/2.jpg'), ('2', 'error', ''), ('3', 'transient', ''),
               ('3', 'ok', 'images/3.jpg'), ('4', 'error', '')]).to_csv(store/'manifest.csv', index=False)
    with pytest.warns(UserWarning, match='38 of 40 images are not fetched'):
        p = image_paths(trn, store)
    assert p.image_id.tolist() == ['1', '3']
    assert all(Path(o).is_absolute() and Path(o).exists() for o in p.path)
    assert p.attrs['n_missing'] == 38
    assert p.labels.tolist() == trn.set_index('image_id').labels[['1', '3']].tolist()  # labels follow their ids

def test_scan_without_manifest_and_split_folders(toy):
    d, trn, val = toy
    pt, pv = image_paths(trn, d, split='train'), image_paths(val, d, split='validation')
    assert len(pt) == 40 and len(pv) == 12
    assert all('/images/train/' in o for o in pt.path) and all('/images/validation/' in o for o in pv.path)
    with pytest.raises(FileNotFoundError, match='none of the 40 images'): image_paths(trn.assign(image_id='x' + trn.image_id), d)
    with pytest.raises(FileNotFoundError, match='no such image folder'): image_paths(trn, d/'missing')

# --- get_dls

def test_get_dls_keeps_full_vocab_and_checks_labels(toy):
    d, trn, val = toy
    dls = get_dls(trn, d, valid=val, size=32, bs=8, **KW)
    assert dls.vocab == IMAT_LABELS and dls.c == 228
    assert len(dls.train_ds) == 40 and len(dls.valid_ds) == 12
    xb, yb = dls.one_batch()
    assert xb.shape == (8, 3, 32, 32) and yb.shape == (8, 228)
    # the multi-hot targets are the items' labels, in the full vocabulary's order
    items = dls.train_ds.items
    y0 = dls.train_ds[0][1]
    assert torch.equal(y0.bool(), torch.tensor(encode_labels([items.labels.iloc[0]], IMAT_LABELS)[0]).bool())
    used = {IMAT_LABELS.index(l) for ls in trn.labels for l in ls}
    assert len(used) <= 4 and dls.train_ds[0][1].shape[0] == 228  # unused labels stay in the vocabulary
    # ids repeat across the two files: each file's rows got their own pictures
    assert set(dls.valid_ds.items.image_id) <= set(dls.train_ds.items.image_id)
    assert all('/validation/' in p for p in dls.valid_ds.items.path)
    # a custom vocabulary; a label outside it is an error
    assert get_dls(trn, d, valid=val, vocab=TOY_LABELS, size=32, bs=8, **KW).c == 4
    with pytest.raises(ValueError, match="labels \\['999'\\] are not in the vocabulary"):
        get_dls(trn.assign(labels=[['999']]*40), d, size=32, **KW)

def test_augmentation_defaults(toy):
    d, trn, val = toy
    dls = get_dls(trn, d, valid=val, size=32, bs=8, **KW)
    flips = [t for t in dls.train.after_batch if isinstance(t, Flip)]
    assert len(flips) == 1
    zoom = [f for f in flips[0].aff_fs if getattr(f, 'func', None).__name__ == 'zoom_mat']
    assert zoom and zoom[0].keywords['max_zoom'] == 1.05
    flip = [f for f in flips[0].aff_fs if f.func.__name__ == 'flip_mat']
    assert flip and flip[0].keywords['p'] == 0.5
    # no augmentation on the validation set: two passes give the same batch
    x1, x2 = dls.valid.one_batch()[0], dls.valid.one_batch()[0]
    assert torch.equal(x1, x2)
    assert not any(isinstance(t, Flip) for t in get_dls(trn, d, valid=val, size=32, aug=False, **KW).train.after_batch)

def test_splitters(toy, tmp_path):
    d, trn, val = toy
    both = with_valid(image_paths(trn, d, split='train'), image_paths(val, d, split='validation'))
    dls = get_dls(both, valid='is_valid', size=32, bs=8, **KW)  # the competition's validation file
    assert dls.valid_ds.items.is_valid.all() and len(dls.valid_ds) == 12 and not dls.train_ds.items.is_valid.any()
    assert isinstance(get_splitter(both), type(get_splitter(both, 'is_valid')))  # the column is the default
    # iterative stratification: repeatable, the right size, label frequencies kept on both sides
    big = toy_dataset(tmp_path, n=240, size=16, seed=3)
    tr, va = StratifiedSplitter(0.25, seed=0, vocab=TOY_LABELS)(big)
    assert StratifiedSplitter(0.25, seed=0, vocab=TOY_LABELS)(big) == (tr, va)
    assert sorted(tr + va) == list(range(240)) and abs(len(va) - 60) <= 2
    y = encode_labels(big.labels, TOY_LABELS)
    assert np.abs(y[va].mean(0) - y[tr].mean(0)).max() < 0.03
    assert StratifiedSplitter(0.25, seed=1, vocab=TOY_LABELS)(big) != (tr, va)
    # random with a seed: repeatable, another seed another split
    r = lambda s: get_splitter(big, 'random', 0.25, seed=s)(big)
    assert r(0) == r(0) and r(0) != r(1) and len(r(0)[1]) == 60
    with pytest.raises(ValueError, match="'stratified'"): get_splitter(big, 'kfold')
    with pytest.raises(ValueError, match="no 'is_valid' column"): get_splitter(big, 'is_valid')

@pytest.mark.parametrize('valid', ['stratified', 'random'])
def test_get_dls_again_at_a_new_size(toy, valid):
    d, trn, _ = toy
    a = get_dls(trn, d, size=32, bs=8, valid=valid, valid_pct=0.25, **KW)
    b = get_dls(trn, d, size=48, bs=8, valid=valid, valid_pct=0.25, **KW)
    assert a.valid_ds.items.image_id.tolist() == b.valid_ds.items.image_id.tolist()  # same split
    assert a.one_batch()[0].shape == (8, 3, 32, 32) and b.one_batch()[0].shape == (8, 3, 48, 48)
    assert a.size == 32 and b.size == 48

# --- reduced-size decoding

@pytest.fixture(scope='module')
def photo(tmp_path_factory):
    "A 400x300 JPEG with detail (a smooth gradient plus shapes)"
    d = tmp_path_factory.mktemp('photo')
    yy, xx = np.mgrid[0:300, 0:400]
    a = np.stack([xx*255//400, yy*255//300, (xx + yy)*255//700], -1).astype(np.uint8)
    a[100:200, 150:260] = (250, 30, 30)
    Image.fromarray(a).save(d/'p.jpg', quality=92)
    return d/'p.jpg'

def test_load_draft_sizes_and_modes(photo, tmp_path):
    assert load_draft(photo).size == (400, 300)
    assert load_draft(photo, 128).size == (200, 150)  # 1/2: both sides stay >= 128
    assert load_draft(photo, 64).size == (100, 75)    # 1/4
    assert load_draft(photo, 32).size == (50, 38)     # 1/8
    assert load_draft(photo, 300).size == (400, 300)  # less than 2x: full size
    im = load_draft(photo, 64); assert isinstance(im, PILImage) and im.mode == 'RGB'
    # greyscale and CMYK JPEGs, and a PNG (no draft), all come out RGB
    Image.open(photo).convert('L').save(tmp_path/'g.jpg'); Image.open(photo).convert('CMYK').save(tmp_path/'c.jpg')
    Image.open(photo).save(tmp_path/'p.png')
    for f, sz in (('g.jpg', (100, 75)), ('c.jpg', (100, 75)), ('p.png', (400, 300))):
        im = load_draft(tmp_path/f, 64); assert im.mode == 'RGB' and im.size == sz, (f, im.mode, im.size)
    assert DraftOpen(64)(str(photo)).size == (100, 75) and DraftOpen(64)(photo).size == (100, 75)
    with pytest.raises(FileNotFoundError): load_draft(tmp_path/'missing.jpg', 64)

@pytest.mark.parametrize('size', [32, 64, 128])
def test_draft_pipeline_matches_stock_pipeline(photo, size):
    "After the resize, reduced-size decoding gives nearly the pixels of full decoding"
    rs = Resize(size, method=ResizeMethod.Squish)
    full = Pipeline([PILImage.create, rs, ToTensor()])(photo).float()
    fast = Pipeline([DraftOpen(size), rs, ToTensor()])(photo).float()
    assert full.shape == fast.shape == (3, size, size)
    assert (full - fast).abs().mean() < 6  # of 255: resampling differences only
    assert torch.corrcoef(torch.stack([full.flatten(), fast.flatten()]))[0, 1] > 0.98

def test_get_dls_fast_decode_on_and_off_agree(toy):
    d, trn, val = toy
    kw = dict(valid=val, size=16, bs=12, aug=False, **KW)
    a, b = get_dls(trn, d, fast_decode=True, **kw), get_dls(trn, d, fast_decode=False, **kw)
    xa, xb = a.valid.one_batch()[0], b.valid.one_batch()[0]
    assert xa.shape == xb.shape == (12, 3, 16, 16)
    assert (xa - xb).abs().mean() < 0.1  # normalized units (~1/40 of the range)
    assert a.train_ds.tfms[0].fs.filter(lambda t: isinstance(t, DraftOpen))[0].size == 16
    assert b.train_ds.tfms[0].fs.filter(lambda t: isinstance(t, DraftOpen))[0].size is None
