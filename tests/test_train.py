"""Tests of `fashion_clf.train`: schedules (epochs and LR shape), ASL probabilities, resuming, pretrained-weight sources,
`train_dir` with separate image stores, the `fashion-train` command and a 2-process (gloo) distributed run"""
import json, os, socket, subprocess, sys, urllib.error
from pathlib import Path

import matplotlib; matplotlib.use('Agg')
import numpy as np
import pandas as pd
import pytest
import torch

from fastai.vision.all import Callback, CancelFitException, resnet18, set_seed
from fashion_clf.data import toy_dataset, get_dls, TOY_LABELS
from fashion_clf.train import (train, train_dir, create_learner, read_history, plan_stages, sgdr_epochs, save_model,
                               PretrainedWeightsError, default_images)

torch.set_num_threads(1)
BS, N_TRAIN = 8, 32          # 4 training batches per epoch
N_IT = N_TRAIN // BS
ENV = {**os.environ, 'OMP_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1', 'MPLBACKEND': 'Agg', 'PYTHONWARNINGS': 'ignore'}
BIN = Path(sys.executable).parent

@pytest.fixture(scope='module')
def toy(tmp_path_factory):
    d = tmp_path_factory.mktemp('toy')
    trn = toy_dataset(d, n=N_TRAIN, size=32, seed=0, split='train')
    val = toy_dataset(d, n=12, size=32, seed=1, split='validation')
    return d, trn, val

class LRTrace(Callback):
    "Record the head's learning rate at every training batch, and the epochs actually trained, per fit"
    order = 99
    def __init__(self): self.fits = []
    def before_fit(self): self.fits.append(dict(size=self.dls.size, lrs=[], group_lrs=[], epochs=0))
    def before_train(self): self.fits[-1]['epochs'] += 1
    def after_batch(self):
        if not self.training: return
        self.fits[-1]['lrs'].append(self.opt.hypers[-1]['lr'])
        self.fits[-1]['group_lrs'].append([h['lr'] for h in self.opt.hypers])
    @property
    def lrs(self): return np.concatenate([f['lrs'] for f in self.fits])

def run(toy, run_dir, cbs=(), **kw):
    d, trn, val = toy
    args = dict(valid=val, vocab=TOY_LABELS, arch='xresnet_tiny', sizes=(16, 24), epochs=2, lr=1e-2, bs=BS,
                pretrained=False, quiet=True, seed=0)
    return train(trn, d, run_dir, cbs=list(cbs), **{**args, **kw})

def is_cosine_decay(lrs, peak):
    "Starts at `peak` and decreases strictly"
    return np.isclose(lrs[0], peak) and (np.diff(lrs) < 0).all()

def check_one_cycle(lrs, peak):
    "fastai's one-cycle: up from peak/25 to the peak at 25% of the way, then down to ~0"
    i = int(np.argmax(lrs))
    assert np.isclose(lrs[0], peak/25, rtol=1e-3) and np.isclose(lrs.max(), peak, rtol=0.02)
    assert 0.15 < i/len(lrs) < 0.35, i/len(lrs)
    assert (np.diff(lrs[:i+1]) > 0).all() and (np.diff(lrs[i:]) < 0).all()
    assert lrs[-1] < peak/10

# --- schedules

def test_plan_stages_epochs():
    p = plan_stages([16, 24, 32], epochs=3, freeze_epochs=1, schedule='one_cycle+sgdr', cycles=3, cycle_len=1, cycle_mult=2)
    assert [(s['size'], s['frozen'], s['schedule'], s['n_epoch']) for s in p] == [
        (16, True, 'one_cycle', 1), (16, False, 'one_cycle', 3), (24, False, 'sgdr', 7), (32, False, 'sgdr', 7)]
    assert [s['n_epoch'] for s in plan_stages([16, 24], freeze_epochs=0, schedule='sgdr', cycles=3, cycle_mult=1)] == [3, 3]
    assert [sgdr_epochs(3, 1, 2), sgdr_epochs(3, 2, 1), sgdr_epochs(2, 2, 3)] == [7, 6, 8]
    with pytest.raises(ValueError, match="one_cycle\\+sgdr"): plan_stages([16], schedule='cosine')

def test_one_cycle_schedule_and_repeatable(toy, tmp_path):
    tr = LRTrace()
    run(toy, tmp_path/'a', cbs=[tr], schedule='one_cycle', epochs=2)
    h = read_history(tmp_path/'a')
    assert h[['stage', 'size', 'epoch']].values.tolist() == [[0, 16, 0], [0, 16, 1], [1, 24, 0], [1, 24, 1]]
    assert [(f['size'], f['epochs'], len(f['lrs'])) for f in tr.fits] == [(16, 2, 2*N_IT), (24, 2, 2*N_IT)]
    for f in tr.fits: check_one_cycle(np.array(f['lrs']), 1e-2)
    # the same seed on a CPU: the same run
    run(toy, tmp_path/'b', schedule='one_cycle', epochs=2)
    h2 = read_history(tmp_path/'b')
    pd.testing.assert_frame_equal(h.drop(columns='seconds'), h2.drop(columns='seconds'))
    # the run folder
    names = {o.name for o in (tmp_path/'a').iterdir()}
    assert {'config.json', 'history.csv', 'curves.png', 'export.pkl', 'model.pth', 'model.json', 'models'} <= names
    assert {'best.pth', 'last.pth'} <= {o.name for o in (tmp_path/'a/models').iterdir()}
    meta = json.loads((tmp_path/'a/model.json').read_text())
    assert meta['vocab'] == TOY_LABELS and meta['best_valid_f1_micro'] == pytest.approx(h.valid_f1_micro.max())
    from fastai.learner import load_learner
    assert list(load_learner(tmp_path/'a/export.pkl').dls.vocab) == TOY_LABELS

@pytest.mark.parametrize('mult,cycles', [(2, 2), (1, 3)])
def test_sgdr_schedule(toy, tmp_path, mult, cycles):
    tr = LRTrace()
    run(toy, tmp_path/'r', cbs=[tr], sizes=(16,), schedule='sgdr', cycles=cycles, cycle_len=1, cycle_mult=mult)
    lens = [mult**i for i in range(cycles)]  # epochs of each cycle
    assert len(read_history(tmp_path/'r')) == sum(lens) == sgdr_epochs(cycles, 1, mult)
    lrs = tr.lrs; assert len(lrs) == sum(lens)*N_IT
    starts = np.cumsum([0] + lens)*N_IT
    for a, b in zip(starts[:-1], starts[1:]):
        assert is_cosine_decay(lrs[a:b], 1e-2), lrs[a:b]  # a restart at the peak, then a cosine decay
        assert lrs[b-1] < 0.2e-2
    assert not np.isnan(read_history(tmp_path/'r').valid_loss).any()

def test_one_cycle_then_sgdr(toy, tmp_path):
    tr = LRTrace()
    run(toy, tmp_path/'r', cbs=[tr], sizes=(16, 24), schedule='one_cycle+sgdr', epochs=2, cycles=2, cycle_len=1, cycle_mult=2)
    h = read_history(tmp_path/'r')
    assert h.groupby('size').size().to_dict() == {16: 2, 24: 3}  # 2 one-cycle epochs, then SGDR 1+2 epochs
    check_one_cycle(np.array(tr.fits[0]['lrs']), 1e-2)
    s = np.array(tr.fits[1]['lrs']); assert len(s) == 3*N_IT
    assert is_cosine_decay(s[:N_IT], 1e-2) and is_cosine_decay(s[N_IT:], 1e-2)
    assert [st['schedule'] for st in json.loads((tmp_path/'r/config.json').read_text())['stages']] == ['one_cycle', 'sgdr']

def test_lr_find_when_no_lr_and_discriminative_rates(toy, tmp_path):
    "No lr: lr_find's suggestion is used; start weights: a frozen stage, then lower rates for the first layers"
    learn = run(toy, tmp_path/'w0', sizes=(16,), epochs=1)
    save_model(learn, tmp_path/'w0')
    tr = LRTrace()
    run(toy, tmp_path/'r', cbs=[tr], sizes=(16,), epochs=1, lr=None, lr_find_iters=12, freeze_epochs=1, lr_mult=100,
        weights=tmp_path/'w0/model.pth')
    cfg = json.loads((tmp_path/'r/config.json').read_text())
    lr = cfg['lr_used']
    assert (tmp_path/'r/lr_find.png').stat().st_size > 1000 and 1e-7 < lr < 10 and cfg['lr'] is None
    h = read_history(tmp_path/'r')
    assert h.frozen.tolist() == [True, False]
    g = np.array(tr.fits[1]['group_lrs'])  # unfrozen: slice(lr/(2*lr_mult), lr/2) over the groups
    i = g[:, -1].argmax()
    assert np.isclose(g[i, -1], lr/2, rtol=0.02) and np.isclose(g[i, 0], lr/200, rtol=0.02)

# --- loss

def test_asl_get_preds_are_probabilities(toy):
    d, trn, val = toy
    dls = get_dls(trn, d, valid=val, vocab=TOY_LABELS, size=16, bs=BS, device='cpu', num_workers=0)
    for loss in ('asl', 'bce'):
        learn = create_learner(dls, 'xresnet_tiny', loss=loss, pretrained=False)
        with torch.no_grad():  # make the outputs spread well beyond [0, 1] as logits
            learn.model[-1][-1].weight.mul_(50)
        probs, targs, dec = learn.get_preds(with_decoded=True)
        assert probs.shape == (12, 4) and ((probs >= 0) & (probs <= 1)).all()
        learn.model.eval()
        with torch.no_grad(): logits = torch.cat([learn.model(xb) for xb, _ in dls.valid])
        assert (logits.abs() > 1).any()  # so the test can tell logits from probabilities
        torch.testing.assert_close(probs, torch.sigmoid(logits), atol=1e-5, rtol=1e-4)
        assert torch.equal(dec, probs > 0.5)
    assert type(create_learner(dls, 'xresnet_tiny', loss='asl', pretrained=False).loss_func).__name__ == 'AsymmetricLossFlat'

def test_no_mixed_precision_on_cpu(toy):
    "On a CPU: float32 (no `MixedPrecision`), channels-last unless turned off"
    d, trn, val = toy
    dls = get_dls(trn, d, valid=val, vocab=TOY_LABELS, size=16, bs=BS, device='cpu', num_workers=0)
    names = lambda l: {type(c).__name__ for c in l.cbs}
    learn = create_learner(dls, 'xresnet_tiny', pretrained=False, fp16='auto')
    assert 'MixedPrecision' not in names(learn) and 'ChannelsLast' in names(learn)
    assert not {'MixedPrecision', 'ChannelsLast'} & names(create_learner(dls, 'xresnet_tiny', pretrained=False, channels_last=False))

def test_cache_and_channels_last_train_the_same(toy, tmp_path):
    "Items served from memory change the speed, not the training: same losses and metrics; channels-last only rounds differently"
    d, trn, val = toy
    kw = dict(vocab=TOY_LABELS, arch='xresnet_tiny', sizes=(16, 24), epochs=1, schedule='one_cycle+sgdr', cycles=1,
              lr=1e-2, pretrained=False, bs=BS, quiet=True, seed=3, num_workers=0)
    runs = {}
    for name, extra in {'plain': dict(channels_last=False), 'cache': dict(cache=True, channels_last=False),
                        'cl': dict(channels_last=True)}.items():
        train(trn, d, tmp_path/name, valid=val, **kw, **extra)
        runs[name] = read_history(tmp_path/name)
    cols = ['train_loss', 'valid_loss', 'valid_f1_micro']
    assert len(runs['plain']) == 2
    np.testing.assert_allclose(runs['cache'][cols].values, runs['plain'][cols].values, rtol=1e-4, atol=1e-5)
    # channels-last convolutions round differently: the first epoch agrees closely, later ones drift apart a little
    np.testing.assert_allclose(runs['cl'][cols].values[0], runs['plain'][cols].values[0], rtol=1e-4, atol=1e-5)
    assert json.loads((tmp_path/'cache/config.json').read_text())['cache'] is True

# --- resume

class StopAfter(Callback):
    "Interrupt the run (as Ctrl-C would) after `n` trained epochs"
    order = 100
    def __init__(self, n): self.n, self.seen = n, 0
    def after_epoch(self):
        self.seen += 1
        if self.seen >= self.n: raise KeyboardInterrupt

def test_resume_continues(toy, tmp_path):
    kw = dict(sizes=(16, 24), schedule='one_cycle+sgdr', epochs=2, cycles=2, cycle_mult=2)  # 2 + 3 epochs
    full = LRTrace(); run(toy, tmp_path/'full', cbs=[full], **kw)
    with pytest.raises(KeyboardInterrupt): run(toy, tmp_path/'r', cbs=[StopAfter(3)], **kw)
    assert len(read_history(tmp_path/'r')) == 3
    st = json.loads((tmp_path/'r/state.json').read_text()); assert (st['stage'], st['epoch']) == (1, 1)
    tr = LRTrace(); run(toy, tmp_path/'r', cbs=[tr], resume=True, **kw)
    assert [f['epochs'] for f in tr.fits] == [2]  # only the 2 epochs left are trained, not 5
    h, hf = read_history(tmp_path/'r'), read_history(tmp_path/'full')
    assert h[['stage', 'size', 'epoch']].values.tolist() == hf[['stage', 'size', 'epoch']].values.tolist()
    np.testing.assert_allclose(tr.lrs, full.lrs[3*N_IT:])  # the schedule goes on where it was
    with pytest.raises(FileNotFoundError, match='nothing to resume'): run(toy, tmp_path/'none', resume=True, **kw)

# --- starting weights

@pytest.fixture
def offline(monkeypatch, tmp_path):
    "No network (every connection fails) and an empty torch cache"
    def refuse(*a, **k): raise urllib.error.URLError('[Errno -3] Temporary failure in name resolution')
    monkeypatch.setenv('TORCH_HOME', str(tmp_path/'torch_home'))
    monkeypatch.setattr('torch.hub.urlopen', refuse)
    monkeypatch.setattr('urllib.request.urlopen', refuse)
    monkeypatch.setattr(socket.socket, 'connect', lambda *a, **k: (_ for _ in ()).throw(OSError('network disabled in tests')))

def test_offline_pretrained_error_is_clear(toy, offline):
    d, trn, val = toy
    dls = get_dls(trn, d, valid=val, vocab=TOY_LABELS, size=16, bs=BS, device='cpu', num_workers=0)
    with pytest.raises(PretrainedWeightsError) as e: create_learner(dls, 'resnet18', pretrained=True)
    msg = str(e.value)
    assert 'resnet18' in msg and 'offline' in msg and '--weights' in msg and '--no-pretrained' in msg
    assert str(Path(os.environ['TORCH_HOME'])/'hub'/'checkpoints') in msg  # where to put a copy
    assert e.value.__cause__ is None and e.value.__suppress_context__  # no chained traceback

def test_weights_file_loads(toy, tmp_path, offline):
    d, trn, val = toy
    dls = get_dls(trn, d, valid=val, vocab=TOY_LABELS, size=32, bs=BS, device='cpu', num_workers=0)
    set_seed(1); sd = resnet18(weights=None).state_dict(); torch.save(sd, tmp_path/'r18.pth')
    learn = create_learner(dls, 'resnet18', weights=tmp_path/'r18.pth')  # offline: no download is tried
    torch.testing.assert_close(learn.model[0][0].weight, sd['conv1.weight'])
    torch.testing.assert_close(learn.model[0][4][0].conv1.weight, sd['layer1.0.conv1.weight'])
    assert learn.start_weights == str(tmp_path/'r18.pth') and not learn.model[0][0].weight.requires_grad  # body frozen
    assert learn.model[-1][-1].weight.requires_grad
    with pytest.raises(ValueError, match='not weights of resnet34'): create_learner(dls, 'resnet34', weights=tmp_path/'r18.pth')
    with pytest.raises(FileNotFoundError, match='no such weights file'): create_learner(dls, 'resnet18', weights=tmp_path/'x.pth')

# --- train_dir and fashion-train

def to_json(d:pd.DataFrame, f):
    Path(f).write_text(json.dumps({'images': [{'url': u, 'imageId': i} for i, u in zip(d.image_id, d.url)],
                                   'annotations': [{'labelId': l, 'imageId': i} for i, l in zip(d.image_id, d.labels)]}))

def fetch_store(d:pd.DataFrame, src, out):
    "A fetch output folder (manifest.csv + images/) of the images of `d` found in `src`"
    (out/'images/ab').mkdir(parents=True)
    rows = []
    for i in d.image_id:
        (out/'images/ab'/f'{i}.jpg').write_bytes((src/f'{i}.jpg').read_bytes())
        rows.append(dict(image_id=i, url='http://x', status='ok', path=f'images/ab/{i}.jpg', error=''))
    m = pd.DataFrame(rows)
    for c in ['http_status', 'attempts', 'bytes', 'width', 'height', 'orig_width', 'orig_height', 'seconds', 'detail']: m[c] = ''
    m.to_csv(out/'manifest.csv', index=False)

@pytest.fixture(scope='module')
def kaggle_dir(toy, tmp_path_factory):
    "DATA/train.json, DATA/validation.json and two fetch stores, DATA/fetched/train and DATA/fetched/validation (ids repeat)"
    d, trn, val = toy
    data = tmp_path_factory.mktemp('kaggle')
    to_json(trn, data/'train.json'); to_json(val, data/'validation.json')
    fetch_store(trn, d/'images/train', data/'fetched/train'); fetch_store(val, d/'images/validation', data/'fetched/validation')
    return data

def test_default_images(tmp_path):
    (tmp_path/'images/train').mkdir(parents=True)
    assert default_images(tmp_path) == (tmp_path/'images/train', tmp_path/'images/train')
    (tmp_path/'images/validation').mkdir()
    assert default_images(tmp_path) == (tmp_path/'images/train', tmp_path/'images/validation')
    (tmp_path/'f/train').mkdir(parents=True); (tmp_path/'f/validation').mkdir()
    assert default_images(tmp_path, tmp_path/'f/train') == (tmp_path/'f/train', tmp_path/'f/validation')
    assert default_images(tmp_path, tmp_path/'f/train', tmp_path/'v') == (tmp_path/'f/train', tmp_path/'v')
    assert default_images(tmp_path/'none') == (tmp_path/'none', tmp_path/'none')

def test_train_dir_separate_stores(kaggle_dir, tmp_path):
    data = kaggle_dir
    learn = train_dir(data, images=data/'fetched/train', run_dir=tmp_path/'run', arch='xresnet_tiny', sizes=[16], epochs=1,
                      lr=1e-2, bs=BS, pretrained=False, quiet=True)
    vi = learn.dls.valid_ds.items
    assert len(vi) == 12 and all('/fetched/validation/' in p for p in vi.path)  # the validation store's pictures
    assert all('/fetched/train/' in p for p in learn.dls.train_ds.items.path)
    cfg = json.loads((tmp_path/'run/config.json').read_text())
    assert cfg['cli']['valid_images'] == str(data/'fetched/validation')
    # one fetch store for both files would mix up pictures with the same ids: refused
    with pytest.raises(ValueError, match='--valid-images'):
        train_dir(data, images=data/'fetched/train', valid_images=data/'fetched/train', run_dir=tmp_path/'x', quiet=True)
    # resume through train_dir, with the saved options
    learn = train_dir(data, run_dir=tmp_path/'run', resume=True, quiet=True)
    assert len(read_history(tmp_path/'run')) == 1

def test_cli_help():
    r = subprocess.run([str(BIN/'fashion-train'), '--help'], capture_output=True, text=True, env=ENV, timeout=300)
    assert r.returncode == 0, r.stderr
    for o in ('DATA_DIR', '--images', '--valid-images', '--schedule', 'one_cycle+sgdr', '--cycle-mult', '--no-pretrained',
              '--weights', '--resume', '--sizes', '--arch', '(default: resnet34)', '(default: 64,128,224)'):
        assert o in r.stdout, o

def test_cli_end_to_end_and_offline_error(kaggle_dir, tmp_path):
    data = kaggle_dir
    args = [str(BIN/'fashion-train'), str(data), '--images', str(data/'fetched/train'), '--valid-images',
            str(data/'fetched/validation'), '--run-dir', str(tmp_path/'run'), '--arch', 'xresnet_tiny', '--sizes', '16,24',
            '--epochs', '1', '--schedule', 'one_cycle+sgdr', '--cycles', '2', '--cycle-mult', '1', '--no-pretrained',
            '--lr', '0.01', '--bs', str(BS), '--cache', '--quiet']
    r = subprocess.run(args, capture_output=True, text=True, env=ENV, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads((tmp_path/'run/config.json').read_text())['cache'] is True
    assert 'best valid micro-F1:' in r.stdout
    h = read_history(tmp_path/'run')
    assert h.groupby('size').size().to_dict() == {16: 1, 24: 2}
    assert {'config.json', 'history.csv', 'curves.png', 'export.pkl', 'model.pth'} <= {o.name for o in (tmp_path/'run').iterdir()}
    # offline, no --weights, no --no-pretrained: one clear message, no traceback (no network: a refused proxy)
    off = {**ENV, 'TORCH_HOME': str(tmp_path/'empty'), 'https_proxy': 'http://127.0.0.1:9', 'HTTPS_PROXY': 'http://127.0.0.1:9',
           'http_proxy': 'http://127.0.0.1:9', 'HTTP_PROXY': 'http://127.0.0.1:9', 'no_proxy': '', 'NO_PROXY': ''}
    r = subprocess.run(args[:2] + ['--run-dir', str(tmp_path/'off'), '--arch', 'resnet18', '--sizes', '16', '--epochs', '1',
                                   '--lr', '0.01', '--quiet'], capture_output=True, text=True, env=off, timeout=600)
    assert r.returncode == 1 and 'Traceback' not in r.stderr, r.stderr[-3000:]
    assert r.stderr.startswith('fashion-train: error: Could not download the pretrained weights for resnet18')
    assert '--weights PATH' in r.stderr and '--no-pretrained' in r.stderr
    assert len(r.stderr.strip().splitlines()) <= 5

# --- distributed

DDP_SCRIPT = '''
import json, sys, warnings; warnings.simplefilter('ignore')
from pathlib import Path
import pandas as pd, torch
torch.set_num_threads(1)
from fastai.distributed import rank_distrib, num_distrib
from fashion_clf.data import TOY_LABELS
from fastai.callback.core import Callback
from fashion_clf.train import train
class Iters(Callback):
    def before_train(self): self.n = len(self.dl)
it = Iters()
d = Path(sys.argv[1])
trn, val = pd.read_pickle(d/'trn.pkl'), pd.read_pickle(d/'val.pkl')
learn = train(trn, None, d/'run', valid=val, vocab=TOY_LABELS, arch='xresnet_tiny', sizes=(16,), epochs=2, lr=1e-2, bs=4,
              pretrained=False, quiet=True, seed=0, num_workers=0, cbs=[it])
r = rank_distrib()
names = learn.recorder.metric_names[1:-1]
out = dict(rank=r, world=num_distrib(), n_iter=it.n, metrics=dict(zip(names, map(float, learn.recorder.values[-1]))),
           weights=float(sum(p.double().abs().sum() for p in learn.model.parameters())))
(d/f'rank{r}.json').write_text(json.dumps(out))
'''

def test_two_process_gloo(toy, tmp_path):
    d, trn, val = toy
    trn.assign(path=[str(d/'images/train'/f'{i}.jpg') for i in trn.image_id]).to_pickle(tmp_path/'trn.pkl')
    val.assign(path=[str(d/'images/validation'/f'{i}.jpg') for i in val.image_id]).to_pickle(tmp_path/'val.pkl')
    (tmp_path/'ddp.py').write_text(DDP_SCRIPT)
    r = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2',
                        str(tmp_path/'ddp.py'), str(tmp_path)], capture_output=True, text=True, env=ENV, timeout=600)
    assert r.returncode == 0, r.stderr[-4000:]
    a, b = (json.loads((tmp_path/f'rank{i}.json').read_text()) for i in (0, 1))
    assert (a['rank'], b['rank'], a['world'], b['world']) == (0, 1, 2, 2)
    assert a['n_iter'] == b['n_iter'] == N_TRAIN//2//4  # each rank trained on its half of the batches
    assert a['metrics'] == b['metrics'] and set(a['metrics']) >= {'valid_loss', 'valid_f1_micro', 'train_f1_micro'}
    assert a['weights'] == b['weights']  # the replicas stayed in sync
    assert len(read_history(tmp_path/'run')) == 2  # rank 0 wrote the run

def test_cli_under_torchrun(kaggle_dir, tmp_path):
    "`torchrun --nproc_per_node 2 fashion-train …` (the README's multi-process command): both ranks finish, rank 0 writes the run"
    data = kaggle_dir
    r = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2', str(BIN/'fashion-train'),
                        str(data), '--images', str(data/'fetched/train'), '--valid-images', str(data/'fetched/validation'),
                        '--run-dir', str(tmp_path/'run'), '--arch', 'xresnet_tiny', '--sizes', '16', '--epochs', '1',
                        '--no-pretrained', '--lr', '0.01', '--bs', str(BS), '--quiet'], capture_output=True, text=True, env=ENV, timeout=600)
    assert r.returncode == 0, r.stderr[-4000:]
    finals = sorted(l for l in r.stdout.splitlines() if l.startswith('rank '))
    assert [l[:8] for l in finals] == ['rank 0/2', 'rank 1/2'] and finals[0][8:] == finals[1][8:]  # same final metrics
    assert r.stdout.count('best valid micro-F1:') == 1 and (tmp_path/'run'/'model.json').exists()
