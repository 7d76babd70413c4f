"""Which gradient-boosting library for the stacked second stage (`stack.GBMStacker`): LightGBM, XGBoost or
scikit-learn's HistGradientBoosting, on the same (image, label) features, with the same trees (200 rounds of up to 15
leaves, learning rate 0.05, at least 50 pairs per leaf, the label as a categorical feature, 2 threads).

Quality: average precision and micro-F1 (at the global threshold tuned on the fitting images) on held-out images.
Speed: fit seconds, median of `--repeats`, as a ratio to LightGBM's in the same run.
Data: labels of synthetic products (`synth.sample_product`) and three simulated members (`stack.simulate_members`),
`--n` images to fit on and `--n` new ones to score on; or `--ens DIR` with `--valid`/`--test` member probabilities
(`probs.npz` files, one per member, in the same order) and their label files, for trained members.

    python benchmarks/stack.py                 # simulated members
    python benchmarks/stack.py --n 3000 --repeats 5
    R=data/ens_synth; python benchmarks/stack.py --valid $R/{tiny,small,tiny2}/report/valid_probs.npz \
        --test $R/{tiny,small,tiny2}/predict/probs.npz --valid-labels $R/synth/validation.json \
        --test-labels $R/synth/test_labels.json --train-labels $R/synth/train.json --names $R/synth/label_map.csv

XGBoost is not a dependency of the package (LightGBM was chosen): `pip install xgboost` to run this.
Results (2 shared cores, others working): nbs/06a_stack.ipynb, "Why LightGBM".
"""
import argparse, json, statistics, time

import numpy as np
import pandas as pd

from fashion_clf.core import encode_labels, load_imat
from fashion_clf.metrics import best_threshold, micro_f1
from fashion_clf.stack import label_stats, label_tasks, member_matrix, simulate_members, stack_features, union_vocab
from fashion_clf.synth import product_labels, sample_product, synth_label_map
from fashion_clf.predict import load_probs
from sklearn.metrics import average_precision_score

TREES, LEAVES, LR, MIN_LEAF, THREADS = 200, 15, 0.05, 50, 2


def fit_lightgbm(X, t, cat):
    import lightgbm as lgb
    ds = lgb.Dataset(X, t, categorical_feature=[cat])
    b = lgb.train(dict(objective='binary', learning_rate=LR, num_leaves=LEAVES, min_child_samples=MIN_LEAF, verbose=-1,
                       num_threads=THREADS, seed=0, deterministic=True), ds, num_boost_round=TREES)
    return b.predict


def fit_xgboost(X, t, cat):
    import xgboost as xgb
    ft = ['q']*X.shape[1]; ft[cat] = 'c'
    d = xgb.DMatrix(X, t, feature_types=ft, enable_categorical=True)
    b = xgb.train(dict(objective='binary:logistic', eta=LR, max_leaves=LEAVES, max_depth=0, grow_policy='lossguide', tree_method='hist',
                       min_child_weight=MIN_LEAF*0.05, nthread=THREADS, seed=0, max_cat_to_onehot=1), d, num_boost_round=TREES)
    return lambda Z: b.predict(xgb.DMatrix(Z, feature_types=ft, enable_categorical=True))


def fit_sklearn(X, t, cat):
    from sklearn.ensemble import HistGradientBoostingClassifier
    m = HistGradientBoostingClassifier(learning_rate=LR, max_iter=TREES, max_leaf_nodes=LEAVES, min_samples_leaf=MIN_LEAF,
                                       categorical_features=[cat], early_stopping=False, random_state=0).fit(X, t)
    return lambda Z: m.predict_proba(Z)[:, 1]


LIBS = {'lightgbm': fit_lightgbm, 'xgboost': fit_xgboost, 'sklearn_hgb': fit_sklearn}


def simulated(n):
    lm = synth_label_map(); vocab = lm.labelId.tolist()
    labels = lambda seed, k: encode_labels([product_labels(sample_product(np.random.default_rng([seed, i]))) for i in range(k)], vocab)
    y, yh, ytr = labels(0, n), labels(1, n), labels(2, 5000)
    return y, simulate_members(y), yh, simulate_members(yh, seed=1), label_stats(ytr, label_tasks(vocab, lm))


def trained(a):
    "Members' probabilities on validation (fit) and test (held out), from `probs.npz` files and the label JSONs"
    def load(files, labels):
        ds = [load_probs(f) for f in files]; vocab = union_vocab([d['vocab'] for d in ds])
        ids = sorted(set.intersection(*[set(np.array(d['ids'])[d['ok']]) for d in ds]), key=int)
        P = member_matrix([pd.DataFrame(d['probs'], index=d['ids']).loc[ids].to_numpy() for d in ds], [d['vocab'] for d in ds], vocab)
        lab = load_imat(labels, warn=False).set_index('image_id').labels.loc[ids]
        return encode_labels(lab, vocab), P, vocab
    y, P, vocab = load(a.valid, a.valid_labels); yh, Ph, _ = load(a.test, a.test_labels)
    tr = encode_labels(load_imat(a.train_labels, warn=False).labels, vocab)
    return y, P, yh, Ph, label_stats(tr, label_tasks(vocab, a.names))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--n', type=int, default=1500, help='simulated images to fit on (and as many to score on)')
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--valid', nargs='*', help="members' validation probs.npz (fit on these)")
    ap.add_argument('--test', nargs='*', help="members' test probs.npz, same order (scored on these)")
    ap.add_argument('--valid-labels'); ap.add_argument('--test-labels'); ap.add_argument('--train-labels'); ap.add_argument('--names')
    a = ap.parse_args()
    y, P, yh, Ph, st = trained(a) if a.valid else simulated(a.n)
    X, names = stack_features(P, st); Xh, _ = stack_features(Ph, st)
    lab = lambda n, L: np.tile(np.arange(L, dtype=np.float32), n)
    X, Xh = np.c_[X, lab(*y.shape)], np.c_[Xh, lab(*yh.shape)]
    t, cat = y.ravel().astype(np.float32), X.shape[1] - 1
    print(f"{'trained' if a.valid else 'simulated'} members: {P.shape[0]}, fit on {len(y):,} images x {y.shape[1]} labels = {len(X):,} pairs "
          f"({X.shape[1]} features), scored on {len(yh):,} new images; {TREES} trees of {LEAVES} leaves, {THREADS} threads")
    rows = []
    for name, fit in LIBS.items():
        secs = []
        for _ in range(a.repeats):
            t0 = time.perf_counter(); pred = fit(X, t, cat); secs.append(time.perf_counter() - t0)
        p, ph = pred(X).reshape(y.shape), pred(Xh).reshape(yh.shape)
        thr, _ = best_threshold(y, p)
        rows.append(dict(library=name, fit_s=statistics.median(secs), held_out_ap=average_precision_score(yh.ravel(), ph.ravel()),
                         held_out_micro_f1=micro_f1(yh, ph >= thr)))
    df = pd.DataFrame(rows).set_index('library')
    df['fit_time_vs_lightgbm'] = df.fit_s/df.fit_s['lightgbm']
    base = np.nanmean(Ph, 0); thr, _ = best_threshold(y, np.nanmean(P, 0))
    print(f"members' mean (no stacker): held-out AP {average_precision_score(yh.ravel(), base.ravel()):.4f}, micro-F1 {micro_f1(yh, base >= thr):.4f}")
    print(df.round(4).to_string())
    print(json.dumps(df.round(4).reset_index().to_dict('records')))


if __name__ == '__main__': main()
