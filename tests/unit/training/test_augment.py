"""The batched augmentation against the per-image reference it replaced: exactly equal for fixed
parameters, and the same stream of parameters, so traditional_aug fits are what they were."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from scipy import stats
from torchvision.transforms.v2 import functional as TF

from ganaug.training.augment import RANGES, apply, augment, draw_parameters, jitter, jitter_per_image


def _per_image_reference(x_u8: torch.Tensor, g: torch.Generator, padding: str) -> torch.Tensor:
    """The augmentation as it was written before (commit 97e90d7): torchvision's functional ops
    image by image, and grid_sample one image at a time."""
    n = x_u8.shape[0]
    x = x_u8.float() / 255.0
    u = lambda lo, hi: torch.rand(n, generator=g) * (hi - lo) + lo  # noqa: E731
    angle = u(-30, 30) * math.pi / 180
    scale = u(0.9, 1.1)
    tx, ty = u(-0.1, 0.1) * 2, u(-0.1, 0.1) * 2
    fx = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0)
    fy = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0)
    b, c, s, h = u(0.8, 1.2), u(0.8, 1.2), u(0.8, 1.2), u(-0.1, 0.1)
    out = []
    for i in range(n):
        cos, sin = torch.cos(angle[i]) / scale[i], torch.sin(angle[i]) / scale[i]
        theta = torch.stack(
            [torch.stack([cos * fx[i], -sin * fx[i], tx[i]]), torch.stack([sin * fy[i], cos * fy[i], ty[i]])]
        )[None]
        grid = F.affine_grid(theta, [1, *x.shape[1:]], align_corners=False)
        xi = F.grid_sample(x[i : i + 1], grid, mode="bilinear", padding_mode=padding, align_corners=False)[0]
        xi = TF.adjust_brightness(xi, float(b[i]))
        xi = TF.adjust_contrast(xi, float(c[i]))
        xi = TF.adjust_saturation(xi, float(s[i]))
        out.append(TF.adjust_hue(xi, float(h[i])))
    return torch.stack(out).clamp(0, 1)


@pytest.mark.parametrize(
    ("size", "padding", "seed"), [(32, "reflection", 1), (64, "zeros", 2), (256, "reflection", 3)]
)
def test_batched_augmentation_equals_the_per_image_reference_exactly(size, padding, seed):
    x = torch.randint(
        0, 256, (7, 3, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed)
    )
    new = augment(x, torch.Generator().manual_seed(seed), padding)
    ref = _per_image_reference(x, torch.Generator().manual_seed(seed), padding)
    assert torch.equal(new, ref)


def test_batched_jitter_equals_torchvision_per_image_for_fixed_factors():
    g = torch.Generator().manual_seed(7)
    x = torch.rand(9, 3, 256, 256, generator=g)  # the study's size, where a batch reduction differs
    x[0] = 0.0  # a black image (hue undefined) and a saturated one
    x[1] = 1.0
    factors = [torch.rand(9, generator=g) * 0.4 + 0.8 for _ in range(3)] + [
        torch.rand(9, generator=g) * 0.2 - 0.1
    ]
    factors[0][2] = 1.2  # the ends of the ranges
    factors[3][3] = -0.1
    assert torch.equal(jitter(x.clone(), *factors), jitter_per_image(x.clone(), *factors))


def test_parameters_follow_the_study_ranges_and_differ_per_image():
    p = draw_parameters(torch.Generator().manual_seed(0), 4000)
    for name, (lo, hi) in RANGES.items():
        v = p[name].numpy()
        assert lo <= v.min() and v.max() <= hi, name
        assert stats.kstest(v, stats.uniform(lo, hi - lo).cdf).pvalue > 1e-3, name
    for flip in ("flip_x", "flip_y"):
        assert set(p[flip].unique().tolist()) == {-1.0, 1.0}
        assert stats.binomtest(int((p[flip] > 0).sum()), 4000).pvalue > 1e-3
    # one stream: the same seed gives the same parameters; apply() with them gives augment()'s images
    x = torch.randint(0, 256, (5, 3, 16, 16), dtype=torch.uint8)
    again = draw_parameters(torch.Generator().manual_seed(0), 5)
    assert torch.equal(augment(x, torch.Generator().manual_seed(0)), apply(x, again))
