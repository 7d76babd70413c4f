"Threshold search, per-label thresholds, cross-validation, reports and the `fashion-evaluate` command"
import json, subprocess, sys, warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from fashion_clf.evaluate import (_force_top1, best_threshold, f1_curve, label_thresholds, shrink_thresholds, micro_f1,
                                  predict_labels, cv_thresholds, tune_thresholds, save_thresholds, load_thresholds,
                                  threshold_vector, average_precision, scores, label_report, write_report, evaluate_run)

torch.set_num_threads(1)  # the tests are small; one thread avoids oversubscribing shared CI cores
BIN = Path(sys.executable).parent


def _f1(y, pred): return 2*(pred & (y > 0)).sum()/max(pred.sum() + y.sum(), 1)


def _rand(rng, n, L, q=.3, decimals=1):
    y = (rng.random((n, L)) < q).astype(int)
    return y, np.round(rng.random((n, L)), decimals)


@pytest.mark.parametrize('top1', [False, True])
def test_best_threshold_matches_brute_force(top1):
    rng = np.random.default_rng(0)
    for _ in range(300):
        y, p = _rand(rng, int(rng.integers(1, 9)), int(rng.integers(1, 7)), decimals=int(rng.integers(1, 3)))
        if not y.any(): continue
        P = _force_top1(p) if top1 else p
        ref = max(_f1(y, P >= v) for v in np.unique(np.r_[P.ravel(), np.inf]))
        t, f = best_threshold(y, p, top1)
        assert f == pytest.approx(ref, abs=1e-12)
        assert _f1(y, predict_labels(p, t, top1)) == pytest.approx(ref, abs=1e-12)  # the threshold reproduces it


def test_f1_curve_every_threshold():
    rng = np.random.default_rng(1)
    y, p = _rand(rng, 30, 5)
    c = f1_curve(y, p)
    assert c.threshold.is_monotonic_decreasing and len(c) == len(np.unique(p)) + 1
    for t, f, prec, rec in c[['threshold', 'f1', 'precision', 'recall']].itertuples(index=False):
        pred = p >= t
        assert f == pytest.approx(_f1(y, pred))
        assert rec == pytest.approx((pred & (y > 0)).sum()/y.sum())


def test_edge_probabilities():
    y = np.array([[1, 0], [0, 1]])
    for p in (np.array([[1., 1.], [1., 1.]]), np.array([[0., 0.], [0., 0.]]), np.array([[1., 0.], [0., 1.]])):
        t, f = best_threshold(y, p)
        assert _f1(y, p >= t) == pytest.approx(f)
    assert best_threshold(y, np.array([[1., 0.], [0., 1.]]))[1] == 1.0


def test_label_thresholds_coordinate_step_brute_force():
    rng = np.random.default_rng(2)
    for _ in range(40):
        y, p = _rand(rng, 12, 4)
        if not y.any(): continue
        g, _ = best_threshold(y, p)
        t = label_thresholds(y, p, g, sweeps=1)
        base = _f1(y, p >= g)
        for j in range(4):  # label j alone moved from g to t[j]: as good as the best brute-force value for label j
            best = base
            for v in np.r_[np.unique(p[:, j]), np.inf]:
                tt = np.full(4, g); tt[j] = v; best = max(best, _f1(y, p >= tt))
            tt = np.full(4, g); tt[j] = t[j]
            if not np.allclose(t, g): assert _f1(y, p >= tt) == pytest.approx(best, abs=1e-12)
        assert _f1(y, p >= t) >= base - 1e-12  # the joint update never makes micro-F1 worse


def test_shrink_and_fallback_rule():
    raw, sup, g = np.array([.1, .9, .2, .8]), np.array([0, 4, 5, 1000]), 0.4
    t = shrink_thresholds(raw, sup, g, shrink=10, min_support=5)
    assert t[0] == g and t[1] == g                                      # fewer than min_support positives: global
    assert t[2] == pytest.approx((5*.2 + 10*g)/15)                        # shrunk by support
    assert t[3] == pytest.approx((1000*.8 + 10*g)/1010) and abs(t[3] - .8) < .01  # plenty of support: its own
    assert np.allclose(shrink_thresholds(raw, sup, g, shrink=0, min_support=0), raw)


def test_top1_predicts_at_least_one():
    p = np.array([[.1, .3, .2], [.9, .8, .1], [np.nan]*3])
    pr = predict_labels(p, 0.5, top1=True)
    assert pr.tolist() == [[False, True, False], [True, True, False], [False, False, False]]


def _sim(n, L=40, seed=0, bias_sd=1.0):
    freq = np.clip(0.5/np.arange(1, L+1)**0.8, 0.01, None)
    bias = np.random.default_rng(42).normal(0, bias_sd, L)
    rng = np.random.default_rng(seed)
    y = (rng.random((n, L)) < freq).astype(np.uint8)
    lg = np.log(freq/(1-freq)) + bias + np.where(y, 3., -1.) + rng.normal(0, 1.3, (n, L))
    return y, 1/(1+np.exp(-lg))


def test_cv_and_choice():
    y, p = _sim(1500)
    cv = cv_thresholds(y, p, folds=5, seed=3)
    assert list(cv.index[-3:]) == ['pooled', 'mean', 'std'] and cv.loc[[str(i) for i in range(5)], 'n_images'].sum() == 1500
    th = tune_thresholds(y, p, [str(i) for i in range(40)], folds=5, seed=3)
    assert th['mode'] == max(('fixed', 'global', 'per_label'), key=lambda m: th['cv'][m])
    assert th['cv']['per_label'] > th['cv']['fixed']  # the quality bar, on held-out folds
    yt, pt = _sim(3000, seed=9)                           # and on new images of the same model
    assert micro_f1(yt, predict_labels(pt, threshold_vector(th))) > micro_f1(yt, pt >= 0.5)
    assert tune_thresholds(y, p, [str(i) for i in range(40)], folds=5, seed=3) == th  # deterministic
    # a calibrated model (labels drawn with the predicted probabilities): one threshold is optimal for every label
    # (Lipton et al. 2014), unshrunk per-label thresholds only fit noise, and cross-validation picks the global one
    rng = np.random.default_rng(0); q = rng.random((300, 40))*.3; yc = (rng.random((300, 40)) < q).astype(int)
    thc = tune_thresholds(yc, q, [str(i) for i in range(40)], folds=5, shrink=0, min_support=0)
    assert thc['mode'] == 'global' and thc['cv']['per_label'] < thc['cv']['global']
    # infinite shrinkage: the per-label thresholds are the global one
    thi = tune_thresholds(y, p, [str(i) for i in range(40)], folds=5, shrink=1e12)
    assert thi['cv']['per_label'] == thi['cv']['global'] and thi['mode'] == 'global'


def test_thresholds_json_roundtrip(tmp_path):
    y, p = _sim(300)
    th = tune_thresholds(y, p, [str(i) for i in range(40)], folds=3)
    f = save_thresholds(th, tmp_path)
    assert f == tmp_path/'thresholds.json' and not list(tmp_path.glob('.*tmp'))
    th2 = load_thresholds(tmp_path)
    assert np.allclose(threshold_vector(th2), threshold_vector(th)) and th2['vocab'] == th['vocab']
    with pytest.raises(FileNotFoundError, match='fashion-evaluate'): load_thresholds(tmp_path/'x')
    (tmp_path/'thresholds.json').write_text('{"mode": "global", "global": "high", "per_label": {}, "vocab": []}')
    with pytest.raises(ValueError, match='must be numbers'): load_thresholds(tmp_path)


def test_average_precision_vs_sklearn():
    from sklearn.metrics import average_precision_score
    rng = np.random.default_rng(4)
    y, p = _rand(rng, 80, 6, decimals=1)
    y[:, 5] = 0
    ap = average_precision(y, p)
    for j in range(5): assert ap[j] == pytest.approx(average_precision_score(y[:, j], p[:, j]), abs=1e-12)
    assert np.isnan(ap[5])


def test_scores_vs_sklearn():
    from sklearn.metrics import precision_recall_fscore_support as prfs
    rng = np.random.default_rng(5)
    y, p = _rand(rng, 60, 8, q=.4)
    pred = p >= .5
    s = scores(y, pred)
    for avg in ('micro', 'macro', 'samples'):
        ref = prfs(y, pred, average=avg, zero_division=0)[:3]
        assert np.allclose(s.loc[avg].values, ref), avg


def test_label_report_and_files(tmp_path):
    y, p = _sim(400)
    vocab = [str(i) for i in range(1, 41)]
    th = tune_thresholds(y, p, vocab, folds=3)
    rep = label_report(y, p, threshold_vector(th), vocab, names={'1': 'Female'})
    assert rep.f1.is_monotonic_increasing and rep.set_index('label').loc['1', 'name'] == 'Female'
    write_report(y, p, th, tmp_path/'r')
    assert {o.name for o in (tmp_path/'r').iterdir()} == {'cv.csv', 'f1_threshold.png', 'index.html', 'label_f1.png',
                                                         'labels.csv', 'pr_curve.png', 'scores.csv'}
    assert 'cross-validated micro-F1' in (tmp_path/'r/index.html').read_text()


@pytest.fixture(scope='module')
def run(tmp_path_factory):
    "An untrained (random) resnet18 run on 4 toy labels, and a validation JSON"
    from fastai.vision.all import vision_learner, resnet18, BCEWithLogitsLossFlat, set_seed
    from fashion_clf.data import toy_dataset, get_dls, TOY_LABELS
    from fashion_clf.train import save_model
    tmp = tmp_path_factory.mktemp('ev')
    set_seed(0)
    val = toy_dataset(tmp, n=40, size=48, seed=1, prefix='v')
    dls = get_dls(val.assign(path=[str(tmp/'images'/f'{i}.jpg') for i in val.image_id]), None, vocab=TOY_LABELS,
                  size=32, bs=16, valid='random', device='cpu', num_workers=0)
    learn = vision_learner(dls, resnet18, pretrained=False, loss_func=BCEWithLogitsLossFlat())
    save_model(learn, tmp/'run', arch='resnet18', size=32)
    (tmp/'valid.json').write_text(json.dumps({'images': [{'url': u, 'imageId': i} for i, u in zip(val.image_id, val.url)],
                                              'annotations': [{'labelId': l, 'imageId': i} for i, l in zip(val.image_id, val.labels)]}))
    return tmp


def test_fashion_evaluate_cli(run):
    r = subprocess.run([BIN/'fashion-evaluate', run/'run', run/'valid.json', '--folds', '3', '--quiet'], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert 'cross-validated micro-F1' in r.stdout
    th = load_thresholds(run/'run')
    assert th['n_images'] == 40 and th['cv']['folds'] == 3 and set(th['vocab']) == {'66', '105', '153', '171'}
    assert (run/'run/report/index.html').exists() and (run/'run/report/valid_probs.npz').exists()
    h = subprocess.run([BIN/'fashion-evaluate', '--help'], capture_output=True, text=True).stdout
    for flag in ('--images', '--probs', '--mode', '--folds', '--top1', '--shrink', '--min-support', '--unsafe-pickle'): assert flag in h


def test_evaluate_missing_images_and_bad_input(run, tmp_path):
    (run/'images/v3.jpg').rename(tmp_path/'v3.jpg')
    try:
        with pytest.warns(UserWarning, match='1 of 40 validation images'):
            th = evaluate_run(run/'run', run/'valid.json', folds=3)
        assert th['n_images'] == 39
    finally: (tmp_path/'v3.jpg').rename(run/'images/v3.jpg')
    (tmp_path/'test.json').write_text(json.dumps({'images': [{'url': 'http://x/1', 'imageId': 1}]}))
    r = subprocess.run([BIN/'fashion-evaluate', run/'run', tmp_path/'test.json'], capture_output=True, text=True)
    assert r.returncode == 2 and 'no labels' in r.stderr and 'Traceback' not in r.stderr
    r = subprocess.run([BIN/'fashion-evaluate', tmp_path/'norun', run/'valid.json'], capture_output=True, text=True)
    assert r.returncode == 2 and 'no such run folder' in r.stderr
