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
  replicates (seeds, and splits), its 95 % percentile interval and a two-sided bootstrap p.
- :func:`mcnemar_by_class`: McNemar's test on the images of one class, with both discordant
  counts and which model wins, so its direction is never lost.
- :func:`wilcoxon_replicates`: signed-rank test across replicates with the signed median.
- :func:`holm`: Holm's step-down adjustment over a declared family.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import t as student_t
from scipy.stats import wilcoxon
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

EXACT_BELOW = 25  # discordant pairs under which McNemar's exact binomial test is used
MIN_REPLICATES_FOR_WILCOXON = 6  # with n, the smallest two-sided p is 2 / 2^n (0.0625 for 5)
ALPHA = 0.05

# the metrics a comparison is made on: all "higher is better"
SENSITIVITY, SPECIFICITY, F1, PR_AUC, BALANCED_ACCURACY = (
    "sensitivity", "specificity", "f1", "pr_auc", "balanced_accuracy",
)  # fmt: skip
COMPARED_METRICS = (SENSITIVITY, SPECIFICITY, F1, PR_AUC, BALANCED_ACCURACY)
BETTER, WORSE, NO_EVIDENCE = "better", "worse", "no evidence"


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
    counts = np.zeros((n_resamples, n_groups))
    for cls in np.unique(group_class):
        members = np.flatnonzero(group_class == cls)
        draws = rng.integers(0, len(members), size=(n_resamples, len(members)))
        for b in range(n_resamples):
            counts[b] += np.bincount(members[draws[b]], minlength=n_groups)
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
    include delta itself where a very discrete bootstrap distribution would leave it outside) and
    the two-sided bootstrap p.
    """
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
            "p": bootstrap_p(deltas),
            "resamples": n_resamples,
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


def mcnemar_by_class(target, pred_condition, pred_reference, cls: int) -> dict[str, object]:
    """McNemar on the test images of class ``cls`` only.

    On the minority images it asks which model finds more of them; on the majority images which
    raises fewer false alarms. b counts images only the condition got right, c those only the
    reference got right. Exact binomial under 25 discordant pairs, else the continuity-corrected
    chi-square (the study's).
    """
    y = np.asarray(target) == cls
    ok_c = np.asarray(pred_condition)[y] == cls
    ok_r = np.asarray(pred_reference)[y] == cls
    both, b, c, neither = (int(v) for v in ((ok_c & ok_r).sum(), (ok_c & ~ok_r).sum(),
                                             (~ok_c & ok_r).sum(), (~ok_c & ~ok_r).sum()))  # fmt: skip
    exact = b + c < EXACT_BELOW
    res = mcnemar([[both, b], [c, neither]], exact=exact, correction=True)
    return {
        "n": int(y.sum()),
        "b": b,
        "c": c,
        "winner": "condition" if b > c else "reference" if c > b else "tie",
        "method": "exact binomial" if exact else "chi-square, continuity-corrected",
        "statistic": float(res.statistic),
        "p": float(res.pvalue),
    }


def replicate_mean_interval(d: Sequence[float], level: float = 0.95) -> dict[str, float | None]:
    """Mean of the per-replicate differences, their sd and the t interval of the mean: how much
    the answer moves from one split (or seed) to the next. Needs two replicates."""
    d = np.asarray(d, dtype=np.float64)
    n = len(d)
    if n < 2:
        return {"mean_difference": float(d.mean()) if n else None, "sd_difference": None,
                "ci_low": None, "ci_high": None}  # fmt: skip
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    half = float(student_t.ppf(0.5 + level / 2, n - 1) * sd / np.sqrt(n))
    return {"mean_difference": mean, "sd_difference": sd, "ci_low": mean - half, "ci_high": mean + half}


def wilcoxon_replicates(condition: Sequence[float], reference: Sequence[float]) -> dict[str, object]:
    """Across replicates (seeds, splits): the mean difference condition - reference with its t
    interval, and the signed-rank test with the signed median difference. Below 6 replicates no
    signed-rank p can reach 0.05, so none is given."""
    d = np.asarray(condition, dtype=np.float64) - np.asarray(reference, dtype=np.float64)
    median = float(np.median(d)) if len(d) else None
    out: dict[str, object] = {
        "n_replicates": len(d),
        **replicate_mean_interval(d),
        "median_difference": median,
    }
    if len(d) < MIN_REPLICATES_FOR_WILCOXON:
        note = (
            f"not computed: with {len(d)} replicate(s) the smallest possible two-sided p is "
            f"{2 / 2 ** len(d):.4g}; at least {MIN_REPLICATES_FOR_WILCOXON} are needed"
        )
        return out | {"statistic": None, "p": None, "note": note}
    if np.all(d == 0):
        return out | {"statistic": None, "p": 1.0, "note": "every replicate gives the same value"}
    res = wilcoxon(d)
    return out | {"statistic": float(res.statistic), "p": float(res.pvalue), "note": ""}


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm-adjusted p-values over the whole sequence (the family); None stays None."""
    present = [(i, p) for i, p in enumerate(pvalues) if p is not None and not np.isnan(p)]
    adjusted: list[float | None] = [None] * len(pvalues)
    if present:
        _, adj, _, _ = multipletests([p for _, p in present], method="holm")
        for (i, _), a in zip(present, adj, strict=True):
            adjusted[i] = float(a)
    return adjusted


def direction(delta: float, p_holm: float | None, alpha: float = ALPHA) -> str:
    """better / worse when the Holm-adjusted p is below alpha, else no evidence either way."""
    if p_holm is None or p_holm >= alpha or delta == 0:
        return NO_EVIDENCE
    return BETTER if delta > 0 else WORSE
