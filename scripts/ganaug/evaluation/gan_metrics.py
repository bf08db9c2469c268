"""Sample-quality metrics of a synthetic image set against real images, from extracted features.

Pure functions of feature matrices (rows are images), so each one is tested against its reference
implementation (pytorch-fid, torch-fidelity) on fresh random features:

- Frechet distance (Heusel et al. 2017) between Gaussians fitted to the two feature sets.
- Inception Score (Salimans et al. 2016) from classifier logits, over ``splits`` splits.
- Kernel Inception Distance (Binkowski et al. 2018): the unbiased MMD^2 with the cubic polynomial
  kernel, averaged over random subsets.
- Improved precision and recall (Kynkaanniemi et al. 2019): the fraction of one set inside the
  union of the other set's k-nearest-neighbour balls.

FID and KID on a few hundred images are biased upward (FID strongly so); callers record the set
sizes beside every figure.
"""

from __future__ import annotations

import numpy as np
import torch


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased, ddof=1) covariance, in float64, as pytorch-fid computes them."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise ValueError(f"need at least 2 feature rows of shape (N, D), got {f.shape}")
    return f.mean(axis=0), np.cov(f, rowvar=False)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2)).

    tr((S1 S2)^(1/2)) is the sum of the square roots of the eigenvalues of S1 S2. Those equal the
    eigenvalues of the symmetric PSD matrix S1^(1/2) S2 S1^(1/2) (similar matrices), so they are
    real and non-negative, and two symmetric eigendecompositions (eigh) find them: measured 8x
    faster than pytorch-fid's scipy sqrtm of the non-symmetric product at D = 2048, equal to it
    to 1e-6 on full-rank covariances (benchmarks/bench_frechet.py, tests).

    With fewer images than dimensions the covariances are singular: rounding leaves their zero
    eigenvalues at about +-1e-15 of the largest, negative ones are set to 0, and the square root
    magnifies the rest to about 3e-8 each. Against the closed form of singular commuting
    covariances both this and sqrtm are off by about 1e-6 (D = 40) to 4e-5 (D = 2048, rank 300);
    that is the accuracy of any FID computed from a few hundred images.
    """
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    s1, s2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (len(mu1), len(mu1)):
        raise ValueError(f"shapes differ: mu {mu1.shape} vs {mu2.shape}, sigma {s1.shape} vs {s2.shape}")
    w, v = np.linalg.eigh((s1 + s1.T) / 2)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T  # S1^(1/2), symmetric PSD
    middle = root1 @ s2 @ root1
    tr_covmean = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * tr_covmean)


def frechet_distance_of_samples(x1: np.ndarray, x2: np.ndarray) -> float:
    """The same distance for sample covariances of fewer images than dimensions, exactly, in
    the span of the samples: with centred X_i and S_i = X_i^T X_i / (n_i - 1), the eigenvalues of
    S1 S2 are the squared singular values of M = X1 X2^T / sqrt((n1 - 1)(n2 - 1)), so
    tr((S1 S2)^(1/2)) is the sum of M's singular values, an (n1 x n2) problem instead of two
    D x D eigendecompositions (equal to the D x D route and to pytorch-fid to 1e-6, tested)."""
    a, b = np.asarray(x1, dtype=np.float64), np.asarray(x2, dtype=np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or min(len(a), len(b)) < 2:
        raise ValueError(f"need two (N >= 2, D) feature sets of one D, got {a.shape} and {b.shape}")
    ca, cb = a - a.mean(0), b - b.mean(0)
    na, nb = len(a) - 1, len(b) - 1
    tr_covmean = np.linalg.svd(ca @ cb.T / np.sqrt(na * nb), compute_uv=False).sum()
    diff = a.mean(0) - b.mean(0)
    return float(diff @ diff + (ca**2).sum() / na + (cb**2).sum() / nb - 2 * tr_covmean)


def fid_from_features(real: np.ndarray, synthetic: np.ndarray) -> float:
    """The Frechet distance of two feature sets: in the samples' span when they have fewer
    images than dimensions (the DF sets: tens to hundreds of images, 2,048 dimensions)."""
    real, synthetic = np.asarray(real), np.asarray(synthetic)
    if len(real) + len(synthetic) < real.shape[1]:
        return frechet_distance_of_samples(real, synthetic)
    return frechet_distance(*gaussian_stats(real), *gaussian_stats(synthetic))


def inception_score(logits: np.ndarray, splits: int = 10, seed: int = 42) -> dict[str, float]:
    """exp(E_x KL(p(y|x) || p(y))) per split of a seeded shuffle, then mean and sd over splits.

    The same shuffle (numpy RandomState(seed).permutation) and split boundaries as
    torch-fidelity, so the two agree exactly on the same logits.
    """
    z = torch.as_tensor(np.asarray(logits), dtype=torch.float64)
    n = len(z)
    if n < splits:
        raise ValueError(f"Inception Score with {splits} splits needs at least {splits} images, got {n}")
    z = z[np.random.RandomState(seed).permutation(n)]
    log_p = z.log_softmax(dim=1)
    scores = []
    for i in range(splits):
        lp = log_p[i * n // splits : (i + 1) * n // splits]
        # log of the split's marginal p(y), from the log-probabilities for stability
        log_q = torch.logsumexp(lp, dim=0) - np.log(len(lp))
        kl = (lp.exp() * (lp - log_q)).sum(dim=1).mean()
        scores.append(float(kl.exp()))
    return {"mean": float(np.mean(scores)), "sd": float(np.std(scores)), "splits": splits}


def _poly_kernel(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    # the KID kernel: (x.y / d + 1)^3
    return (x @ y.T / x.shape[1] + 1.0) ** 3


def _mmd2_unbiased(kxx: np.ndarray, kxy: np.ndarray, kyy: np.ndarray) -> float:
    """Unbiased MMD^2 of two equal-size samples: within-set means leave out the diagonal."""
    m = len(kxx)
    within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(within - 2 * kxy.sum() / (m * m))


def kernel_inception_distance(
    real: np.ndarray, synthetic: np.ndarray, subsets: int = 100, subset_size: int = 1000, seed: int = 42
) -> dict[str, float]:
    """Mean and sd of the unbiased MMD^2 over ``subsets`` random subsets of each set.

    The subset size is capped at the smaller set (sampling is without replacement), and the
    size used is returned. Subsets are drawn as torch-fidelity draws them (one RandomState(seed),
    synthetic then real per subset), so the two agree exactly.
    """
    x = np.asarray(synthetic, dtype=np.float64)
    y = np.asarray(real, dtype=np.float64)
    size = min(subset_size, len(x), len(y))
    if size < 2:
        raise ValueError(f"KID needs at least 2 images in each set, got {len(x)} and {len(y)}")
    rng = np.random.RandomState(seed)
    mmds = np.empty(subsets)
    for i in range(subsets):
        a = x[rng.choice(len(x), size, replace=False)]
        b = y[rng.choice(len(y), size, replace=False)]
        mmds[i] = _mmd2_unbiased(_poly_kernel(a, a), _poly_kernel(a, b), _poly_kernel(b, b))
    return {"mean": float(mmds.mean()), "sd": float(mmds.std()), "subsets": subsets, "subset_size": size}


def _kth_neighbour_radius(f: torch.Tensor, k: int) -> torch.Tensor:
    # the k-th smallest distance excluding the point itself (its own distance 0 is the 1st)
    return torch.cdist(f, f).kthvalue(k + 1, dim=1).values


def precision_recall(real: np.ndarray, synthetic: np.ndarray, k: int = 3) -> dict[str, float]:
    """Improved precision (synthetic inside the real manifold) and recall (real inside the
    synthetic manifold); each manifold is the union of balls to every point's k-th neighbour.

    A point on a ball's boundary counts as inside (<=), as in the paper and torch-fidelity.
    """
    r = torch.as_tensor(np.asarray(real), dtype=torch.float64)
    s = torch.as_tensor(np.asarray(synthetic), dtype=torch.float64)
    if min(len(r), len(s)) <= k:
        raise ValueError(f"precision/recall with k={k} needs more than {k} images in each set")
    d = torch.cdist(s, r)  # (synthetic, real)
    precision = (d <= _kth_neighbour_radius(r, k)[None, :]).any(dim=1).double().mean()
    recall = (_kth_neighbour_radius(s, k)[None, :] >= d.T).any(dim=1).double().mean()
    return {"precision": float(precision), "recall": float(recall), "k": k}
