"""Classifier training and its one evaluation on the test split.

Order of events, which is what keeps the test split honest: decode train and validation ->
train, choosing the best epoch by a threshold-free validation metric (PR-AUC by default; early
stopping) -> tune the decision threshold on validation -> only then decode the test split,
predict once, and write the figures. The epoch is chosen without a threshold so that the
threshold, tuned afterwards on the same few validation DF images, is not chosen twice over.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from ganaug.data.datasets import (
    BALANCED,
    Condition,
    class_weights,
    decode_cache,
    real_split,
    training_set,
    weighted_mass,
)
from ganaug.data.provenance import check_same_training_set, load_train_minority
from ganaug.evaluation.classification import decide, metrics, tune_threshold
from ganaug.evaluation.stats import F1, confusion_counts, count_metrics
from ganaug.io import atomic_path, write_csv, write_json
from ganaug.models.classifiers import create_classifier, imagenet_normalise
from ganaug.training.augment import augment
from ganaug.training.early_stopping import EarlyStopping

log = logging.getLogger(__name__)

HISTORY_COLUMNS = [
    "epoch", "train_loss", "train_accuracy", "train_f1", "val_loss", "val_accuracy", "val_f1", "val_pr_auc",
]  # fmt: skip
# validation metric -> history column the best epoch is chosen by
EPOCH_METRICS = {"pr_auc": "val_pr_auc", "f1": "val_f1"}
EPOCH_LABELS = {"pr_auc": "validation PR-AUC", "f1": "validation F1 at 0.5 (the study's)"}


@dataclass(frozen=True)
class FitConfig:
    batch_size: int = 32  # the study's
    lr: float = 1e-4  # Adam learning rate
    weight_decay: float = 1e-4  # Adam weight decay
    max_epochs: int = 50
    patience: int = 10  # epochs without a better validation score (epoch_metric) before stopping
    class_weights: Any = "balanced"  # N / (2 n_c) per fit, or fixed [majority, minority] (the study's)
    epoch_metric: str = "pr_auc"  # the validation score that picks the epoch: pr_auc, or the study's f1
    augment_padding: str = "reflection"  # the augmentation's fill: reflection, or the study's zeros
    bf16: bool = False  # bf16 autocast on CUDA
    eval_batch_size: int = 128


@dataclass(frozen=True)
class FitOutputs:
    model: Path
    history: Path
    predictions: Path
    metrics: Path
    curves: Path
    confusion: Path
    pr_curve: Path
    tensorboard: Path


@torch.no_grad()
def predict(
    model: torch.nn.Module, x_u8: torch.Tensor, device: torch.device, batch: int, bf16: bool = False
) -> np.ndarray:
    """Minority-class probabilities (softmax), float64."""
    model.eval()
    out = []
    for s in range(0, len(x_u8), batch):
        x = imagenet_normalise(x_u8[s : s + batch].to(device).float() / 255.0)
        if device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16 and device.type == "cuda"):
            logits = model(x)
        out.append(torch.softmax(logits.float(), dim=1)[:, 1].double().cpu())
    return torch.cat(out).numpy()


def fit(
    model: torch.nn.Module,
    train_x: torch.Tensor,
    train_y: np.ndarray,
    val_x: torch.Tensor,
    val_y: np.ndarray,
    cfg: FitConfig,
    weights: list[float],
    do_augment: bool,
    seed: int,
    device: torch.device,
    tensorboard: Path | None = None,
    progress: bool = True,
) -> tuple[torch.nn.Module, pd.DataFrame, int]:
    """Train with early stopping on the validation score ``cfg.epoch_metric``; return (best model,
    history, best epoch)."""
    model = model.to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
        train_x = train_x.pin_memory()  # page-locked: host-to-GPU copies overlap with compute
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    w = torch.tensor(weights, dtype=torch.float32, device=device)
    g = torch.Generator().manual_seed(seed)
    y_all = torch.from_numpy(np.asarray(train_y, np.int64))
    stopper = EarlyStopping(cfg.patience)
    best_state = copy.deepcopy(model.state_dict())
    rows: list[dict[str, float]] = []
    writer = None
    if tensorboard is not None:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(str(tensorboard))
    autocast = dict(device_type=device.type, dtype=torch.bfloat16, enabled=cfg.bf16 and device.type == "cuda")
    for epoch in range(1, cfg.max_epochs + 1):
        model.train()
        order = torch.randperm(len(train_x), generator=g)
        batches = range(0, len(order), cfg.batch_size)
        if progress:
            from tqdm import tqdm

            batches = tqdm(
                batches, desc=f"epoch {epoch}/{cfg.max_epochs}", unit="batch", leave=False, mininterval=5
            )
        loss_sum, preds = 0.0, torch.empty(len(order), dtype=torch.long)
        for s in batches:
            idx = order[s : s + cfg.batch_size]
            # uint8 to the device (4x less to copy than float), then everything happens there
            xb_u8, yb = train_x[idx].to(device, non_blocking=True), y_all[idx]
            xb = xb_u8.float() / 255.0
            if do_augment and bool((yb == 1).any()):
                # the traditional augmentation, on the minority images only
                m = (yb == 1).to(device)
                xb[m] = augment(xb_u8[m], g, cfg.augment_padding)
            xb = imagenet_normalise(xb)
            if device.type == "cuda":
                xb = xb.contiguous(memory_format=torch.channels_last)
            yb_d = yb.to(device)
            with torch.autocast(**autocast):
                logits = model(xb)
            loss = F.cross_entropy(logits.float(), yb_d, weight=w)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(idx)
            preds[s : s + len(idx)] = logits.argmax(1).cpu()
        y_ord = y_all[order].numpy()
        train_pred = preds.numpy()
        val_prob = predict(model, val_x, device, cfg.eval_batch_size, cfg.bf16)
        val_pred = decide(val_prob, 0.5)
        val_scores = metrics(val_y, val_prob, val_pred)
        with torch.no_grad():
            p = torch.from_numpy(np.stack([1 - val_prob, val_prob], 1)).clamp_min(1e-12)
            val_loss = float(
                F.nll_loss(p.log().float(), torch.from_numpy(val_y.astype(np.int64)), weight=w.cpu())
            )
        row = {
            "epoch": epoch,
            "train_loss": loss_sum / len(order),
            "train_accuracy": float((train_pred == y_ord).mean()),
            "train_f1": float(count_metrics(*confusion_counts(y_ord, train_pred))[F1]),
            "val_loss": val_loss,
            "val_accuracy": val_scores["accuracy"],
            "val_f1": val_scores["f1"],
            "val_pr_auc": val_scores["pr_auc"] if val_scores["pr_auc"] is not None else float("nan"),
        }
        rows.append(row)
        if writer is not None:
            for k, v in row.items():
                if k != "epoch":
                    writer.add_scalar(f"classifier/{k}", v, epoch)
        improved, stop = stopper.step(epoch, row[EPOCH_METRICS[cfg.epoch_metric]])
        log.info(
            "epoch %d: train loss %.4f F1 %.3f | val loss %.4f F1 %.3f PR-AUC %.3f%s",
            epoch, row["train_loss"], row["train_f1"], row["val_loss"], row["val_f1"], row["val_pr_auc"],
            " (best)" if improved else "",
        )  # fmt: skip
        if improved:
            best_state = copy.deepcopy(model.state_dict())
        if stop:
            log.info(
                "early stop after epoch %d: best %s %.4f at epoch %d",
                epoch,
                EPOCH_LABELS[cfg.epoch_metric],
                stopper.best,
                stopper.best_epoch,
            )
            break
    if writer is not None:
        writer.close()
    model.load_state_dict(best_state)
    return model, pd.DataFrame(rows, columns=HISTORY_COLUMNS), stopper.best_epoch


def fit_and_evaluate(
    arch: str,
    cond: Condition,
    seed: int,
    metadata: str | Path,
    cfg: FitConfig,
    weights: str,
    cache_dir: str | Path,
    image_size: int,
    device: torch.device,
    out: FitOutputs,
    raw_dir: str | Path | None = None,
    curated_dir: str | Path | None = None,
    provenance: dict[str, Any] | None = None,
    progress: bool = True,
    synthetic_training_set: str | None = None,
    match: Condition | None = None,
) -> dict[str, Any]:
    """Fit one (arch, condition, seed) and evaluate it once on the test split.

    ``synthetic_training_set`` is the training-set fingerprint recorded with the condition's
    synthetic images; it must be the current split's (a GAN trained on another split has seen
    lesions that may now be in validation or test).
    """
    if cond.synthetic != "none":
        current = load_train_minority(metadata, image_size).fingerprint()["digest"]
        check_same_training_set(synthetic_training_set, current, f"the {cond.synthetic} synthetic set")
        provenance = {**(provenance or {}), "gan_training_set": current}
    train, composition = training_set(metadata, cond, seed, raw_dir, curated_dir, match)
    val = real_split(metadata, "val")
    log.info("%s / %s / seed %d: training set %s", arch, cond.name, seed, composition)
    train_x = decode_cache(train.paths, image_size, progress)
    val_x = decode_cache(val.paths, image_size, progress)
    cw = class_weights(cfg.class_weights, train.target)

    torch.manual_seed(seed)  # the head (and, with weights: none, every layer) starts from this seed
    model = create_classifier(arch, weights, 2, cache_dir)
    model, history, best_epoch = fit(
        model,
        train_x,
        train.target,
        val_x,
        val.target,
        cfg,
        cw,
        cond.augment,
        seed,
        device,
        out.tensorboard,
        progress,
    )
    with atomic_path(out.model, suffix=".tmp") as tmp:
        torch.save(model.state_dict(), tmp)
    write_csv(history, out.history)

    # model and threshold are fixed now, from training and validation data alone
    threshold = tune_threshold(val.target, predict(model, val_x, device, cfg.eval_batch_size, cfg.bf16))
    test = real_split(metadata, "test")
    test_prob = predict(
        model, decode_cache(test.paths, image_size, progress), device, cfg.eval_batch_size, cfg.bf16
    )
    pred = pd.DataFrame(
        {
            "image_id": test.ids,
            "target": test.target,
            "prob": test_prob,
            "pred_argmax": decide(test_prob, 0.5),
            "pred_tuned": decide(test_prob, threshold),
        }
    )
    with atomic_path(out.predictions) as tmp:
        pred.to_csv(tmp, index=False, lineterminator="\n", float_format="%.17g")  # exact round trip
    result = {
        "arch": arch,
        "condition": cond.name,
        "seed": seed,
        "weights": weights,
        "device": str(device),
        "class_weights": cw,
        "class_weight_mode": "balanced" if cfg.class_weights == BALANCED else "fixed",
        "weighted_mass": weighted_mass(cw, train.target),
        "composition": composition,
        "augment_padding": cfg.augment_padding if cond.augment else None,
        "epochs_run": len(history),
        "best_epoch": int(best_epoch),
        "epoch_criterion": EPOCH_LABELS[cfg.epoch_metric],
        "best_val_score": float(
            history.loc[history["epoch"] == best_epoch, EPOCH_METRICS[cfg.epoch_metric]].iloc[0]
        ),
        "threshold": threshold,
        "threshold_criterion": "F1 on the validation split, tuned after the epoch was chosen",
        "argmax": metrics(pred["target"], pred["prob"], pred["pred_argmax"]),
        "tuned": metrics(pred["target"], pred["prob"], pred["pred_tuned"]),
        **(provenance or {}),
    }
    write_json(result, out.metrics)
    from ganaug import viz

    viz.plot_classifier_curves(history, best_epoch, out.curves, f"{arch} / {cond.name} / seed {seed}")
    viz.plot_confusion(
        result["argmax"]["confusion_matrix"], result["tuned"]["confusion_matrix"], threshold, out.confusion
    )
    viz.plot_pr_curve(pred["target"].to_numpy(), pred["prob"].to_numpy(), threshold, out.pr_curve,
                      f"{arch} / {cond.name} / seed {seed}")  # fmt: skip
    log.info(
        "test: F1 %.3f (argmax) / %.3f (threshold %.3f)",
        result["argmax"]["f1"],
        result["tuned"]["f1"],
        threshold,
    )
    return result
