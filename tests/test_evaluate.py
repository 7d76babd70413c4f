"`fashion-evaluate` as a user runs it: the real command, relative paths, its files, its TTA record and its errors"
import json, os, shutil, subprocess, sys
from pathlib import Path

import pytest
import torch
from fastai.vision.all import vision_learner, resnet18, BCEWithLogitsLossFlat, set_seed

from fashion_clf.data import toy_dataset, get_dls, TOY_LABELS
from fashion_clf.metrics import load_thresholds
from fashion_clf.model import save_model
from fashion_clf.predict import load_probs

torch.set_num_threads(1)  # the tests are small; one thread avoids oversubscribing shared CI cores
BIN = Path(sys.executable).parent


def _run(*args, cwd=None):
    "Run a console script in a new process"
    return subprocess.run([str(BIN/args[0]), *map(str, args[1:])], capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    "An untrained (random) resnet18 run on 4 toy labels, and a validation JSON beside its images"
    tmp = tmp_path_factory.mktemp('ev')
    set_seed(0)
    val = toy_dataset(tmp, n=40, size=48, seed=1, prefix='v')
    dls = get_dls(val.assign(path=[str(tmp/'images'/f'{i}.jpg') for i in val.image_id]), None, vocab=TOY_LABELS,
                  size=32, bs=16, valid='random', device='cpu', num_workers=0)
    learn = vision_learner(dls, resnet18, pretrained=False, loss_func=BCEWithLogitsLossFlat())
    save_model(learn.model, tmp/'runs/r', 'resnet18', TOY_LABELS, 32)
    (tmp/'valid.json').write_text(json.dumps({'images': [{'url': u, 'imageId': i} for i, u in zip(val.image_id, val.url)],
                                              'annotations': [{'labelId': l, 'imageId': i} for i, l in zip(val.image_id, val.labels)]}))
    return tmp


def test_fashion_evaluate_cli(run):
    "Relative paths from the project folder; thresholds.json, the report and the validation probabilities land in the run"
    r = _run('fashion-evaluate', 'runs/r', 'valid.json', '--folds', '3', '--quiet', cwd=run)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith('cross-validated micro-F1 (3 folds)') and f"wrote {run/'runs/r/thresholds.json'}" in r.stdout
    th = load_thresholds(run/'runs/r')
    assert th['n_images'] == 40 and th['cv']['folds'] == 3 and th['vocab'] == TOY_LABELS and th['tta'] is None
    assert sorted(os.listdir(run/'runs/r/report')) == ['cv.csv', 'f1_threshold.png', 'index.html', 'label_f1.png', 'labels.csv',
                                                      'pr_curve.png', 'scores.csv', 'valid_probs.npz']
    h = _run('fashion-evaluate', '--help').stdout
    for flag in ('--images', '--probs', '--mode', '--folds', '--top1', '--shrink', '--min-support', '--tta', '--n-tta', '--unsafe-pickle'):
        assert flag in h, flag


def test_fashion_evaluate_records_tta(run, tmp_path):
    "With --tta the thresholds and the saved probabilities say how they were made; reusing those probabilities keeps it"
    rd = shutil.copytree(run/'runs/r', tmp_path/'r')
    r = _run('fashion-evaluate', rd, run/'valid.json', '--folds', '3', '--quiet', '--tta', '--n-tta', '2')
    assert r.returncode == 0, r.stderr
    assert load_thresholds(rd)['tta'] == {'n': 2, 'beta': 0.25} == load_probs(rd/'report/valid_probs.npz')['tta']
    (rd/'thresholds.json').unlink()
    r = _run('fashion-evaluate', rd, run/'valid.json', '--folds', '3', '--quiet', '--probs', rd/'report/valid_probs.npz')
    assert r.returncode == 0 and load_thresholds(rd)['tta'] == {'n': 2, 'beta': 0.25}


def test_fashion_evaluate_user_error(run, tmp_path):
    "What the user must fix: one line `fashion-evaluate: error: ...`, exit status 1, no traceback"
    (tmp_path/'test.json').write_text(json.dumps({'images': [{'url': 'http://x/1', 'imageId': 1}]}))
    r = _run('fashion-evaluate', run/'runs/r', tmp_path/'test.json')
    assert r.returncode == 1 and r.stderr.strip().splitlines()[-1].startswith('fashion-evaluate: error:'), r.stderr
    assert 'no labels' in r.stderr and 'Traceback' not in r.stderr, r.stderr
