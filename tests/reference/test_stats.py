"""The metrics and the lesion bootstrap against an independent route (scikit-learn, statsmodels
or a plain loop), on fresh random data, and the bootstrap checked for what it is for. The tests
across repeats and McNemar are in test_inference.py."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    average_precision_score,
    precision_score,
)

from ganaug.evaluation.stats import (
    COMPARED_METRICS,
    Model,
    PairedSet,
    bootstrap_p,
    confusion_counts,
    count_metrics,
    group_bootstrap_weights,
    holm,
    image_bootstrap_weights,
    paired_bootstrap,
    weighted_average_precision,
)
from tests.helpers import sk_metrics


@pytest.mark.parametrize("seed", range(4))
def test_count_metrics_equal_sklearn(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 80)
    pred = rng.integers(0, 2, 80)
    m = {k: float(v) for k, v in count_metrics(*confusion_counts(y, pred)).items()}
    ref = sk_metrics(y, rng.random(80), pred)
    for k in ("sensitivity", "specificity", "f1", "balanced_accuracy"):
        assert m[k] == pytest.approx(ref[k], abs=1e-12)
    assert m["precision"] == pytest.approx(precision_score(y, pred, zero_division=0), abs=1e-12)
    # no positive predicted and none present: sklearn's zero_division=0 convention
    assert float(count_metrics(0, 0, 0, 5)["f1"]) == 0.0


@pytest.mark.parametrize("seed", range(4))
def test_weighted_average_precision_equals_sklearn_with_sample_weight(seed):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, 150)
    prob = np.round(rng.random(150), 2)  # ties, which sklearn treats as one threshold
    w = rng.integers(0, 4, (6, 150)).astype(float)
    w[:, np.flatnonzero(y)[0]] += 1
    got = weighted_average_precision(y, prob, w)
    ref = [average_precision_score(y, prob, sample_weight=wi) for wi in w]
    assert np.abs(got - ref).max() < 1e-12


def test_group_bootstrap_keeps_each_class_lesion_count():
    codes = np.array([0, 0, 1, 2, 2, 2, 3, 4])
    group_class = np.array([1, 1, 0, 0, 0])
    w = group_bootstrap_weights(codes, group_class, 500, np.random.default_rng(0))
    assert w.shape == (500, 8)
    # an image's weight is its group's draw count; images of one group share it
    assert (w[:, 0] == w[:, 1]).all() and (w[:, 3] == w[:, 4]).all() and (w[:, 4] == w[:, 5]).all()
    group_draws = w[:, [0, 2, 3, 6, 7]]
    assert (group_draws[:, :2].sum(1) == 2).all() and (group_draws[:, 2:].sum(1) == 3).all()
    again = group_bootstrap_weights(codes, group_class, 500, np.random.default_rng(0))
    assert np.array_equal(w, again)


def fresh_test_set(rng, n_lesions=(12, 40), images_per=(1, 3), seeds=2, effect=0.0):
    """A test set whose lesions hold 1-3 images each, with two models per seed."""
    target, codes, group_class = [], [], []
    for cls, n in ((1, n_lesions[0]), (0, n_lesions[1])):
        for _ in range(n):
            g = len(group_class)
            group_class.append(cls)
            k = int(rng.integers(images_per[0], images_per[1] + 1))
            target += [cls] * k
            codes += [g] * k
    target, codes = np.array(target), np.array(codes)
    pairs = []
    for _ in range(seeds):
        models = []
        for shift in (effect, 0.0):
            prob = np.clip(0.5 * target + rng.normal(0.25 + shift * target, 0.25, len(target)), 0, 1)
            models.append(Model(prob, (prob > 0.5).astype(int)))
        pairs.append(tuple(models))
    return PairedSet(target, codes, np.array(group_class), pairs)


def plain_loop_deltas(ts: PairedSet, n_resamples: int, seed: int) -> dict[str, np.ndarray]:
    """The lesion bootstrap by hand: draw groups per class (the same random stream), list the
    images of the drawn groups, score both models with scikit-learn, average over seeds."""
    rng = np.random.default_rng(seed)
    draws = {}
    for cls in np.unique(ts.group_class):
        members = np.flatnonzero(ts.group_class == cls)
        draws[cls] = members[rng.integers(0, len(members), size=(n_resamples, len(members)))]
    out = {m: np.empty(n_resamples) for m in COMPARED_METRICS}
    by_group = {g: np.flatnonzero(ts.group_codes == g) for g in range(len(ts.group_class))}
    for b in range(n_resamples):
        idx = np.concatenate([by_group[g] for cls in draws for g in draws[cls][b]])
        per_seed = []
        for cond, ref in ts.pairs:
            mc = sk_metrics(ts.target[idx], cond.prob[idx], cond.pred[idx])
            mr = sk_metrics(ts.target[idx], ref.prob[idx], ref.pred[idx])
            per_seed.append({m: mc[m] - mr[m] for m in COMPARED_METRICS})
        for m in COMPARED_METRICS:
            out[m][b] = np.mean([d[m] for d in per_seed])
    return out


@pytest.mark.parametrize("seed", [0, 1])
def test_paired_bootstrap_equals_a_plain_loop(seed):
    rng = np.random.default_rng(100 + seed)
    ts = fresh_test_set(rng, effect=0.1)
    got = paired_bootstrap([ts], 150, seed)
    loop = plain_loop_deltas(ts, 150, seed)
    for m in COMPARED_METRICS:
        point = np.mean([sk_metrics(ts.target, c.prob, c.pred)[m] - sk_metrics(ts.target, r.prob, r.pred)[m]
                         for c, r in ts.pairs])  # fmt: skip
        assert got[m]["delta"] == pytest.approx(point, abs=1e-12)
        lo, hi = np.percentile(loop[m], [2.5, 97.5])
        assert got[m]["ci_low"] == pytest.approx(min(lo, point), abs=1e-12)
        assert got[m]["ci_high"] == pytest.approx(max(hi, point), abs=1e-12)
        assert got[m]["p"] == pytest.approx(bootstrap_p(loop[m]), abs=1e-12)
        assert got[m]["ci_low"] <= got[m]["delta"] <= got[m]["ci_high"]


def test_bootstrap_p_by_hand():
    assert bootstrap_p(np.array([1.0, 2.0, 3.0, -1.0])) == pytest.approx(2 * (1 + 1) / 5)
    assert bootstrap_p(np.zeros(10)) == 1.0
    assert bootstrap_p(np.ones(999)) == pytest.approx(2 / 1000)


def test_the_lesion_bootstrap_is_not_fooled_by_repeat_images():
    """Every test image duplicated as a second image of the same lesion: resampling images
    treats the copy as new evidence and the interval narrows by about sqrt(2); resampling
    lesions gives the same interval as before."""
    rng = np.random.default_rng(7)
    ts = fresh_test_set(rng, n_lesions=(60, 120), images_per=(1, 1), seeds=1, effect=0.05)
    c, r = ts.pairs[0]
    twice = PairedSet(
        np.tile(ts.target, 2),
        np.tile(ts.group_codes, 2),
        ts.group_class,
        [(Model(np.tile(c.prob, 2), np.tile(c.pred, 2)), Model(np.tile(r.prob, 2), np.tile(r.pred, 2)))],
    )

    def width(test_set, resampler=None):
        kw = {} if resampler is None else {"resampler": resampler}
        res = paired_bootstrap([test_set], 4000, 3, **kw)["f1"]
        return res["ci_high"] - res["ci_low"]

    images = lambda t, b, g: image_bootstrap_weights(len(t.target), b, g)  # noqa: E731
    ratio_images = width(ts, images) / width(twice, images)
    ratio_lesions = width(ts) / width(twice)
    assert ratio_images == pytest.approx(np.sqrt(2), rel=0.12)
    assert ratio_lesions == pytest.approx(1.0, rel=0.08)


def test_holm_equals_a_plain_loop():
    rng = np.random.default_rng(5)
    p = list(rng.random(12) ** 3)
    p[4] = None
    got = holm(p)
    present = sorted((v, i) for i, v in enumerate(p) if v is not None)
    m, running, want = len(present), 0.0, {}
    for k, (v, i) in enumerate(present):
        running = max(running, min(1.0, (m - k) * v))
        want[i] = running
    assert got[4] is None
    assert all(got[i] == pytest.approx(want[i], abs=1e-12) for i in want)
