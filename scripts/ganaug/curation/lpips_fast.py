"""LPIPS (VGG) between every synthetic and every real image, equal to the lpips package's.

LPIPS (Zhang et al. 2018) of images x, y is  sum_l mean_hw sum_c w_lc (f_l(x)_chw - f_l(y)_chw)^2
with f_l the channel-normalised VGG16 features of layer l and w_l the package's linear weights.
Expanding the square,  sum_c w (a - b)^2 = sum_c w a^2 + sum_c w b^2 - 2 sum_c w a b,  so each
image's features are computed once, its own term once, and every pairwise cross term is one
matrix product per layer. The VGG pass (about 0.3 s an image at 256 px on 2 cores, 40 GFLOP) then
runs once per image instead of twice per pair.

Memory: the reference (real) images' normalised features are kept, H*W*C values per layer, about
8.0 M values an image at 256 px. In float32 that is 32 MB an image, 6.7 GB for 210 real images, so
they are stored in float16 (16 MB an image) and each cross term is accumulated in float32 over
column slices of about ``BLOCK_VALUES`` values converted back on the fly. The features are unit
vectors per position (|value| <= 1), so float16 keeps them to a relative 2^-11: the distances
stay within the tested 1e-4 of the lpips package's (tests/reference/test_ssim_lpips.py; about
3e-6 on the demo; `benchmarks/bench_scale.py --lpips-memory` measures memory and the difference
at full size). Each image's own term is computed in float32 before rounding.
Synthetic images go through ``chunk`` at a time, into one float16 block store made once.
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
# images per VGG pass: at 256 px a pass holds about 80 MB of activations per image. Small passes
# are no slower per image on the CPU and hold less: benchmarks/bench_curation.py --stages batches
# measured 0.309, 0.325 and 0.351 s an image at 2, 4 and 8, in alternation (an earlier run: 0.351,
# 0.357, 0.369)
VGG_BATCH = 2


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

    def to(self, device: torch.device) -> Features:
        return Features([f.to(device) for f in self.flat], [o.to(device) for o in self.own], self.hw)


class FastLpips:
    def __init__(self, model: torch.nn.Module, device: torch.device):
        # channels_last: about 1.5x faster VGG convolutions on CPU (measured), same values to 1e-6
        self.model = model.to(device).eval().to(memory_format=torch.channels_last)
        self.device = device
        # the linear layers are 1x1 convolutions without bias: one weight per channel
        self.w = [lin.model[-1].weight.detach().view(-1).cpu() for lin in self.model.lins]
        self._resident: tuple[Features, Features] | None = None  # (a host store, its device copy)

    def empty(self, n: int, size: int, storage: torch.dtype = torch.float16) -> Features:
        """A store for the features of ``n`` images of ``size`` px (filled by ``features_in_chunks``).
        VGG16's slices 2..5 each halve the side."""
        hw = [(size >> k) ** 2 for k in range(len(self.w))]
        flat = [torch.empty(n, p * len(w), dtype=storage) for p, w in zip(hw, self.w, strict=True)]
        return Features(flat, [torch.empty(n) for _ in self.w], hw)

    @torch.no_grad()
    def features(self, images_u8: torch.Tensor, storage: torch.dtype = torch.float32) -> Features:
        """uint8 (N, 3, H, W) RGB -> features (the package expects inputs in [-1, 1])."""
        out = self.empty(len(images_u8), images_u8.shape[-1], storage)
        self.features_into(images_u8, out, 0)
        return out

    @torch.no_grad()
    def features_into(self, images_u8: torch.Tensor, out: Features, at: int) -> None:
        """Write the images' features into rows at.. of ``out``. The VGG slices run one at a time;
        each layer's output, once the next slice has read it, is normalised in place, written in
        the store's dtype and reduced to its own term, so no layer-sized temporary is made."""
        h = images_u8.to(self.device).float() / 127.5 - 1.0
        h = self.model.scaling_layer(h).contiguous(memory_format=torch.channels_last)
        slices = [getattr(self.model.net, f"slice{k}") for k in range(1, len(self.w) + 1)]
        done = None
        for k, vgg_slice in enumerate(slices):
            h = vgg_slice(h)
            if done is not None:
                self._store(done, k - 1, out, at)  # the next slice has read it: free to overwrite
            done = h
        self._store(done, len(slices) - 1, out, at)

    def _store(self, h: torch.Tensor, k: int, out: Features, at: int) -> None:
        n, c, hh, ww = h.shape
        if hh * ww != out.hw[k]:
            raise ValueError(f"layer {k + 1} is {hh}x{ww}: the store was made for {out.hw[k]} positions")
        # position-major (h, w, c) rows: a free view of the channels_last tensor, where the
        # channel of value j is j % c; both sides of every product use this order
        x = h.permute(0, 2, 3, 1).reshape(n * hh * ww, c)
        # lpips.normalize_tensor: unit length over channels (eps 1e-10 as the package's)
        x.mul_(torch.linalg.vector_norm(x, dim=1).add_(1e-10).reciprocal_()[:, None])
        out.flat[k][at : at + n].view(n * hh * ww, c).copy_(x)  # rounded as it is stored
        # own term: mean over positions of sum_c w_c f_c^2, from the float32 values
        own = (x.square_() @ self.w[k].to(x.device)).view(n, -1).mean(dim=1)
        out.own[k][at : at + n] = own.cpu()

    def distances(self, a: Features, b: Features) -> torch.Tensor:
        """(len(a), len(b)) LPIPS distances from two feature sets, each float16 or float32.

        Both are read in column slices of about BLOCK_VALUES values, converted to float32 into
        buffers made once (the channel weights go onto ``a``'s slice in the same pass) and
        multiplied while still in cache, the partial cross terms summed in float32. Slices start
        at a position boundary, so the channel of column j of a slice is j % C. Reusing the
        buffers spares an allocation, and its page faults, per slice: with fresh pages for every
        slice (glibc's mmap threshold once set at 1 MiB here) the products ran 4x slower."""
        if a.hw != b.hw:  # columns would pair up wrongly (and quietly) across image sizes
            raise ValueError(f"features of different image sizes: {a.hw[0]} against {b.hw[0]} positions")
        dev = self.device
        if dev.type == "cuda":
            # on a GPU the products run there: ``b`` (the real set, the same store every call) is
            # copied over once and kept, ``a`` (a block of synthetic images) each call; on the CPU
            # (2 threads) they took minutes while the job held the GPU slot
            if self._resident is None or self._resident[0] is not b:
                self._resident = (b, b.to(dev))
            a, b = a.to(dev), self._resident[1]
        total = torch.zeros(len(b), len(a), device=dev)
        for fa, oa, fb, ob, w, hw in zip(a.flat, a.own, b.flat, b.own, self.w, a.hw, strict=True):
            c, d = len(w), fa.shape[1]
            step = min(d, max(1, BLOCK_VALUES // max(1, len(fa) + len(fb)) // c) * c)
            if dev.type == "cuda":  # no cache to stay in: slices of 256 MB, fewer launches
                step = min(d, max(1, 64 * BLOCK_VALUES // max(1, len(fa) + len(fb)) // c) * c)
            tiled = w.to(dev).repeat(step // c)
            buf_a, buf_b = torch.empty(len(fa), step, device=dev), torch.empty(len(fb), step, device=dev)
            cross = torch.zeros(len(fb), len(fa), device=dev)
            for s in range(0, d, step):
                m = min(step, d - s)
                qa, qb = buf_a[:, :m], buf_b[:, :m]
                torch.mul(fa[:, s : s + m], tiled[:m], out=qa)
                qb.copy_(fb[:, s : s + m])
                # b's rows as the product's rows: the larger side, the faster orientation (measured)
                cross.addmm_(qb, qa.T)
            total += ob[:, None] + oa[None, :] - (2.0 / hw) * cross
        return total.T.contiguous().cpu()


def lpips_blocks(
    fast: FastLpips,
    synthetic_u8: torch.Tensor,  # or anything that gives uint8 tensors by slice (LazyImages)
    real_u8: torch.Tensor,
    chunk: int = 16,
    progress: bool = False,
):
    """The LPIPS distances of the synthetic images to every real image, ``chunk`` synthetic rows
    at a time. The synthetic images go into one float16 store made once: each block is compared
    with the stored real ones in one pass over them, so a larger chunk reads the real store less
    often."""
    real = features_in_chunks(fast, real_u8, VGG_BATCH, storage=torch.float16)
    block = fast.empty(min(chunk, len(synthetic_u8)), real_u8.shape[-1], torch.float16)
    starts = range(0, len(synthetic_u8), chunk)
    if progress:
        from tqdm import tqdm

        starts = tqdm(starts, desc="lpips", unit="chunk")
    for start in starts:
        images = synthetic_u8[start : start + chunk]
        features_in_chunks(fast, images, VGG_BATCH, out=block)
        yield fast.distances(block.rows(0, len(images)), real)


def min_lpips(
    fast: FastLpips,
    synthetic_u8: torch.Tensor,
    real_u8: torch.Tensor,
    chunk: int = 16,
    progress: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """For each synthetic image, its smallest LPIPS distance to the real images and that index."""
    best, arg = [], []
    for d in lpips_blocks(fast, synthetic_u8, real_u8, chunk, progress):
        v, i = d.min(dim=1)
        best.append(v)
        arg.append(i)
    return torch.cat(best), torch.cat(arg)


def lpips_matrix(
    fast: FastLpips, a_u8: torch.Tensor, b_u8: torch.Tensor, chunk: int = 16, progress: bool = False
) -> torch.Tensor:
    """(len(a), len(b)) LPIPS distances: what nearest-neighbour figures at any subset of b are
    read from."""
    return torch.cat(list(lpips_blocks(fast, a_u8, b_u8, chunk, progress)))


def features_in_chunks(
    fast: FastLpips,
    images: torch.Tensor,
    chunk: int,
    storage: torch.dtype = torch.float16,
    out: Features | None = None,
) -> Features:
    """Features of many images, ``chunk`` per VGG pass, written straight into one store
    (``out``, reused, or a new one of ``storage``): no second copy. The own terms are float32."""
    if out is None:
        out = fast.empty(len(images), images[:1].shape[-1], storage)
    for s in range(0, len(images), chunk):
        fast.features_into(images[s : s + chunk], out, s)
    return out
