"""The study's WGAN-GP generator (DCGAN-style transposed convolutions).

At the defaults (latent 100, features_g 16, 256 px) it is exactly the study's network:
Linear(100, 4*4*1024) -> (1024, 4, 4) -> ConvT 1024->512 (8 px) -> 512->256 (16) -> 256->128 (32)
-> 128->64 (64) -> 64->32 (128) -> ConvT 32->3 (256), BatchNorm2d + ReLU after every layer but
the output, Tanh at the output. Channel counts are features_g * 2^k, and the number of
stride-2 layers follows from the image size (log2(size / 4)), so 32, 64 and 128 px are the same
design with fewer layers.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ganaug.models.registry import GAN_SIZES as SUPPORTED_SIZES


def n_upsamplings(img_size: int) -> int:
    if img_size not in SUPPORTED_SIZES:
        raise ValueError(f"img_size must be one of {SUPPORTED_SIZES}, got {img_size}")
    return int(math.log2(img_size // 4))


class Generator(nn.Module):
    def __init__(
        self, latent_dim: int = 100, img_channels: int = 3, features_g: int = 16, img_size: int = 256
    ):
        super().__init__()
        n = n_upsamplings(img_size)
        self.latent_dim = latent_dim
        c0 = features_g * 2**n  # 1024 at the defaults
        # the Linear's output goes through BatchNorm, which makes a bias redundant, but the
        # study's Linear has one and it costs nothing, so keep it; the convolutions before a
        # BatchNorm have none (the norm's shift plays that role)
        self.project = nn.Sequential(
            nn.Linear(latent_dim, 4 * 4 * c0),
            nn.Unflatten(1, (c0, 4, 4)),
            nn.BatchNorm2d(c0),
            nn.ReLU(inplace=True),
        )
        layers: list[nn.Module] = []
        for k in range(n - 1):
            c_in, c_out = c0 // 2**k, c0 // 2 ** (k + 1)
            layers += [
                nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
            ]
        layers += [nn.ConvTranspose2d(c0 // 2 ** (n - 1), img_channels, 4, 2, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.apply(_init_weights)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(self.project(z))


def _init_weights(m: nn.Module) -> None:
    # DCGAN initialisation (Radford et al. 2016): N(0, 0.02) weights, BN scale N(1, 0.02)
    if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear):
        nn.init.normal_(m.weight, 0.0, 0.02)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.BatchNorm2d | nn.InstanceNorm2d) and m.weight is not None:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)
