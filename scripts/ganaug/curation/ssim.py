"""SSIM of every synthetic image against every real one, equal to skimage's, computed in bulk.

``skimage.metrics.structural_similarity(a, b)`` on uint8 greyscale images with its defaults
(7x7 uniform window, data_range 255, K1 0.01, K2 0.03, sample covariance N/(N-1), mean over the
image less a 3-pixel border; Wang et al. 2004) needs, per window, the means and variances of
each image and the mean of their product. Means and variances depend on one image only and are
computed once per image (:class:`ImageStats`); only the product term is per pair.

Numerics: images are centred (x - 128) and kept as float32, whose integers are exact up to
2^24, so the 7x7 window sums of x and of x*y (at most 49 * 128^2 = 802,816) are exact. The one
cancellation left, sum(xy)/49 - sum(x) sum(y)/49^2, is on centred values, where float32 keeps
the covariance to about 1e-3 against C2 = 58.5: SSIM agrees with skimage to about 1e-6.

Speed: the per-pair work (product, 7x7 box sum, SSIM formula, mean) is one fused loop compiled
by numba and run in parallel over pairs, with sliding window sums (exact in float32 for the
same reason), so nothing but the running sums touches memory between the steps.
"""

from __future__ import annotations

import numba
import numpy as np
import torch

WIN = 7  # skimage's default win_size
NP = WIN * WIN
COV_NORM = NP / (NP - 1)  # skimage's use_sample_covariance=True
K1, K2, DATA_RANGE = 0.01, 0.03, 255.0
C1, C2 = (K1 * DATA_RANGE) ** 2, (K2 * DATA_RANGE) ** 2
CENTRE = 128.0


def window_sums(x: torch.Tensor) -> torch.Tensor:
    """Sums over every full 7x7 window of the last two dims: (..., H-6, W-6)."""
    h, w = x.shape[-2:]
    rows = x[..., : w - WIN + 1] + x[..., 1 : w - WIN + 2]
    for k in range(2, WIN):
        rows += x[..., k : w - WIN + 1 + k]
    out = rows[..., : h - WIN + 1, :] + rows[..., 1 : h - WIN + 2, :]
    for k in range(2, WIN):
        out += rows[..., k : h - WIN + 1 + k, :]
    return out


class ImageStats:
    """What SSIM needs of one image alone: centred pixels, window means and variances."""

    def __init__(self, grey_u8: torch.Tensor):
        if grey_u8.dtype != torch.uint8 or grey_u8.dim() != 3:
            raise ValueError("expected uint8 greyscale images of shape (N, H, W)")
        if min(grey_u8.shape[1:]) < WIN:
            raise ValueError(f"images must be at least {WIN} px on each side")
        self.x = grey_u8.float() - CENTRE
        s = window_sums(self.x).double()
        ss = window_sums(self.x * self.x).double()
        self.s = s.float()  # window sum of centred x (exact integers)
        mu = s / NP + CENTRE
        self.mu = mu.float()  # window mean
        self.mu2 = (2 * mu).float()  # 2 * window mean, for 2 mu_a mu_b
        self.musq = (mu * mu).float()  # mu^2
        self.var = (COV_NORM * (ss / NP - (s / NP) ** 2)).float()  # sample variance
        self.ux = (COV_NORM / NP**2 * s).float()  # for the mean-product part of the covariance

    def __len__(self) -> int:
        return len(self.x)


# reassoc/contract let LLVM vectorise the per-row sum and fuse multiply-adds: the window sums
# stay exact (integers), the formula changes in the last bits only (tested against skimage)
@numba.njit(parallel=True, cache=True, fastmath={"reassoc", "contract", "arcp"})
def _pair_means(
    xa, xb, ux_a, mu2_a, musq_a, var_a, s_b, mu_b, musq_b, var_b, k_cov, c1, c2
):  # pragma: no cover
    """Mean SSIM for every (i, j): numba-compiled, so coverage cannot see inside."""
    na, h, w = xa.shape
    nb = xb.shape[0]
    oh, ow = h - 6, w - 6
    out = np.empty((na, nb), dtype=np.float64)
    for p in numba.prange(na * nb):
        i, j = p // nb, p % nb
        prod = np.empty(w, dtype=np.float32)
        ring = np.zeros((7, ow), dtype=np.float32)  # the last 7 rows' horizontal window sums
        col = np.zeros(ow, dtype=np.float32)  # their sum: the 7x7 window sums of x*y
        acc = 0.0
        for r in range(h):
            for c in range(w):
                prod[c] = xa[i, r, c] * xb[j, r, c]
            slot = r % 7
            for c in range(ow):
                rw = (
                    prod[c]
                    + prod[c + 1]
                    + prod[c + 2]
                    + prod[c + 3]
                    + prod[c + 4]
                    + prod[c + 5]
                    + prod[c + 6]
                )
                col[c] += rw - ring[slot, c]
                ring[slot, c] = rw
            if r >= 6:
                y = r - 6
                row_acc = 0.0
                for c in range(ow):
                    cov = k_cov * col[c] - ux_a[i, y, c] * s_b[j, y, c]
                    num = (mu2_a[i, y, c] * mu_b[j, y, c] + c1) * (2.0 * cov + c2)
                    den = (musq_a[i, y, c] + musq_b[j, y, c] + c1) * (var_a[i, y, c] + var_b[j, y, c] + c2)
                    row_acc += num / den
                acc += row_acc
        out[i, j] = acc / (oh * ow)
    return out


def ssim_pairs(a: ImageStats, b: ImageStats) -> torch.Tensor:
    """(len(a), len(b)) matrix of mean SSIM."""
    f = lambda t: np.ascontiguousarray(t.numpy(), dtype=np.float32)  # noqa: E731
    out = _pair_means(
        f(a.x),
        f(b.x),
        f(a.ux),
        f(a.mu2),
        f(a.musq),
        f(a.var),
        f(b.s),
        f(b.mu),
        f(b.musq),
        f(b.var),
        np.float32(COV_NORM / NP),
        np.float32(C1),
        np.float32(C2),
    )
    return torch.from_numpy(out)


def ssim_blocks(synthetic_u8: torch.Tensor, real_u8: torch.Tensor, chunk: int = 64, progress: bool = False):
    """The SSIM of the synthetic images to every real image, ``chunk`` rows at a time."""
    real = ImageStats(real_u8)
    starts = range(0, len(synthetic_u8), chunk)
    if progress:
        from tqdm import tqdm

        starts = tqdm(starts, desc="ssim", unit="chunk")
    for start in starts:
        yield ssim_pairs(ImageStats(synthetic_u8[start : start + chunk]), real)


def max_ssim(
    synthetic_u8: torch.Tensor, real_u8: torch.Tensor, chunk: int = 64, progress: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """For each synthetic image, its highest SSIM over the real images and that image's index."""
    best, arg = [], []
    for m in ssim_blocks(synthetic_u8, real_u8, chunk, progress):
        v, i = m.max(dim=1)
        best.append(v)
        arg.append(i)
    return torch.cat(best), torch.cat(arg)


def ssim_matrix(
    a_u8: torch.Tensor, b_u8: torch.Tensor, chunk: int = 64, progress: bool = False
) -> torch.Tensor:
    """(len(a), len(b)) SSIM of every pair."""
    return torch.cat(list(ssim_blocks(a_u8, b_u8, chunk, progress)))
