"""Binary classification metrics from (target, probability, threshold), and threshold tuning.

The positive class is the minority (DF). The argmax decision of a 2-class softmax is
``prob > 0.5`` (a tie goes to class 0, as ``argmax`` returns the first maximum), so every
figure here is recomputable from ``predictions.csv`` (tested against scikit-learn to 1e-9).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from ganaug.evaluation.stats import (
    BALANCED_ACCURACY,
    F1,
    SENSITIVITY,
    SPECIFICITY,
    confusion_counts,
    count_metrics,
)
from ganaug.io import write_json


def decide(prob: np.ndarray, threshold: float) -> np.ndarray:
    """1 where the minority probability is strictly above the threshold."""
    return (np.asarray(prob) > threshold).astype(int)


def metrics(target: np.ndarray, prob: np.ndarray, pred: np.ndarray) -> dict[str, object]:
    """Counts-based metrics of ``pred`` (from :func:`ganaug.evaluation.stats.count_metrics`, the
    one place they are computed); ROC-AUC and PR-AUC (average precision) of ``prob``."""
    y = np.asarray(target).astype(int)
    tp, fp, fn, tn = (int(v) for v in confusion_counts(y, pred))
    m = {k: float(v) for k, v in count_metrics(tp, fp, fn, tn).items()}
    both = len(np.unique(y)) == 2
    return {
        "accuracy": m["accuracy"],
        "precision": m["precision"],
        "recall": m[SENSITIVITY],
        "f1": m[F1],
        "specificity": m[SPECIFICITY],
        "balanced_accuracy": m[BALANCED_ACCURACY],
        "roc_auc": float(roc_auc_score(y, prob)) if both else None,
        "pr_auc": float(average_precision_score(y, prob)) if both else None,
        "confusion_matrix": [[tn, fp], [fn, tp]],  # rows: true 0/1, columns: predicted 0/1
        "n": len(y),
        "n_positive": int(y.sum()),
    }


def tune_threshold(target: np.ndarray, prob: np.ndarray) -> float:
    """The threshold that maximises F1 of ``prob > t`` on this (validation) set.

    Candidates are the midpoints between consecutive distinct probabilities (and just below
    the smallest), so the chosen t is robust to rounding; ties go to the larger threshold.
    Every candidate's counts come at once from cumulative sums over the sorted probabilities
    (``prob > t`` at the candidate below the k-th distinct value keeps exactly the values from
    the k-th up), and F1 from the same :func:`count_metrics`, so the choice equals a loop over
    the candidates bit for bit (tested), at a cost the calibration simulation can pay per fit.
    """
    y = np.asarray(target).astype(int)
    p = np.asarray(prob, dtype=float)
    u, inverse = np.unique(p, return_inverse=True)
    cands = np.concatenate([[u[0] - 1e-6], (u[:-1] + u[1:]) / 2]) if len(u) > 1 else np.array([u[0] - 1e-6])
    pos = np.bincount(inverse, weights=y, minlength=len(u))
    neg = np.bincount(inverse, weights=1 - y, minlength=len(u))
    tp = np.cumsum(pos[::-1])[::-1]  # candidate k: every value from u[k] up is called positive
    fp = np.cumsum(neg[::-1])[::-1]
    f1 = count_metrics(tp, fp, y.sum() - tp, (1 - y).sum() - fp)[F1]
    return float(cands[len(f1) - 1 - int(np.argmax(f1[::-1]))])  # the last maximum: the larger t


SUMMARY_METRICS = (
    "accuracy",
    "precision",
    "recall",
    "f1",
    "specificity",
    "balanced_accuracy",
    "roc_auc",
    "pr_auc",
)


def replicate_name(run: dict) -> str:
    """A replicate's key: its split repeat and its seed."""
    return f"repeat_{run.get('repeat', 0)}/seed_{run['seed']}"


def aggregate_replicates(runs: list[dict]) -> dict:
    """Mean, sample standard deviation and every replicate's value, for both decisions. A
    replicate is one fit: one repeat's split with one seed, so repeats x seeds in all."""
    if not runs:
        raise ValueError("no fits to aggregate")
    first = runs[0]
    names = [replicate_name(r) for r in runs]
    out: dict = {
        "arch": first["arch"],
        "condition": first["condition"],
        "replicates": names,
        "n_replicates": len(runs),
        "repeats": sorted({int(r.get("repeat", 0)) for r in runs}),
        "seeds": sorted({int(r["seed"]) for r in runs}),
        "composition": {n: r["composition"] for n, r in zip(names, runs, strict=True)},
        "threshold": {n: r["threshold"] for n, r in zip(names, runs, strict=True)},
    }
    for key in ("review_mode", "simulated_review", "weights", "lpips_backbone", "cluster_backbone", "loss"):
        if key in first:
            out[key] = first[key]
    for decision in ("argmax", "tuned"):
        out[decision] = _summaries([r[decision] for r in runs])
    # each external test set, summarised the same way (every fit predicted every set)
    names = sorted(set().union(*(r.get("external", {}) for r in runs)))
    out["external"] = {
        n: {d: _summaries([r["external"][n][d] for r in runs]) for d in ("argmax", "tuned")} for n in names
    }
    return out


def _summaries(per_run: list[dict]) -> dict:
    """Mean, sample sd (undefined for one replicate) and every replicate's value, per metric."""
    block = {}
    for m in SUMMARY_METRICS:
        vals = [r[m] for r in per_run]
        if any(v is None for v in vals):
            block[m] = {"mean": None, "sd": None, "per_replicate": vals}
            continue
        arr = np.asarray(vals, dtype=float)
        block[m] = {
            "mean": float(arr.mean()),
            "sd": float(arr.std(ddof=1)) if len(arr) > 1 else None,
            "per_replicate": [float(v) for v in arr],
        }
    return block


def aggregate_rule(metrics_files: list[str | Path], out: str | Path) -> None:
    """The rule aggregate_replicates: every replicate's metrics.json of one (arch, condition)
    (each repeat x each seed) aggregated into ``out``."""
    write_json(aggregate_replicates([json.loads(Path(f).read_text()) for f in metrics_files]), out)
