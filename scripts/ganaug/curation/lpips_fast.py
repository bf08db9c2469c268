"""LPIPS (VGG) between every synthetic and every real image, equal to the lpips package's.

LPIPS (Zhang et al. 2018) of images x, y is  sum_l mean_hw sum_c w_lc (f_l(x)_chw - f_l(y)_chw)^2
with f_l the channel-normalised VGG16 features of layer l and w_l the package's linear weights.
Expanding the square,  sum_c w (a - b)^2 = sum_c w a^2 + sum_c w b^2 - 2 sum_c w a b,  so each
image's features are computed once, its own term once, and every pairwise cross term is one
matrix product per layer. The VGG pass (about 0.5 s an image at 256 px on 2 cores) then runs once
per image instead of twice per pair.

Memory: the real images' normalised features are kept, C*H*W floats per layer: about 32 MB an
image at 256 px (about 6.7 GB for 210 real images), 2 MB at 64 px. Synthetic images go through
in chunks of ``chunk`` images.
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


@dataclass
class Features:
    """Per layer: flattened normalised features (N, C*H*W) and each image's own term (N,)."""

    flat: list[torch.Tensor]
    own: list[torch.Tensor]
    hw: list[int]


class FastLpips:
    def __init__(self, model: torch.nn.Module, device: torch.device):
        self.model = model.to(device).eval()
        self.device = device
        # the linear layers are 1x1 convolutions without bias: one weight per channel
        self.w = [lin.model[-1].weight.detach().view(-1) for lin in self.model.lins]

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
            own.append((f * f * w.view(1, c, 1, 1)).sum(1).mean(dim=(1, 2)).cpu())
            flat.append(f.reshape(n, -1).cpu())
            hw.append(h * wd)
        return Features(flat, own, hw)

    def distances(self, a: Features, b: Features) -> torch.Tensor:
        """(len(a), len(b)) LPIPS distances from two feature sets."""
        total = None
        for fa, oa, fb, ob, w, hw in zip(a.flat, a.own, b.flat, b.own, self.w, a.hw, strict=True):
            c = len(w)
            weighted = (fa.view(len(fa), c, -1) * w.cpu().view(1, c, 1)).view(len(fa), -1)
            d = oa[:, None] + ob[None, :] - (2.0 / hw) * (weighted @ fb.T)
            total = d if total is None else total + d
        return total


def min_lpips(
    fast: FastLpips,
    synthetic_u8: torch.Tensor,
    real_u8: torch.Tensor,
    chunk: int = 16,
    progress: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """For each synthetic image, its smallest LPIPS distance to the real images and that index."""
    real = features_in_chunks(fast, real_u8, chunk)
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


def features_in_chunks(fast: FastLpips, images: torch.Tensor, chunk: int) -> Features:
    parts = [fast.features(images[s : s + chunk]) for s in range(0, len(images), chunk)]
    return Features(
        [torch.cat([p.flat[k] for p in parts]) for k in range(len(parts[0].flat))],
        [torch.cat([p.own[k] for p in parts]) for k in range(len(parts[0].own))],
        parts[0].hw,
    )
