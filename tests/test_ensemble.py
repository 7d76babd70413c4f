"`fashion-ensemble` and `fashion-predict` on its folder as a user runs them: real commands, relative paths, two runs"
import json, os, subprocess, sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from fastai.vision.all import vision_learner, resnet18, BCEWithLogitsLossFlat, set_seed

from fashion_clf.data import toy_dataset, get_dls, TOY_LABELS
from fashion_clf.evaluate import evaluate_run
from fashion_clf.model import load_model, save_model
from fashion_clf.predict import check_submission, load_probs
from fashion_clf.stack import load_stack

torch.set_num_threads(1)  # small tests; one thread avoids oversubscribing shared CI cores
BIN = Path(sys.executable).parent
FAST = ['--folds', '3', '--inner-folds', '2', '--gbm-trees', '20', '--mlp-iter', '5', '--quiet']


def _ensemble(*args, cwd=None):
    "Run fashion-ensemble in a new process (as `python -m` until the console script is registered)"
    exe = [str(BIN/'fashion-ensemble')] if (BIN/'fashion-ensemble').exists() else [sys.executable, '-m', 'fashion_clf.ensemble']
    return subprocess.run(exe + list(map(str, args)), capture_output=True, text=True, cwd=cwd)


def _run(*args, cwd=None):
    "Run a console script in a new process"
    return subprocess.run([str(BIN/args[0]), *map(str, args[1:])], capture_output=True, text=True, cwd=cwd)


def _user_error(r, *msgs):
    "`r` ended as a user error: exit status 1, one line `fashion-ensemble: error: ...` naming `msgs`, no traceback"
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith('fashion-ensemble: error:') and 'Traceback' not in r.stderr, r.stderr
    for m in msgs: assert m in last, (m, last)


def _json(path, df, labels=True):
    "Write `df` (image_id, url, labels) as a competition JSON"
    d = {'images': [{'url': u, 'imageId': i} for i, u in zip(df.image_id, df.url)]}
    if labels: d['annotations'] = [{'labelId': l, 'imageId': i} for i, l in zip(df.image_id, df.labels)]
    path.write_text(json.dumps(d))


@pytest.fixture(scope='module')
def proj(tmp_path_factory):
    "Two untrained resnet18 runs (other seeds) on the 4 toy labels; validation and test images; a label map with one task"
    tmp = tmp_path_factory.mktemp('ens')
    val = toy_dataset(tmp/'valid', n=45, size=48, seed=1, prefix='v'); test = toy_dataset(tmp/'test', n=12, size=48, seed=2)
    _json(tmp/'valid/validation.json', val); _json(tmp/'test/test.json', test, labels=False)
    for k in (0, 1):
        set_seed(k)
        dls = get_dls(val.assign(path=[str(tmp/'valid/images'/f'{i}.jpg') for i in val.image_id]), None, vocab=TOY_LABELS,
                      size=32, bs=16, valid='random', device='cpu', num_workers=0)
        save_model(vision_learner(dls, resnet18, pretrained=False, loss_func=BCEWithLogitsLossFlat()).model, tmp/f'runs/r{k}', 'resnet18', TOY_LABELS, 32)
    evaluate_run(tmp/'runs/r0', tmp/'valid/validation.json', folds=3)   # r0 has report/valid_probs.npz; r1 is predicted by the ensemble
    pd.DataFrame(dict(labelId=TOY_LABELS, taskId='1', labelName=['circle', 'square', 'triangle', 'cross'], taskName='shape')).to_csv(tmp/'label_map.csv', index=False)
    return tmp


def test_ensemble_then_predict(proj):
    "Relative paths; the ensemble folder and its report; fashion-predict on it writes a submission Kaggle accepts"
    r = _ensemble('runs/r0', 'runs/r1', '--valid', 'valid/validation.json', '--images', 'valid', '--names', 'label_map.csv',
                  '--out', 'ens', *FAST, cwd=proj)
    assert r.returncode == 0, r.stderr
    assert 'chosen: ' in r.stdout and 'best_member' in r.stdout and 'fashion-predict ens TEST.json' in r.stdout
    ens = proj/'ens'
    assert {'ensemble.json', 'combiner.json', 'stats.npz', 'thresholds.json', 'report', 'members'} <= {o.name for o in ens.iterdir()}
    kept = os.listdir(ens/'members')                  # r1's probabilities, in a file named by the run; nothing written into a run
    assert len(kept) == 1 and kept[0].startswith('r1-') and kept[0].endswith('_valid_probs.npz') and not (proj/'runs/r1/report').exists()
    cmp = pd.read_csv(ens/'report/comparison.csv')
    assert set(cmp.combiner) == {'member_0', 'member_1', 'best_member', 'equal', 'weighted', 'linear', 'mlp', 'gbm'}
    st = load_stack(ens)
    assert [m['rel'] for m in st.members] == ['../runs/r0', '../runs/r1'] and st.vocab == TOY_LABELS
    assert st.th['n_images'] == 45 and set(st.stats.kinds) == {'shape'}
    d = load_probs(ens/'members'/kept[0])
    assert d['ids'] == [f'v{i}' for i in range(1, 46)] and d['run'] == str((proj/'runs/r1').resolve())
    r = _run('fashion-predict', 'ens', 'test/test.json', '--images', 'test', '--out', 'sub', '--quiet', cwd=proj)
    assert r.returncode == 0, r.stderr
    chk = check_submission(proj/'sub/submission.csv', proj/'test/test.json', strict=True)
    assert chk.ok, chk
    p = load_probs(proj/'sub/probs.npz')
    assert p['vocab'] == TOY_LABELS and p['ok'].all() and np.isfinite(p['probs']).all()
    r = _run('fashion-predict', 'ens', 'test/test.json', '--images', 'test', '--out', 'sub2', '--tta', cwd=proj)
    assert r.returncode == 1 and r.stderr.strip().splitlines()[-1].startswith('fashion-predict: error:') and '--tta does not apply' in r.stderr


def test_ensemble_member_replaced(proj, tmp_path):
    "The same --out with another run in the second place, then in the other order: each member gets its own probabilities"
    model, _ = load_model(proj/'runs/r1'); set_seed(2)
    with torch.no_grad():
        for p in model.parameters(): p.add_(0.1*torch.randn_like(p))                # the same architecture, other weights
    r2 = tmp_path/'r2'; save_model(model, r2, 'resnet18', TOY_LABELS, 32)
    args = ['--valid', proj/'valid/validation.json', '--images', proj/'valid', '--out', tmp_path/'e', '--combiner', 'equal', *FAST]
    for runs in ([proj/'runs/r0', proj/'runs/r1'], [proj/'runs/r0', r2], [r2, proj/'runs/r0']):
        r = _ensemble(*runs, *args)
        assert r.returncode == 0, r.stderr
        for run, m in zip(runs, load_stack(tmp_path/'e').members):
            if run != proj/'runs/r0': assert load_probs(m['probs'])['run'] == str(run.resolve()), (run, m)   # r0: its report/valid_probs.npz
    assert len(os.listdir(tmp_path/'e/members')) == 2
    p1, p2 = (load_probs(next((tmp_path/'e/members').glob(f'{n}-*')))['probs'] for n in ('r1', 'r2'))
    assert np.abs(p1 - p2).max() > 1e-3


def test_ensemble_combiner_asked_for(proj, tmp_path):
    "--combiner equal: the equal blend is kept whatever the comparison says; its combiner file says so"
    r = _ensemble(proj/'runs/r0', proj/'runs/r1', '--valid', proj/'valid/validation.json', '--images', proj/'valid',
                  '--combiner', 'equal', '--out', tmp_path/'e', *FAST)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path/'e/combiner.json').read_text()) == {'kind': 'blend', 'params': {'weights': None, 'tune': False, 'rounds': 10}}
    assert load_stack(tmp_path/'e').info['combiner'] == 'equal'


def test_ensemble_user_errors(proj, tmp_path):
    "What the user can fix is one line, exit status 1, and nothing is written (the other errors: in the notebook)"
    _user_error(_ensemble(proj/'runs/r0', proj/'runs/r1', '--out', tmp_path/'e'), '--valid')
    _user_error(_ensemble(proj/'runs/r0', proj/'runs/nope', '--valid', proj/'valid/validation.json', '--out', tmp_path/'e'), 'no such run folder')
    _user_error(_ensemble(proj/'runs/r0', proj/'runs/r1', '--valid', proj/'valid/validation.json', '--out', tmp_path/'e',
                          '--images', tmp_path), 'check --images')
    assert not (tmp_path/'e').exists()
