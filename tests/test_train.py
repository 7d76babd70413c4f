"""Integration tests of training (`fashion_clf.train`): that a small model learns, the `fashion-train` command as users
type it (relative paths, plain folders, errors, the pretrained branch offline), bad image files, seeded runs with and
without the cache and channels-last, TensorBoard curves, and two processes under `torchrun` (gloo, CPU).

Unit behaviour (schedules, stages, the config, resume, the callbacks) is tested in `nbs/05_train.ipynb`."""
import json, os, shutil, subprocess, sys
from dataclasses import fields
from pathlib import Path

import matplotlib; matplotlib.use('Agg')
import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import f1_score

from fastai.callback.core import Callback
from fastcore.docments import docments
import fashion_clf.train
from fashion_clf.core import load_imat, label_vocab, encode_labels, ManifestWriter
from fashion_clf.data import toy_dataset, get_dls, TOY_LABELS
from fashion_clf.model import seed_weights_cache
from fashion_clf.synth import make_dataset
from fashion_clf.train import TrainConfig, create_learner, train, train_dir, read_history

torch.set_num_threads(1)
BIN = Path(sys.executable).parent
ENV = {**{k: v for k, v in os.environ.items() if not k.startswith('FASHION_')},  # no FASHION_TRAIN_DEFAULTS, FASHION_DEBUG
       'OMP_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1', 'MPLBACKEND': 'Agg'}
OFFLINE = {'https_proxy': 'http://127.0.0.1:9', 'HTTPS_PROXY': 'http://127.0.0.1:9',  # no network: a refused proxy
           'http_proxy': 'http://127.0.0.1:9', 'HTTP_PROXY': 'http://127.0.0.1:9', 'no_proxy': '', 'NO_PROXY': ''}
N_TRAIN, N_VALID, BS = 32, 12, 8
TINY = ['--arch', 'xresnet_tiny', '--no-pretrained', '--sizes', '16', '--lr', '0.01', '--bs', str(BS)]
RUN_FILES = {'config.json', 'history.csv', 'curves.png', 'export.pkl', 'model.pth', 'model.json', 'models', 'state.json'}

def fashion_train(*args, cwd, env=None, timeout=600):
    "Run the `fashion-train` console script in `cwd`"
    return subprocess.run([str(BIN/'fashion-train'), *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          env={**ENV, **(env or {})}, timeout=timeout)

def to_json(df:pd.DataFrame, f):
    "A competition file (Kaggle form) of `df`"
    Path(f).write_text(json.dumps({'images': [{'url': u, 'imageId': i} for i, u in zip(df.image_id, df.url)],
                                   'annotations': [{'labelId': l, 'imageId': i} for i, l in zip(df.image_id, df.labels)]}))

@pytest.fixture(scope='module')
def project(tmp_path_factory):
    "A project folder as a user has it: `data/train.json`, `data/validation.json`, `data/images/{train,validation}/<id>.jpg`"
    root = tmp_path_factory.mktemp('project')
    trn = toy_dataset(root/'data', n=N_TRAIN, size=32, seed=0, split='train')
    val = toy_dataset(root/'data', n=N_VALID, size=32, seed=1, split='validation')
    to_json(trn, root/'data/train.json'); to_json(val, root/'data/validation.json')
    return root

def copy_project(project, dst:Path)->Path:
    shutil.copytree(project/'data', dst/'data'); return dst

def damage(t:Path, n:Path)->tuple:
    "Cut JPEG `t` in half and overwrite `n` with an error page (as a proxy would save it)"
    b = t.read_bytes(); t.write_bytes(b[:len(b)//2])
    n.write_text('<html><body>404 Not Found</body></html>')
    return t, n

def bad_log(run:Path)->pd.DataFrame:
    return pd.read_csv(run/'bad_images.csv', names=['path', 'split', 'problem'], dtype=str)

def one_error_line(r):
    "The command failed as a user error: exit 1, one line on stderr, no traceback; that line"
    assert r.returncode == 1, (r.returncode, r.stderr[-3000:])
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('fashion-train: error: '), r.stderr[-3000:]
    return lines[0]

# --- it learns

@pytest.fixture(scope='module')
def synth(tmp_path_factory):
    "The synthetic fashion set: 600 training and 150 validation pictures stored at 64 px"
    d = tmp_path_factory.mktemp('synth')
    make_dataset(d, n_train=600, n_valid=150, n_test=0, seed=0, size=64)
    return d, load_imat(d/'train.json', warn=False), load_imat(d/'validation.json', warn=False)

def micro_f1(y:np.ndarray, pred:np.ndarray)->float: return f1_score(y, pred, average='micro', zero_division=0)

def best_global_threshold(y:np.ndarray, scores:np.ndarray)->float:
    "The best micro-F1 of `scores >= t` over every threshold `t` (one for all labels)"
    o = np.argsort(-scores.ravel(), kind='stable')
    s, t = scores.ravel()[o], y.ravel()[o]
    f1 = 2*np.cumsum(t) / (np.arange(1, len(t) + 1) + t.sum())  # predicting the k highest scores
    return float(f1[np.r_[s[1:] != s[:-1], True]].max())       # only where a threshold can cut (not inside ties)

def test_learns_beyond_the_label_prior(synth, tmp_path):
    "A small model from scratch beats predicting the label frequencies, by a clear margin, at 0.5 and at the best threshold"
    d, trn, val = synth
    vocab = label_vocab(trn, val)
    learn = train(trn, d, valid=val, vocab=vocab, run_dir=tmp_path/'run', arch='xresnet_tiny', pretrained=False, sizes=(48,),
                  epochs=6, lr=2e-2, bs=32, cache=True, num_workers=0, seed=0, quiet=True)
    yt, yv = encode_labels(trn.labels, vocab).astype(bool), encode_labels(val.labels, vocab).astype(bool)
    prior = np.broadcast_to(yt.mean(0), yv.shape)  # the same scores for every image: the training label frequencies
    frequent = micro_f1(yv, prior > 0.5)           # the labels on more than half of the training images
    prior_best = best_global_threshold(yv, prior)  # the prior at its best threshold (tuned on the validation set itself)
    probs = learn.get_preds(dl=learn.dls.valid)[0].numpy()
    f1_05, f1_best = micro_f1(yv, probs > 0.5), best_global_threshold(yv, probs)
    assert f1_05 == pytest.approx(read_history(tmp_path/'run').valid_f1_micro.max(), abs=1e-4)  # the best epoch's weights
    assert f1_05 > frequent + 0.1, (f1_05, frequent)
    assert f1_best > prior_best + 0.08, (f1_best, prior_best)

# --- the command line, as users type it

def test_cli_relative_paths_plain_folders_bad_files_and_resume(project, tmp_path):
    """From the project folder: `fashion-train data --images data/images/train --run-dir runs/r` (plain folders of
    `<id>.jpg`, no manifest, everything relative) with a truncated JPEG and a non-image `.jpg` among the training images;
    then `--resume` with a run folder relative to another working directory"""
    root = copy_project(project, tmp_path)
    bad = damage(root/'data/images/train/3.jpg', root/'data/images/train/7.jpg')
    r = fashion_train('data', '--images', 'data/images/train', '--run-dir', 'runs/r', '--epochs', '2', *TINY, cwd=root)
    assert r.returncode == 0, r.stderr[-3000:]
    run = root/'runs/r'
    assert {o.name for o in run.iterdir()} == RUN_FILES | {'bad_images.csv'}
    assert {o.name for o in (run/'models').iterdir()} >= {'best.pth', 'last.pth'}
    data = json.loads((run/'config.json').read_text())['run']['data']
    assert (data['data_dir'], data['images'], data['valid_images']) == tuple(
        str(root/p) for p in ('data', 'data/images/train', 'data/images/validation'))  # absolute, each once
    # the two bad files cost two logged items, not the run
    log = bad_log(run)
    assert sorted(log.path) == sorted(map(str, bad)) and set(log.split) == {'train'}
    assert sorted(log.problem) == ['not an image', 'truncated']
    h = read_history(run)
    assert h.bad_images.tolist() == [2, 2] and h.epoch.tolist() == [0, 1]
    assert f"image files that could not be used: 2 (see {run/'bad_images.csv'})" in r.stdout
    assert json.loads((run/'config.json').read_text())['run']['n_images'] == N_TRAIN - 2 + N_VALID
    # output that is not a terminal: one plain line per epoch
    assert [l[:27] for l in r.stdout.splitlines() if l.startswith('stage ')] == ['stage 1/1 (16 px) epoch 1/2', 'stage 1/1 (16 px) epoch 2/2']
    # --resume from another folder, the run folder relative to it; state.json as an interruption after the 1st epoch left it
    st = json.loads((run/'state.json').read_text())
    (run/'state.json').write_text(json.dumps(dict(st, stage=0, epoch=1)))
    (run/'model.pth').unlink()
    r = fashion_train('../data', '--resume', '--run-dir', 'r', cwd=root/'runs')
    assert r.returncode == 0, r.stderr[-3000:]
    assert [l[:27] for l in r.stdout.splitlines() if l.startswith('stage ')] == ['stage 1/1 (16 px) epoch 2/2']  # only what was left
    assert read_history(run).epoch.tolist() == [0, 1] and (run/'model.pth').exists()
    assert {o.name for o in run.iterdir()} == RUN_FILES | {'bad_images.csv'}
    assert bad_log(run).path.nunique() == 2

def test_cli_help_lists_every_option():
    "`fashion-train --help` shows every `TrainConfig` field with its documentation (one list of options)"
    r = fashion_train('--help', cwd='/')
    assert r.returncode == 0, r.stderr
    text = ' '.join(r.stdout.split())  # argparse wraps the help: compare with whitespace collapsed
    cfg_docs, cli_docs = docments(TrainConfig, full=True), docments(fashion_clf.train.fashion_train, full=True)
    for f in fields(TrainConfig):
        cli = cli_docs[f.name]  # the command may change a default (keep_memory: it owns its process), and then says why
        assert cli['docment'] == cfg_docs[f.name]['docment'] or cli['default'] != f.default, f.name
        opt, doc = f"--{'no-' if cli['default'] is True else ''}{f.name.replace('_', '-')}", ' '.join(cli['docment'].split())
        assert f"{opt} " in text, opt
        assert doc and f"{doc} (default: " in text or f"{opt} ({f.type.__name__}) {doc}" in text, (opt, doc)
    for o in ('data_dir', '--images', '--valid-images', '--run-dir', '--split', '--sample', '--resume'): assert o in text, o

@pytest.mark.parametrize('case', ['missing data folder', 'bad split', 'offline pretrained'])
def test_cli_user_errors(project, tmp_path, case):
    "Mistakes a user can fix: exit status 1, one line `fashion-train: error: ...`, no traceback, no run written"
    if case == 'missing data folder':
        line = one_error_line(fashion_train('nowhere', '--run-dir', 'runs/x', *TINY, cwd=tmp_path))
        assert line == f"fashion-train: error: {tmp_path/'nowhere'}: no such data folder"
        run = tmp_path/'runs/x'
    elif case == 'bad split':
        line = one_error_line(fashion_train('data', '--split', 'kfold', '--run-dir', tmp_path/'x', *TINY, cwd=project))
        assert line == "fashion-train: error: split must be valid, stratified or random, not 'kfold'"
        run = tmp_path/'x'
    else:  # the default, pretrained weights, with no network and an empty torch cache
        (tmp_path/'torch').mkdir()
        line = one_error_line(fashion_train('data', '--arch', 'resnet18', '--sizes', '32', '--epochs', '1', '--lr', '0.01',
                                            '--run-dir', tmp_path/'x', cwd=project, env=dict(OFFLINE, TORCH_HOME=str(tmp_path/'torch'))))
        assert line.startswith('fashion-train: error: could not download the pretrained weights for resnet18'), line
        assert all(o in line for o in ('--weights PATH', '--no-pretrained', str(tmp_path/'torch/hub/checkpoints'))), line
        run = tmp_path/'x'
    assert not any((run/f).exists() for f in ('config.json', 'history.csv', 'model.pth'))


def test_cli_resume_of_a_run_started_from_python(tmp_path):
    "`--resume` of a run that `train` started from Python (no data folder in its config.json): one error line saying why"
    run = tmp_path/'runs/py'; run.mkdir(parents=True)
    (run/'config.json').write_text(json.dumps({'arch': 'xresnet_tiny', 'sizes': [16], 'run': {'n_images': 44, 'lr_used': 0.01}}))
    line = one_error_line(fashion_train('data', '--resume', '--run-dir', 'runs/py', cwd=tmp_path))
    assert line.startswith(f"fashion-train: error: {run/'config.json'}: no data folder recorded"), line
    assert 'needs a run started by fashion-train or `train_dir`' in line and 'train(..., resume=True)' in line, line
    assert sorted(o.name for o in run.iterdir()) == ['config.json']

def test_cli_pretrained_branch_offline(project, tmp_path):
    "With torchvision's weights cache seeded, the default (pretrained) path runs offline: frozen head epochs, then unfrozen"
    seed_weights_cache('resnet18', tmp_path/'torch')
    r = fashion_train('data', '--arch', 'resnet18', '--sizes', '32', '--epochs', '1', '--freeze-epochs', '1', '--lr', '0.001',
                      '--bs', BS, '--run-dir', tmp_path/'run', '--quiet', cwd=project, env=dict(OFFLINE, TORCH_HOME=str(tmp_path/'torch')))
    assert r.returncode == 0, r.stderr[-3000:]
    run = tmp_path/'run'
    h, cfg = read_history(run), json.loads((run/'config.json').read_text())
    assert h[['stage', 'size', 'frozen', 'epoch']].values.tolist() == [[0, 32, True, 0], [1, 32, False, 0]]
    assert [(s['size'], s['frozen'], s['n_epoch']) for s in cfg['run']['stages']] == [(32, True, 1), (32, False, 1)]
    assert cfg['pretrained'] is True and json.loads((run/'model.json').read_text())['pretrained'] == 'imagenet'

def test_pretrained_learner_trains_its_output_layer(project, tmp_path, monkeypatch):
    "From (seeded, offline) ImageNet weights, the frozen head epochs train the whole head, its output layer included"
    monkeypatch.setenv('TORCH_HOME', str(tmp_path/'torch')); seed_weights_cache('resnet18')
    dls = get_dls(load_imat(project/'data/train.json', warn=False), project/'data', valid='random', valid_pct=0.25,
                  vocab=TOY_LABELS, size=32, bs=BS, device='cpu')
    learn = create_learner(dls, 'resnet18', pretrained=True, path=tmp_path)
    out = learn.model[-1][-1]
    w0, b0, body0 = out.weight.detach().clone(), out.bias.detach().clone(), learn.model[0][0].weight.detach().clone()
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-2)
    assert torch.equal(learn.model[0][0].weight, body0)  # the body is frozen
    assert not torch.equal(out.weight, w0) and not torch.equal(out.bias, b0)

# --- bad files

def fetch_store(src:Path, out:Path)->Path:
    "A fetch store (`manifest.csv` + `images/`, written with `core.ManifestWriter`) of the JPEGs in `src`"
    with ManifestWriter(out) as w:
        for f in sorted(src.glob('*.jpg')):
            dst = out/'images'/f.stem[-1]/f.name; dst.parent.mkdir(parents=True, exist_ok=True); shutil.copyfile(f, dst)
            w.write(dict(image_id=f.stem, url=f'http://example.com/{f.name}', status='ok', path=f'images/{f.stem[-1]}/{f.name}',
                         bytes=dst.stat().st_size, attempts=1))
    return out

def test_bad_files_in_a_fetch_store(project, tmp_path, monkeypatch):
    "A truncated and a non-image file in a fetch store (damaged when shards were merged): two logged items, not the run"
    root = copy_project(project, tmp_path)
    store = fetch_store(root/'data/images/train', root/'fetched/train')
    bad = damage(store/'images/3/3.jpg', store/'images/7/7.jpg')
    monkeypatch.chdir(root)
    with pytest.warns(UserWarning, match='2 of 44 image files are unusable'):
        learn = train_dir('data', images='fetched/train', valid_images='data/images/validation', run_dir='runs/s', arch='xresnet_tiny',
                          pretrained=False, sizes=[16], epochs=1, lr=1e-2, bs=BS, quiet=True)
    run = root/'runs/s'
    assert sorted(bad_log(run).path) == sorted(map(str, bad)) and sorted(bad_log(run).problem) == ['not an image', 'truncated']
    assert read_history(run).bad_images.tolist() == [2] and (run/'model.json').exists()
    assert len(learn.dls.train_ds) == N_TRAIN - 2 and str(bad[0]) not in set(learn.dls.train_ds.items.path)

class Damage(Callback):
    "Damage files as the fit starts: after the checks before the run, before any of them is decoded"
    def __init__(self, files): self.files = files
    def before_fit(self):
        for f in self.files: Path(f).write_bytes(b'\xff\xd8\xff\xe0 damaged after the check')

class Batches(Callback):
    "The sizes of the training and validation batches"
    order = 99
    def __init__(self): self.sizes = {True: [], False: []}
    def after_batch(self): self.sizes[self.training].append(len(self.yb[0]))

def test_file_damaged_during_training_costs_one_item(project, tmp_path):
    "A file that passes the checks and fails to decode in the fit: a training item is replaced, a validation item left out"
    root = copy_project(project, tmp_path)
    files = [root/'data/images/train/5.jpg', root/'data/images/validation/2.jpg']
    trn, val = load_imat(root/'data/train.json', warn=False), load_imat(root/'data/validation.json', warn=False)
    bs = Batches()
    train(trn, root/'data', valid=val, vocab=TOY_LABELS, run_dir=root/'run', arch='xresnet_tiny', pretrained=False, sizes=(16,),
          epochs=1, lr=1e-2, bs=BS, quiet=True, cbs=[Damage(files), bs])
    assert bs.sizes[True] == [BS] * (N_TRAIN // BS)   # every training batch whole
    assert sum(bs.sizes[False]) == N_VALID - 1          # one validation item left out
    log = bad_log(root/'run')
    assert dict(zip(log.path, log.split)) == {str(files[0]): 'train', str(files[1]): 'valid'}
    assert read_history(root/'run').bad_images.tolist() == [2]

# --- seeded runs

def test_cache_and_channels_last_train_the_same(project, tmp_path):
    """A seeded run trains the same with and without the in-memory cache, and with and without channels-last (whose
    convolutions round differently: at a gentle rate the difference stays at float32 rounding; at a high rate on 8-image
    batches it grows by ~10x a step, which would hide a real difference as well as show one)"""
    trn = load_imat(project/'data/train.json', warn=False); val = load_imat(project/'data/validation.json', warn=False)
    kw = dict(valid=val, vocab=TOY_LABELS, arch='xresnet_tiny', sizes=(16, 24), epochs=1, schedule='one_cycle+sgdr', cycles=1,
              lr=1e-3, pretrained=False, bs=BS, quiet=True, seed=3)
    runs = {}
    for name, extra in {'plain': dict(channels_last=False), 'cache': dict(cache=True, channels_last=False),
                        'cl': dict(channels_last=True), 'cache+cl': dict(cache=True, channels_last=True)}.items():
        train(trn, project/'data', run_dir=tmp_path/name, **kw, **extra)
        runs[name] = read_history(tmp_path/name)
    cols = ['train_loss', 'valid_loss', 'train_f1_micro', 'valid_f1_micro']
    assert len(runs['plain']) == 2 and runs['plain'].valid_loss.nunique() == 2
    for name in ('cache', 'cl', 'cache+cl'):
        np.testing.assert_allclose(runs[name][cols].values, runs['plain'][cols].values, rtol=1e-5, atol=1e-5, err_msg=name)
    assert json.loads((tmp_path/'cache/config.json').read_text())['cache'] is True

# --- curves in TensorBoard

def test_tensorboard_event_files(project, tmp_path):
    "`log='tensorboard'` (`--log tensorboard`) writes the run's curves as TensorBoard events under RUN_DIR/tensorboard"
    pytest.importorskip('tensorboard')
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    trn = load_imat(project/'data/train.json', warn=False); val = load_imat(project/'data/validation.json', warn=False)
    train(trn, project/'data', valid=val, vocab=TOY_LABELS, run_dir=tmp_path/'run', arch='xresnet_tiny', pretrained=False,
          sizes=(16,), epochs=2, lr=1e-2, bs=BS, quiet=True, log='tensorboard')
    events = list((tmp_path/'run/tensorboard').rglob('events.out.tfevents.*'))
    assert events, list((tmp_path/'run').rglob('*'))
    ea = EventAccumulator(str(events[0].parent)); ea.Reload()
    tags = ea.Tags()['scalars']
    assert {'valid_loss', 'valid_f1_micro'} <= set(tags), tags
    h = read_history(tmp_path/'run')
    np.testing.assert_allclose([e.value for e in ea.Scalars('valid_f1_micro')], h.valid_f1_micro, atol=1e-6)

# --- distributed (two processes on a CPU, gloo)

DDP_SCRIPT = '''
import json, sys
from pathlib import Path
import pandas as pd, torch
torch.set_num_threads(1)
from fastai.distributed import rank_distrib, num_distrib, DistributedDL, DistributedTrainer
from fastai.callback.core import Callback
from fastcore.docments import docments
import fashion_clf.train
from fashion_clf.data import TOY_LABELS
from fashion_clf.train import train
class Iters(Callback):
    def before_train(self): self.n = len(self.dl)
fastai_own = DistributedDL._broadcast, DistributedTrainer._wrap_dl
it, d = Iters(), Path(sys.argv[1])
trn, val = pd.read_pickle(d/'trn.pkl'), pd.read_pickle(d/'val.pkl')
learn = train(trn, None, valid=val, vocab=TOY_LABELS, run_dir=d/'run', arch='xresnet_tiny', sizes=(16,), epochs=2, lr=1e-2,
              bs=4, pretrained=False, quiet=True, seed=0, num_workers=0, cbs=[it])
names = learn.recorder.metric_names[1:-1]
out = dict(rank=rank_distrib(), world=num_distrib(), n_iter=it.n, metrics=dict(zip(names, map(float, learn.recorder.values[-1]))),
           weights={k: v.double().sum().item() for k, v in learn.model.state_dict().items()},
           fastai_own=(DistributedDL._broadcast, DistributedTrainer._wrap_dl) == fastai_own)
(d/f'rank{rank_distrib()}.json').write_text(json.dumps(out))
'''

def torchrun(*args, cwd):
    return subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2', *map(str, args)],
                          cwd=cwd, capture_output=True, text=True, env=ENV, timeout=600)

def test_train_two_processes_gloo(project, tmp_path):
    "`train` under `torchrun --nproc_per_node 2` on a CPU: each rank its half of the batches, identical metrics and weights"
    paths = lambda df, split: df.assign(path=[str(project/'data/images'/split/f'{i}.jpg') for i in df.image_id])
    paths(load_imat(project/'data/train.json', warn=False), 'train').to_pickle(tmp_path/'trn.pkl')
    paths(load_imat(project/'data/validation.json', warn=False), 'validation').to_pickle(tmp_path/'val.pkl')
    (tmp_path/'ddp.py').write_text(DDP_SCRIPT)
    r = torchrun(tmp_path/'ddp.py', tmp_path, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-4000:]
    a, b = (json.loads((tmp_path/f'rank{i}.json').read_text()) for i in (0, 1))
    assert (a['rank'], b['rank'], a['world'], b['world']) == (0, 1, 2, 2)
    assert a['n_iter'] == b['n_iter'] == N_TRAIN // 2 // 4  # each rank trained on its half of the batches
    assert a['metrics'] == b['metrics'] and {'valid_loss', 'valid_f1_micro', 'train_f1_micro'} <= set(a['metrics'])
    assert a['weights'] == b['weights']                     # the replicas stayed in sync
    assert a['fastai_own'] and b['fastai_own']              # the CPU fixes were undone after the fit
    assert len(read_history(tmp_path/'run')) == 2           # rank 0 wrote the run

@pytest.fixture(scope='module')
def torchrun_cli(project, tmp_path_factory):
    "`torchrun --nproc_per_node 2 $(which fashion-train) data ...` (the README's command), two bad files among the training images"
    root = copy_project(project, tmp_path_factory.mktemp('torchrun'))
    bad = damage(root/'data/images/train/3.jpg', root/'data/images/train/7.jpg')
    r = torchrun(BIN/'fashion-train', 'data', '--run-dir', 'runs/r', '--epochs', '1', '--quiet', *TINY, cwd=root)
    return r, root/'runs/r', bad

def test_cli_under_torchrun(torchrun_cli):
    "Both ranks finish alike, rank 0 writes the run and says how many files could not be used"
    r, run, bad = torchrun_cli
    assert r.returncode == 0, r.stderr[-4000:]
    finals = sorted(l for l in r.stdout.splitlines() if l.startswith('rank '))
    assert [l[:8] for l in finals] == ['rank 0/2', 'rank 1/2'] and finals[0][8:] == finals[1][8:], r.stdout  # same final metrics
    assert r.stdout.count('best valid micro-F1:') == 1 and r.stdout.count('image files that could not be used: 2 ') == 1
    assert {o.name for o in run.iterdir()} == RUN_FILES | {'bad_images.csv'} and read_history(run).bad_images.tolist() == [2]
    assert set(bad_log(run).path) == set(map(str, bad))

def test_torchrun_logs_each_bad_file_once(torchrun_cli):
    r, run, bad = torchrun_cli
    assert r.returncode == 0, r.stderr[-4000:]
    assert sorted(bad_log(run).path) == sorted(map(str, bad))
