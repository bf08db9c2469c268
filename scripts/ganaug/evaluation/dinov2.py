"""DINOv2 features: the GAN metrics' second feature space, beside Inception's.

Why a second one: Stein et al. ("Exposing flaws of generative model evaluation metrics", NeurIPS
2023) found the Frechet distance in DINOv2's feature space ranks generators the way people do
where Inception's does not, and Woodland et al. (MICCAI 2024) found self-supervised ImageNet
features track experts on medical images. Inception was trained to name ImageNet classes;
nothing of a dermoscopic lesion is among them.

The network is DINOv2 ViT-S/14 (Oquab et al. 2023), timm's ``vit_small_patch14_dinov2.lvd142m``
(Meta's weights, Apache-2.0), read from the weights cache by timm's own loader like every timm
file (``snakemake fetch_weights`` puts it there). ViT-S, not the ViT-L/14 of Stein et al.: 21 M
parameters run beside Inception on every set without doubling the metrics' time; its figures are
named "DINOv2 ViT-S/14" and compare only with figures on the same network.

Preprocessing as the DINOv2 encoder of Stein et al.'s ``dgm-eval``: the image resized to
``image_size`` px (224 there and by default) by the anti-aliased bicubic filter every extractor
here uses (``ganaug.evaluation.clean_resize``), ImageNet-normalised; the feature is the final
norm's CLS token (384-d). At 224 px the 518-px position embeddings are resampled by timm's
bicubic interpolation when the weights load (14-px patches: a 16 x 16 grid).

Offline (the demo, the tests) a seeded random init stands in, labelled not comparable. Its layer
scales are set to 1: DINOv2 initialises them at 1e-5, which leaves a random network's residual
branches silent, so every image gave the same CLS token (sd across images 1e-5 of its scale).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from ganaug.evaluation.clean_resize import clean_resize
from ganaug.evaluation.features import extract
from ganaug.models.classifiers import imagenet_normalise
from ganaug.models.registry import DINOV2, DINOV2_MODEL, RANDOM
from ganaug.weights import require

log = logging.getLogger(__name__)

CHOICES = ("pretrained", RANDOM, "none")  # evaluation.dinov2
PATCH = 14  # pixels a side of one ViT-S/14 patch: the image size must be a multiple
LABELS = {
    "pretrained": "DINOv2 ViT-S/14 (lvd142m weights)",
    RANDOM: "DINOv2 ViT-S/14, RANDOM INIT (offline stand-in): not comparable to any published figure",
}
# the figures on these features: a Frechet and a kernel distance, never "FID" or "KID"
NAMES = {"fd": "frechet_distance", "kd": "kernel_distance"}


class DinoFeatures(torch.nn.Module):
    """uint8 (N, 3, H, W) RGB -> the CLS token (N, 384), as a 1-tuple (``features.extract``)."""

    short = "dinov2"  # the progress bar's name

    def __init__(self, net: torch.nn.Module, label: str, comparable: bool, image_size: int):
        super().__init__()
        self.net = net.eval()
        self.label = label
        self.comparable = comparable
        self.image_size = image_size
        self.names = NAMES

    @torch.no_grad()
    def forward(self, images_u8: torch.Tensor) -> tuple[torch.Tensor]:
        x = clean_resize(images_u8, self.image_size).to(images_u8.device)
        tokens = self.net.forward_features(imagenet_normalise(x))
        return (self.net.forward_head(tokens, pre_logits=True),)


def dinov2_network(image_size: int, weights: Path | None = None) -> torch.nn.Module:
    """timm's ViT-S/14 DINOv2 at ``image_size`` px, with no head; from ``weights`` when given."""
    import timm

    check_image_size(image_size)
    kw = {"img_size": image_size, "num_classes": 0}
    if weights is None:
        return timm.create_model(DINOV2_MODEL, pretrained=False, **kw)
    # timm's own loader: it resamples the 518-px position embeddings to the image size
    overlay = {"file": str(weights)}
    return timm.create_model(DINOV2_MODEL, pretrained=True, pretrained_cfg_overlay=overlay, **kw)


def check_image_size(size: int) -> None:
    if size < PATCH or size % PATCH:
        raise ValueError(f"evaluation.dinov2_size must be a multiple of {PATCH} (the patch size), got {size}")


def build_dinov2(
    mode: str, cache_dir: str | Path, image_size: int = 224, seed: int = 42
) -> DinoFeatures | None:
    """``evaluation.dinov2``: ``pretrained`` (the weights cache), ``random`` (seeded, labelled not
    comparable) or ``none`` (no DINOv2 figures)."""
    if mode not in CHOICES:
        raise ValueError(f"evaluation.dinov2 must be one of {CHOICES}, got {mode!r}")
    if mode == "none":
        return None
    if mode == "pretrained":
        path = require(DINOV2, cache_dir)
        log.info("loading DINOv2 ViT-S/14 from %s", path)
        return DinoFeatures(dinov2_network(image_size, path), LABELS[mode], True, image_size)
    torch.manual_seed(seed)
    net = dinov2_network(image_size)
    for m in net.modules():
        if hasattr(m, "gamma") and type(m).__name__ == "LayerScale":
            torch.nn.init.ones_(m.gamma)
    return DinoFeatures(net, LABELS[mode], False, image_size)


def dino_features(
    dino: DinoFeatures | None, rgb: np.ndarray, device, batch: int, desc: str
) -> np.ndarray | None:
    """The DINOv2 features of uint8 (N, 3, H, W) images, in batches; None without DINOv2."""
    return None if dino is None else extract(dino, rgb, device, batch, desc=desc)[0]


def dino_record(dino: DinoFeatures) -> dict:
    """metrics.json's ``dinov2``: the network, whether its figures compare with published ones,
    the image size, and where its figures are."""
    return {
        "name": dino.label,
        "comparable": dino.comparable,
        "image_size": dino.image_size,
        "names": dino.names,
        "where": "sets.<set>.dinov2.against.<reference>: the Inception figures' draws, on DINOv2 features "
        "(features.npz: <set>_dinov2, real_<reference>_dinov2)",
    }
