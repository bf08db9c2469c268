"""The classifier's training loop: epochs, validation, early stopping on a threshold-free score,
and prediction.

``fit`` trains with early stopping on ``cfg.epoch_metric`` over the validation split and returns
the best epoch's model; it never reads a test image. What a fit job does around it (the order
that keeps the test split honest, what it writes and records) is ``ganaug.training.fit_job``.
"""

from __future__ import annotations

import copy
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from ganaug.evaluation.classification import decide, metrics
from ganaug.evaluation.stats import F1, confusion_counts, count_metrics
from ganaug.io import clear_event_files
from ganaug.loss_spec import LossSpec
from ganaug.models.classifiers import imagenet_normalise
from ganaug.runtime import autocast, to_device
from ganaug.settings import FitConfig
from ganaug.training.augment import augment
from ganaug.training.early_stopping import EarlyStopping
from ganaug.training.losses import training_loss

log = logging.getLogger(__name__)

HISTORY_COLUMNS = [
    "epoch",
    "train_loss",
    "train_accuracy",
    "train_f1",
    "val_loss",
    "val_accuracy",
    "val_f1",
    "val_pr_auc",
]
# validation metric -> history column the best epoch is chosen by
EPOCH_METRICS = {"pr_auc": "val_pr_auc", "f1": "val_f1"}
EPOCH_LABELS = {"pr_auc": "validation PR-AUC", "f1": "validation F1 at 0.5 (the study's)"}


@torch.no_grad()
def predict(
    model: torch.nn.Module, x_u8: torch.Tensor, device: torch.device, batch: int, bf16: bool = False
) -> np.ndarray:
    """Minority-class probabilities (softmax, from fp32 logits), float64; ``bf16``: the forward
    under bf16 autocast."""
    model.eval()
    out = []
    for s in range(0, len(x_u8), batch):
        x = to_device(x_u8[s : s + batch], device)  # not waited for on a GPU; read once at the end
        x = imagenet_normalise(x.float() / 255.0)
        if device.type == "cuda":
            x = x.contiguous(memory_format=torch.channels_last)
        with autocast(device, bf16):
            logits = model(x)
        out.append(torch.softmax(logits.float(), dim=1)[:, 1].double())
    return torch.cat(out).cpu().numpy()


def _train_epoch(
    model, opt, data: _TrainData, order, cfg: FitConfig, loss_fn, g, do_augment: bool, device, bar
) -> tuple[float, np.ndarray]:
    """One pass over the training set in ``order``: (summed loss, argmax predictions).

    Nothing in it waits for the GPU: the batch is indexed where the images live (on the device
    when they fit there), the minority rows to augment are found from the labels on the host, and
    the loss and the predictions are accumulated on the device and read once, after the pass.
    On the CPU every number is what the loop computed before (the loss summed in float64).
    """
    bf16 = cfg.uses_bf16(device.type)
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
                rows = to_device(rows, device)  # page-locked on a GPU: a pageable copy waits for it
                xb[rows] = augment(xb_u8[rows], g, cfg.augment_padding)
        xb = imagenet_normalise(xb)
        if device.type == "cuda":
            xb = xb.contiguous(memory_format=torch.channels_last)
        with autocast(device, bf16):
            logits = model(xb)
        loss = loss_fn(logits.float(), data.y_dev[order_dev[s:stop]])
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
    same index of the same tensor as before. Any other device (the tests' meta) takes the GPU's
    path with the images on it.
    """

    DEVICE_FRACTION = 0.25

    def __init__(self, x_u8: torch.Tensor, y: np.ndarray, device: torch.device):
        self.y = torch.from_numpy(np.asarray(y, np.int64))
        self.y_dev = self.y.to(device)
        self.device, self.resident = device, device.type == "cpu"
        self.x = x_u8
        if device.type != "cpu":
            free = torch.cuda.mem_get_info(device)[0] if device.type == "cuda" else float("inf")
            if x_u8.numel() <= self.DEVICE_FRACTION * free:
                self.x, self.resident = x_u8.to(device), True
        log.info(
            "training images (%.0f MB) %s",
            x_u8.numel() / 1e6,
            "on the device" if self.resident else "gathered on the host per batch",
        )

    def __len__(self) -> int:
        return len(self.y)

    def batch(self, idx: torch.Tensor, idx_dev: torch.Tensor) -> torch.Tensor:
        if self.resident:
            return self.x[idx if self.device.type == "cpu" else idx_dev]
        return to_device(self.x[idx], self.device)


def _validate(model, val_x, val_y: np.ndarray, w, cfg: FitConfig, device) -> dict[str, float]:
    """Validation loss, accuracy, F1 at 0.5 and PR-AUC of the current model."""
    val_prob = predict(model, val_x, device, cfg.eval_batch_size, cfg.uses_bf16(device.type))
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
    loss: LossSpec | None = None,
) -> tuple[torch.nn.Module, pd.DataFrame, int]:
    """Train with early stopping on the validation score ``cfg.epoch_metric``; return (best model,
    history, best epoch). ``loss``: the condition's training loss (None: the class-weighted
    cross-entropy with ``weights``); the validation loss is the weighted one for every loss."""
    from tqdm import tqdm

    model = model.to(device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    data = _TrainData(train_x, train_y, device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    w = torch.tensor(weights, dtype=torch.float32, device=device)
    counts = np.bincount(np.asarray(train_y, int), minlength=2).tolist()
    loss_fn = training_loss(loss or LossSpec(), counts, w)
    g = torch.Generator().manual_seed(seed)
    stopper, best_state, rows = EarlyStopping(cfg.patience), copy.deepcopy(model.state_dict()), []
    writer = _writer(tensorboard)
    for epoch in range(1, cfg.max_epochs + 1):
        order = torch.randperm(len(data), generator=g)

        def bar(it, epoch=epoch):
            desc = f"epoch {epoch}/{cfg.max_epochs}"
            return tqdm(it, desc=desc, unit="batch", leave=False, mininterval=5, disable=not progress)

        loss_sum, train_pred = _train_epoch(model, opt, data, order, cfg, loss_fn, g, do_augment, device, bar)
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
