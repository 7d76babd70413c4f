"""Integration tests of `fashion_clf.model` with a real run: the files a run leaves (`model.pth` + `model.json`,
`export.pkl`) give back the network it ended with, and a run's `model.pth` starts another run (given relatively).

Unit behaviour (architectures, weights, save/load round trips) is tested in `nbs/04_model.ipynb`."""
import json
from pathlib import Path

import pytest
import torch
from fastai.callback.core import Callback
from fastai.learner import load_learner

from fashion_clf.data import toy_dataset, Preprocess, TOY_LABELS
from fashion_clf.model import load_model
from fashion_clf.train import train, read_history

torch.set_num_threads(1)

@pytest.fixture(scope='module')
def run(tmp_path_factory):
    "A short channels-last run from scratch (the output layer has a prior bias), resized 16 -> 24 px"
    d = tmp_path_factory.mktemp('model')
    trn, val = toy_dataset(d, n=32, size=32, seed=0, split='train'), toy_dataset(d, n=12, size=32, seed=1, split='validation')
    learn = train(trn, d, valid=val, vocab=TOY_LABELS, run_dir=d/'run', arch='xresnet_tiny', pretrained=False, sizes=(16, 24),
                  epochs=2, lr=1e-2, bs=8, quiet=True, channels_last=True, resize='pad', max_zoom=1.2)
    return d, trn, val, learn

def test_run_files_give_back_the_trained_network(run):
    "`load_model(run)` and `load_learner(export.pkl)` compute what the learner computes at the end of the run"
    d, _, _, learn = run
    meta = json.loads((d/'run/model.json').read_text())
    h = read_history(d/'run')
    assert meta['size'] == int(h['size'][h.valid_f1_micro.idxmax()]) and meta['vocab'] == TOY_LABELS
    model, info = load_model(d/'run')
    assert info['preprocess'] == Preprocess(resize='pad', max_zoom=1.2)  # the run's spec, not the default one
    x = torch.cat([b[0] for b in learn.dls.valid]).contiguous()
    learn.model.eval()
    with torch.no_grad():
        ref = learn.model(x)
        torch.testing.assert_close(model(x), ref, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(load_learner(d/'run/export.pkl').model.eval()(x), ref, atol=1e-5, rtol=1e-5)
    assert all(v.is_contiguous() for v in torch.load(d/'run/model.pth', weights_only=True).values())  # not channels-last

def test_a_runs_weights_start_another_run(run, monkeypatch):
    "`weights='run/model.pth'` (relative) starts a new run from the whole network of the first"
    d, trn, val, learn = run
    monkeypatch.chdir(d)
    seen = {}
    class First(Callback):
        def before_fit(self):
            if seen: return
            self.model.eval()
            with torch.no_grad(): seen['out'] = self.model(x)
    x = torch.cat([b[0] for b in learn.dls.valid]).contiguous()
    with torch.no_grad(): ref = load_model(d/'run')[0](x)
    train(trn, d, valid=val, vocab=TOY_LABELS, run_dir='run2', arch='xresnet_tiny', pretrained=False, weights='run/model.pth',
          sizes=(24,), epochs=1, lr=1e-3, bs=8, quiet=True, freeze_epochs=0, cbs=[First()])
    torch.testing.assert_close(seen['out'], ref, atol=1e-5, rtol=1e-5)
    cfg = json.loads((d/'run2/config.json').read_text())
    assert cfg['weights'] == str(d/'run/model.pth') and json.loads((d/'run2/model.json').read_text())['pretrained'] == str(d/'run/model.pth')
