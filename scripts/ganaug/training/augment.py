"""The study's traditional augmentation, on uint8 image batches, per image, on the device.

Rotation up to 30 degrees, horizontal and vertical flips, colour jitter (brightness, contrast
and saturation 0.2, hue 0.1) and an affine translation up to 10 % with scale 0.9-1.1 (the
torchvision transforms the study lists). The geometric part is one affine matrix per image,
applied with a single ``grid_sample`` call; every random number comes from the caller's
generator, so an epoch is reproducible.

Padding: a rotated or shifted image needs pixels from outside it. The study's torchvision
defaults fill them with black, and only the minority (DF) images are augmented, so black
corners would become a mark of the label that a network can learn instead of the lesion.
``reflection`` (the default) mirrors the image into the gap, which leaves no such mark;
``zeros`` is the study's, selectable.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torchvision.transforms.v2 import functional as TF


def _u(g: torch.Generator, n: int, lo: float, hi: float) -> torch.Tensor:
    return torch.rand(n, generator=g) * (hi - lo) + lo


PADDINGS = ("reflection", "zeros")


def augment(x_u8: torch.Tensor, g: torch.Generator, padding: str = "reflection") -> torch.Tensor:
    """uint8 (N, 3, H, W) -> float (N, 3, H, W) in [0, 1], each image transformed on its own."""
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
    n = x_u8.shape[0]
    dev = x_u8.device
    x = x_u8.float() / 255.0
    # geometry: output pixel -> input pixel, in normalised coordinates
    angle = _u(g, n, -30, 30) * math.pi / 180
    scale = _u(g, n, 0.9, 1.1)
    tx, ty = _u(g, n, -0.1, 0.1) * 2, _u(g, n, -0.1, 0.1) * 2  # 10 % of the side, in [-1, 1] units
    fx = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0)
    fy = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos * fx, -sin * fx, tx], 1), torch.stack([sin * fy, cos * fy, ty], 1)], 1
    ).to(dev)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode=padding, align_corners=False)
    # colour jitter, one factor per image (torchvision's functional ops take one per call)
    b, c, s = _u(g, n, 0.8, 1.2), _u(g, n, 0.8, 1.2), _u(g, n, 0.8, 1.2)
    h = _u(g, n, -0.1, 0.1)
    out = []
    for i in range(n):
        xi = TF.adjust_brightness(x[i], float(b[i]))
        xi = TF.adjust_contrast(xi, float(c[i]))
        xi = TF.adjust_saturation(xi, float(s[i]))
        out.append(TF.adjust_hue(xi, float(h[i])))
    return torch.stack(out).clamp(0, 1)
