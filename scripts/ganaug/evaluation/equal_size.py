"""GAN metrics at equal sizes: every synthetic set against every real reference, n images a side.

FID, KID, precision/recall and nearest-neighbour figures all depend on how many images each side
has: for a perfect generator (synthetic and real drawn from one distribution) FID was 5.4
against the train-split DF images (about 167) and 8.6 against the validation ones (about 36),
and precision 0.79 against 0.86. So "closer to train than to val" followed from size alone. Here
both sides are subsampled, seeded, to the smallest set's size ``n`` (usually the validation
reference), ``draws`` times, and each figure is the mean and sd over the draws. The draws'
indices are kept, so every figure is recomputed from the features and distances stored beside it.

Pure functions of feature matrices and distance matrices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ganaug.evaluation.gan_metrics import (
    fid_from_features,
    inception_score,
    kernel_inception_distance,
    precision_recall,
)
from ganaug.evaluation.sample_metrics import alpha_beta_authenticity, density_coverage

DENSITY_COVERAGE = ("density", "coverage")
SAMPLE_LEVEL = ("alpha_precision", "beta_recall", "authenticity")


def draws(n_set: int, n_ref: int, n: int, k: int, set_seed, ref_seed) -> list[tuple[np.ndarray, np.ndarray]]:
    """``k`` seeded pairs of index sets of ``n`` images each (sorted; all of a side that has n).
    The two sides draw from streams of their own: every set compared with one reference gets the
    same reference subsamples, so two sets differ by themselves, not by the draw. When both sides
    have n images there is one draw: all of them."""
    if n_set == n and n_ref == n:
        k = 1
    rs, rr = np.random.default_rng(set_seed), np.random.default_rng(ref_seed)

    def pick(total: int, rng: np.random.Generator) -> np.ndarray:
        return np.arange(total) if total == n else np.sort(rng.choice(total, n, replace=False))

    return [(pick(n_set, rs), pick(n_ref, rr)) for _ in range(k)]


def mean_sd(values) -> dict:
    x = np.asarray([v for v in values if v is not None], dtype=np.float64)
    if len(x) == 0:
        return {"mean": None, "sd": None}
    return {"mean": float(x.mean()), "sd": float(x.std(ddof=1)) if len(x) > 1 else None}


@dataclass(frozen=True)
class Knobs:
    """What a draw's figures depend on besides the images: the figures' names on this
    extractor's features and the KID and precision/recall settings."""

    names: dict  # fd, kd: what the Frechet and kernel distances are called (FID, KID on Inception)
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    pr_k: int = 3
    seed: int = 42


def feature_draw(set_pool, ref_pool, i: np.ndarray, j: np.ndarray, k: Knobs) -> dict:
    """The figures of one draw that come from features alone: set rows ``i`` against reference
    rows ``j`` (on Inception's features, and on DINOv2's)."""
    n = len(i)
    size = min(k.kid_subset_size, n)
    # with every image of both sides in each subset, all subsets are the same one
    kid = kernel_inception_distance(ref_pool[j], set_pool[i], k.kid_subsets if size < n else 1, size, k.seed)
    out = {k.names["fd"]: fid_from_features(ref_pool[j], set_pool[i]), k.names["kd"]: kid["mean"]}
    if n > k.pr_k:
        out |= {m: v for m, v in precision_recall(ref_pool[j], set_pool[i], k.pr_k).items() if m != "k"}
        # density and coverage with the same k (Naeem et al. 2020)
        out |= density_coverage(ref_pool[j], set_pool[i], k.pr_k)
    if n >= 2:  # Alaa et al. 2022: fidelity, diversity and memorisation, each a number
        ab = alpha_beta_authenticity(ref_pool[j], set_pool[i])
        out |= {m: ab[m] for m in SAMPLE_LEVEL}
    return out


def one_draw(set_pool, ref_pool, lpips, ssim, i: np.ndarray, j: np.ndarray, k: Knobs) -> dict:
    """Every figure of one draw: the features' figures, and the nearest real image by LPIPS and
    by SSIM."""
    return feature_draw(set_pool, ref_pool, i, j, k) | {
        "lpips_to_nearest_real": float(lpips[np.ix_(i, j)].min(axis=1).mean()),
        "ssim_best_match": float(ssim[np.ix_(i, j)].max(axis=1).mean()),
    }


def _over_draws(per: list[dict], keys: list[str], n: int, n_set: int, n_real: int, k: Knobs) -> dict:
    """Mean, sd and every draw's value of each figure."""
    out = {"n_per_side": n, "draws": len(per), "n_set": n_set, "n_real": n_real}
    for key in keys:
        vals = [d.get(key) for d in per]
        out[key] = mean_sd(vals) | {"per_draw": vals}
        if all(v is None for v in vals):
            out[key]["why"] = (
                f"not estimable: improved precision/recall, density and coverage with k = {k.pr_k} need "
                f"more than {k.pr_k} images a side"
            )
    out["kid_subset_size"] = min(k.kid_subset_size, n)
    out["kid_subsets"] = k.kid_subsets if out["kid_subset_size"] < n else 1
    out["pr_k"] = k.pr_k
    return out


def _feature_keys(k: Knobs) -> list[str]:
    return [k.names["fd"], k.names["kd"], "precision", "recall", *DENSITY_COVERAGE, *SAMPLE_LEVEL]


def against(
    set_pool, ref_pool, lpips, ssim, n: int, index: list[tuple[np.ndarray, np.ndarray]], k: Knobs
) -> dict:
    """The figures of one set against one reference over the draws: mean, sd and each draw."""
    per = [one_draw(set_pool, ref_pool, lpips, ssim, i, j, k) for i, j in index]
    keys = [*_feature_keys(k), "lpips_to_nearest_real", "ssim_best_match"]
    return _over_draws(per, keys, n, len(set_pool), len(ref_pool), k)


def against_features(
    set_pool, ref_pool, n: int, index: list[tuple[np.ndarray, np.ndarray]], k: Knobs
) -> dict:
    """The features' figures alone over the same draws (the DINOv2 space: the draws are the
    Inception figures', so the two spaces judge the same images)."""
    per = [feature_draw(set_pool, ref_pool, i, j, k) for i, j in index]
    return _over_draws(per, _feature_keys(k), n, len(set_pool), len(ref_pool), k)


MIN_PER_SPLIT = 10  # images an Inception Score split needs to mean anything


def score_at(logits: np.ndarray, n: int, k: int, splits: int, seed: int) -> dict:
    """The Inception Score of a set (synthetic or real) at ``n`` images, over ``k`` seeded
    draws, so every set's score is at one size: in at most ``splits`` splits of at least 10
    images (one split below 20 images)."""
    index = draws(len(logits), len(logits), n, k, seed, seed)
    s = max(1, min(splits, n // MIN_PER_SPLIT))
    vals = [inception_score(logits[i], s, seed)["mean"] for i, _ in index]
    return mean_sd(vals) | {"n": n, "draws": len(index), "splits": s}
