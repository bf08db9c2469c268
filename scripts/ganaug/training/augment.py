"""The study's traditional augmentation, on uint8 image batches, on the device, each image with
its own random parameters and all of them in one set of batched kernels.

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

Colour jitter is batched: every image's factor is a tensor broadcast over its pixels, in the very
operations of torchvision's functional kernels (``addcmul`` computes ``_blend``'s
``mul().add_(alpha=)`` to the bit), so the output equals the per-image torchvision loop
(:func:`jitter_per_image`, kept as the reference the tests and ``benchmarks/bench_hot_loop.py``
compare against) exactly, in about 12 kernels a batch and one an image (its mean grey) instead of
about 40 an image. The GPU runs the batch; the CPU, where the per-image loop is faster, the loop.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torchvision.transforms.v2 import functional as TF
from torchvision.transforms.v2.functional._color import _hsv_to_rgb, _rgb_to_hsv

from ganaug.runtime import to_device


def _u(g: torch.Generator, n: int, lo: float, hi: float) -> torch.Tensor:
    return torch.rand(n, generator=g) * (hi - lo) + lo


PADDINGS = ("reflection", "zeros")


# name -> (low, high) of the uniform draws, one per image; flips are fair coins
RANGES = {
    "angle": (-30.0, 30.0),  # degrees
    "scale": (0.9, 1.1),
    "tx": (-0.1, 0.1),  # fractions of the side
    "ty": (-0.1, 0.1),
    "brightness": (0.8, 1.2),
    "contrast": (0.8, 1.2),
    "saturation": (0.8, 1.2),
    "hue": (-0.1, 0.1),
}


def draw_parameters(g: torch.Generator, n: int) -> dict[str, torch.Tensor]:
    """Every random number of one batch's augmentation, on the generator's device, in the order
    the stream has always been drawn (so an epoch reproduces earlier runs)."""
    p = {k: _u(g, n, *RANGES[k]) for k in ("angle", "scale", "tx", "ty")}
    p["flip_x"] = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0)
    p["flip_y"] = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0)
    p |= {k: _u(g, n, *RANGES[k]) for k in ("brightness", "contrast", "saturation", "hue")}
    return p


def affine_matrices(p: dict[str, torch.Tensor]) -> torch.Tensor:
    """(N, 2, 3): output pixel -> input pixel, in normalised coordinates."""
    angle = p["angle"] * math.pi / 180
    cos, sin = torch.cos(angle) / p["scale"], torch.sin(angle) / p["scale"]
    fx, fy = p["flip_x"], p["flip_y"]
    tx, ty = p["tx"] * 2, p["ty"] * 2  # 10 % of the side, in [-1, 1] units
    return torch.stack(
        [torch.stack([cos * fx, -sin * fx, tx], 1), torch.stack([sin * fy, cos * fy, ty], 1)], 1
    )


def augment(x_u8: torch.Tensor, g: torch.Generator, padding: str = "reflection") -> torch.Tensor:
    """uint8 (N, 3, H, W) -> float (N, 3, H, W) in [0, 1], each image transformed on its own."""
    return apply(x_u8, draw_parameters(g, x_u8.shape[0]), padding)


def apply(x_u8: torch.Tensor, p: dict[str, torch.Tensor], padding: str = "reflection") -> torch.Tensor:
    """The augmentation with given parameters: one affine grid_sample, then the colour jitter."""
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
    dev = x_u8.device
    x = x_u8.float() / 255.0
    theta = affine_matrices(p)
    jit = torch.stack([p[k] for k in ("brightness", "contrast", "saturation", "hue")])
    if dev.type != "cpu":
        # the parameters are drawn on the host: one copy to the device (page-locked on a GPU, so
        # that it does not wait for it)
        both = to_device(torch.cat([theta.flatten(), jit.flatten()]), dev)
        theta, jit = both[: theta.numel()].view_as(theta), both[theta.numel() :].view_as(jit)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode=padding, align_corners=False)
    b, c, s, h = jit
    # the same numbers either way (tested); each device gets its faster form: on a GPU the batch
    # (launches), on a CPU image by image (each image stays in cache; bench_hot_loop.py measured
    # the batch 1.5x slower there at 256 px)
    colour = jitter_per_image if dev.type == "cpu" else jitter
    return colour(x, b, c, s, h).clamp(0, 1)


def _gray(x: torch.Tensor) -> torch.Tensor:
    # torchvision's _rgb_to_grayscale_image, operation for operation
    r, g, b = x.unbind(dim=-3)
    return r.mul(0.2989).add_(g, alpha=0.587).add_(b, alpha=0.114).unsqueeze(dim=-3)


def _blend(x: torch.Tensor, other: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
    # torchvision's _blend, x * r + other * (1 - r), with one ratio per image
    return torch.addcmul(x * ratio, other, 1.0 - ratio).clamp_(0, 1)


def jitter(
    x: torch.Tensor, b: torch.Tensor, c: torch.Tensor, s: torch.Tensor, h: torch.Tensor
) -> torch.Tensor:
    """Brightness, contrast, saturation, then hue, on float (N, 3, H, W) in [0, 1], with one
    factor of each per image (shape (N,)): torchvision's adjust_* in one batch."""
    v = lambda t: t.to(x.dtype).view(-1, 1, 1, 1)  # noqa: E731 - a broadcast, four times
    x = x.mul(v(b)).clamp_(0, 1)
    # each image's mean grey, one reduction an image: a reduction over the batch sums each
    # image's 65,536 values in another order at 256 px (off in the last bit, measured), and the
    # contrast of every later pixel would follow it
    x = _blend(x, torch.stack([gi.mean(dim=(-3, -2, -1), keepdim=True) for gi in _gray(x)]), v(c))
    x = _blend(x, _gray(x), v(s))
    hue, sat, val = _rgb_to_hsv(x).unbind(dim=-3)
    hue = hue.add(h.to(x.dtype).view(-1, 1, 1)).remainder_(1.0)
    return _hsv_to_rgb(torch.stack((hue, sat, val), dim=-3))


def jitter_per_image(
    x: torch.Tensor, b: torch.Tensor, c: torch.Tensor, s: torch.Tensor, h: torch.Tensor
) -> torch.Tensor:
    """The reference: torchvision's functional ops, one image and one call at a time."""
    out = []
    for i in range(x.shape[0]):
        xi = TF.adjust_brightness(x[i], float(b[i]))
        xi = TF.adjust_contrast(xi, float(c[i]))
        xi = TF.adjust_saturation(xi, float(s[i]))
        out.append(TF.adjust_hue(xi, float(h[i])))
    return torch.stack(out)
