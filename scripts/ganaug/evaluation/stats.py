"""Significance tests between training conditions, on the test predictions.

- McNemar (statsmodels): the study's continuity-corrected chi-square (``exact=False,
  correction=True``), and the exact binomial test instead when fewer than 25 images are
  classified differently by the two models, where the chi-square approximation is poor.
- Wilcoxon signed-rank (scipy), two kinds, always labelled: on per-seed F1 across seeds (only
  with at least 6 seeds: with n seeds the smallest two-sided p is 2 / 2^n, 0.0625 for 5, so no
  difference could ever reach 0.05), and on paired per-image true-class probabilities.
- Bootstrap 95 % percentile intervals (2,000 resamples of the test set, seed 42) for F1, recall,
  balanced accuracy and PR-AUC.
- Holm's step-down correction across the comparisons of one architecture.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import wilcoxon
from sklearn.metrics import average_precision_score
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

EXACT_BELOW = 25  # discordant pairs under which the exact binomial test is used
MIN_SEEDS_FOR_WILCOXON = 6


def mcnemar_test(target: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray) -> dict[str, object]:
    """Do models a and b err on different images more often than chance allows?"""
    ok_a, ok_b = np.asarray(pred_a) == np.asarray(target), np.asarray(pred_b) == np.asarray(target)
    table = [[int((ok_a & ok_b).sum()), int((ok_a & ~ok_b).sum())],
             [int((~ok_a & ok_b).sum()), int((~ok_a & ~ok_b).sum())]]  # fmt: skip
    discordant = table[0][1] + table[1][0]
    exact = discordant < EXACT_BELOW
    res = mcnemar(table, exact=exact, correction=True)
    return {
        "table": table,  # rows: a correct / wrong; columns: b correct / wrong
        "discordant": discordant,
        "method": "exact binomial" if exact else "chi-square, continuity-corrected",
        "statistic": float(res.statistic),
        "p": float(res.pvalue),
    }


def wilcoxon_seeds(f1_a: list[float], f1_b: list[float]) -> dict[str, object]:
    n = len(f1_a)
    if n < MIN_SEEDS_FOR_WILCOXON:
        return {
            "kind": "per-seed F1 across seeds",
            "n": n,
            "p": None,
            "reason": f"not computed: with {n} seed(s) the smallest possible two-sided p is "
            f"{2 / 2**n:.4g}; at least {MIN_SEEDS_FOR_WILCOXON} seeds are needed",
        }
    res = wilcoxon(f1_a, f1_b)
    return {
        "kind": "per-seed F1 across seeds",
        "n": n,
        "statistic": float(res.statistic),
        "p": float(res.pvalue),
    }


def true_class_probability(target: np.ndarray, prob: np.ndarray) -> np.ndarray:
    target = np.asarray(target)
    return np.where(target == 1, prob, 1.0 - np.asarray(prob))


def wilcoxon_images(target: np.ndarray, prob_a: np.ndarray, prob_b: np.ndarray) -> dict[str, object]:
    a, b = true_class_probability(target, prob_a), true_class_probability(target, prob_b)
    if np.all(a == b):
        return {"kind": "paired per-image true-class probability", "n": len(a), "p": None,
                "reason": "not computed: identical scores"}  # fmt: skip
    res = wilcoxon(a, b)
    return {"kind": "paired per-image true-class probability", "n": len(a),
            "statistic": float(res.statistic), "p": float(res.pvalue)}  # fmt: skip


def _count_metrics(y: np.ndarray, d: np.ndarray) -> dict[str, np.ndarray]:
    """F1, recall and balanced accuracy for each row of (resamples, n) label/decision arrays,
    with sklearn's zero_division=0 convention."""
    tp = ((d == 1) & (y == 1)).sum(-1)
    fp = ((d == 1) & (y == 0)).sum(-1)
    fn = ((d == 0) & (y == 1)).sum(-1)
    tn = ((d == 0) & (y == 0)).sum(-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
        specificity = np.where(tn + fp > 0, tn / (tn + fp), 0.0)
        f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
    return {"f1": f1, "recall": recall, "balanced_accuracy": (recall + specificity) / 2}


def bootstrap_ci(
    target: np.ndarray, prob: np.ndarray, pred: np.ndarray, n_resamples: int = 2000, seed: int = 42
) -> dict[str, dict[str, object]]:
    """95 % percentile intervals; resamples without a positive (PR-AUC undefined) are counted."""
    y, p, d = np.asarray(target).astype(int), np.asarray(prob, float), np.asarray(pred).astype(int)
    idx = np.random.default_rng(seed).integers(0, len(y), size=(n_resamples, len(y)))
    values: dict[str, np.ndarray] = _count_metrics(y[idx], d[idx])
    estimates: dict[str, float | None] = {k: float(v[0]) for k, v in _count_metrics(y[None], d[None]).items()}
    both = (y[idx].sum(1) > 0) & (y[idx].sum(1) < len(y))  # PR-AUC needs a positive and a negative
    values["pr_auc"] = np.array([average_precision_score(y[i], p[i]) for i in idx[both]])
    estimates["pr_auc"] = float(average_precision_score(y, p)) if 0 < y.sum() < len(y) else None
    out = {}
    for name in ("f1", "recall", "balanced_accuracy", "pr_auc"):
        kept = values[name]
        lo, hi = np.percentile(kept, [2.5, 97.5]) if len(kept) else (np.nan, np.nan)
        out[name] = {"estimate": estimates[name], "ci95": [float(lo), float(hi)], "resamples": len(kept),
                     "undefined_resamples": int(n_resamples - len(kept))}  # fmt: skip
    return out


def holm(pvalues: list[float | None]) -> list[float | None]:
    """Holm-adjusted p-values; None stays None (a test that was not computed)."""
    present = [(i, p) for i, p in enumerate(pvalues) if p is not None]
    adjusted: list[float | None] = [None] * len(pvalues)
    if present:
        _, adj, _, _ = multipletests([p for _, p in present], method="holm")
        for (i, _), a in zip(present, adj, strict=True):
            adjusted[i] = float(a)
    return adjusted
