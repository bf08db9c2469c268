"""The study's WGAN-GP critic.

At the defaults (features_d 16, 256 px): Conv 3->32 (128 px) -> 32->64 (64) -> 64->128 (32) ->
128->256 (16) -> 256->512 (8) -> 512->1024 (4) -> Conv 1024->1 (4x4, stride 1, no padding) ->
a scalar. InstanceNorm2d after every layer but the first and the last, LeakyReLU(0.2) after
every layer but the last, and no activation at the output: a WGAN critic outputs an
unbounded score, and batch-wise normalisation would make the gradient penalty, which is
per-sample, ill-defined (Gulrajani et al. 2017, section 4), hence instance norm.
"""

from __future__ import annotations

import torch
from torch import nn

from ganaug.models.generator import _init_weights, n_upsamplings


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
