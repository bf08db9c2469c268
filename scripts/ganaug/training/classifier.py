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
from collections.abc import Mapping
from dataclasses import dataclass, field
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
    real_split,
    training_set,
    weighted_mass,
)
from ganaug.data.external import EXTERNAL_SPLIT
from ganaug.data.image_cache import cached_images
from ganaug.data.provenance import check_same_training_set, load_train_minority
from ganaug.evaluation.classification import decide, metrics, tune_threshold
from ganaug.evaluation.stats import F1, confusion_counts, count_metrics
from ganaug.io import atomic_path, clear_event_files, write_csv, write_json
from ganaug.models.classifiers import create_classifier, imagenet_normalise
from ganaug.runtime import runtime_record
from ganaug.settings import FitConfig
from ganaug.training.augment import augment
from ganaug.training.checkpoints import save_checkpoint
from ganaug.training.early_stopping import EarlyStopping

log = logging.getLogger(__name__)

HISTORY_COLUMNS = [
    "epoch", "train_loss", "train_accuracy", "train_f1", "val_loss", "val_accuracy", "val_f1", "val_pr_auc",
]  # fmt: skip
# validation metric -> history column the best epoch is chosen by
EPOCH_METRICS = {"pr_auc": "val_pr_auc", "f1": "val_f1"}
EPOCH_LABELS = {"pr_auc": "validation PR-AUC", "f1": "validation F1 at 0.5 (the study's)"}


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
    external: dict[str, Path] = field(default_factory=dict)  # name -> predictions.csv of that set

    @classmethod
    def of(cls, outputs: Mapping[str, str], tensorboard: str | Path) -> FitOutputs:
        """From the rule's named outputs; ``external_<name>`` ones are the external sets'."""
        names = ("model", "history", "predictions", "metrics", "curves", "confusion", "pr_curve")
        ext = {k.removeprefix("external_"): Path(v) for k, v in outputs.items() if k.startswith("external_")}
        return cls(*(Path(outputs[k]) for k in names), Path(tensorboard), ext)


@torch.no_grad()
def predict(
    model: torch.nn.Module, x_u8: torch.Tensor, device: torch.device, batch: int, bf16: bool = False
) -> np.ndarray:
    """Minority-class probabilities (softmax), float64."""
    model.eval()
    out = []
    for s in range(0, len(x_u8), batch):
        x = x_u8[s : s + batch]
        if device.type == "cuda" and not x.is_cuda:  # page-locked, not waited for; read once at the end
            x = x.pin_memory().to(device, non_blocking=True)
        x = imagenet_normalise(x.float() / 255.0)
        if device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16 and device.type == "cuda"):
            logits = model(x)
        out.append(torch.softmax(logits.float(), dim=1)[:, 1].double())
    return torch.cat(out).cpu().numpy()


def _train_epoch(
    model, opt, data: _TrainData, order, cfg: FitConfig, w, g, do_augment: bool, device, bar
) -> tuple[float, np.ndarray]:
    """One pass over the training set in ``order``: (summed loss, argmax predictions).

    Nothing in it waits for the GPU: the batch is indexed where the images live (on the device
    when they fit there), the minority rows to augment are found from the labels on the host, and
    the loss and the predictions are accumulated on the device and read once, after the pass.
    On the CPU every number is what the loop computed before (the loss summed in float64).
    """
    autocast = {
        "device_type": device.type,
        "dtype": torch.bfloat16,
        "enabled": cfg.bf16 and device.type == "cuda",
    }
    model.train()
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    preds = torch.empty(len(order), dtype=torch.long, device=device)
    order_dev = order.to(device)
    starts = list(range(0, len(order), cfg.batch_size))
    if len(starts) > 1 and len(order) - starts[-1] == 1:
        # a last batch of one image: batch norm cannot train on it (one value per channel in a
        # small network's last blocks), so it joins the batch before
        starts.pop()
    for k, s in enumerate(bar(starts)):
        stop = starts[k + 1] if k + 1 < len(starts) else len(order)
        idx = order[s:stop]
        xb_u8 = data.batch(idx, order_dev[s:stop])
        yb_host = data.y[idx]
        xb = xb_u8.float() / 255.0
        if do_augment:
            # the traditional augmentation, on the minority images only; their rows come from
            # the labels on the host (a boolean mask on the device would wait for the GPU)
            rows = torch.nonzero(yb_host == 1).flatten()
            if len(rows):
                if device.type == "cuda":  # a page-locked copy: a pageable one waits for the GPU
                    rows = rows.pin_memory().to(device, non_blocking=True)
                xb[rows] = augment(xb_u8[rows], g, cfg.augment_padding)
        xb = imagenet_normalise(xb)
        if device.type == "cuda":
            xb = xb.contiguous(memory_format=torch.channels_last)
        with torch.autocast(**autocast):
            logits = model(xb)
        loss = F.cross_entropy(logits.float(), data.y_dev[order_dev[s:stop]], weight=w)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss_sum += loss.detach().double() * len(idx)
        preds[s:stop] = logits.detach().argmax(1)
    return float(loss_sum), preds.cpu().numpy()


class _TrainData:
    """The training images and labels, where the loop reads them from.

    On a GPU the uint8 images are moved to the device once when they take at most
    ``DEVICE_FRACTION`` of its free memory (ISIC 2019's train split at 256 px: 1.8 GB), and each
    batch is indexed there; otherwise each batch is gathered on the host into page-locked memory
    (the caching host allocator reuses it) and copied without blocking. On the CPU a batch is the
    same index of the same tensor as before.
    """

    DEVICE_FRACTION = 0.25

    def __init__(self, x_u8: torch.Tensor, y: np.ndarray, device: torch.device):
        self.y = torch.from_numpy(np.asarray(y, np.int64))
        self.y_dev = self.y.to(device)
        self.device, self.resident = device, device.type != "cuda"
        self.x = x_u8
        if device.type == "cuda":
            free, _ = torch.cuda.mem_get_info(device)
            if x_u8.numel() <= self.DEVICE_FRACTION * free:
                self.x, self.resident = x_u8.to(device), True
        log.info("training images (%.0f MB) %s", x_u8.numel() / 1e6,
                 "on the device" if self.resident else "gathered on the host per batch")  # fmt: skip

    def __len__(self) -> int:
        return len(self.y)

    def batch(self, idx: torch.Tensor, idx_dev: torch.Tensor) -> torch.Tensor:
        if self.resident:
            return self.x[idx_dev if self.device.type == "cuda" else idx]
        return self.x[idx].pin_memory().to(self.device, non_blocking=True)


def _validate(model, val_x, val_y: np.ndarray, w, cfg: FitConfig, device) -> dict[str, float]:
    """Validation loss, accuracy, F1 at 0.5 and PR-AUC of the current model."""
    val_prob = predict(model, val_x, device, cfg.eval_batch_size, cfg.bf16)
    scores = metrics(val_y, val_prob, decide(val_prob, 0.5))
    with torch.no_grad():
        p = torch.from_numpy(np.stack([1 - val_prob, val_prob], 1)).clamp_min(1e-12)
        loss = float(F.nll_loss(p.log().float(), torch.from_numpy(val_y.astype(np.int64)), weight=w.cpu()))
    pr_auc = scores["pr_auc"] if scores["pr_auc"] is not None else float("nan")
    return {
        "val_loss": loss,
        "val_accuracy": scores["accuracy"],
        "val_f1": scores["f1"],
        "val_pr_auc": pr_auc,
    }


def _train_scores(loss_sum: float, y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    return {
        "train_loss": loss_sum / len(y),
        "train_accuracy": float((pred == y).mean()),
        "train_f1": float(count_metrics(*confusion_counts(y, pred))[F1]),
    }


def _log_epoch(row: dict[str, float], improved: bool, writer) -> None:
    epoch = row["epoch"]
    for k, v in row.items():
        if writer is not None and k != "epoch":
            writer.add_scalar(f"classifier/{k}", v, epoch)
    shown = (row["train_loss"], row["train_f1"], row["val_loss"], row["val_f1"], row["val_pr_auc"])
    message = "epoch %d: train loss %.4f F1 %.3f | val loss %.4f F1 %.3f PR-AUC %.3f%s"
    log.info(message, epoch, *shown, " (best)" if improved else "")


def _writer(tensorboard: Path | None):
    """A TensorBoard writer into a folder cleared first: a fit never resumes, so an earlier run's
    curves there are stale."""
    from torch.utils.tensorboard import SummaryWriter

    if tensorboard is None:
        return None
    clear_event_files(tensorboard)
    return SummaryWriter(str(tensorboard))


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
    from tqdm import tqdm

    model = model.to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    data = _TrainData(train_x, train_y, device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    w = torch.tensor(weights, dtype=torch.float32, device=device)
    g = torch.Generator().manual_seed(seed)
    stopper, best_state, rows = EarlyStopping(cfg.patience), copy.deepcopy(model.state_dict()), []
    writer = _writer(tensorboard)
    for epoch in range(1, cfg.max_epochs + 1):
        order = torch.randperm(len(data), generator=g)

        def bar(it, epoch=epoch):
            desc = f"epoch {epoch}/{cfg.max_epochs}"
            return tqdm(it, desc=desc, unit="batch", leave=False, mininterval=5, disable=not progress)

        loss_sum, train_pred = _train_epoch(model, opt, data, order, cfg, w, g, do_augment, device, bar)
        row = {"epoch": epoch, **_train_scores(loss_sum, data.y[order].numpy(), train_pred)}
        row |= _validate(model, val_x, val_y, w, cfg, device)
        rows.append(row)
        improved, stop = stopper.step(epoch, row[EPOCH_METRICS[cfg.epoch_metric]])
        _log_epoch(row, improved, writer)
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
    external: Mapping[str, str | Path] | None = None,
    extra: str | Path | None = None,
    caches: Mapping[str, str | Path] | None = None,
) -> dict[str, Any]:
    """Fit one (arch, condition, seed) and evaluate it once on the test split, and once on each
    ``external`` set (name -> its metadata.csv), all after the epoch and threshold are fixed.
    ``caches`` (split -> decode_split's .npy): the repeat's decoded images (without: decoded here).
    ``synthetic_training_set`` is the training-set fingerprint recorded with the condition's
    synthetic images; it must be the current split's (a GAN trained on another split has seen
    lesions that may now be in validation or test).
    """
    provenance = dict(provenance or {})
    if cond.synthetic != "none":
        provenance["gan_training_set"] = _same_split(cond, metadata, image_size, synthetic_training_set)
    train, composition = training_set(metadata, cond, seed, raw_dir, curated_dir, match, extra)
    val, cache = real_split(metadata, "val"), _caches(caches, metadata, image_size)
    log.info("%s / %s / seed %d: training set %s", arch, cond.name, seed, composition)
    train_x = cached_images(cache("train"), train.ids, train.paths, image_size, progress)
    val_x = cached_images(cache("val"), val.ids, val.paths, image_size, progress)
    cw = class_weights(cfg.class_weights, train.target)
    data = (train_x, train.target, val_x, val.target)
    model, history, best_epoch = _fit_and_save(arch, weights, cache_dir, seed, data, cfg, cw, cond, device,
                                               out, progress)  # fmt: skip
    # model and threshold are fixed now, from training and validation data alone; only then is
    # any test image, in distribution or external, read
    threshold = tune_threshold(val.target, predict(model, val_x, device, cfg.eval_batch_size, cfg.bf16))
    predict_set = _SetPredictor(model, threshold, image_size, device, cfg, progress)
    pred = predict_set(metadata, "test", out.predictions, cache("test"))
    result = {"arch": arch, "condition": cond.name, "seed": seed, "weights": weights, "device": str(device)}
    result |= runtime_record(device)  # determinism, GPU slot, peak GPU memory
    result |= _training_record(cfg, cw, train, composition, cond)
    result |= _selection_record(cfg, history, best_epoch, threshold)
    result |= {d: metrics(pred["target"], pred["prob"], pred[f"pred_{d}"]) for d in ("argmax", "tuned")}
    result["external"] = {
        name: _decisions(predict_set(path, EXTERNAL_SPLIT, out.external[name]))
        for name, path in (external or {}).items()
    }
    result |= provenance
    write_json(result, out.metrics)
    _figures(result, history, pred, out)
    log.info("test: F1 %.3f (argmax) / %.3f (threshold %.3f)", result["argmax"]["f1"], result["tuned"]["f1"],
             threshold)  # fmt: skip
    return result


def training_fingerprint(ids: list[str], paths: list[str], synthetic, augment: bool) -> str:
    """What a fit trained on, as one digest: the training ids (repeats and extra images carry
    their own), the bytes of each synthetic image (a curated image is a copy of a raw one under
    the same name) and whether the minority images were augmented. Two conditions with the same
    digest trained on the same set: comparing them is degenerate, not a difference of 0."""
    import hashlib

    h = hashlib.sha256(f"augment={bool(augment)}\n".encode())
    for i, path, syn in sorted(zip(ids, paths, synthetic, strict=True)):
        h.update(i.encode() + b"\0")
        if syn:
            h.update(hashlib.sha256(Path(path).read_bytes()).digest())
    return h.hexdigest()


def _caches(caches: Mapping[str, str | Path] | None, metadata, size: int):
    """split -> its SplitCache, opened when first asked for (the test split's only after the
    epoch and threshold are fixed), or None where there is no cache."""
    from ganaug.data.image_cache import SplitCache

    def cache(split: str):
        path = (caches or {}).get(split)
        return None if path is None else SplitCache(path, metadata, split, size)

    return cache


def _same_split(cond: Condition, metadata, image_size: int, recorded: str | None) -> str:
    """The current train split's fingerprint, after checking the synthetic images come from it."""
    current = load_train_minority(metadata, image_size).fingerprint()["digest"]
    check_same_training_set(recorded, current, f"the {cond.synthetic} synthetic set")
    return current


def _training_record(cfg: FitConfig, cw: list[float], train, composition: dict, cond: Condition) -> dict:
    """What the fit trained on (and its digest), and with which loss weights (their weighted
    masses: equal under balanced)."""
    return {
        "class_weights": cw,
        "class_weight_mode": "balanced" if cfg.class_weights == BALANCED else "fixed",
        "weighted_mass": weighted_mass(cw, train.target),
        "composition": composition,
        "training_set_sha256": training_fingerprint(train.ids, train.paths, train.synthetic, cond.augment),
        "augment_padding": cfg.augment_padding if cond.augment else None,
    }


def _selection_record(cfg: FitConfig, history: pd.DataFrame, best_epoch: int, threshold: float) -> dict:
    """How the epoch and then the threshold were chosen, on validation."""
    return {
        "epochs_run": len(history),
        "best_epoch": int(best_epoch),
        "epoch_criterion": EPOCH_LABELS[cfg.epoch_metric],
        "best_val_score": float(history.set_index("epoch").loc[best_epoch, EPOCH_METRICS[cfg.epoch_metric]]),
        "threshold": threshold,
        "threshold_criterion": "F1 on the validation split, tuned after the epoch was chosen",
    }


class _SetPredictor:
    """Predicts one split of a metadata.csv with the fixed model and threshold, once, and writes
    its predictions.csv (image_id, target, prob and both decisions)."""

    def __init__(self, model, threshold: float, image_size: int, device, cfg: FitConfig, progress: bool):
        self.model, self.threshold, self.image_size = model, threshold, image_size
        self.device, self.cfg, self.progress = device, cfg, progress

    def __call__(self, metadata: str | Path, split: str, out: Path, cache=None) -> pd.DataFrame:
        rows = real_split(metadata, split)
        x = cached_images(cache, rows.ids, rows.paths, self.image_size, self.progress)
        prob = predict(self.model, x, self.device, self.cfg.eval_batch_size, self.cfg.bf16)
        pred = pd.DataFrame(
            {
                "image_id": rows.ids,
                "target": rows.target,
                "prob": prob,
                "pred_argmax": decide(prob, 0.5),
                "pred_tuned": decide(prob, self.threshold),
            }
        )
        with atomic_path(out) as tmp:
            pred.to_csv(tmp, index=False, lineterminator="\n", float_format="%.17g")  # exact round trip
        return pred


def _fit_and_save(arch, weights, cache_dir, seed, data, cfg, cw, cond, device, out, progress=True):
    """A fresh classifier fitted on ``data`` (train x, y, validation x, y); the selected epoch's
    weights and the history are written."""
    torch.manual_seed(seed)  # the head (and, with weights: random, every layer) starts from this seed
    model = create_classifier(arch, weights, 2, cache_dir)
    model, history, best_epoch = fit(
        model, *data, cfg, cw, cond.augment, seed, device, out.tensorboard, progress
    )
    save_checkpoint(model.state_dict(), out.model)
    write_csv(history, out.history)
    return model, history, best_epoch


def _decisions(pred: pd.DataFrame) -> dict[str, Any]:
    """Both decisions' metrics of one predicted set, and its size."""
    out: dict[str, Any] = {
        d: metrics(pred["target"], pred["prob"], pred[f"pred_{d}"]) for d in ("argmax", "tuned")
    }
    return out | {"n_images": len(pred), "n_minority": int(pred["target"].sum())}


def _figures(result: dict, history: pd.DataFrame, pred: pd.DataFrame, out: FitOutputs) -> None:
    from ganaug import viz

    title = (
        f"{result['arch']} / {result['condition']} / repeat {result.get('repeat', 0)}, seed {result['seed']}"
    )
    viz.plot_classifier_curves(history, result["best_epoch"], out.curves, title)
    viz.plot_confusion(
        result["argmax"]["confusion_matrix"],
        result["tuned"]["confusion_matrix"],
        result["threshold"],
        out.confusion,
    )
    viz.plot_pr_curve(
        pred["target"].to_numpy(), pred["prob"].to_numpy(), result["threshold"], out.pr_curve, title
    )


def _fit_provenance(
    params: dict[str, Any],
    repeat: int,
    manifest: str | Path | None,
    curation_summary: str | Path | None,
) -> tuple[dict[str, Any], str | None]:
    """What a fit records of where its images came from, and the generator training set its own
    synthetic images carry (None for a condition without them)."""
    import json

    from ganaug.data.provenance import manifest_digest

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
        recorded = s.get("gan_training_set")
        provenance |= {
            k: s[k] for k in ("review_mode", "simulated_review", "lpips_backbone", "cluster_backbone")
        }
    return provenance, recorded


def fit_rule(
    arch: str,
    seed: int,
    params: dict[str, Any],
    metadata: str | Path,
    cache_dir: str | Path,
    image_size: int,
    device: str,
    out: FitOutputs,
    raw: str | Path | None = None,
    manifest: str | Path | None = None,
    curated: str | Path | None = None,
    curation_summary: str | Path | None = None,
    repeat: int = 0,
    external: Mapping[str, str | Path] | None = None,
    extra: str | Path | None = None,
    caches: Mapping[str, str | Path] | None = None,
) -> dict[str, Any]:
    """The rule fit_classifier: ``params`` as ``ganaug.settings.fit_params`` gives them; the
    synthetic inputs are those of the condition (or of the one it oversamples to), all from the
    same ``repeat`` as ``metadata``."""
    from ganaug.runtime import select_device
    from ganaug.settings import from_dict

    provenance, recorded = _fit_provenance(params, repeat, manifest, curation_summary)
    match = params["match"]
    return fit_and_evaluate(
        arch=arch,
        cond=Condition.from_dict(params["condition"]["name"], params["condition"]),
        seed=seed,
        metadata=metadata,
        cfg=from_dict(FitConfig, params["fit"], "classifier"),
        weights=params["weights"],
        cache_dir=cache_dir,
        image_size=image_size,
        device=select_device(device),
        out=out,
        raw_dir=raw,
        curated_dir=curated,
        provenance=provenance,
        synthetic_training_set=recorded,
        match=Condition.from_dict(match["name"], match) if match else None,
        external=external,
        extra=extra,
        caches=caches,
    )
