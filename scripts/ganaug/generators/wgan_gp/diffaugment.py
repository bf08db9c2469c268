"""DiffAugment for the critic's inputs (Zhao et al. 2020, "Differentiable Augmentation for
Data-Efficient GAN Training", policy "color,translation,cutout").

With a few hundred training images the critic memorises the real set and the generator's
gradients stop carrying information; augmenting *both* real and generated images with the
same differentiable transforms, in every critic and generator step, is known to cut FID sharply
in that regime. Every random number comes from the caller's generator (on the CPU), so a run
is reproducible and resumable.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

POLICIES = ("color", "translation", "cutout")


def _rand(g: torch.Generator, *shape: int, device: torch.device) -> torch.Tensor:
    # drawn where the generator lives (the CPU, or the GPU when training there)
    return torch.rand(*shape, generator=g, device=g.device).to(device)


def color(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    b, dev = x.shape[0], x.device
    x = x + (_rand(g, b, 1, 1, 1, device=dev) - 0.5)  # brightness
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (_rand(g, b, 1, 1, 1, device=dev) * 2) + mean  # saturation
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (_rand(g, b, 1, 1, 1, device=dev) + 0.5) + mean  # contrast


def translation(x: torch.Tensor, g: torch.Generator, ratio: float = 0.125) -> torch.Tensor:
    b, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ty = torch.randint(-sh, sh + 1, (b, 1, 1), generator=g, device=g.device).to(x.device)
    tx = torch.randint(-sw, sw + 1, (b, 1, 1), generator=g, device=g.device).to(x.device)
    gb, gy, gx = torch.meshgrid(
        torch.arange(b, device=x.device),
        torch.arange(h, device=x.device),
        torch.arange(w, device=x.device),
        indexing="ij",
    )
    gy = torch.clamp(gy + ty + 1, 0, h + 1)
    gx = torch.clamp(gx + tx + 1, 0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1])  # the shifted-in border is zeros
    return padded.permute(0, 2, 3, 1)[gb, gy, gx].permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, g: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    oy = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), generator=g, device=g.device).to(x.device)
    ox = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), generator=g, device=g.device).to(x.device)
    gb, gy, gx = torch.meshgrid(
        torch.arange(b, device=x.device),
        torch.arange(ch, device=x.device),
        torch.arange(cw, device=x.device),
        indexing="ij",
    )
    gy = torch.clamp(gy + oy - ch // 2, 0, h - 1)
    gx = torch.clamp(gx + ox - cw // 2, 0, w - 1)
    mask = torch.ones(b, h, w, dtype=x.dtype, device=x.device)
    mask[gb, gy, gx] = 0
    return x * mask.unsqueeze(1)


_FUNCS = {"color": color, "translation": translation, "cutout": cutout}


def parse_policy(policy: str) -> tuple[str, ...]:
    names = tuple(p.strip() for p in policy.split(",") if p.strip())
    unknown = [n for n in names if n not in _FUNCS]
    if unknown:
        raise ValueError(f"unknown DiffAugment policy {unknown}; allowed: {', '.join(POLICIES)}")
    return names


def diff_augment(x: torch.Tensor, policy: tuple[str, ...], g: torch.Generator) -> torch.Tensor:
    for name in policy:
        x = _FUNCS[name](x, g)
    return x.contiguous()
