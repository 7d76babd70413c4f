"""Tests of fashion_clf.eda: label statistics, split comparison and leakage, co-occurrence and its derived views against
hand-computed small cases (empty and single-label included), a brute-force cross-check on random data, manifest and
pixel statistics, every plot function returning a figure, and the fashion-eda console script end to end."""
import json, math, subprocess, sys, warnings
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from PIL import Image

from fashion_clf import eda
from fashion_clf.eda import (multi_hot, label_counts, labels_per_image, label_summary, compare_splits, labels_only_in,
                             split_overlaps, overlap_records, cooccurrence, conditional, lift, pmi, top_pairs,
                             fetch_outcomes, size_counts, manifest_summary, stored_file_sizes, pixel_histograms,
                             pixel_stats, sample_images, eda_report)

BIN = Path(sys.executable).parent
TINY = [['1', '2'], ['1', '2', '3'], ['1'], [], ['3', '2']]


def df_of(labels, ids=None, urls=None):
    ids = ids or [str(i + 1) for i in range(len(labels))]
    return pd.DataFrame({'image_id': ids, 'url': urls or [f'http://h/{i}.jpg' for i in ids], 'labels': labels})


# ---------------------------------------------------------------- label statistics
def test_counts_and_per_image():
    c = label_counts(TINY)
    assert c.loc[['1', '2', '3', '4'], 'count'].tolist() == [3, 3, 2, 0]
    assert np.allclose(c.loc[['1', '2', '3'], 'freq'], [0.6, 0.6, 0.4])
    assert len(c) == 228 and c.index[0] == '1' and c.index[-1] == '228'
    assert labels_per_image(TINY).tolist() == [2, 3, 1, 0, 2]
    assert labels_per_image(df_of([['5', '5', '6']])).tolist() == [2]  # a repeated label counts once
    s = label_summary(TINY)
    assert (s['images'], s['labelled'], s['unlabelled'], s['label occurrences'], s['labels used']) == (5, 4, 1, 8, 3)
    assert s['mean labels/image'] == 2.0 and s['median labels/image'] == 2.0 and s['max labels/image'] == 3


def test_empty_and_single_label():
    for empty in ([], df_of([])):
        c = label_counts(empty)
        assert c['count'].sum() == 0 and c['freq'].isna().all()
        s = label_summary(empty)
        assert s['images'] == 0 and s['labels used'] == 0 and math.isnan(s['mean labels/image'])
        C = cooccurrence(empty)
        assert C.shape == (228, 228) and C.values.sum() == 0 and C.attrs['n'] == 0
        assert len(top_pairs(C)) == 0
    unl = label_summary([[], [], []])
    assert (unl['images'], unl['unlabelled'], unl['labels used']) == (3, 3, 0)
    single = [['5'], ['5'], ['7']]
    C = cooccurrence(single)
    assert C.loc['5', '5'] == 2 and C.loc['7', '7'] == 1 and C.loc['5', '7'] == 0 and C.values.sum() == 3
    assert len(top_pairs(C)) == 0
    assert conditional(C).loc['5', '5'] == 1.0 and conditional(C).loc['5', '7'] == 0.0
    assert label_summary(single)['mean labels/image'] == 1.0


def test_multi_hot_vocab_and_errors():
    X, v = multi_hot([['b', 'a'], ['10']])
    assert v[-2:] == ['a', 'b'] and X.shape == (2, 230) and X.dtype == np.int32
    X, v = multi_hot([['2'], []], ['1', '2'])
    assert X.toarray().tolist() == [[0, 1], [0, 0]]
    with pytest.raises(ValueError, match=r"not in the vocabulary: \['9'\]"): multi_hot([['9']], ['1'])
    with pytest.raises(TypeError, match='must be strings'): multi_hot([[1]])
    with pytest.raises(TypeError, match='expected a list'): multi_hot(['1 2'])
    with pytest.raises(ValueError, match="no 'labels' column"): label_counts(pd.DataFrame({'x': [1]}))


# ---------------------------------------------------------------- splits and leakage
def test_compare_and_only_in():
    a, b = df_of(TINY), df_of([['1'], ['4', '1'], ['2']])
    assert labels_only_in(a, b) == ['3'] and labels_only_in(b, a) == ['4'] and labels_only_in([], a) == []
    test = df_of([[], []]); test.attrs['labelled'] = False
    cmp = compare_splits({'train': a, 'valid': b, 'test': test})
    assert list(cmp.columns) == ['train', 'train freq', 'valid', 'valid freq', 'valid/train']
    assert cmp.loc[['1', '2', '3', '4'], 'valid'].tolist() == [2, 1, 0, 1]
    assert np.isclose(cmp.loc['1', 'valid/train'], (2 / 3) / 0.6) and cmp.loc['3', 'valid/train'] == 0
    assert cmp.loc['4', 'valid/train'] == np.inf and np.isnan(cmp.loc['9', 'valid/train'])
    assert list(compare_splits({'only': a}).columns) == ['only', 'only freq']


def test_leakage():
    train = df_of(TINY)
    valid = df_of([['1'], ['2'], ['3']], ids=['1', '2', '30'],
                  urls=['http://h/1.jpg', 'http://other/2.jpg', 'http://h/4.jpg'])  # 1: same id+url; 30: same url as train 4
    test = df_of([[], [], []], ids=['7', '8', '9'], urls=['u', 'u', 'http://h/5.jpg'])  # u twice within test
    ov = split_overlaps({'train': train, 'validation': valid, 'test': test}).set_index(['split a', 'split b', 'kind'])
    assert ov.loc[('train', 'validation', 'same url'), 'count'] == 2
    assert ov.loc[('train', 'validation', 'same id+url'), 'count'] == 1
    assert ov.loc[('train', 'validation', 'same url')][['ids in a', 'ids in b']].tolist() == ['1–4', '1–30']
    assert ov.loc[('train', 'test', 'same url'), 'count'] == 1 and ov.loc[('train', 'test', 'same id+url'), 'count'] == 0
    assert ov.loc[('test', 'test', 'same url, other id')][['count', 'ids in a', 'ids in b']].tolist() == [1, '7', '8']
    assert ov.loc[('validation', 'test', 'same url'), 'count'] == 0
    assert overlap_records(train, valid, on='id+url').values.tolist() == [['http://h/1.jpg', '1', '1']]
    with pytest.raises(ValueError, match='on must be'): overlap_records(train, valid, on='id')
    assert split_overlaps({'a': df_of([])})['count'].tolist() == [0]


# ---------------------------------------------------------------- co-occurrence
def test_cooccurrence_by_hand():
    C = cooccurrence(TINY)
    assert C.iloc[:3, :3].values.tolist() == [[3, 2, 1], [2, 3, 2], [1, 2, 2]]
    P = conditional(C)
    assert np.isclose(P.loc['1', '2'], 2 / 3) and np.isclose(P.loc['3', '1'], 0.5) and P.loc['4'].isna().all()
    L = lift(C)
    assert np.isclose(L.loc['1', '2'], 10 / 9) and np.isclose(L.loc['2', '3'], 5 / 3) and np.isnan(L.loc['1', '4'])
    assert np.isclose(pmi(C).loc['1', '3'], math.log(5 / 6))
    tp = top_pairs(C, 2)
    assert tp[['a', 'b', 'count']].values.tolist() == [['1', '2', 2], ['2', '3', 2]]
    assert np.allclose(tp['P(a|b)'], [2 / 3, 1.0])
    assert top_pairs(C, 1, by='lift')[['a', 'b']].values.tolist() == [['2', '3']]
    with pytest.raises(ValueError, match='number of images unknown'): lift(pd.DataFrame([[1]]))


def test_cooccurrence_matches_brute_force():
    rng = np.random.default_rng(1)
    vocab = [str(i) for i in range(1, 31)]
    labels = [list(rng.choice(vocab, rng.integers(0, 6), replace=False)) for _ in range(500)]
    C = cooccurrence(labels, vocab)
    want = np.zeros((30, 30), int)
    for ls in labels:
        for l in ls: want[int(l) - 1, int(l) - 1] += 1
        for a, b in combinations(ls, 2): want[int(a) - 1, int(b) - 1] += 1; want[int(b) - 1, int(a) - 1] += 1
    assert (C.values == want).all()
    X, v = multi_hot(labels, vocab)
    assert (cooccurrence(X, v).values == want).all()
    assert (cooccurrence(X, v, method='pairs').values == want).all()
    assert (label_counts(X, v)['count'].values == np.diag(want)).all()


# ---------------------------------------------------------------- manifest and pixels
@pytest.fixture
def manifest(tmp_path):
    (tmp_path / 'images').mkdir()
    for i, (w, h) in enumerate([(64, 64), (64, 64), (48, 64)]):
        Image.new('RGB', (w, h), (200, 10 * i, 30)).save(tmp_path / f'images/{i}.jpg', quality=90)
    m = pd.DataFrame({'image_id': ['0', '1', '2', '3', '4', '5'], 'url': [f'http://h/{i}.jpg' for i in range(6)],
                      'status': ['ok', 'ok', 'ok', 'error', 'error', 'transient'],
                      'path': ['images/0.jpg', 'images/1.jpg', 'images/2.jpg', '', '', ''],
                      'error': ['', '', '', 'http_404', 'http_404', 'timeout'],
                      'bytes': [900, 1100, 1000, 5, 5, None], 'width': [64, 64, 48, None, None, None],
                      'height': [64, 64, 64, None, None, None], 'orig_width': [600, 600, 450, None, None, None],
                      'orig_height': [600, 600, 600, None, None, None]})
    return tmp_path, m


def test_manifest_stats(manifest):
    out, m = manifest
    fo = fetch_outcomes(m)
    assert fo[['status', 'error', 'count']].values.tolist() == [['ok', '', 3], ['transient', 'timeout', 1], ['error', 'http_404', 2]]
    assert np.isclose(fo['share'].sum(), 1)
    assert size_counts(m)[['width', 'height', 'count']].values.tolist() == [[600, 600, 2], [450, 600, 1]]
    assert size_counts(m, 'stored', top=1)[['width', 'height', 'count']].values.tolist() == [[64, 64, 2]]
    s = manifest_summary(m)
    assert (s['images'], s['ok'], s['error'], s['transient']) == (6, 3, 2, 1)
    assert s['most common original size'] == '600×600 (67%)' and s['median bytes received (ok)'] == 1000
    fs = stored_file_sizes(m, out)
    assert fs.index.tolist() == ['0', '1', '2'] and (fs > 100).all()
    assert len(stored_file_sizes(m, out, n=2)) == 2
    e = m.iloc[:0]
    assert len(fetch_outcomes(e)) == 0 and len(size_counts(e)) == 0 and manifest_summary(e)['images'] == 0
    smp = sample_images(m, out, df_of([['1'], ['2'], ['3']], ids=['0', '1', '2'], urls=[f'http://h/{i}.jpg' for i in range(3)]), n=5)
    assert sorted(smp.image_id) == ['0', '1', '2'] and all(Path(p).exists() for p in smp.path)
    assert dict(zip(smp.image_id, smp.labels))['1'] == ['2']


def test_pixel_stats():
    a = np.array([[[0, 0, 0], [255, 255, 255]], [[255, 0, 0], [255, 0, 0]]], dtype=np.uint8)
    h = pixel_histograms(a)
    assert h['r'][255] == 3 and h['g'][0] == 3 and h['b'][255] == 1 and h['grey'][[0, 76, 255]].tolist() == [1, 2, 1]
    s = pixel_stats(Image.fromarray(a))
    assert np.isclose(s['brightness'], (255 + 2 * 76) / 4) and np.isclose(s['mean g'], 255 / 4) and s['white share'] == 0.25
    assert pixel_stats(np.full((4, 4, 3), 9, np.uint8))['contrast'] == 0
    with pytest.raises(TypeError, match='expected a path'): pixel_histograms(1.5)


# ---------------------------------------------------------------- plots
def test_every_plot_returns_a_figure(manifest, tmp_path):
    out, m = manifest
    C = cooccurrence(TINY)
    cmp = compare_splits({'a': df_of(TINY), 'b': df_of([['1'], ['4']])})
    smp = sample_images(m, out, n=3)
    img = np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)
    figs = {
        'plot_label_freq': [eda.plot_label_freq(label_counts(TINY)), eda.plot_label_freq(label_counts([]))],
        'plot_labels_per_image': [eda.plot_labels_per_image(TINY), eda.plot_labels_per_image([])],
        'plot_cooccurrence': [eda.plot_cooccurrence(C, kind=k) for k in ('conditional', 'lift', 'count')] + [eda.plot_cooccurrence(cooccurrence([]))],
        'plot_top_pairs': [eda.plot_top_pairs(top_pairs(C)), eda.plot_top_pairs(top_pairs(cooccurrence([])))],
        'plot_split_comparison': [eda.plot_split_comparison(cmp)],
        'plot_sizes': [eda.plot_sizes(m), eda.plot_sizes(m.iloc[:0], 'stored')],
        'plot_size_hist': [eda.plot_size_hist(m), eda.plot_size_hist(m.iloc[:0])],
        'plot_file_sizes': [eda.plot_file_sizes(m), eda.plot_file_sizes(stored_file_sizes(m, out)), eda.plot_file_sizes([])],
        'plot_fetch_outcomes': [eda.plot_fetch_outcomes(m), eda.plot_fetch_outcomes(m.iloc[:0])],
        'plot_pixel_hist': [eda.plot_pixel_hist(img)],
        'plot_image_hist': [eda.plot_image_hist(img, title='x')],
        'plot_image_grid': [eda.plot_image_grid(smp, names={'1': '1 One'}), eda.plot_image_grid(smp.iloc[:0])],
    }
    assert set(figs) == {n for n in eda.__all__ if n.startswith('plot_')}, 'a plot function is not tested'
    for name, fs in figs.items():
        for f in fs:
            assert isinstance(f, Figure) and f.axes, name
            f.savefig(tmp_path / 'f.png')  # it draws
    # ax= composes: the figure of the given axes comes back
    fig, (a1, a2) = eda.subplots(1, 2)
    assert eda.plot_label_freq(label_counts(TINY), ax=a1) is fig and eda.plot_labels_per_image(TINY, ax=a2) is fig
    fig, axs = eda.subplots(1, 2)
    assert eda.plot_image_hist(img, ax=axs) is fig
    assert eda.cluster_order(np.array([[1, 0, .9, 0], [0, 1, 0, .8], [.9, 0, 1, 0], [0, .8, 0, 1]])).tolist() in ([0, 2, 1, 3], [2, 0, 1, 3], [0, 2, 3, 1], [2, 0, 3, 1], [1, 3, 0, 2], [3, 1, 0, 2], [1, 3, 2, 0], [3, 1, 2, 0])


# ---------------------------------------------------------------- report and CLI
def write_json(path, labels, ids=None, urls=None, test=False):
    d = df_of(labels, ids, urls)
    j = {'images': [{'url': u, 'imageId': int(i) if test else i} for i, u in zip(d.image_id, d.url)]}
    if not test: j['annotations'] = [{'labelId': l, 'imageId': i} for i, l in zip(d.image_id, d.labels) if l]
    path.write_text(json.dumps(j))
    return path


def test_cli_end_to_end(manifest, tmp_path):
    out, m = manifest
    for c in ('http_status', 'attempts', 'seconds', 'detail'): m[c] = ''
    m[['image_id', 'url', 'status', 'path', 'error', 'http_status', 'attempts', 'bytes', 'width', 'height',
       'orig_width', 'orig_height', 'seconds', 'detail']].to_csv(out / 'manifest.csv', index=False)
    d = tmp_path / 'data'; d.mkdir()
    tr = write_json(d / 'train.json', [['1', '2'], ['2', '3'], ['1'], ['2']], ids=['0', '1', '2', '3'], urls=[f'http://h/{i}.jpg' for i in range(4)])
    va = write_json(d / 'validation.json', [['1'], ['2', '4']], ids=['1', '2'], urls=['http://h/0.jpg', 'http://v/2.jpg'])
    te = write_json(d / 'test.json', [[], []], ids=['1', '2'], urls=['http://t/1.jpg', 'http://t/2.jpg'], test=True)
    pd.DataFrame({'labelId': ['1', '2', '3', '4'], 'taskId': ['1'] * 4, 'labelName': ['Shoes', 'Zebra', 'Hat', 'Belt'],
                  'taskName': ['category'] * 4}).to_csv(d / 'label_map.csv', index=False)
    rep = tmp_path / 'rep'
    r = subprocess.run([BIN / 'fashion-eda', tr, va, te, '--images', out, '--report', rep, '--samples', '3'],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    page = (rep / 'report.html').read_text()
    pngs = sorted(p.name for p in rep.glob('*.png'))
    assert {'labels_train.png', 'labels_validation.png', 'split_comparison.png', 'cooccurrence_train.png', 'top_pairs_train.png',
            'fetch_outcomes.png', 'orig_sizes.png', 'samples.png', 'pixels_0.png'} <= set(pngs)
    assert page.count('data:image/png;base64,') == len(pngs) and '<script' not in page
    assert '2 Zebra' in page  # names from label_map.csv next to the first JSON
    ov = pd.read_csv(rep / 'overlaps.csv', dtype=str).set_index(['split a', 'split b', 'kind'])
    assert ov.loc[('train', 'validation', 'same url'), 'count'] == '1' and ov.loc[('train', 'validation', 'same url'), 'ids in b'] == '1'
    assert '4 Belt' in page and 'never in train (1)' in page
    # bad input: clear messages, non-zero exit
    for args, msg in [([], 'at least one competition JSON'), ([d / 'nope.json'], 'nope.json: no such file'),
                      ([tr, '--images', d], 'no manifest.csv'), ([tr, '--label-map', d / 'x.csv'], 'x.csv')]:
        r = subprocess.run([BIN / 'fashion-eda', *args, '--report', tmp_path / 'r2'], capture_output=True, text=True, timeout=60)
        assert r.returncode != 0 and msg in r.stderr, (args, r.stderr)
    r = subprocess.run([BIN / 'fashion-eda', '--help'], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and all(f in r.stdout for f in ('--images', '--report', '--label-map', '--samples', '--top', '--seed'))


def test_report_without_images(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        p = eda_report({'train': df_of(TINY), 'empty': df_of([])}, tmp_path / 'r')
    page = p.read_text()
    assert 'Labels: train' in page and 'Images:' not in page and (tmp_path / 'r' / 'cooccurrence_train.png').exists()
    with pytest.raises(ValueError, match='at least one split'): eda_report({}, tmp_path / 'r')
