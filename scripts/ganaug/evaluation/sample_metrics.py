"""Sample-level generator metrics that tell fidelity, diversity and memorisation apart, on the
same features and the same equal-size draws as FID and improved precision/recall
(``ganaug.evaluation.equal_size``):

- **density and coverage** (Naeem, Oh, Uh, Choi & Yoo, "Reliable Fidelity and Diversity Metrics
  for Generative Models", ICML 2020), as the authors' ``prdc`` package computes them: each real
  image's ball reaches its k-th nearest real neighbour; density counts how many real balls hold
  each synthetic image (divided by k, so about 1 when the two match; above 1 where the synthetic
  images crowd into dense real regions), coverage is the share of real balls that hold at least
  one synthetic image. Strict inequalities, as in ``prdc``;
- **alpha-precision, beta-recall and authenticity** (Alaa, van Breugel, Saveliev & van der
  Schaar, "How Faithful is your Synthetic Data?", ICML 2022), in the features themselves (the
  paper's one-class embedding replaced by the identity, as the "naive" variants of its
  successors do):
  - alpha-precision at alpha: the share of synthetic images within the real alpha-support, the
    ball around the real mean whose radius is the alpha-quantile of the real images' distances
    to it; its integrated score IP = 1 - 2 x the mean |P_alpha - alpha| over the alpha grid (1
    when P_alpha = alpha throughout);
  - beta-recall at beta: the share of real images whose nearest synthetic image is at most as far
    as their own nearest real neighbour and lies in the synthetic beta-support (its distance to
    the synthetic mean at most the beta-quantile of those distances); IR likewise;
  - authenticity: the share of synthetic images farther from their nearest real image than that
    real image is from its own nearest real neighbour (the paper's definition, per synthetic
    image; the authors' code compares against the wrong image's neighbour distance, indexing the
    real neighbour distances by a synthetic index).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist

ALPHA_STEPS = 30  # the alpha and beta grid, 0 to 1, as in the authors' code


def _kth_radius(x: np.ndarray, k: int) -> np.ndarray:
    """Each point's distance to its k-th nearest other point."""
    d = cdist(x, x)
    return np.partition(d, k, axis=1)[:, k]  # column 0 is the point itself (distance 0)


def density_coverage(real: np.ndarray, synthetic: np.ndarray, k: int = 5) -> dict[str, float]:
    """Naeem et al. 2020's density and coverage with k nearest neighbours."""
    real, synthetic = np.asarray(real, np.float64), np.asarray(synthetic, np.float64)
    if len(real) <= k:
        raise ValueError(f"density and coverage with k={k} need more than {k} real images")
    radius = _kth_radius(real, k)
    d = cdist(real, synthetic)  # (real, synthetic)
    inside = d < radius[:, None]
    return {
        "density": float(inside.sum(axis=0).mean() / k),
        "coverage": float((d.min(axis=1) < radius).mean()),
    }


def _integrated(curve: np.ndarray, alphas: np.ndarray) -> float:
    return float(1 - 2 * np.abs(curve - alphas).sum() * (alphas[1] - alphas[0]))


def alpha_beta_authenticity(real: np.ndarray, synthetic: np.ndarray, steps: int = ALPHA_STEPS) -> dict:
    """Alaa et al. 2022's alpha-precision and beta-recall curves and integrated scores, and
    authenticity, in the feature space."""
    real, synthetic = np.asarray(real, np.float64), np.asarray(synthetic, np.float64)
    if len(real) < 2 or len(synthetic) < 1:
        raise ValueError("alpha-precision needs two real images and one synthetic")
    alphas = np.linspace(0, 1, steps)
    centre = real.mean(axis=0)
    radii = np.quantile(np.linalg.norm(real - centre, axis=1), alphas)
    to_centre = np.linalg.norm(synthetic - centre, axis=1)
    precision = np.array([(to_centre <= r).mean() for r in radii])
    rr = cdist(real, real)
    np.fill_diagonal(rr, np.inf)
    real_nn = rr.min(axis=1)  # each real image's nearest other real image
    rs = cdist(real, synthetic)
    nearest_synth = rs.argmin(axis=1)
    close = rs.min(axis=1) <= real_nn
    from_synth_centre = np.linalg.norm(synthetic[nearest_synth] - synthetic.mean(axis=0), axis=1)
    beta_radii = np.quantile(from_synth_centre, alphas)
    recall = np.array([(close & (from_synth_centre <= r)).mean() for r in beta_radii])
    nearest_real = rs.argmin(axis=0)  # each synthetic image's nearest real image
    authentic = rs.min(axis=0) > real_nn[nearest_real]
    return {
        "alpha_precision": _integrated(precision, alphas),
        "beta_recall": _integrated(recall, alphas),
        "authenticity": float(authentic.mean()),
        "alphas": alphas.tolist(),
        "alpha_precision_curve": precision.tolist(),
        "beta_recall_curve": recall.tolist(),
    }
