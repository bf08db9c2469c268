"""Adaptive discriminator augmentation (ADA; Karras et al., "Training Generative Adversarial
Networks with Limited Data", NeurIPS 2020): every image the discriminator sees, real or generated,
goes through the same random pipeline, each transform applied with probability p, and p is steered
so that the discriminator does not overfit the few real images.

The pipeline is the paper's 'bgc' (blit, geometric, colour; its appendix B and figure 2), in the
paper's order and with its parameter distributions:

- blit: xflip (a flip or not, 50/50), rotate90 (0, 90, 180 or 270 degrees), xint (an integer
  translation, uniform within 1/8 of the size a side);
- geometric: isotropic scaling (2^N(0, 0.2^2)), a first arbitrary rotation (uniform over the full
  circle), anisotropic scaling (x by 2^N(0, 0.2^2), y by its inverse), a second arbitrary rotation
  (each rotation with probability 1 - sqrt(1 - p), so that one or the other happens with
  probability p), a fractional translation (N(0, (1/8)^2) of the size a side);
- colour, as one 4 x 4 matrix on (r, g, b, 1) of images in [-1, 1]: brightness (+ N(0, 0.2^2) to
  every channel), contrast (x 2^N(0, 0.5^2)), luma flip (a Householder reflection of the luma axis,
  50/50), hue (a rotation about the luma axis, uniform over the full circle), saturation (the
  component orthogonal to the luma axis x 2^N(0, 1)).

Each is drawn per image: with probability p its parameter is drawn, else it is the identity. The
geometric transforms compose into one inverse matrix applied by bilinear resampling with
reflection at the borders (the paper pads by reflection too, and resamples at twice the size with
a wavelet filter against aliasing, which this does not; flips, 90-degree rotations and integer
translations land on pixel centres and are exact up to float rounding, tested).

Every random number comes from the ``torch.Generator`` passed in (the trainer's), so a resumed
run draws the same augmentations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

GEOMETRIC = ("xflip", "rotate90", "xint", "scale", "rotate", "aniso", "xfrac")
COLOUR = ("brightness", "contrast", "lumaflip", "hue", "saturation")
TRANSFORMS = GEOMETRIC + COLOUR
LUMA = torch.tensor([1.0, 1.0, 1.0, 0.0], dtype=torch.float64) / math.sqrt(3)  # the luma axis


@dataclass(frozen=True)
class Strengths:
    """The paper's parameter spreads (its defaults)."""

    xint_max: float = 0.125  # integer translation: at most this share of the size
    scale_std: float = 0.2  # log2 of the isotropic scale
    rotate_max: float = 1.0  # arbitrary rotation: uniform over +-pi times this
    aniso_std: float = 0.2  # log2 of the anisotropic scale
    xfrac_std: float = 0.125  # fractional translation: sd as a share of the size
    brightness_std: float = 0.2
    contrast_std: float = 0.5  # log2 of the contrast factor
    hue_max: float = 1.0  # hue rotation: uniform over +-pi times this
    saturation_std: float = 1.0  # log2 of the saturation factor


# ---------------------------------------------------------------- matrices (float64, batched)


def _eye(n: int, size: int) -> torch.Tensor:
    return torch.eye(size, dtype=torch.float64).repeat(n, 1, 1)


def translate2d(tx: torch.Tensor, ty: torch.Tensor) -> torch.Tensor:
    m = _eye(len(tx), 3)
    m[:, 0, 2], m[:, 1, 2] = tx, ty
    return m


def scale2d(sx: torch.Tensor, sy: torch.Tensor) -> torch.Tensor:
    m = _eye(len(sx), 3)
    m[:, 0, 0], m[:, 1, 1] = sx, sy
    return m


def rotate2d(theta: torch.Tensor) -> torch.Tensor:
    m = _eye(len(theta), 3)
    c, s = torch.cos(theta), torch.sin(theta)
    m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = c, -s, s, c
    return m


def brightness(b: torch.Tensor) -> torch.Tensor:
    m = _eye(len(b), 4)
    m[:, :3, 3] = b[:, None]
    return m


def contrast(c: torch.Tensor) -> torch.Tensor:
    m = _eye(len(c), 4)
    m[:, 0, 0] = m[:, 1, 1] = m[:, 2, 2] = c
    return m


def lumaflip(i: torch.Tensor) -> torch.Tensor:
    """I - 2 v v^T where i = 1 (the reflection across the plane orthogonal to the luma axis)."""
    return _eye(len(i), 4) - 2 * torch.outer(LUMA, LUMA)[None] * i[:, None, None]


def hue(theta: torch.Tensor) -> torch.Tensor:
    """Rotation by theta about the luma axis (Rodrigues' formula)."""
    v = LUMA[:3]
    k = torch.tensor([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]], dtype=torch.float64)
    s, c = torch.sin(theta)[:, None, None], torch.cos(theta)[:, None, None]
    m = _eye(len(theta), 4)
    m[:, :3, :3] = torch.eye(3, dtype=torch.float64) + s * k + (1 - c) * (k @ k)
    return m


def saturation(s: torch.Tensor) -> torch.Tensor:
    """v v^T + (I - v v^T) s: the luma component kept, the rest scaled by s."""
    vv = torch.outer(LUMA, LUMA)[None]
    return vv + (_eye(len(s), 4) - vv) * s[:, None, None]


# ---------------------------------------------------------------- the pipeline


def _where(apply: torch.Tensor, value: torch.Tensor, identity: float) -> torch.Tensor:
    return torch.where(apply, value, torch.full_like(value, identity))


def draw(n: int, size: int, p: float, g: torch.Generator, k: Strengths = Strengths()) -> dict:
    """Each transform's per-image parameter (the identity where it is not applied) and whether it
    was applied, for ``n`` images of ``size`` px: the random half of :func:`augment`."""

    def u(*shape):  # uniform [0, 1), float64, from the trainer's stream
        return torch.rand(shape, generator=g, device=g.device, dtype=torch.float64).cpu()

    def z(*shape):
        return torch.randn(shape, generator=g, device=g.device, dtype=torch.float64).cpu()

    out: dict[str, torch.Tensor] = {}
    applied: dict[str, torch.Tensor] = {}

    def gate(name: str, prob: float) -> torch.Tensor:
        applied[name] = u(n) < prob
        return applied[name]

    p_rot = 1 - math.sqrt(max(0.0, 1 - p))  # two chances at a rotation: p in all
    out["xflip"] = _where(gate("xflip", p), torch.floor(u(n) * 2), 0)
    out["rotate90"] = _where(gate("rotate90", p), torch.floor(u(n) * 4), 0)
    t = torch.round((u(n, 2) * 2 - 1) * k.xint_max * size)
    out["xint"] = torch.where(gate("xint", p)[:, None], t, torch.zeros_like(t))
    out["scale"] = _where(gate("scale", p), torch.exp2(z(n) * k.scale_std), 1)
    out["rotate"] = _where(gate("rotate", p_rot), (u(n) * 2 - 1) * math.pi * k.rotate_max, 0)
    out["aniso"] = _where(gate("aniso", p), torch.exp2(z(n) * k.aniso_std), 1)
    out["rotate_post"] = _where(gate("rotate_post", p_rot), (u(n) * 2 - 1) * math.pi * k.rotate_max, 0)
    t = z(n, 2) * k.xfrac_std * size
    out["xfrac"] = torch.where(gate("xfrac", p)[:, None], t, torch.zeros_like(t))
    out["brightness"] = _where(gate("brightness", p), z(n) * k.brightness_std, 0)
    out["contrast"] = _where(gate("contrast", p), torch.exp2(z(n) * k.contrast_std), 1)
    out["lumaflip"] = _where(gate("lumaflip", p), torch.floor(u(n) * 2), 0)
    out["hue"] = _where(gate("hue", p), (u(n) * 2 - 1) * math.pi * k.hue_max, 0)
    out["saturation"] = _where(gate("saturation", p), torch.exp2(z(n) * k.saturation_std), 1)
    return {"params": out, "applied": applied}


def geometric_matrix(params: dict, size: int) -> torch.Tensor:
    """The inverse of the composed geometric transform (output -> input coordinates), in pixels
    about the image centre, in the paper's order."""
    q = params
    m = scale2d(1 - 2 * q["xflip"], torch.ones_like(q["xflip"]))
    m = m @ rotate2d(-math.pi / 2 * q["rotate90"])
    m = m @ translate2d(-q["xint"][:, 0], -q["xint"][:, 1])
    m = m @ scale2d(1 / q["scale"], 1 / q["scale"])
    m = m @ rotate2d(-q["rotate"])
    m = m @ scale2d(1 / q["aniso"], q["aniso"])
    m = m @ rotate2d(-q["rotate_post"])
    return m @ translate2d(-q["xfrac"][:, 0], -q["xfrac"][:, 1])


def colour_matrix(params: dict) -> torch.Tensor:
    q = params
    m = brightness(q["brightness"])
    m = contrast(q["contrast"]) @ m
    m = lumaflip(q["lumaflip"]) @ m
    m = hue(q["hue"]) @ m
    return saturation(q["saturation"]) @ m


def apply_geometric(images: torch.Tensor, inverse: torch.Tensor) -> torch.Tensor:
    """Resample each image at its inverse-mapped pixel centres (bilinear, reflected borders).
    ``inverse`` is in pixels about the centre; grid_sample wants [-1, 1] (align_corners=False, so
    the pixel centres are at (2i + 1) / size - 1)."""
    n, _, h, w = images.shape
    to_norm = scale2d(
        torch.full((n,), 2 / w, dtype=torch.float64), torch.full((n,), 2 / h, dtype=torch.float64)
    )
    from_norm = scale2d(
        torch.full((n,), w / 2, dtype=torch.float64), torch.full((n,), h / 2, dtype=torch.float64)
    )
    theta = (to_norm @ inverse @ from_norm)[:, :2, :]
    grid = F.affine_grid(theta.to(images.device), [n, 3, h, w], align_corners=False)
    return F.grid_sample(images, grid.to(images.dtype), "bilinear", "reflection", align_corners=False)


def apply_colour(images: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """(r, g, b) -> M[:3, :3] (r, g, b) + M[:3, 3], per image."""
    n, c, h, w = images.shape
    m = m.to(images.device, images.dtype)
    return (m[:, :3, :3] @ images.reshape(n, c, h * w) + m[:, :3, 3:]).reshape(n, c, h, w)


def augment(images: torch.Tensor, p: float, g: torch.Generator, k: Strengths = Strengths()) -> torch.Tensor:
    """The pipeline at probability ``p`` (differentiable in the images: R1 and the generator's
    gradient pass through it). p = 0 returns the images untouched and draws nothing."""
    if p <= 0:
        return images
    drawn = draw(len(images), images.shape[-1], p, g, k)["params"]
    inverse = geometric_matrix(drawn, images.shape[-1])
    if not torch.equal(inverse, _eye(len(images), 3)):
        images = apply_geometric(images, inverse)
    return apply_colour(images, colour_matrix(drawn))


def adjust_p(p: float, sign_mean: float, target: float, n_images: int, speed_kimg: float) -> float:
    """ADA's controller: p moves by sign(r_t - target) x n_images / (speed_kimg x 1000), in [0, 1].
    r_t = E[sign(D(real))] over the last ``n_images`` real images: near 1 when the discriminator
    is sure of every real image (overfitting), near 0 when it cannot tell. The paper's speed: p
    can go from 0 to 1 in 500k images."""
    step = math.copysign(1.0, sign_mean - target) if sign_mean != target else 0.0
    return float(min(1.0, max(0.0, p + step * n_images / (speed_kimg * 1000))))
