"""The study's WGAN-GP networks: the generator and the critic.

The generator (DCGAN-style transposed convolutions), at the defaults (latent 100, features_g
16, 256 px) exactly the study's network: Linear(100, 4*4*1024) -> (1024, 4, 4) -> ConvT
1024->512 (8 px) -> 512->256 (16) -> 256->128 (32) -> 128->64 (64) -> 64->32 (128) -> ConvT
32->3 (256), BatchNorm2d + ReLU after every layer but the output, Tanh at the output. Channel
counts are features_g * 2^k, and the number of stride-2 layers follows from the image size
(log2(size / 4)), so 32, 64 and 128 px are the same design with fewer layers.

The critic, at the defaults (features_d 16, 256 px): Conv 3->32 (128 px) -> 32->64 (64) ->
64->128 (32) -> 128->256 (16) -> 256->512 (8) -> 512->1024 (4) -> Conv 1024->1 (4x4, stride 1,
no padding) -> a scalar. InstanceNorm2d after every layer but the first and the last,
LeakyReLU(0.2) after every layer but the last, and no activation at the output: a WGAN critic
outputs an unbounded score, and batch-wise normalisation would make the gradient penalty, which
is per-sample, ill-defined (Gulrajani et al. 2017, section 4), hence instance norm.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ganaug.generators.wgan_gp.config import SUPPORTED_SIZES


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


class Discriminator(nn.Module):
    def __init__(self, img_channels: int = 3, features_d: int = 16, img_size: int = 256):
        super().__init__()
        n = n_upsamplings(img_size)  # stride-2 layers down to 4x4
        layers: list[nn.Module] = [
            nn.Conv2d(img_channels, features_d * 2, 4, 2, 1),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        for k in range(1, n):
            c_in, c_out = features_d * 2**k, features_d * 2 ** (k + 1)
            layers += [
                nn.Conv2d(c_in, c_out, 4, 2, 1),
                nn.InstanceNorm2d(c_out, affine=True),
                nn.LeakyReLU(0.2, inplace=True),
            ]
        layers += [nn.Conv2d(features_d * 2**n, 1, 4, 1, 0), nn.Flatten(0)]
        self.net = nn.Sequential(*layers)
        self.apply(_init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
