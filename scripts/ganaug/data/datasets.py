"""Training sets per condition, and the uint8 image cache the classifier trains from.

Images are decoded once into a uint8 tensor (N, 3, H, W) per split and augmented as tensors, not
decoded by PIL every epoch (``benchmarks/bench_classifier.py`` measures the difference).
Validation and test are always real images only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from ganaug.data.metadata import read_metadata

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Condition:
    name: str  # the {condition} wildcard
    synthetic: str  # none | raw | curated: where synthetic minority images come from
    n_synthetic: int  # how many to add (fewer when fewer exist; recorded)
    real_minority: bool  # keep the real minority training images (false: synthetic_only)
    augment: bool  # the traditional augmentation on minority images
    # repeat the real minority images up to the minority count of this other condition (the
    # equal-count control without a generator: real_oversampled -> gan_curated); None: no repeats
    oversample_to: str | None = None

    @classmethod
    def from_dict(cls, name: str, d: dict[str, Any]) -> Condition:
        return cls(
            name,
            d["synthetic"],
            int(d["n_synthetic"]),
            bool(d["real_minority"]),
            bool(d["augment"]),
            d.get("oversample_to"),
        )


@dataclass
class ImageSet:
    ids: list[str]
    paths: list[str]
    target: np.ndarray  # 1 = minority
    synthetic: np.ndarray  # bool


def decode_cache(paths: list[str], size: int, progress: bool = False) -> torch.Tensor:
    """Decode every image once: uint8 (N, 3, size, size) RGB."""
    out = np.empty((len(paths), 3, size, size), np.uint8)
    it = enumerate(paths)
    if progress:
        from tqdm import tqdm

        it = tqdm(it, total=len(paths), desc="decode", unit="img", mininterval=2)
    for i, p in it:
        bgr = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if bgr is None:
            raise FileNotFoundError(f"cannot read image {p}")
        if bgr.shape[:2] != (size, size):
            # area averaging to shrink; cubic to enlarge, where area averaging degenerates
            interp = cv2.INTER_AREA if bgr.shape[0] > size else cv2.INTER_CUBIC
            bgr = cv2.resize(bgr, (size, size), interpolation=interp)
        out[i] = bgr[..., ::-1].transpose(2, 0, 1)
    return torch.from_numpy(out)


def real_split(metadata: str | Path, split: str) -> ImageSet:
    """The real images of one split (validation and test never hold synthetic images)."""
    meta = read_metadata(metadata)
    rows = meta[(meta["split"] == split) & ~meta["synthetic"]].sort_values("image_id")
    if rows.empty:
        raise ValueError(f"{metadata}: no real images in split {split!r}")
    return ImageSet(
        rows["image_id"].tolist(),
        rows["path"].tolist(),
        rows["target"].to_numpy(int),
        np.zeros(len(rows), bool),
    )


def synthetic_pool(cond: Condition, raw_dir: str | Path | None, curated_dir: str | Path | None) -> list[Path]:
    folder = {"raw": raw_dir, "curated": curated_dir}.get(cond.synthetic)
    if folder is None:
        raise ValueError(f"condition {cond.name}: synthetic source {cond.synthetic!r} has no folder")
    pool = sorted(Path(folder).glob("*.png"))
    if not pool:
        raise ValueError(f"condition {cond.name}: no synthetic images in {folder}")
    return pool


def training_set(
    metadata: str | Path,
    cond: Condition,
    seed: int,
    raw_dir: str | Path | None = None,
    curated_dir: str | Path | None = None,
    match: Condition | None = None,
) -> tuple[ImageSet, dict[str, Any]]:
    """The training images of ``cond`` and its composition (what metrics.json records).

    ``match`` is the condition named by ``cond.oversample_to``: the real minority images are
    repeated, in a seeded order, until there are as many minority images as ``match`` has.
    """
    meta = read_metadata(metadata)
    train = meta[(meta["split"] == "train") & ~meta["synthetic"]].sort_values("image_id")
    majority = train[train["target"] == 0]
    minority = train[train["target"] == 1] if cond.real_minority else train.iloc[0:0]
    ids, paths = (
        majority["image_id"].tolist() + minority["image_id"].tolist(),
        majority["path"].tolist() + minority["path"].tolist(),
    )
    target = [0] * len(majority) + [1] * len(minority)
    n_syn, available = 0, 0
    if cond.synthetic != "none":
        chosen, available = _synthetic_subset(cond, seed, raw_dir, curated_dir)
        n_syn = len(chosen)
        ids += [f"synthetic/{p.name}" for p in chosen]
        paths += [str(p) for p in chosen]
        target += [1] * n_syn
    n_repeats = 0
    if cond.oversample_to is not None:
        _, wanted = training_set(metadata, _matched(cond, match), seed, raw_dir, curated_dir)
        extra = _repeats(cond, minority, wanted["minority_total"] - len(minority), seed)
        n_repeats = len(extra)
        ids += [f"{i}#repeat{k}" for k, i in enumerate(extra["image_id"])]
        paths += extra["path"].tolist()
        target += [1] * n_repeats
    n_min = len(minority) + n_syn + n_repeats
    if n_min == 0 or len(majority) == 0:
        raise ValueError(f"condition {cond.name}: the training set needs both classes")
    composition = {
        "real_minority": len(minority),
        "synthetic_minority": n_syn,
        "majority": len(majority),
        "minority_total": n_min,
        "majority_per_minority": round(len(majority) / n_min, 4),
        "synthetic_source": cond.synthetic,
        "synthetic_requested": cond.n_synthetic if cond.synthetic != "none" else 0,
        "synthetic_available": available,
        "traditional_augmentation": cond.augment,
        "oversampled_to": cond.oversample_to,
        "oversampled_repeats": n_repeats,
    }
    syn = np.array([i.startswith("synthetic/") for i in ids])
    return ImageSet(ids, paths, np.array(target, int), syn), composition


BALANCED = "balanced"


def _synthetic_subset(cond: Condition, seed: int, raw_dir, curated_dir) -> tuple[list[Path], int]:
    """A seeded subset of the condition's synthetic pool: (chosen files, how many there were)."""
    pool = synthetic_pool(cond, raw_dir, curated_dir)
    n = min(cond.n_synthetic, len(pool))
    if n < cond.n_synthetic:
        log.warning(
            "condition %s: %d synthetic images asked for, %d available: using %d",
            cond.name,
            cond.n_synthetic,
            len(pool),
            n,
        )
    pick = sorted(np.random.default_rng(seed).choice(len(pool), size=n, replace=False))
    return [pool[i] for i in pick], len(pool)


def _matched(cond: Condition, match: Condition | None) -> Condition:
    if match is None or match.name != cond.oversample_to:
        raise ValueError(f"condition {cond.name}: oversample_to needs condition {cond.oversample_to!r}")
    return match


def _repeats(cond: Condition, minority, n: int, seed: int):
    """``n`` more rows of the real minority images, cycling through them in a seeded order, so
    each is repeated as evenly as possible."""
    if len(minority) == 0:
        raise ValueError(f"condition {cond.name}: no real minority images to oversample")
    order = np.random.default_rng(seed).permutation(len(minority))
    return minority.iloc[[order[k % len(minority)] for k in range(max(0, n))]]


def class_weights(mode: str | list[float], target: np.ndarray) -> list[float]:
    """``balanced`` (the default): N / (2 n_c) from this fit's own training set, so both classes
    carry the same total weight in every condition; or fixed [majority, minority] weights (the
    study's [1.0, 56.7], which give each condition a different DF : NV mass)."""
    if mode == BALANCED:
        counts = np.bincount(np.asarray(target, int), minlength=2).astype(float)
        return [float(len(target) / (2 * c)) for c in counts]
    return [float(w) for w in mode]


def weighted_mass(weights: list[float], target: np.ndarray) -> dict[str, float]:
    """Total loss weight of each class in a training set: equal under ``balanced``."""
    counts = np.bincount(np.asarray(target, int), minlength=2)
    return {"majority": float(weights[0] * counts[0]), "minority": float(weights[1] * counts[1])}
