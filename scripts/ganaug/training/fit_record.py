"""The record of one fit: what it trained on (its digest), how its epoch and threshold were
chosen, where its images came from, and the figures of its predictions.

Every figure in a fit's ``metrics.json`` is recomputable from the predictions beside it; these
helpers only describe and draw, they train and predict nothing.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ganaug import viz
from ganaug.data.datasets import BALANCED, weighted_mass
from ganaug.data.provenance import (
    check_same_training_set,
    load_train_minority,
    manifest_digest,
    recorded_training_set,
)
from ganaug.evaluation.classification import metrics
from ganaug.loss_spec import LossSpec
from ganaug.settings import Condition, FitConfig
from ganaug.training.classifier import EPOCH_LABELS, EPOCH_METRICS


def training_fingerprint(ids: list[str], paths: list[str], synthetic, augment: bool) -> str:
    """What a fit trained on, as one digest: the training ids (repeats and extra images carry
    their own), the bytes of each synthetic image (a curated image is a copy of a raw one under
    the same name) and whether the minority images were augmented. Two conditions with the same
    digest trained on the same set: comparing them is degenerate, not a difference of 0."""
    h = hashlib.sha256(f"augment={bool(augment)}\n".encode())
    for i, path, syn in sorted(zip(ids, paths, synthetic, strict=True)):
        h.update(i.encode() + b"\0")
        if syn:
            h.update(hashlib.sha256(Path(path).read_bytes()).digest())
    return h.hexdigest()


def same_split(cond: Condition, metadata, image_size: int, recorded: str | None) -> str:
    """The current train split's fingerprint, after checking the synthetic images come from it."""
    current = load_train_minority(metadata, image_size).fingerprint()["digest"]
    check_same_training_set(recorded, current, f"the {cond.synthetic} synthetic set")
    return current


def training_record(cfg: FitConfig, cw: list[float], train, composition: dict, cond: Condition) -> dict:
    """What the fit trained on (and its digest), and with which loss weights (their weighted
    masses: equal under balanced)."""
    return {
        "class_weights": cw,
        "class_weight_mode": "balanced" if cfg.class_weights == BALANCED else "fixed",
        "weighted_mass": weighted_mass(cw, train.target),
        "composition": composition,
        "training_set_sha256": training_fingerprint(train.ids, train.paths, train.synthetic, cond.augment),
        "augment_padding": cfg.augment_padding if cond.augment else None,
        # the training loss: class-weighted cross-entropy, or a long-tail baseline's
        "loss": LossSpec.of(cond.loss).record(
            np.bincount(np.asarray(train.target, int), minlength=2).tolist()
        ),
    }


def selection_record(cfg: FitConfig, history: pd.DataFrame, best_epoch: int, threshold: float) -> dict:
    """How the epoch and then the threshold were chosen, on validation."""
    return {
        "epochs_run": len(history),
        "best_epoch": int(best_epoch),
        "epoch_criterion": EPOCH_LABELS[cfg.epoch_metric],
        "best_val_score": float(history.set_index("epoch").loc[best_epoch, EPOCH_METRICS[cfg.epoch_metric]]),
        "threshold": threshold,
        "threshold_criterion": "F1 on the validation split, tuned after the epoch was chosen",
    }


def decisions(pred: pd.DataFrame) -> dict[str, Any]:
    """Both decisions' metrics of one predicted set, and its size."""
    out: dict[str, Any] = {
        d: metrics(pred["target"], pred["prob"], pred[f"pred_{d}"]) for d in ("argmax", "tuned")
    }
    return out | {"n_images": len(pred), "n_minority": int(pred["target"].sum())}


def figures(
    result: dict, history: pd.DataFrame, pred: pd.DataFrame, curves: Path, confusion: Path, pr_curve: Path
) -> None:
    title = (
        f"{result['arch']} / {result['condition']} / repeat {result.get('repeat', 0)}, seed {result['seed']}"
    )
    viz.plot_classifier_curves(history, result["best_epoch"], curves, title)
    viz.plot_confusion(
        result["argmax"]["confusion_matrix"],
        result["tuned"]["confusion_matrix"],
        result["threshold"],
        confusion,
    )
    viz.plot_pr_curve(
        pred["target"].to_numpy(), pred["prob"].to_numpy(), result["threshold"], pr_curve, title
    )


def fit_provenance(
    params: dict[str, Any],
    repeat: int,
    manifest: str | Path | None,
    curation_summary: str | Path | None,
) -> tuple[dict[str, Any], str | None]:
    """What a fit records of where its images came from, and the generator training set its own
    synthetic images carry (None for a condition without them)."""
    provenance: dict[str, Any] = {"repeat": repeat, "weights_source": params["weights"]}
    if "generator" in params["condition"]:
        # a condition that names its generator (the study's conditions name none: their files
        # stay as they were) records it beside the training set its images came from
        provenance["generator"] = params["condition"]["generator"]
    # the provenance of the condition's own synthetic images (a raw condition counted to a curated
    # one reads the curated set only for its count: it records no review)
    own = params["condition"]["synthetic"]
    recorded = manifest_digest(manifest) if manifest and own == "raw" else None
    if curation_summary and own.startswith("curated"):
        s = json.loads(Path(curation_summary).read_text())
        recorded = recorded_training_set(s)
        provenance |= {
            k: s[k] for k in ("review_mode", "simulated_review", "lpips_backbone", "cluster_backbone")
        }
    return provenance, recorded
