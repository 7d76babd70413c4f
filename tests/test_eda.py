"""`fashion-eda` as a user types it: relative paths from the project folder, Kaggle-form files (int ids in test.json), a
fetch store, a label map found next to the JSON; the report folder it writes; user errors as one `fashion-eda: error:`
line with exit status 1. The functions themselves are tested in nbs/02_eda.ipynb."""
import json, os, subprocess, sys
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from fashion_clf.core import ManifestWriter

EDA = Path(sys.executable).parent/'fashion-eda'


def kaggle_json(path, ids, urls, labels=None):
    "A competition file in Kaggle's form: string ids with annotations, or int ids and no annotations (test)"
    if labels is None: d = {'images': [{'url': u, 'imageId': int(i)} for i, u in zip(ids, urls)]}
    else: d = {'images': [{'url': u, 'imageId': i} for i, u in zip(ids, urls)],
               'annotations': [{'labelId': l, 'imageId': i} for i, l in zip(ids, labels) if l]}
    path.write_text(json.dumps(d))


@pytest.fixture
def project(tmp_path):
    "A project folder: data/ with the three files and a label map, store/ with a manifest and three images"
    d = tmp_path/'data'; d.mkdir()
    kaggle_json(d/'train.json', ['0', '1', '2', '3'], [f'http://h/{i}.jpg' for i in range(4)], [['1', '2'], ['2', '3'], ['1'], ['2']])
    kaggle_json(d/'validation.json', ['1', '2'], ['http://h/0.jpg', 'http://v/2.jpg'], [['1'], ['2', '4']])  # 1: train 0's URL
    kaggle_json(d/'test.json', ['1', '2'], ['http://t/1.jpg', 'http://t/2.jpg'])
    pd.DataFrame({'labelId': ['1', '2', '3', '4'], 'taskId': '1', 'labelName': ['Shoes', 'Zebra', 'Hat', 'Belt'],
                  'taskName': 'category'}).to_csv(d/'label_map.csv', index=False)
    s = tmp_path/'store'; (s/'images').mkdir(parents=True)
    with ManifestWriter(s) as w:
        for i in range(4):
            if i < 3:
                Image.new('RGB', (48, 64), (200, 60 * i, 30)).save(s/f'images/{i}.jpg')
                w.write(dict(image_id=str(i), url=f'http://h/{i}.jpg', status='ok', path=f'images/{i}.jpg', http_status=200,
                             attempts=1, bytes=900 + i, width=48, height=64, orig_width=600, orig_height=800, seconds=0.1))
            else: w.write(dict(image_id='3', url='http://h/3.jpg', status='error', error='http_404', http_status=404, attempts=1))
    return tmp_path


def eda(*args, cwd):
    return subprocess.run([EDA, *map(str, args)], capture_output=True, text=True, timeout=300, cwd=cwd,
                          env=dict(os.environ, MPLBACKEND='Agg'))


def test_report_as_typed(project):
    r = eda('data/train.json', 'data/validation.json', 'data/test.json', '--images', 'store', '--report', 'runs/eda',
            '--samples', '3', cwd=project)
    assert r.returncode == 0, r.stderr
    rep = project/'runs'/'eda'
    assert str(rep/'report.html') in r.stdout
    page = (rep/'report.html').read_text()
    pngs = {p.name for p in rep.glob('*.png')}
    assert {'labels_train.png', 'labels_validation.png', 'split_comparison.png', 'cooccurrence_train.png',
            'cooccurrence_all_train.png', 'top_pairs_train.png', 'fetch_outcomes.png', 'orig_sizes.png',
            'stored_file_sizes.png', 'samples.png', 'pixels_0.png'} <= pngs
    assert page.count('data:image/png;base64,') == len(pngs) and '<script' not in page
    assert not list(rep.glob('.*')), 'a temporary file was left behind'
    assert '2 Zebra' in page and '4 Belt' in page  # names from data/label_map.csv, next to the first JSON
    assert 'Labels in validation but never in train (1): 4 Belt' in page
    assert 'Matched to the splits on id and URL: train 4, validation 0, test 0' in page  # validation 1 has train 0's URL only
    ov = pd.read_csv(rep/'overlaps.csv', dtype=str).set_index(['split a', 'split b', 'kind'])
    assert ov.loc[('train', 'validation', 'same url'), ['count', 'ids in a', 'ids in b']].tolist() == ['1', '0', '1']
    fo = pd.read_csv(rep/'fetch_outcomes.csv', keep_default_na=False)
    assert fo[['status', 'error', 'count']].values.tolist() == [['ok', '', 3], ['error', 'http_404', 1]]
    assert len(pd.read_csv(rep/'pixel_stats.csv')) == 3


@pytest.mark.parametrize('args, msg', [
    ([], 'give at least one competition JSON file'),
    (['data/nope.json'], 'data/nope.json: no such file'),
    (['data/label_map.csv'], 'not valid JSON'),
    (['data/train.json', '--images', 'data'], 'data/manifest.csv: no such manifest'),
    (['data/train.json', '--label-map', 'data/x.csv'], 'data/x.csv: no such label map file'),
])
def test_user_errors(project, args, msg):
    r = eda(*args, '--report', 'out', cwd=project)
    assert r.returncode == 1, (args, r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('fashion-eda: error: ') and msg in lines[0], r.stderr
    assert not (project/'out').exists()


def test_usage_and_help(project):
    r = eda('data/train.json', '--samples', 'many', cwd=project)
    assert r.returncode == 2 and 'many' in r.stderr  # argparse's usage error
    r = eda('--help', cwd=project)
    assert r.returncode == 0
    for flag, doc in [('--images', 'fashion-fetch output folder'), ('--report', 'report.html'), ('--label-map', 'label map CSV'),
                      ('--samples', 'sample images'), ('--top', 'top-pairs'), ('--seed', 'seed')]:
        assert flag in r.stdout and doc in r.stdout, flag
