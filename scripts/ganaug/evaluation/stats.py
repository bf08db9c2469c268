"""Statistics of a paired comparison between two training conditions, on the test predictions.

Pure functions, each callable alone and tested against an independent route:

- :func:`count_metrics`: sensitivity, specificity, precision, F1 and balanced accuracy from
  confusion counts, for one decision or a whole array of bootstrap resamples (the one place
  these are computed).
- :func:`weighted_average_precision`: PR-AUC (scikit-learn's average precision) with a weight
  per image, for many weight vectors at once.
- :func:`group_bootstrap_weights`: how often each lesion group is drawn in each resample, the
  groups of each class resampled among themselves. One lesion is often imaged several times
  (ISIC 2019: 239 DF images of 113 lesions), so resampling images would treat the copies as
  independent evidence and give intervals that are too narrow.
- :func:`paired_bootstrap`: the difference condition - reference of a metric, pooled over the
  replicates (seeds, and splits), its 95 % percentile interval, its standard error and a
  two-sided bootstrap p. It resamples test lesions with the fitted models held fixed: it says
  how far these fits' difference could move with other test lesions, nothing about the training
  procedure (``ganaug.evaluation.inference`` does that across repeats).
- :func:`holm`: Holm's step-down adjustment over a declared family.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from statsmodels.stats.multitest import multipletests

# the metrics a comparison is made on: all "higher is better"
SENSITIVITY, SPECIFICITY, F1, PR_AUC, BALANCED_ACCURACY = (
    "sensitivity",
    "specificity",
    "f1",
    "pr_auc",
    "balanced_accuracy",
)
COMPARED_METRICS = (SENSITIVITY, SPECIFICITY, F1, PR_AUC, BALANCED_ACCURACY)
THRESHOLD_FREE = (PR_AUC,)  # a metric of the scores alone: it has no decision


def count_metrics(tp, fp, fn, tn) -> dict[str, np.ndarray]:
    """Count-based metrics, elementwise over arrays of counts (scikit-learn's zero_division=0).

    F1 is 2TP / (2TP + FP + FN), which equals 2PR / (P + R) wherever both are defined.
    """
    tp, fp, fn, tn = (np.asarray(v, dtype=np.float64) for v in (tp, fp, fn, tn))

    def ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(b > 0, a / np.where(b > 0, b, 1), 0.0)

    sens, spec = ratio(tp, tp + fn), ratio(tn, tn + fp)
    return {
        "accuracy": ratio(tp + tn, tp + fp + fn + tn),
        "precision": ratio(tp, tp + fp),
        SENSITIVITY: sens,
        F1: ratio(2 * tp, 2 * tp + fp + fn),
        SPECIFICITY: spec,
        BALANCED_ACCURACY: (sens + spec) / 2,
    }


def confusion_counts(target, pred, weights=None) -> tuple[np.ndarray, ...]:
    """(TP, FP, FN, TN), weighted: ``weights`` is (N,) or (B, N), one weight per image."""
    y, d = np.asarray(target).astype(bool), np.asarray(pred).astype(bool)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=np.float64)
    cells = (y & d, ~y & d, y & ~d, ~y & ~d)
    return tuple(w @ c.astype(np.float64) for c in cells)


def weighted_average_precision(target, prob, weights) -> np.ndarray:
    """Average precision (scikit-learn's ``average_precision_score``) for each row of
    ``weights`` (B, N): sum over thresholds of (R_k - R_{k-1}) P_k, ties in ``prob`` forming
    one threshold, every image counted ``weight`` times."""
    y = np.asarray(target).astype(np.float64)
    p = np.asarray(prob, dtype=np.float64)
    w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    order = np.argsort(-p, kind="mergesort")
    p_sorted, y_sorted, w = p[order], y[order], w[:, order]
    # the last position of each run of equal scores: one threshold each
    last = np.r_[np.nonzero(np.diff(p_sorted))[0], len(p_sorted) - 1]
    tp = np.cumsum(w * y_sorted, axis=1)[:, last]
    seen = np.cumsum(w, axis=1)[:, last]
    positives = tp[:, -1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(seen > 0, tp / np.where(seen > 0, seen, 1), 0.0)
        recall = np.where(positives > 0, tp / np.where(positives > 0, positives, 1), np.nan)
    steps = np.diff(np.c_[np.zeros(len(w)), recall], axis=1)
    return (steps * precision).sum(axis=1)


def metric_values(target, prob, pred, weights=None) -> dict[str, np.ndarray]:
    """Every compared metric of one model, for each weight vector (one per resample; None: the
    test set as it is, a single row)."""
    w = np.ones((1, len(np.asarray(target)))) if weights is None else np.atleast_2d(weights)
    out = count_metrics(*confusion_counts(target, pred, w))
    out[PR_AUC] = weighted_average_precision(target, prob, w)
    return out


def group_bootstrap_weights(
    group_codes: np.ndarray, group_class: np.ndarray, n_resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """(n_resamples, n_images) weights: how often each image's lesion group is drawn.

    ``group_codes`` gives each image its group (0..G-1); ``group_class`` each group its class.
    Within each class, as many groups are drawn with replacement as it has, so every resample
    keeps each class's number of lesions (and PR-AUC always has a positive and a negative).
    """
    n_groups = len(group_class)
    counts = np.zeros(n_resamples * n_groups)
    offsets = (np.arange(n_resamples) * n_groups)[:, None]
    for cls in np.unique(group_class):
        members = np.flatnonzero(group_class == cls)
        draws = rng.integers(0, len(members), size=(n_resamples, len(members)))
        counts += np.bincount((offsets + members[draws]).ravel(), minlength=n_resamples * n_groups)
    counts = counts.reshape(n_resamples, n_groups)
    return counts[:, group_codes]


def image_bootstrap_weights(n_images: int, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """The naive alternative, for comparison: images drawn with replacement, as if independent."""
    draws = rng.integers(0, n_images, size=(n_resamples, n_images))
    return np.stack([np.bincount(d, minlength=n_images) for d in draws]).astype(np.float64)


@dataclass(frozen=True)
class Model:
    """One fit's test predictions."""

    prob: np.ndarray  # minority probability per test image
    pred: np.ndarray  # the decision (0/1) per test image


@dataclass(frozen=True)
class PairedSet:
    """One test set with the fits evaluated on it: pairs (condition, reference), one per seed."""

    target: np.ndarray  # 1 = minority
    group_codes: np.ndarray  # lesion group of each image, 0..G-1
    group_class: np.ndarray  # class of each group (1 if it holds a minority image)
    pairs: Sequence[tuple[Model, Model]]


def _pooled(test_sets: Sequence[PairedSet], weights: Sequence[np.ndarray | None], which: int) -> dict:
    """Every compared metric averaged over the (test set, seed) replicates, per resample."""
    values = [
        metric_values(ts.target, pair[which].prob, pair[which].pred, w)
        for ts, w in zip(test_sets, weights, strict=True)
        for pair in ts.pairs
    ]
    return {m: np.mean([v[m] for v in values], axis=0) for m in COMPARED_METRICS}


def bootstrap_p(deltas: np.ndarray) -> float:
    """Two-sided p of 'no difference' from bootstrap differences: twice the smaller tail that
    reaches zero, with the +1 of Davison and Hinkley (1997) so it is never 0. A difference within
    1e-12 of zero is zero (rounding must not decide which tail a tie falls in)."""
    deltas = np.where(np.abs(deltas) < 1e-12, 0.0, deltas)
    n = len(deltas)
    below = (1 + np.sum(deltas <= 0)) / (n + 1)
    above = (1 + np.sum(deltas >= 0)) / (n + 1)
    return float(min(1.0, 2 * min(below, above)))


Resampler = Callable[[PairedSet, int, np.random.Generator], np.ndarray]


def lesion_resampler(ts: PairedSet, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    return group_bootstrap_weights(ts.group_codes, ts.group_class, n_resamples, rng)


def paired_bootstrap(
    test_sets: Sequence[PairedSet], n_resamples: int, seed: int, resampler: Resampler = lesion_resampler
) -> dict[str, dict[str, float]]:
    """condition - reference on every compared metric, pooled over replicates, with a paired
    bootstrap: each resample redraws the lesion groups of every test set (within class) once, and
    both models of every pair are scored on that same resample.

    Per metric: value, reference_value, delta, the 95 % percentile interval of delta (widened to
    include delta itself where a very discrete bootstrap distribution would leave it outside),
    the bootstrap standard error of delta and the two-sided bootstrap p. ``n_resamples`` 0 gives
    the point values only (the calibration simulation, which needs no interval of fixed fits).
    """
    if n_resamples == 0:
        return _point_only(test_sets)
    rng = np.random.default_rng(seed)
    weights = [resampler(ts, n_resamples, rng) for ts in test_sets]
    point = [None] * len(test_sets)
    value, reference = _pooled(test_sets, point, 0), _pooled(test_sets, point, 1)
    boot_c, boot_r = _pooled(test_sets, weights, 0), _pooled(test_sets, weights, 1)
    out = {}
    for m in COMPARED_METRICS:
        delta = float(value[m][0] - reference[m][0])
        deltas = boot_c[m] - boot_r[m]
        lo, hi = np.percentile(deltas, [2.5, 97.5])
        out[m] = {
            "value": float(value[m][0]),
            "reference_value": float(reference[m][0]),
            "delta": delta,
            "ci_low": float(min(lo, delta)),
            "ci_high": float(max(hi, delta)),
            "se": float(deltas.std(ddof=1)),
            "p": bootstrap_p(deltas),
            "resamples": n_resamples,
        }
    return out


def _point_only(test_sets: Sequence[PairedSet]) -> dict[str, dict[str, float]]:
    point = [None] * len(test_sets)
    value, reference = _pooled(test_sets, point, 0), _pooled(test_sets, point, 1)
    out = {}
    for m in COMPARED_METRICS:
        v, r = float(value[m][0]), float(reference[m][0])
        out[m] = {
            "value": v,
            "reference_value": r,
            "delta": v - r,
            "ci_low": None,
            "ci_high": None,
            "se": None,
            "p": None,
            "resamples": 0,
        }
    return out


def percentile_intervals(test_sets: Sequence[PairedSet], n_resamples: int, seed: int) -> dict[str, dict]:
    """One condition's metrics (the first model of each pair), pooled, with lesion-bootstrap 95 %
    intervals: descriptive only, never a test of a difference."""
    rng = np.random.default_rng(seed)
    weights = [lesion_resampler(ts, n_resamples, rng) for ts in test_sets]
    estimate = _pooled(test_sets, [None] * len(test_sets), 0)
    boot = _pooled(test_sets, weights, 0)
    out = {}
    for m in COMPARED_METRICS:
        e = float(estimate[m][0])
        lo, hi = np.percentile(boot[m], [2.5, 97.5])
        out[m] = {"estimate": e, "ci_low": float(min(lo, e)), "ci_high": float(max(hi, e))}
    return out


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm-adjusted p-values over the whole sequence (the family); None stays None."""
    present = [(i, p) for i, p in enumerate(pvalues) if p is not None and not np.isnan(p)]
    adjusted: list[float | None] = [None] * len(pvalues)
    if present:
        _, adj, _, _ = multipletests([p for _, p in present], method="holm")
        for (i, _), a in zip(present, adj, strict=True):
            adjusted[i] = float(a)
    return adjusted
