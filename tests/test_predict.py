"`fashion-predict` and `fashion-check-submission` as a user runs them: real commands, a fetched test set, relative paths"
import csv, json, os, shutil, subprocess, sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from fashion_clf.core import ManifestWriter
from fashion_clf.data import toy_dataset, get_dls, TOY_LABELS
from fashion_clf.metrics import tune_thresholds, save_thresholds
from fashion_clf.model import save_model
from fashion_clf.predict import load_probs, predict, tta_spec
from fastai.vision.all import vision_learner, resnet18, BCEWithLogitsLossFlat, set_seed

torch.set_num_threads(1)  # small tests; one thread avoids oversubscribing shared CI cores
BIN = Path(sys.executable).parent
IDS = [str(i) for i in (7, 3, 12, 5, 9, 1)]  # test.json order (not sorted)


def _run(*args, cwd=None):
    "Run a console script in a new process"
    return subprocess.run([str(BIN/args[0]), *map(str, args[1:])], capture_output=True, text=True, cwd=cwd)


def _user_error(r, cmd, *msgs):
    "`r` ended as a user error: exit status 1, one line `cmd: error: ...` naming `msgs`, no traceback"
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith(f'{cmd}: error:') and 'Traceback' not in r.stderr, r.stderr
    for m in msgs: assert m in last, (m, last)
    return last


def _toy_run(tmp):
    "An untrained resnet18 on the 4 toy labels, saved as `tmp/run` (model.pth/model.json and export.pkl)"
    set_seed(0)
    src = toy_dataset(tmp/'src', n=len(IDS), size=48, seed=3)
    dls = get_dls(src.assign(path=[str(tmp/'src/images'/f'{i}.jpg') for i in src.image_id]), None, vocab=TOY_LABELS,
                  size=32, bs=4, valid='random', device='cpu', num_workers=0)
    learn = vision_learner(dls, resnet18, pretrained=False, loss_func=BCEWithLogitsLossFlat())
    save_model(learn.model, tmp/'run', 'resnet18', TOY_LABELS, 32)
    learn.export(tmp/'run/export.pkl')
    return tmp/'run'


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    "A run with thresholds.json (tuned without TTA) and a test set as fashion-fetch leaves it, with three bad images"
    tmp = tmp_path_factory.mktemp('pr')
    run = _toy_run(tmp)
    rng = np.random.default_rng(0)
    y = (rng.random((200, 4)) < .4).astype(int); p = np.clip(y*.5 + rng.random((200, 4))*.6, 0, 1)
    save_thresholds(tune_thresholds(y, p, TOY_LABELS, folds=3), run)
    out = tmp/'out'; (out/'images/00').mkdir(parents=True)   # OUT/images/<shard>/<id>.jpg + manifest.csv (paths relative to OUT)
    with ManifestWriter(out) as mw:
        for k, i in enumerate(IDS):
            if i == '5': mw.write(dict(image_id=i, url=f'http://x/{i}', status='error', error='http_404', http_status=404)); continue
            shutil.copy(tmp/'src/images'/f'{k+1}.jpg', out/'images/00'/f'{i}.jpg')
            mw.write(dict(image_id=i, url=f'http://x/{i}', status='ok', path=f'images/00/{i}.jpg', http_status=200))
    (out/'images/00/12.jpg').write_bytes((out/'images/00/12.jpg').read_bytes()[:200])  # truncated JPEG
    (out/'images/00/9.jpg').write_text('<html>Not Found</html>')                           # not an image at all
    (tmp/'test.json').write_text(json.dumps({'images': [{'url': f'http://x/{i}', 'imageId': int(i)} for i in IDS]}))
    return dict(tmp=tmp, run=run, out=out, test=tmp/'test.json')


def test_cli_predict_relative_paths(data, tmp_path):
    "The README's command with paths relative to the current folder: every file, every test id, bad images as fallbacks"
    sub_dir = tmp_path/'sub'; shutil.copytree(data['run'], tmp_path/'runs/r')
    r = _run('fashion-predict', 'runs/r', os.path.relpath(data['test'], tmp_path), '--images', os.path.relpath(data['out'], tmp_path),
             '--out', 'sub', '--quiet', '--fallback', 'empty', cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"{sub_dir/'submission.csv'}: 6 images, 3 predicted") and r.stderr == ''
    assert sorted(os.listdir(sub_dir)) == ['problems.csv', 'probs.npz', 'submission.csv', 'summary.json']
    rows = list(csv.reader(open(sub_dir/'submission.csv')))
    assert rows[0] == ['image_id', 'label_id'] and [r_[0] for r_ in rows[1:]] == IDS and dict(rows[1:])['5'] == ''  # --fallback empty
    pb = pd.read_csv(sub_dir/'problems.csv', dtype=str, keep_default_na=False).set_index('image_id').problem.to_dict()
    assert pb == {'12': 'unreadable image file', '5': 'not fetched (error: http_404)', '9': 'unreadable image file'}
    d = load_probs(sub_dir/'probs.npz')
    assert d['ids'] == IDS and d['ok'].tolist() == [i not in ('5', '12', '9') for i in IDS] and d['tta'] is None
    s = json.loads((sub_dir/'summary.json').read_text())
    assert (s['n_images'], s['n_predicted'], s['n_fallback'], s['tta']) == (6, 3, 3, None)
    r = _run('fashion-check-submission', 'sub/submission.csv', os.path.relpath(data['test'], tmp_path), cwd=tmp_path)
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 1 and r.stdout.startswith(f"{sub_dir/'submission.csv'}: valid, 6 rows")


def test_cli_folder_input(data, tmp_path):
    "A folder of images instead of a JSON: its files are the test set"
    r = _run('fashion-predict', data['run'], data['out']/'images', '--out', tmp_path, '--quiet')
    assert r.returncode == 0, r.stderr
    assert '5 images, 3 predicted' in r.stdout                          # no JSON: the files, two of them unreadable
    sub = pd.read_csv(tmp_path/'submission.csv', dtype=str, keep_default_na=False)
    assert sorted(sub.image_id) == sorted(set(IDS) - {'5'})


def test_cli_errors(data, tmp_path):
    "A user error is one line `fashion-predict: error: ...` with exit status 1, and nothing is written; usage errors exit 2"
    _user_error(_run('fashion-predict', tmp_path/'none', data['test'], '--out', tmp_path/'o'), 'fashion-predict', 'no such run folder')
    assert not (tmp_path/'o').exists()
    r = _run('fashion-predict', data['run'])                            # a wrong command line: argparse's status 2
    assert r.returncode == 2 and 'usage:' in r.stderr


class _Evil:
    "A pickle payload: unpickling it creates the file `f` (any code could run instead)"
    def __init__(self, f): self.f = f
    def __reduce__(self): return (Path.touch, (self.f,))


def test_cli_refuses_code_in_model_file(data, tmp_path):
    run, marker = tmp_path/'evil', tmp_path/'pwned'; run.mkdir()
    for f in ('model.json', 'thresholds.json'): shutil.copy(data['run']/f, run)
    torch.save({'w': _Evil(marker)}, run/'model.pth')               # a model.pth that is not just tensors
    _user_error(_run('fashion-predict', run, data['test'], '--images', data['out'], '--out', tmp_path/'o'), 'fashion-predict', 'not a weights-only')
    assert not marker.exists() and not (tmp_path/'o').exists()


def test_cli_tta_mismatch_warns_both_ways(data, tmp_path):
    "One warning line on stderr when predicting with another TTA than the thresholds were tuned with; none when the same"
    r = _run('fashion-predict', data['run'], data['test'], '--images', data['out'], '--out', tmp_path/'a', '--quiet', '--tta', '--n-tta', '2')
    assert r.returncode == 0, r.stderr
    assert r.stderr.splitlines() == [f"fashion-predict: warning: {data['run']/'thresholds.json'}: tuned with no TTA, but predicting "
                                     "with TTA (2 augmented passes, beta 0.25); the thresholds may not fit (tune them the same way: "
                                     "fashion-evaluate ... --tta --n-tta 2)"]
    run = shutil.copytree(data['run'], tmp_path/'run_tta')
    save_thresholds(dict(json.loads((run/'thresholds.json').read_text()), tta=tta_spec(True, 2)), run)
    r = _run('fashion-predict', run, data['test'], '--images', data['out'], '--out', tmp_path/'b', '--quiet')
    assert r.returncode == 0 and len(r.stderr.splitlines()) == 1 and 'tuned with TTA (2 augmented passes' in r.stderr
    assert 'but predicting with no TTA' in r.stderr and 'without --tta' in r.stderr


def test_export_pkl_only_with_unsafe_pickle(data, tmp_path):
    run = tmp_path/'old'; run.mkdir()
    for f in ('export.pkl', 'thresholds.json'): shutil.copy(data['run']/f, run)
    _user_error(_run('fashion-predict', run, data['test'], '--images', data['out'], '--out', tmp_path/'o'), 'fashion-predict',
                '--unsafe-pickle', 'runs code')
    p_pickle = predict(run, data['test'], data['out'], tmp_path/'p', unsafe_pickle=True, device='cpu').attrs
    p_weights = predict(data['run'], data['test'], data['out'], tmp_path/'w', device='cpu').attrs
    a, b = load_probs(tmp_path/'p/probs.npz')['probs'], load_probs(tmp_path/'w/probs.npz')['probs']
    assert np.isfinite(b).any() and np.allclose(a, b, atol=1e-5, equal_nan=True)  # the same model, the same pixels


def _sample_like(ids, seed=0):
    "A file like Kaggle's sample_submission.csv: every test id, 1-8 random label ids from 1-230, some repeated within a row"
    rng = np.random.default_rng(seed)
    rows = [rng.integers(1, 231, rng.integers(1, 9)).tolist() for _ in ids]
    for k in range(0, len(rows), 3): rows[k] = rows[k] + rows[k][:1]          # a repeat in every third row
    return 'image_id,label_id\n' + ''.join(f"{i},{' '.join(map(str, r))}\n" for i, r in zip(ids, rows)), rows


def test_cli_check_submission_kaggle_rules(tmp_path):
    ids = [str(i) for i in range(1, 301)]
    (tmp_path/'test.json').write_text(json.dumps({'images': [{'url': f'http://x/{i}', 'imageId': int(i)} for i in ids]}))
    text, rows = _sample_like(ids)
    (tmp_path/'sample.csv').write_text(text)
    r = _run('fashion-check-submission', 'sample.csv', 'test.json', cwd=tmp_path)          # what Kaggle accepts: valid
    out = r.stdout.splitlines()
    assert r.returncode == 0 and len(out) == 3 and out[0].startswith(f"{tmp_path/'sample.csv'}: valid, 300 rows") and '2 kinds of warning' in out[0]
    lines_of = lambda f: [k + 2 for k, r_ in enumerate(rows) if f(r_)]  # the data rows start on line 2
    unknown, repeats = lines_of(lambda r_: max(r_) > 228), lines_of(lambda r_: len(set(r_)) < len(r_))
    assert len(unknown) > 5 and repeats[:3] == [2, 5, 8]
    assert set(out[1:]) == {f"  warning: {len(unknown)} rows with label ids outside the vocabulary (scored as wrong labels) "
                            f"(lines {', '.join(map(str, unknown[:5]))}, ...)",
                            f"  warning: {len(repeats)} rows that repeat a label (lines {', '.join(map(str, repeats[:5]))}, ...)"}
    r = _run('fashion-check-submission', 'sample.csv', 'test.json', '--strict', cwd=tmp_path)  # --strict: warnings are errors
    assert r.returncode == 1 and 'INVALID' in r.stdout and r.stdout.count('  error: ') == 2 and '  warning:' not in r.stdout
    lines = text.splitlines()                                   # what Kaggle rejects: exit 1, every kind with its lines
    bad = [lines[0]] + lines[2:150] + [lines[150], lines[150], '999,1', '301,1;2'] + lines[151:]
    (tmp_path/'bad.csv').write_text('\n'.join(bad) + '\n')
    r = _run('fashion-check-submission', 'bad.csv', 'test.json', cwd=tmp_path)
    errs = [l for l in r.stdout.splitlines() if l.startswith('  error: ')]
    assert r.returncode == 1 and 'INVALID, Kaggle would reject it: 4 kinds of error' in r.stdout
    assert errs == ['  error: 1 duplicate image ids (line 151)', '  error: 2 image ids that are not in the test file (lines 152, 153)',
                    '  error: 1 label fields separated by semicolons, not spaces (line 153)', '  error: 1 test image ids have no row (e.g. 1)']
    _user_error(_run('fashion-check-submission', 'sample.csv', 'none.json', cwd=tmp_path), 'fashion-check-submission', 'none.json')
