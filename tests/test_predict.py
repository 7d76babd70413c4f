"Batch inference, weights-only loading, the submission, its validator and the `fashion-predict` command"
import csv, json, shutil, subprocess, sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from fashion_clf.core import IMAT_LABELS
from fashion_clf.fetch import COLUMNS
from fashion_clf.evaluate import tune_thresholds, save_thresholds
from fashion_clf.predict import (PredictError, Predictor, load_run, find_images, make_submission, write_submission,
                                 check_submission, predict, load_probs, fashion_predict)

torch.set_num_threads(1)  # small tests; one thread avoids oversubscribing shared CI cores
BIN = Path(sys.executable).parent
IDS = [str(i) for i in (7, 3, 12, 5, 9, 1)]  # test.json order (not sorted)


def _run(*args):
    "Run a console script in a new process"
    return subprocess.run([str(BIN/args[0]), *map(str, args[1:])], capture_output=True, text=True)


def _predict_cli(capsys, run, src, **kw):
    "`fashion-predict RUN SRC --k v ...` in this process (saves importing torch again; `test_cli_*` run the real script)"
    rc = fashion_predict(str(run), str(src), quiet=True, **{k: str(v) if isinstance(v, Path) else v for k, v in kw.items()})
    o = capsys.readouterr()
    return rc, o.out, o.err


@pytest.fixture(scope='module')
def data(tmp_path_factory):
    "A run (untrained resnet18 on 4 toy labels: model.pth/model.json, export.pkl, thresholds.json) and a fetched test set"
    from fastai.vision.all import vision_learner, resnet18, BCEWithLogitsLossFlat, set_seed
    from fashion_clf.data import toy_dataset, get_dls, TOY_LABELS
    from fashion_clf.train import save_model
    tmp = tmp_path_factory.mktemp('pr')
    set_seed(0)
    src = toy_dataset(tmp/'src', n=len(IDS), size=48, seed=3)
    dls = get_dls(src.assign(path=[str(tmp/'src/images'/f'{i}.jpg') for i in src.image_id]), None, vocab=TOY_LABELS,
                  size=32, bs=4, valid='random', device='cpu', num_workers=0)
    learn = vision_learner(dls, resnet18, pretrained=False, loss_func=BCEWithLogitsLossFlat())
    run = tmp/'run'
    save_model(learn, run, arch='resnet18', size=32)
    learn.export(run/'export.pkl')
    rng = np.random.default_rng(0)
    y = (rng.random((200, 4)) < .4).astype(int); p = np.clip(y*.5 + rng.random((200, 4))*.6, 0, 1)
    save_thresholds(tune_thresholds(y, p, TOY_LABELS, folds=3), run)
    # the test set as fetch leaves it: OUT/images/<shard>/<id>.jpg + manifest.csv (paths relative to OUT)
    out = tmp/'out'; (out/'images/00').mkdir(parents=True)
    rows = []
    for k, i in enumerate(IDS):
        if i == '5':  # failed download
            rows.append(dict(image_id=i, url=f'http://x/{i}', status='error', path='', error='HTTP 404', http_status=404)); continue
        shutil.copy(tmp/'src/images'/f'{k+1}.jpg', out/'images/00'/f'{i}.jpg')
        rows.append(dict(image_id=i, url=f'http://x/{i}', status='ok', path=f'images/00/{i}.jpg', error='', http_status=200))
    pd.DataFrame(rows).reindex(columns=COLUMNS).to_csv(out/'manifest.csv', index=False)  # fetch's manifest format
    (out/'images/00/12.jpg').write_bytes((out/'images/00/12.jpg').read_bytes()[:200])  # truncated JPEG
    (out/'images/00/9.jpg').write_text('<html>Not Found</html>')                           # not an image at all
    (tmp/'test.json').write_text(json.dumps({'images': [{'url': f'http://x/{i}', 'imageId': int(i)} for i in IDS]}))
    return dict(tmp=tmp, run=run, out=out, test=tmp/'test.json', learn=learn)


def test_weights_only_roundtrip(data):
    run, learn = data['run'], data['learn']
    sd = torch.load(run/'model.pth', weights_only=True)  # plain tensors: loads without unpickling code
    assert all(isinstance(v, torch.Tensor) for v in sd.values())
    model, meta = load_run(run)
    assert meta['vocab'] == ['66', '105', '153', '171'] and meta['size'] == 32 and not model.training
    x = torch.randn(3, 3, 32, 32); learn.model.eval()
    assert torch.allclose(model(x), learn.model(x), atol=1e-5)
    m2, meta2 = load_run(run, unsafe_pickle=True)
    assert torch.allclose(m2(x), model(x), atol=1e-5) and meta2['size'] == 32


class _Evil:
    "A pickle payload: unpickling it creates the file `f` (any code could run instead)"
    def __init__(self, f): self.f = f
    def __reduce__(self): return (Path.touch, (self.f,))


def test_weights_only_refuses_code(data, tmp_path, capsys):
    run, marker = tmp_path/'evil', tmp_path/'pwned'; run.mkdir()
    for f in ('model.json', 'thresholds.json'): shutil.copy(data['run']/f, run)
    torch.save({'w': _Evil(marker)}, run/'model.pth')               # a model.pth that is not just tensors
    with pytest.raises(PredictError, match='not a weights-only'): load_run(run)
    rc, out, err = _predict_cli(capsys, run, data['test'], images=data['out'], out=tmp_path/'o')
    assert rc == 2 and 'not a weights-only' in err and not marker.exists() and not (tmp_path/'o').exists()
    (run/'model.pth').write_bytes((data['run']/'model.pth').read_bytes()[:1000])  # a truncated download
    with pytest.raises(PredictError, match='model.pth'): load_run(run)


def test_export_only_needs_explicit_unsafe_pickle(data, tmp_path, capsys):
    shutil.copy(data['run']/'export.pkl', tmp_path/'export.pkl'); shutil.copy(data['run']/'thresholds.json', tmp_path)
    with pytest.raises(PredictError, match='--unsafe-pickle'): load_run(tmp_path)
    rc, out, err = _predict_cli(capsys, tmp_path, data['test'], images=data['out'], out=tmp_path/'o')
    assert rc == 2 and 'runs code' in err and not (tmp_path/'o').exists()
    rc, out, err = _predict_cli(capsys, tmp_path, data['test'], images=data['out'], out=tmp_path/'o', unsafe_pickle=True)
    assert rc == 0, err
    rc, out, err = _predict_cli(capsys, data['run'], data['test'], images=data['out'], out=tmp_path/'w')
    p_pickle, p_weights = load_probs(tmp_path/'o/probs.npz')['probs'], load_probs(tmp_path/'w/probs.npz')['probs']
    assert np.isfinite(p_weights).any() and np.allclose(p_pickle, p_weights, atol=1e-5, equal_nan=True)  # the same model


def test_predictor_matches_fastai_pipeline(data):
    learn, tmp = data['learn'], data['tmp']
    files = sorted((tmp/'src/images').glob('*.jpg'))
    p, ok = Predictor.from_run(data['run'], bs=4, device='cpu').probs(files)
    df = pd.DataFrame({'path': [str(f) for f in files], 'labels': [[]]*len(files)})
    with learn.no_bar(): ref = learn.get_preds(dl=learn.dls.test_dl(df))[0].numpy()
    assert ok.all() and np.allclose(p, ref, atol=1e-4)
    pt, okt = Predictor.from_run(data['run'], bs=4, device='cpu').probs(files, tta=True, n_tta=2)
    assert pt.shape == p.shape and okt.all()


def test_submission_complete_in_order_with_fallback(data, tmp_path):
    sub = predict(data['run'], data['test'], images=data['out'], out=tmp_path)
    assert sub.image_id.tolist() == IDS                                   # every test id, in file order
    f = tmp_path/'submission.csv'
    lines = f.read_text().splitlines()
    assert lines[0] == 'image_id,label_id' and [l.split(',')[0] for l in lines[1:]] == IDS
    assert all(len(l.split(',')) == 2 for l in lines)
    pb = pd.read_csv(tmp_path/'problems.csv', dtype=str, keep_default_na=False).set_index('image_id')
    assert set(pb.index) == {'5', '12', '9'}
    assert pb.loc['5', 'problem'] == 'not fetched (error: HTTP 404)' and pb.loc['12', 'problem'] == pb.loc['9', 'problem'] == 'unreadable image file'
    d = load_probs(tmp_path/'probs.npz')
    assert d['ids'] == IDS and d['ok'].tolist() == [i not in ('5', '12', '9') for i in IDS] and np.isnan(d['probs'][~d['ok']]).all()
    # fallback rows: the labels whose validation frequency passes their threshold
    th = json.loads((data['run']/'thresholds.json').read_text())
    want = ' '.join(v for v in th['vocab'] if th['priors'][v] >= th['per_label'][v])
    assert sub.set_index('image_id').loc['5', 'label_id'] == want == sub.set_index('image_id').loc['12', 'label_id']
    assert check_submission(f, data['test'])[0] == []
    s = json.loads((tmp_path/'summary.json').read_text())
    assert s['n_images'] == 6 and s['n_predicted'] == 3 and s['n_fallback'] == 3


def test_cli_predict_and_check(data, tmp_path):
    r = _run('fashion-predict', data['run'], data['test'], '--images', data['out'], '--out', tmp_path, '--quiet', '--fallback', 'empty')
    assert r.returncode == 0, r.stderr
    assert '6 images, 3 predicted' in r.stdout
    rows = list(csv.reader(open(tmp_path/'submission.csv')))
    assert dict(rows[1:])['5'] == ''                                        # --fallback empty
    r = _run('fashion-check-submission', tmp_path/'submission.csv', data['test'])
    assert r.returncode == 0 and 'valid, 6 rows' in r.stdout and len(r.stdout.strip().splitlines()) == 1


def test_cli_folder_input(data, tmp_path):
    r = _run('fashion-predict', data['run'], data['out']/'images', '--out', tmp_path, '--quiet')
    assert r.returncode == 0, r.stderr
    assert '5 images, 3 predicted' in r.stdout                          # no JSON: the files, two of them unreadable
    sub = pd.read_csv(tmp_path/'submission.csv', dtype=str, keep_default_na=False)
    assert sorted(sub.image_id) == sorted(set(IDS) - {'5'}) and check_submission(tmp_path/'submission.csv', sub.image_id.tolist())[0] == []
    pb = pd.read_csv(tmp_path/'problems.csv', dtype=str, keep_default_na=False)
    assert sorted(pb.image_id) == ['12', '9'] and set(pb.problem) == {'unreadable image file'}


def test_bad_input_messages(data, tmp_path, capsys):
    def fails(run, src, msg, **kw):
        rc, out, err = _predict_cli(capsys, run, src, out=tmp_path/'o', **kw)
        assert rc == 2 and msg in err and err.startswith('fashion-predict: error:') and 'Traceback' not in err, (rc, err)
        assert not (tmp_path/'o').exists()                                  # nothing written, not even the folder
        return err
    norun = tmp_path/'norun'; norun.mkdir()                                # a model folder without thresholds.json
    shutil.copy(data['run']/'model.pth', norun); shutil.copy(data['run']/'model.json', norun)
    assert 'fashion-evaluate' in fails(norun, data['test'], 'no thresholds', images=data['out'])
    fails(tmp_path/'none', data['test'], 'no such run folder', images=data['out'])
    empty = tmp_path/'empty'; empty.mkdir()
    fails(data['run'], data['test'], 'check --images', images=empty)        # none of the images is there
    fails(data['run'], empty, 'no image files')                             # an empty folder of images
    fails(data['run'], data['test'], 'no such image folder', images=tmp_path/'nowhere')
    fails(data['run'], tmp_path/'missing.json', 'missing.json')
    (tmp_path/'broken.json').write_text('{"images": [')
    fails(data['run'], tmp_path/'broken.json', 'not valid JSON', images=data['out'])
    th = json.loads((data['run']/'thresholds.json').read_text())
    (norun/'thresholds.json').write_text(json.dumps(dict(th, vocab=th['vocab'][::-1])))
    fails(norun, data['test'], 'differ from the model', images=data['out'])  # thresholds of another model
    (norun/'thresholds.json').write_text('{"mode": "global"')
    fails(norun, data['test'], 'not valid JSON', images=data['out'])
    (norun/'thresholds.json').unlink()
    rc, out, err = _predict_cli(capsys, norun, data['test'], images=data['out'], out=tmp_path/'o1', thresh=0.5)
    assert rc == 0, err                                                     # a fixed threshold instead


def test_atomic_submission(tmp_path, monkeypatch):
    f = tmp_path/'submission.csv'
    write_submission(pd.DataFrame({'image_id': ['1'], 'label_id': ['66']}), f)
    before = f.read_bytes()
    class Boom(pd.DataFrame):
        @property
        def label_id(self): raise KeyboardInterrupt  # interrupted half-way
    with pytest.raises(KeyboardInterrupt): write_submission(Boom({'image_id': ['1', '2']}), f)
    assert f.read_bytes() == before and [o.name for o in tmp_path.iterdir()] == ['submission.csv']


def test_make_submission_rules():
    th = {'mode': 'global', 'global': .5, 'per_label': {}, 'vocab': ['1', '2', '3'], 'top1': False, 'priors': {'1': .7, '2': .2, '3': .6}}
    p = np.array([[.9, .1, .6], [np.nan]*3, [.1, .2, .3]])
    assert make_submission(['a', 'b', 'c'], p, ['1', '2', '3'], th).label_id.tolist() == ['1 3', '1 3', '']
    assert make_submission(['a', 'b', 'c'], p, ['1', '2', '3'], th, top1=True).label_id.tolist() == ['1 3', '1 3', '3']
    assert make_submission(['a', 'b', 'c'], p, ['1', '2', '3'], dict(th, priors=None)).label_id.tolist()[1] == ''
    with pytest.raises(ValueError, match='do not match'): make_submission(['a'], p, ['1', '2', '3'], th)


GOOD = 'image_id,label_id\n7,66\n3,\n12,1 228\n5,3\n9,\n1,105 66\n'


@pytest.mark.parametrize('text,problem', [
    ('imageId,labelId\n' + GOOD.split('\n', 1)[1], "header is 'imageId,labelId'"),
    (GOOD.replace('9,\n', ''), '1 test image ids have no row (e.g. 9)'),
    (GOOD + '42,66\n', '1 image ids that are not in the test file (line 8)'),
    (GOOD + '3,66\n', '1 duplicate image ids (line 8)'),
    (GOOD.replace('7,66', '7,66 229'), '1 unknown label ids (line 2)'),
    (GOOD.replace('7,66', '7,066'), 'unknown label ids'),
    (GOOD.replace('12,1 228', '12,1\t228'), 'labels separated by tabs'),
    (GOOD.replace('12,1 228', '12,1;228'), 'labels separated by semicolons'),
    (GOOD.replace('12,1 228', '12,1  228'), 'more than one space'),
    (GOOD.replace('12,1 228', '12,1 228 '), 'leading or trailing spaces'),
    (GOOD.replace('12,1 228', '12,1,228'), 'more than 2 fields'),
    (GOOD.replace('3,\n', '3\n'), 'fewer than 2 fields'),
    (GOOD.replace('12,1 228', '12,1 1'), 'repeated within a row'),
    (GOOD.replace('3,\n', '\n3,\n'), 'blank line'),
    ('\ufeff' + GOOD, 'byte-order mark'),
    ('', 'empty file'),
])
def test_validator_catches(tmp_path, text, problem):
    (tmp_path/'t.json').write_text(json.dumps({'images': [{'url': 'http://x', 'imageId': int(i)} for i in IDS]}))
    (tmp_path/'s.csv').write_text(text, encoding='utf-8')
    probs, summary = check_submission(tmp_path/'s.csv', tmp_path/'t.json')
    assert any(problem in o for o in probs), probs
    assert 'INVALID' in summary


def test_validator_lists_every_problem(tmp_path):
    (tmp_path/'t.json').write_text(json.dumps({'images': [{'url': 'http://x', 'imageId': int(i)} for i in IDS]}))
    (tmp_path/'s.csv').write_text('id,labels\n7,66,5\n7,\n42,999\n3,1\t2\n3,1;2\n')
    probs, _ = check_submission(tmp_path/'s.csv', IDS)
    kinds = ['header', 'more than 2 fields', 'duplicate image ids', 'not in the test file', 'unknown label', 'tabs',
             'semicolons', 'have no row']
    assert all(any(k in o for o in probs) for k in kinds), probs
    # the command: a summary line, then every problem on its own line, exit status 1
    r = _run('fashion-check-submission', tmp_path/'s.csv', tmp_path/'t.json')
    out = r.stdout.strip().splitlines()
    assert r.returncode == 1 and 'INVALID' in out[0] and out[1:] == [f'  - {o}' for o in probs]
    assert all(any(k in o for o in out[1:]) for k in kinds)
    # a valid file: exit status 0 and one line; a missing test file: exit status 2 and a message, no traceback
    (tmp_path/'ok.csv').write_text(GOOD)
    assert check_submission(tmp_path/'ok.csv', IDS)[0] == []
    r = _run('fashion-check-submission', tmp_path/'ok.csv', tmp_path/'t.json')
    assert r.returncode == 0 and len(r.stdout.strip().splitlines()) == 1 and 'valid, 6 rows' in r.stdout
    r = _run('fashion-check-submission', tmp_path/'ok.csv', tmp_path/'none.json')
    assert r.returncode == 2 and 'none.json' in r.stderr and 'Traceback' not in r.stderr
    r = _run('fashion-check-submission', tmp_path/'nothing.csv', tmp_path/'t.json')
    assert r.returncode == 1 and 'no such file' in r.stdout


def test_relative_image_folder(data, monkeypatch):
    "A relative --images folder without a manifest (regression: the scanned paths came back doubled, 'file missing')"
    monkeypatch.chdir(data['tmp'])
    it = find_images(data['test'], 'src/images')                           # holds 1.jpg .. 6.jpg: test ids 3, 5, 1
    assert it.image_id.tolist() == IDS
    assert it.set_index('image_id').problem.to_dict() == {'7': 'not fetched', '3': '', '12': 'not fetched', '5': '', '9': 'not fetched', '1': ''}
    assert all(Path(p).is_file() for p in it.path.dropna())
