"End to end: `fashion-demo --size tiny` in a subprocess, run as a user runs it (no --out: `./fashion_demo`), writes every output, and its figures are the files'"
import json, subprocess, sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fashion_clf.core import encode_labels, load_imat
from fashion_clf.metrics import load_thresholds, micro_f1, predict_labels, threshold_vector
from fashion_clf.predict import load_probs

BIN = Path(sys.executable).parent


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    cwd = tmp_path_factory.mktemp('demo'); out = cwd/'fashion_demo'   # the default output folder, relative to where it runs
    r = subprocess.run([str(BIN/'fashion-demo'), '--size', 'tiny'], cwd=cwd,   # output to a pipe, as to a log file
                       capture_output=True, text=True, timeout=900, env={'MPLBACKEND': 'Agg', 'OMP_NUM_THREADS': '2',
                                                                        'PATH': str(BIN), 'HOME': str(cwd)})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return out, r.stdout


def test_summary(demo):
    out, stdout = demo
    s = json.loads((out/'summary.json').read_text())
    for k in ('images_fetched', 'micro_f1_at_0.5', 'micro_f1_tuned', 'seconds', 'test_micro_f1_tuned', 'stage_seconds'):
        assert k in s, k
    n = json.loads((out/'synth/synth.json').read_text())
    assert s['images_fetched'] == sum(n['counts'].values()) == 96 + 32 + 32
    # the reported scores are those of the files the demo wrote: validation probabilities, thresholds, test probabilities
    th = load_thresholds(out/'run')
    for npz, labels, key in (('run/report/valid_probs.npz', 'synth/validation.json', ''), ('predict/probs.npz', 'synth/test_labels.json', 'test_')):
        d, df = load_probs(out/npz), load_imat(out/labels, warn=False)
        p = d['probs'][pd.Index(d['ids']).get_indexer(df.image_id)]
        y = encode_labels(df.labels, d['vocab'])
        assert s[f'{key}micro_f1_at_0.5'] == pytest.approx(micro_f1(y, p >= 0.5))
        assert s[f'{key}micro_f1_tuned'] == pytest.approx(micro_f1(y, predict_labels(p, threshold_vector(th, d['vocab']), th['top1'])))
    assert s['threshold_mode'] == th['mode'] and set(s['stage_seconds']) and s['run_dir'] == str(out/'run')
    assert 'fashion-demo (tiny) finished' in stdout and 'validation micro-F1 tuned' in stdout


def test_log_lines(demo):
    "Written to a pipe or a log file (not a terminal), progress is plain lines, not redrawn bars that make one endless line"
    _, stdout = demo
    lines = stdout.splitlines()
    assert sum(l.startswith('== [') for l in lines) == 7, stdout[:2000]
    assert max(map(len, lines)) < 400, max(lines, key=len)[:400]
    assert '\r' not in stdout


@pytest.mark.parametrize('rel', ['synth/train.json', 'synth/validation.json', 'synth/test.json', 'synth/label_map.csv',
    'images/train/manifest.csv', 'images/validation/manifest.csv', 'images/test/manifest.csv', 'eda/report.html',
    'run/config.json', 'run/history.csv', 'run/curves.png', 'run/model.pth', 'run/model.json', 'run/thresholds.json',
    'run/report/index.html', 'run/report/pr_curve.png', 'submission.csv', 'predict/probs.npz'])
def test_outputs_exist(demo, rel):
    out, _ = demo
    assert (out/rel).is_file() and (out/rel).stat().st_size > 0, rel


def test_no_stray_temporary_files(demo):
    out, _ = demo
    "No temporary file is left behind (fetch's `.tmp` folders are empty; atomic writes leave no `*.tmp`)"
    assert not [p for p in out.rglob('*') if p.is_file() and (p.name.endswith(('.tmp', '.part')) or p.parent.name == '.tmp')]


def test_submission_validates(demo):
    out, _ = demo
    r = subprocess.run([str(BIN/'fashion-check-submission'), str(out/'submission.csv'), str(out/'synth/test.json')],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert 'valid' in r.stdout
    sub = pd.read_csv(out/'submission.csv', dtype=str, keep_default_na=False)
    test = json.loads((out/'synth/test.json').read_text())
    assert sub.columns.tolist() == ['image_id', 'label_id']
    assert sub.image_id.tolist() == [str(o['imageId']) for o in test['images']]


@pytest.mark.parametrize('split', ['train', 'validation', 'test'])
def test_every_image_fetched_once(demo, split):
    "Each split's manifest has one `ok` row per image id of its JSON, and each path is a file under that split's folder"
    out, _ = demo
    m = pd.read_csv(out/f'images/{split}/manifest.csv', dtype=str, keep_default_na=False)
    ids = json.loads((out/f'synth/{split}.json').read_text())['images']
    assert (m.status == 'ok').all() and m.image_id.is_unique
    assert sorted(m.image_id) == sorted(str(o['imageId']) for o in ids)
    assert all((out/f'images/{split}'/p).is_file() for p in m.path)
