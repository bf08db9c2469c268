"""LPIPS (VGG) between every synthetic and every real image, equal to the lpips package's.

LPIPS (Zhang et al. 2018) of images x, y is  sum_l mean_hw sum_c w_lc (f_l(x)_chw - f_l(y)_chw)^2
with f_l the channel-normalised VGG16 features of layer l and w_l the package's linear weights.
Expanding the square,  sum_c w (a - b)^2 = sum_c w a^2 + sum_c w b^2 - 2 sum_c w a b,  so each
image's features are computed once, its own term once, and every pairwise cross term is one
matrix product per layer. The VGG pass (about 0.5 s an image at 256 px on 2 cores) then runs once
per image instead of twice per pair.

Memory: the reference (real) images' normalised features are kept, C*H*W values per layer, about
8.0 M values an image at 256 px. In float32 that is 32 MB an image, 6.7 GB for 210 real images, so
they are stored in float16 (16 MB an image) and each cross term is accumulated in float32 over
blocks of ``BLOCK_VALUES`` values converted back on the fly. The features are unit vectors per
position (|value| <= 1), so float16 keeps them to a relative 2^-11 and the distances stay within
1e-5 of the lpips package's (tests/reference/test_ssim_lpips.py; `benchmarks/bench_scale.py`
measures memory at full size). Each image's own term is computed in float32 before rounding.
Synthetic images go through in chunks of ``chunk`` images, their features kept in float32.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from ganaug.models.registry import LPIPS_VGG16, RANDOM
from ganaug.weights import load_cached_state_dict

LPIPS_BACKBONES = ("imagenet", RANDOM)  # LPIPS is defined on VGG16: its ImageNet trunk or a random one

log = logging.getLogger(__name__)


def build_lpips(backbone: str, cache_dir: str | Path, seed: int = 42) -> torch.nn.Module:
    """The lpips package's LPIPS(net='vgg') with its shipped linear layers, and a VGG16 trunk that
    is either the ImageNet one from the weights cache or a seeded random init (offline demo)."""
    import lpips

    if backbone not in LPIPS_BACKBONES:
        raise ValueError(f"backbone must be one of {LPIPS_BACKBONES}, got {backbone!r}")
    torch.manual_seed(seed)  # a random trunk is reproducible
    model = lpips.LPIPS(net="vgg", pnet_rand=True, verbose=False)
    if backbone == "imagenet":
        state = load_cached_state_dict(LPIPS_VGG16, cache_dir)
        model.net.load_state_dict(_vgg_to_slices(state, model.net))
    return model.eval()


def _vgg_to_slices(state: dict, net: torch.nn.Module) -> dict:
    """torchvision's ``features.<i>.*`` keys -> the lpips trunk's ``slice<k>.<i>.*`` keys."""
    where = {}
    for key in net.state_dict():
        _, idx, param = key.split(".")
        where[f"features.{idx}.{param}"] = key
    return {where[k]: v for k, v in state.items() if k in where}


# values of a float32 block of reference features converted at a time (64 MB)
BLOCK_VALUES = 16 * 1024 * 1024


@dataclass
class Features:
    """Per layer: flattened normalised features (N, C*H*W) and each image's own term (N,), float32."""

    flat: list[torch.Tensor]
    own: list[torch.Tensor]
    hw: list[int]

    def __len__(self) -> int:
        return len(self.own[0])

    def rows(self, start: int, stop: int) -> Features:
        """Images start..stop, as float32 (a query chunk for ``FastLpips.distances``)."""
        flat = [f[start:stop].float() for f in self.flat]
        return Features(flat, [o[start:stop] for o in self.own], self.hw)


class FastLpips:
    def __init__(self, model: torch.nn.Module, device: torch.device):
        self.model = model.to(device).eval()
        self.device = device
        # the linear layers are 1x1 convolutions without bias: one weight per channel
        self.w = [lin.model[-1].weight.detach().view(-1).cpu() for lin in self.model.lins]

    @torch.no_grad()
    def features(self, images_u8: torch.Tensor) -> Features:
        """uint8 (N, 3, H, W) RGB -> features; the package expects inputs in [-1, 1]."""
        import lpips

        x = images_u8.to(self.device).float() / 127.5 - 1.0
        outs = self.model.net(self.model.scaling_layer(x))
        flat, own, hw = [], [], []
        for f, w in zip(outs, self.w, strict=True):
            f = lpips.normalize_tensor(f)
            n, c, h, wd = f.shape
            own.append((f * f * w.to(f.device).view(1, c, 1, 1)).sum(1).mean(dim=(1, 2)).cpu())
            flat.append(f.reshape(n, -1).cpu())
            hw.append(h * wd)
        return Features(flat, own, hw)

    def distances(self, a: Features, b: Features) -> torch.Tensor:
        """(len(a), len(b)) LPIPS distances from two feature sets; ``b`` may be stored in float16.

        The channel weights go onto float32 copies of blocks of ``b``, so ``a`` is never copied
        and at most BLOCK_VALUES values of ``b`` are float32 at a time."""
        total = None
        for fa, oa, fb, ob, w, hw in zip(a.flat, a.own, b.flat, b.own, self.w, a.hw, strict=True):
            c, d = len(w), fa.shape[1]
            cross = torch.empty(len(fa), len(fb))
            step = max(1, BLOCK_VALUES // d)
            for s in range(0, len(fb), step):
                block = fb[s : s + step].to(torch.float32).view(-1, c, d // c)
                block.mul_(w.view(1, c, 1))
                cross[:, s : s + step] = fa @ block.view(len(block), d).T
            layer = oa[:, None] + ob[None, :] - (2.0 / hw) * cross
            total = layer if total is None else total + layer
        return total


def min_lpips(
    fast: FastLpips,
    synthetic_u8: torch.Tensor,
    real_u8: torch.Tensor,
    chunk: int = 16,
    progress: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """For each synthetic image, its smallest LPIPS distance to the real images and that index."""
    real = features_in_chunks(fast, real_u8, chunk, storage=torch.float16)
    best, arg = [], []
    starts = range(0, len(synthetic_u8), chunk)
    if progress:
        from tqdm import tqdm

        starts = tqdm(starts, desc="lpips", unit="chunk")
    for start in starts:
        d = fast.distances(fast.features(synthetic_u8[start : start + chunk]), real)
        v, i = d.min(dim=1)
        best.append(v)
        arg.append(i)
    return torch.cat(best), torch.cat(arg)


def features_in_chunks(
    fast: FastLpips, images: torch.Tensor, chunk: int, storage: torch.dtype = torch.float16
) -> Features:
    """Features of many images, written chunk by chunk into preallocated ``storage`` tensors (no
    second copy at the end); the own terms stay float32."""
    out: Features | None = None
    for s in range(0, len(images), chunk):
        part = fast.features(images[s : s + chunk])
        if out is None:
            out = Features(
                [torch.empty(len(images), f.shape[1], dtype=storage) for f in part.flat],
                [torch.empty(len(images)) for _ in part.own],
                part.hw,
            )
        for k in range(len(part.flat)):
            out.flat[k][s : s + len(part)] = part.flat[k]
            out.own[k][s : s + len(part)] = part.own[k]
    return out
