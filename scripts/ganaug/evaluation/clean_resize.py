"""Images resized for a feature network as clean-fid resizes them (Parmar, Zhang & Zhu, "On
Aliased Resizing and Surprising Subtleties in GAN Evaluation", CVPR 2022; its "clean" mode):
each channel of the uint8 image as a float32 PIL image, resized with PIL's bicubic filter,
which is anti-aliased (its support widens with the scale when it shrinks), then clipped to
[0, 255]; no rounding back to uint8 in between.

Why: FID moves with the resizing filter. The bilinear resize of ``torch.nn.functional.interpolate``
(pytorch-fid's) skips pixels when it shrinks and aliases; the same images gave FIDs several
points apart by filter alone in Parmar et al. Every feature extractor here (Inception at 299 px,
EfficientNet-Lite0 at 224 px) resizes this way, tested equal to clean-fid's own resizer.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image


def clean_resize(images_u8: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 (N, 3, H, W) RGB -> float32 (N, 3, size, size) in [0, 1], on the CPU."""
    x = images_u8.detach().cpu().numpy()
    out = np.empty((len(x), x.shape[1], size, size), dtype=np.float32)
    for i, image in enumerate(x):
        for c, channel in enumerate(image):
            resized = Image.fromarray(channel.astype(np.float32), mode="F").resize(
                (size, size), Image.BICUBIC
            )
            out[i, c] = np.asarray(resized).clip(0, 255)
    return torch.from_numpy(out / 255.0)
