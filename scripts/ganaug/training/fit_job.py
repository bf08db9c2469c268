"""One fit as the rule fit_classifier runs it, and its one evaluation on the test split.

Order of events, which is what keeps the test split honest: decode train and validation ->
train, choosing the best epoch by a threshold-free validation metric (PR-AUC by default; early
stopping) -> tune the decision threshold on validation -> only then decode the test split,
predict once, and write the figures. The epoch is chosen without a threshold so that the
threshold, tuned afterwards on the same few validation DF images, is not chosen twice over.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from ganaug.data.datasets import class_weights, real_split, training_set
from ganaug.data.external import EXTERNAL_SPLIT
from ganaug.data.image_cache import SplitCache, cached_images
from ganaug.data.provenance import TRAINING_SET_KEY
from ganaug.dataclass_io import from_dict
from ganaug.evaluation.classification import decide, metrics, tune_threshold
from ganaug.io import atomic_path, write_csv, write_json
from ganaug.loss_spec import LossSpec
from ganaug.models.classifiers import create_classifier
from ganaug.runtime import runtime_record, select_device
from ganaug.settings import Condition, FitConfig
from ganaug.training.checkpoints import save_checkpoint
from ganaug.training.classifier import fit, predict
from ganaug.training.fit_record import (
    decisions,
    figures,
    fit_provenance,
    same_split,
    selection_record,
    training_record,
)

log = logging.getLogger(__name__)


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


@dataclass(frozen=True)
class FitJob:
    """What is fitted: an architecture under a condition from a seed, with the fit's
    hyperparameters, starting from ``weights`` (imagenet, random or a state dict's path)."""

    arch: str
    cond: Condition
    seed: int
    cfg: FitConfig
    weights: str
    image_size: int


@dataclass(frozen=True)
class FitInputs:
    """What one fit reads, all from one repeat: its metadata.csv; the decoded splits (split ->
    decode_split's .npy; without: decoded here); the condition's synthetic images and the
    training-set fingerprint they carry (it must be the current split's: a generator trained on
    another split has seen lesions that may now be in validation or test); the condition it is
    matched to; the extra real pool; and the external sets it predicts (name -> metadata.csv)."""

    metadata: Path
    raw_dir: Path | None = None
    curated_dir: Path | None = None
    synthetic_training_set: str | None = None
    match: Condition | None = None
    extra: Path | None = None
    external: Mapping[str, Path] = field(default_factory=dict)
    caches: Mapping[str, Path] = field(default_factory=dict)

    @classmethod
    def of(cls, named: Mapping[str, str]) -> FitInputs:
        """From the rule's named inputs: ``external_<name>`` and ``cache_<split>`` ones are the
        external sets and the decoded splits."""

        def grouped(prefix: str) -> dict[str, Path]:
            return {k.removeprefix(prefix): Path(v) for k, v in named.items() if k.startswith(prefix)}

        def one(key: str) -> Path | None:
            return Path(named[key]) if named.get(key) else None

        return cls(
            Path(named["metadata"]),
            one("raw"),
            one("curated"),
            extra=one("extra"),
            external=grouped("external_"),
            caches=grouped("cache_"),
        )


def fit_and_evaluate(
    job: FitJob,
    inputs: FitInputs,
    out: FitOutputs,
    device: torch.device,
    cache_dir: str | Path,
    provenance: dict[str, Any] | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Fit ``job`` on ``inputs`` and evaluate it once on the test split, and once on each external
    set, all after the epoch and threshold are fixed."""
    cfg, bf16 = job.cfg, job.cfg.uses_bf16(device.type)
    provenance = dict(provenance or {})
    if job.cond.synthetic != "none":
        provenance[TRAINING_SET_KEY] = same_split(
            job.cond, inputs.metadata, job.image_size, inputs.synthetic_training_set
        )
    train, composition = training_set(
        inputs.metadata, job.cond, job.seed, inputs.raw_dir, inputs.curated_dir, inputs.match, inputs.extra
    )
    val, cache = real_split(inputs.metadata, "val"), _caches(inputs.caches, inputs.metadata, job.image_size)
    log.info("%s / %s / seed %d: training set %s", job.arch, job.cond.name, job.seed, composition)
    train_x = cached_images(cache("train"), train.ids, train.paths, job.image_size, progress)
    val_x = cached_images(cache("val"), val.ids, val.paths, job.image_size, progress)
    cw = class_weights(cfg.class_weights, train.target)
    model, history, best_epoch = _fit_and_save(
        job, (train_x, train.target, val_x, val.target), cw, device, cache_dir, out, progress
    )
    # model and threshold are fixed now, from training and validation data alone; only then is
    # any test image, in distribution or external, read
    threshold = tune_threshold(val.target, predict(model, val_x, device, cfg.eval_batch_size, bf16))
    predict_set = _SetPredictor(model, threshold, job.image_size, device, cfg, progress)
    pred = predict_set(inputs.metadata, "test", out.predictions, cache("test"))
    result = {
        "arch": job.arch,
        "condition": job.cond.name,
        "seed": job.seed,
        "weights": job.weights,
        "device": str(device),
    }
    result |= runtime_record(device, cfg.tf32, bf16)  # precision, determinism, GPU, memory
    result |= training_record(cfg, cw, train, composition, job.cond)
    result |= selection_record(cfg, history, best_epoch, threshold)
    result |= {d: metrics(pred["target"], pred["prob"], pred[f"pred_{d}"]) for d in ("argmax", "tuned")}
    result["external"] = {
        name: decisions(predict_set(path, EXTERNAL_SPLIT, out.external[name]))
        for name, path in inputs.external.items()
    }
    result |= provenance
    write_json(result, out.metrics)
    figures(result, history, pred, out.curves, out.confusion, out.pr_curve)
    log.info(
        "test: F1 %.3f (argmax) / %.3f (threshold %.3f)",
        result["argmax"]["f1"],
        result["tuned"]["f1"],
        threshold,
    )
    return result


def _caches(caches: Mapping[str, str | Path], metadata, size: int):
    """split -> its SplitCache, opened when first asked for (the test split's only after the
    epoch and threshold are fixed), or None where there is no cache."""

    def cache(split: str):
        path = caches.get(split)
        return None if path is None else SplitCache(path, metadata, split, size)

    return cache


class _SetPredictor:
    """Predicts one split of a metadata.csv with the fixed model and threshold, once, and writes
    its predictions.csv (image_id, target, prob and both decisions)."""

    def __init__(self, model, threshold: float, image_size: int, device, cfg: FitConfig, progress: bool):
        self.model, self.threshold, self.image_size = model, threshold, image_size
        self.device, self.cfg, self.progress = device, cfg, progress

    def __call__(self, metadata: str | Path, split: str, out: Path, cache=None) -> pd.DataFrame:
        rows = real_split(metadata, split)
        x = cached_images(cache, rows.ids, rows.paths, self.image_size, self.progress)
        bf16 = self.cfg.uses_bf16(self.device.type)
        prob = predict(self.model, x, self.device, self.cfg.eval_batch_size, bf16)
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


def _fit_and_save(job: FitJob, data, cw, device, cache_dir, out: FitOutputs, progress=True):
    """A fresh classifier fitted on ``data`` (train x, y, validation x, y); the selected epoch's
    weights and the history are written."""
    torch.manual_seed(job.seed)  # the head (and, with weights: random, every layer) starts from this seed
    model = create_classifier(job.arch, job.weights, 2, cache_dir)
    loss = LossSpec.of(job.cond.loss, f"classifier.conditions.{job.cond.name}.loss")
    model, history, best_epoch = fit(
        model, *data, job.cfg, cw, job.cond.augment, job.seed, device, out.tensorboard, progress, loss
    )
    save_checkpoint(model.state_dict(), out.model)
    write_csv(history, out.history)
    return model, history, best_epoch


def fit_rule(
    arch: str,
    seed: int,
    params: dict[str, Any],
    named: Mapping[str, str],
    cache_dir: str | Path,
    image_size: int,
    device: str,
    out: FitOutputs,
    repeat: int = 0,
) -> dict[str, Any]:
    """The rule fit_classifier: ``params`` as ``ganaug.settings.fit_params`` gives them; ``named``,
    the rule's inputs: the condition's synthetic images (or those of the condition it oversamples
    to), all from the same ``repeat`` as the metadata, with the manifest or curation summary that
    says what generator training set they came from."""
    from dataclasses import replace

    provenance, recorded = fit_provenance(
        params, repeat, named.get("manifest"), named.get("curation_summary")
    )
    match = params["match"]
    cfg = from_dict(FitConfig, params["fit"], "classifier")
    cond = Condition.from_dict(params["condition"]["name"], params["condition"])
    inputs = replace(
        FitInputs.of(named),
        synthetic_training_set=recorded,
        match=Condition.from_dict(match["name"], match) if match else None,
    )
    job = FitJob(arch, cond, seed, cfg, params["weights"], image_size)
    return fit_and_evaluate(job, inputs, out, select_device(device, cfg.tf32), cache_dir, provenance)
