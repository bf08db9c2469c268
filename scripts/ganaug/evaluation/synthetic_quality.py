"""Every GAN metric of one synthetic set against the real train-split minority images.

Only train-split images are read as the reference: the test split never informs anything about
the GAN. Every figure carries the two set sizes it was computed from, and the feature
extractor's label (a random-init stand-in is marked not comparable).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from ganaug.curation.lpips_fast import FastLpips, features_in_chunks, min_lpips
from ganaug.curation.ssim import max_ssim
from ganaug.evaluation.features import InceptionFeatures, extract
from ganaug.evaluation.gan_metrics import (
    fid_from_features,
    inception_score,
    kernel_inception_distance,
    precision_recall,
)

log = logging.getLogger(__name__)


@dataclass
class Settings:
    batch_size: int = 50
    is_splits: int = 10
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    pr_k: int = 3
    lpips_diversity_images: int = 100
    lpips_chunk: int = 32
    seed: int = 42


@dataclass
class Reference:
    """The real images once: ids, RGB and greyscale pixels, Inception features and logits."""

    ids: list[str]
    rgb: np.ndarray
    grey: np.ndarray
    pool: np.ndarray
    logits: np.ndarray


def grey_of(rgb_u8: np.ndarray) -> np.ndarray:
    """ITU-R BT.601 luma, rounded, as OpenCV's BGR2GRAY (what the curation SSIM stage reads)."""
    import cv2

    return np.stack(
        [cv2.cvtColor(np.ascontiguousarray(im.transpose(1, 2, 0)), cv2.COLOR_RGB2GRAY) for im in rgb_u8]
    )


def reference(
    ids: list[str], rgb_u8: np.ndarray, extractor: InceptionFeatures, device: torch.device, s: Settings
) -> Reference:
    pool, logits = extract(extractor, rgb_u8, device, s.batch_size, desc="real")
    return Reference(list(ids), rgb_u8, grey_of(rgb_u8), pool, logits)


@dataclass
class SetResult:
    """One set's summary, the per-image figures its means come from, and its features."""

    summary: dict
    per_image: pd.DataFrame
    pool: np.ndarray
    logits: np.ndarray


def feature_metrics(real_pool: np.ndarray, pool: np.ndarray, logits: np.ndarray, s: Settings) -> dict:
    """FID, IS, KID and precision/recall from features: what results/gan/features.npz recomputes."""
    return {
        "fid": fid_from_features(real_pool, pool),
        "inception_score": inception_score(logits, s.is_splits, s.seed),
        "kid": kernel_inception_distance(real_pool, pool, s.kid_subsets, s.kid_subset_size, s.seed),
        **precision_recall(real_pool, pool, s.pr_k),
    }


def mean_sd(x) -> dict[str, float]:
    x = np.asarray(x, dtype=np.float64)
    return {"mean": float(x.mean()), "sd": float(x.std(ddof=1)) if len(x) > 1 else None}


def lpips_diversity(
    fast: FastLpips, names: list[str], rgb_u8: np.ndarray, n: int, chunk: int, seed: int
) -> dict[str, object]:
    """Mean LPIPS over all pairs of a seeded sample of at most ``n`` images of one set.

    All pairs of a sample, not of the whole set: features are kept in memory (about 32 MB an
    image at 256 px), so the sample bounds memory; the sample size is recorded.
    """
    idx = np.sort(np.random.default_rng(seed).choice(len(rgb_u8), min(n, len(rgb_u8)), replace=False))
    feats = features_in_chunks(fast, torch.from_numpy(np.ascontiguousarray(rgb_u8[idx])), chunk)
    d = fast.distances(feats, feats).double().numpy()
    iu = np.triu_indices(len(idx), k=1)
    return {**mean_sd(d[iu]), "n_images": len(idx), "n_pairs": len(iu[0]), "images": [names[i] for i in idx]}


def evaluate_set(
    names: list[str],
    rgb_u8: np.ndarray,
    ref: Reference,
    extractor: InceptionFeatures,
    fast: FastLpips,
    lpips_label: str,
    device: torch.device,
    s: Settings,
    desc: str,
) -> SetResult:
    """All metrics of one synthetic set (uint8 (N, 3, H, W) RGB) against the reference."""
    if rgb_u8.shape[1:] != ref.rgb.shape[1:]:
        raise ValueError(f"{desc}: synthetic images are {rgb_u8.shape[1:]}, real ones {ref.rgb.shape[1:]}")
    pool, logits = extract(extractor, rgb_u8, device, s.batch_size, desc=desc)
    log.info("%s: FID, IS, KID, precision/recall on %d synthetic vs %d real", desc, len(pool), len(ref.pool))
    if len(names) != len(rgb_u8):
        raise ValueError(f"{desc}: {len(names)} names for {len(rgb_u8)} images")
    near, near_i = min_lpips(
        fast, torch.from_numpy(rgb_u8), torch.from_numpy(ref.rgb), chunk=s.lpips_chunk, progress=True
    )
    best_ssim, ssim_i = max_ssim(torch.from_numpy(grey_of(rgb_u8)), torch.from_numpy(ref.grey), progress=True)
    per_image = pd.DataFrame(
        {
            "image": names,
            "lpips_to_nearest_real": near.double().numpy(),
            "nearest_real_lpips": [ref.ids[i] for i in near_i],
            "ssim_best_match": best_ssim.double().numpy(),
            "nearest_real_ssim": [ref.ids[i] for i in ssim_i],
        }
    )
    summary = {
        "n_synthetic": len(rgb_u8),
        "n_real": len(ref.rgb),
        **feature_metrics(ref.pool, pool, logits, s),
        "lpips_to_nearest_real": mean_sd(per_image["lpips_to_nearest_real"]),
        "lpips_diversity": lpips_diversity(
            fast, names, rgb_u8, s.lpips_diversity_images, s.lpips_chunk, s.seed
        ),
        "lpips_backbone": lpips_label,
        "ssim_best_match": mean_sd(per_image["ssim_best_match"]),
    }
    return SetResult(summary, per_image, pool, logits)
