"""The README is a test: its real-competition commands run as written, in a project folder, with relative paths.

The synthetic dataset stands in for Kaggle's three JSON files in `data/` (Kaggle form, images served by the local
server), and the torchvision weights cache is seeded with random resnet34 weights, so `fashion-train` without
`--no-pretrained` takes the pretrained branch (frozen epoch, unfreezing, discriminative rates) offline, as a user's first
run does. The commands are taken from README.md at test time, so the test follows the README; only their size is made
small, through the documented `FASHION_TRAIN_DEFAULTS` environment variable, never by editing the command text.
"""
import json, os, re, shlex, shutil, subprocess, sys
from pathlib import Path

import pytest

from fashion_clf.core import load_imat
from fashion_clf.model import seed_weights_cache
from fashion_clf.server import serve_images
from fashion_clf.synth import make_dataset, set_base_url

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def readme_commands(section:str='## The real competition'):
    "The command lines of the fenced `sh` blocks of README.md's `section` (up to the next `## ` heading), comments dropped"
    text = (ROOT/'README.md').read_text()
    start = text.index(section)
    end = text.find('\n## ', start + len(section))
    body = text[start:end if end > 0 else None]
    cmds = []
    for block in re.findall(r'```sh\n(.*?)```', body, re.S):
        for line in block.splitlines():
            line = line.split(' #')[0].strip() if not line.lstrip().startswith('#') else ''
            if line: cmds.append(line)
    return cmds


def test_readme_commands_are_found():
    cmds = readme_commands()
    names = [shlex.split(c)[0] for c in cmds]
    for tool in ('fashion-fetch', 'fashion-eda', 'fashion-train', 'fashion-evaluate', 'fashion-predict', 'fashion-check-submission'):
        assert tool in names, (tool, names)
    assert all(shutil.which(n, path=str(BIN)) for n in names), names  # every command is one of ours, installed


@pytest.fixture(scope='module')
def project(tmp_path_factory):
    "A project folder with Kaggle-form data/{train,validation,test}.json whose URLs point at a local server"
    tmp = tmp_path_factory.mktemp('readme')
    synth = make_dataset(tmp/'synth', n_train=48, n_valid=40, n_test=24, seed=0, size=96, workers=1)
    with serve_images(synth) as url:
        set_base_url(synth, url)
        proj = tmp/'project'; (proj/'data').mkdir(parents=True)
        for f in ('train.json', 'validation.json', 'test.json'): shutil.copy(synth/f, proj/'data'/f)
        torch_home = tmp/'torch'
        for arch in set(re.findall(r'--arch (\w+)', ' '.join(readme_commands()))):
            seed_weights_cache(arch, torch_home)  # random weights where torchvision looks for its download
        env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", TORCH_HOME=str(torch_home), MPLBACKEND='Agg',
                   FASHION_TRAIN_DEFAULTS='epochs=1 bs=16 lr_find_iters=8')
        yield proj, env, synth


def test_readme_commands_run_as_written(project):
    proj, env, synth = project
    logs = []
    for cmd in readme_commands():
        r = subprocess.run(cmd, shell=True, cwd=proj, env=env, capture_output=True, text=True, timeout=900)
        logs.append(f"$ {cmd}\n{r.stdout[-2000:]}{r.stderr[-3000:]}")
        assert r.returncode == 0, '\n'.join(logs)
        assert 'Traceback' not in r.stderr, logs[-1]
        noise = [l for l in r.stderr.splitlines() if re.search(r'\.py:\d+: \w*Warning', l)]  # Python's own warning lines
        assert not noise, logs[-1]   # a clean command prints no warning noise (its own notes are `fashion-x: warning: ...`)
        assert 'TTA' not in r.stderr, logs[-1]  # thresholds tuned the way the README predicts
    n = {s: len(load_imat(proj/'data'/f'{s}.json', warn=False)) for s in ('train', 'validation', 'test')}
    # every image was fetched into its own store
    for s in n: assert (proj/'data/images'/s/'manifest.csv').exists()
    run = proj/'runs/r34'
    for f in ('config.json', 'history.csv', 'curves.png', 'export.pkl', 'model.pth', 'model.json', 'thresholds.json',
              'report/index.html', 'predict/submission.csv', 'predict/probs.npz'):
        assert (run/f).exists(), f
    cfg = json.loads((run/'config.json').read_text())
    assert cfg['arch'] == 'resnet34' and cfg['pretrained'] and cfg['sizes'] == [64, 128, 224]
    stages = cfg['run']['stages']
    assert stages[0]['frozen'] and not stages[1]['frozen']  # the pretrained branch: frozen head epoch, then unfrozen
    assert json.loads((run/'model.json').read_text())['pretrained'] == 'imagenet'
    for r in (run, proj/'runs/ens'):
        sub = (r/'predict/submission.csv').read_text().splitlines()
        assert sub[0] == 'image_id,label_id' and len(sub) == n['test'] + 1
    assert json.loads((proj/'runs/ens/ensemble.json').read_text())['members']
    assert (proj/'runs/eda/report.html').exists()
