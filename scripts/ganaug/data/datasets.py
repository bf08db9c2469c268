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
from ganaug.settings import MATCH_KEYS, Condition

log = logging.getLogger(__name__)


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
    # curated_random and curated_best come, like curated, as the fit's curated folder
    folder = (
        raw_dir if cond.synthetic == "raw" else curated_dir if cond.synthetic.startswith("curated") else None
    )
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
    extra: str | Path | None = None,
) -> tuple[ImageSet, dict[str, Any]]:
    """The training images of ``cond`` and its composition (what metrics.json records).

    ``match`` is the condition named by ``cond.oversample_to``: the real minority images are
    repeated, in a seeded order, until there are as many minority images as ``match`` has; or by
    ``cond.extra_real_to``: a seeded draw of as many images from the ``extra`` pool (its
    metadata.csv: real minority images of lesions in no split) as ``match`` adds synthetic ones;
    or by ``cond.synthetic_count_to``: ``synthetic_fraction`` x as many synthetic images as
    ``match`` adds, from this condition's own pool.
    """
    meta = read_metadata(metadata)
    train = meta[(meta["split"] == "train") & ~meta["synthetic"]].sort_values("image_id")
    majority = train[train["target"] == 0]
    minority = train[train["target"] == 1] if cond.real_minority else train.iloc[0:0]
    add_ids, add_paths, n = _additions(metadata, cond, seed, minority, raw_dir, curated_dir, match, extra)
    ids = majority["image_id"].tolist() + minority["image_id"].tolist() + add_ids
    paths = majority["path"].tolist() + minority["path"].tolist() + add_paths
    n_min = len(minority) + len(add_ids)
    target = [0] * len(majority) + [1] * n_min
    if n_min == 0 or len(majority) == 0:
        raise ValueError(f"condition {cond.name}: the training set needs both classes")
    composition = {
        "real_minority": len(minority),
        "synthetic_minority": n["synthetic"],
        "majority": len(majority),
        "minority_total": n_min,
        "majority_per_minority": round(len(majority) / n_min, 4),
        "synthetic_source": cond.synthetic,
        "synthetic_requested": n["requested"],
        "synthetic_count_to": cond.synthetic_count_to,
        "synthetic_fraction": cond.synthetic_fraction if cond.synthetic_count_to else None,
        "synthetic_available": n["available"],
        "traditional_augmentation": cond.augment,
        "oversampled_to": cond.oversample_to,
        "oversampled_repeats": n["repeats"],
        "extra_real_to": cond.extra_real_to,
        "extra_real_minority": n["extra"],
        "extra_real_available": n["extra_available"],
    }
    syn = np.array([i.startswith("synthetic/") for i in ids])
    return ImageSet(ids, paths, np.array(target, int), syn), composition


def _additions(metadata, cond, seed, minority, raw_dir, curated_dir, match, extra):
    """The minority images ``cond`` adds to the real ones, in this order: synthetic, repeated
    real (``oversample_to``), extra real (``extra_real_to``); their ids, paths and counts."""
    ids, paths = [], []
    n = {"synthetic": 0, "available": 0, "requested": 0, "repeats": 0, "extra": 0, "extra_available": 0}
    if cond.synthetic != "none":
        wanted = cond.n_synthetic
        if cond.synthetic_count_to is not None:
            _, matched = training_set(metadata, _matched(cond, match), seed, raw_dir, curated_dir)
            # half up (12.5 -> 13), not to even
            wanted = int(np.floor(cond.synthetic_fraction * matched["synthetic_minority"] + 0.5))
        chosen, n["available"] = _synthetic_subset(cond, wanted, seed, raw_dir, curated_dir)
        n["requested"] = wanted
        n["synthetic"] = len(chosen)
        ids += [f"synthetic/{p.name}" for p in chosen]
        paths += [str(p) for p in chosen]
    if cond.oversample_to is not None:
        _, wanted = training_set(metadata, _matched(cond, match), seed, raw_dir, curated_dir)
        more = _repeats(cond, minority, wanted["minority_total"] - len(minority), seed)
        n["repeats"] = len(more)
        ids += [f"{i}#repeat{k}" for k, i in enumerate(more["image_id"])]
        paths += more["path"].tolist()
    if cond.extra_real_to is not None:
        _, wanted = training_set(metadata, _matched(cond, match), seed, raw_dir, curated_dir)
        more, n["extra_available"] = _extra_real(cond, extra, wanted["synthetic_minority"], seed)
        n["extra"] = len(more)
        ids += [f"extra/{i}" for i in more["image_id"]]
        paths += more["path"].tolist()
    return ids, paths, n


BALANCED = "balanced"


def _synthetic_subset(
    cond: Condition, wanted: int, seed: int, raw_dir, curated_dir
) -> tuple[list[Path], int]:
    """The first ``wanted`` images of one seeded order of the condition's synthetic pool:
    (chosen files, how many there were). A prefix of one order, so with the same pool and seed a
    smaller set is always inside a larger one (gan_curated_25 inside gan_curated_50 inside
    gan_curated): the dose curve changes the count, not which images were drawn."""
    pool = synthetic_pool(cond, raw_dir, curated_dir)
    n = min(wanted, len(pool))
    if n < wanted:
        log.warning(
            "condition %s: %d synthetic images asked for, %d available: using %d",
            cond.name,
            wanted,
            len(pool),
            n,
        )
    pick = sorted(np.random.default_rng(seed).permutation(len(pool))[:n])
    return [pool[i] for i in pick], len(pool)


def _matched(cond: Condition, match: Condition | None) -> Condition:
    if match is None or match.name != cond.matched_to:
        which = next(k for k in MATCH_KEYS if getattr(cond, k))
        raise ValueError(f"condition {cond.name}: {which} needs condition {cond.matched_to!r}")
    return match


def _extra_real(cond: Condition, extra: str | Path | None, n: int, seed: int):
    """A seeded draw of ``n`` rows of the extra real minority pool (all of it when smaller), and
    the pool's size."""
    if extra is None:
        raise ValueError(f"condition {cond.name}: extra_real_to needs the extra real minority images")
    pool = read_metadata(extra).sort_values("image_id").reset_index(drop=True)
    k = min(n, len(pool))
    if k < n:
        log.warning(
            "condition %s: %d extra real images asked for, %d available: using %d", cond.name, n, len(pool), k
        )
    pick = sorted(np.random.default_rng(seed).choice(len(pool), size=k, replace=False))
    return pool.iloc[pick], len(pool)


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
