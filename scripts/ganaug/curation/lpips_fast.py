"""LPIPS (VGG) between every synthetic and every real image, equal to the lpips package's.

LPIPS (Zhang et al. 2018) of images x, y is  sum_l mean_hw sum_c w_lc (f_l(x)_chw - f_l(y)_chw)^2
with f_l the channel-normalised VGG16 features of layer l and w_l the package's linear weights.
Expanding the square,  sum_c w (a - b)^2 = sum_c w a^2 + sum_c w b^2 - 2 sum_c w a b,  so each
image's features are computed once, its own term once, and every pairwise cross term is one
matrix product per layer. The VGG pass (about 0.5 s an image at 256 px on 2 cores) then runs once
per image instead of twice per pair.

Memory: the reference (real) images' normalised features are kept, H*W*C values per layer, about
8.0 M values an image at 256 px. In float32 that is 32 MB an image, 6.7 GB for 210 real images, so
they are stored in float16 (16 MB an image) and each cross term is accumulated in float32 over
column slices of about ``BLOCK_VALUES`` values converted back on the fly. The features are unit
vectors per position (|value| <= 1), so float16 keeps them to a relative 2^-11: the distances
stay within the tested 1e-4 of the lpips package's (tests/reference/test_ssim_lpips.py; about
3e-6 on the demo; `benchmarks/bench_scale.py --lpips-memory` measures memory and the difference
at full size). Each image's own term is computed in float32 before rounding.
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


# values converted to float32 at a time per product (4 MB): column slices this small stay in
# cache, so the conversion and the product read each stored value once
BLOCK_VALUES = 1024 * 1024
# images per VGG pass: at 256 px a pass holds about 80 MB of activations per image, and 4 run as
# fast per image as 8 or 16 on the CPU (measured)
VGG_BATCH = 4


def _large_blocks_to_mmap() -> None:
    """Have glibc serve allocations of 1 MiB and more by mmap, so that the many freed VGG and
    conversion buffers go back to the system at once instead of fragmenting the heap: measured
    at full size, the stage's RSS otherwise creeps by about 0.5 GB above what it holds. A no-op
    where glibc's mallopt is not there."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-3, 1 << 20)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass


@dataclass
class Features:
    """Per layer: flattened normalised features (N, H*W*C, position-major), float16 or float32,
    and each image's own term (N,), float32."""

    flat: list[torch.Tensor]
    own: list[torch.Tensor]
    hw: list[int]

    def __len__(self) -> int:
        return len(self.own[0])

    def rows(self, start: int, stop: int) -> Features:
        """Images start..stop (a query block for ``FastLpips.distances``), as stored."""
        return Features([f[start:stop] for f in self.flat], [o[start:stop] for o in self.own], self.hw)


class FastLpips:
    def __init__(self, model: torch.nn.Module, device: torch.device):
        # channels_last: about 1.5x faster VGG convolutions on CPU (measured), same values to 1e-6
        self.model = model.to(device).eval().to(memory_format=torch.channels_last)
        self.device = device
        # the linear layers are 1x1 convolutions without bias: one weight per channel
        self.w = [lin.model[-1].weight.detach().view(-1).cpu() for lin in self.model.lins]

    @torch.no_grad()
    def features(self, images_u8: torch.Tensor, storage: torch.dtype = torch.float32) -> Features:
        """uint8 (N, 3, H, W) RGB -> features (the package expects inputs in [-1, 1]). The VGG
        slices run one at a time, so each layer's float32 output is normalised, reduced to its
        own term and stored as ``storage`` before the next layer's is made."""
        h = images_u8.to(self.device).float() / 127.5 - 1.0
        h = self.model.scaling_layer(h).contiguous(memory_format=torch.channels_last)
        slices = [getattr(self.model.net, f"slice{k}") for k in range(1, len(self.w) + 1)]
        flat, own, hw = [], [], []
        for vgg_slice, w in zip(slices, self.w, strict=True):
            h = vgg_slice(h)
            # lpips.normalize_tensor, without its squared copy: unit length over channels
            f = h / (torch.linalg.vector_norm(h, dim=1, keepdim=True) + 1e-10)
            n, _, hh, ww = f.shape
            # own term: mean over positions of sum_c w_c f_c^2 = (per-channel sums of squares) . w / HW
            sq = torch.linalg.vector_norm(f, dim=(2, 3)).square()
            own.append((sq @ w.to(f.device)).div(hh * ww).cpu())
            # flattened position-major (h, w, c): a free view of the channels_last tensor, where
            # the channel of value k is k % c; both sides of every product use this order
            flat.append(f.permute(0, 2, 3, 1).reshape(n, -1).to("cpu", storage))
            hw.append(hh * ww)
        return Features(flat, own, hw)

    def distances(self, a: Features, b: Features) -> torch.Tensor:
        """(len(a), len(b)) LPIPS distances from two feature sets, each float16 or float32.

        Both are read in column slices of about BLOCK_VALUES values, each converted to float32
        once and multiplied while still in cache (the channel weights go onto ``a``'s slice), the
        partial cross terms summed in float32. Slices start at a position boundary, so the
        channel of column j of a slice is j % C."""
        total = None
        for fa, oa, fb, ob, w, hw in zip(a.flat, a.own, b.flat, b.own, self.w, a.hw, strict=True):
            c, d = len(w), fa.shape[1]
            step = max(1, BLOCK_VALUES // max(1, len(fa) + len(fb)) // c) * c
            tiled = w.repeat(step // c)
            cross = torch.zeros(len(fa), len(fb))
            for s in range(0, d, step):
                qa = fa[:, s : s + step].to(torch.float32) * tiled[: min(step, d - s)]
                cross += qa @ fb[:, s : s + step].to(torch.float32).T
            layer = oa[:, None] + ob[None, :] - (2.0 / hw) * cross
            total = layer if total is None else total + layer
        return total


def min_lpips(
    fast: FastLpips,
    synthetic_u8: torch.Tensor,  # or anything that gives uint8 tensors by slice (LazyImages)
    real_u8: torch.Tensor,
    chunk: int = 16,
    progress: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """For each synthetic image, its smallest LPIPS distance to the real images and that index.
    The synthetic images go ``chunk`` at a time: each block's features (float16) are compared
    with the stored real ones in one pass over them, so a larger chunk reads the store less often."""
    _large_blocks_to_mmap()
    real = features_in_chunks(fast, real_u8, VGG_BATCH, storage=torch.float16)
    best, arg = [], []
    starts = range(0, len(synthetic_u8), chunk)
    if progress:
        from tqdm import tqdm

        starts = tqdm(starts, desc="lpips", unit="chunk")
    for start in starts:
        block = features_in_chunks(
            fast, synthetic_u8[start : start + chunk], VGG_BATCH, storage=torch.float16
        )
        v, i = fast.distances(block, real).min(dim=1)
        del block  # before the next block is made
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
        part = fast.features(images[s : s + chunk], storage)
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
