"""Inception-v3 features for FID, KID, precision/recall (pool3, 2048-d) and IS (logits).

The network is pytorch-fid's FID Inception: torchvision's Inception-v3 with the blocks patched to
match TensorFlow's graph, and the standard FID weights (``pt_inception-2015-12-05-6726825d.pth``),
read from ``<weights.cache_dir>/hub/checkpoints/`` where torch.hub and pytorch-fid look for it.
Images go in RGB in [0, 1], resized to 299 px by clean-fid's anti-aliased bicubic filter
(``ganaug.evaluation.clean_resize``; pytorch-fid's own bilinear resize aliases), scaled to
[-1, 1]. Tested equal to pytorch-fid's ``InceptionV3`` on the same weights and the same resized
images.

The Inception Score uses the classifier's logits without the bias term, as the original IS code
and torch-fidelity do.

Offline (the demo, the tests) the same architecture with a seeded random init may stand in. Its
figures measure nothing comparable to any published FID or IS, and every output says so.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch

from ganaug.evaluation.clean_resize import clean_resize
from ganaug.models.classifiers import imagenet_normalise
from ganaug.models.registry import EFFICIENTNET_LITE0, FID_INCEPTION, RANDOM
from ganaug.weights import reject, require

log = logging.getLogger(__name__)

EXTRACTORS = ("inception", RANDOM, "efficientnet_lite0")
LABELS = {
    "inception": "Inception-v3, standard FID weights (pytorch-fid)",
    RANDOM: "Inception-v3, RANDOM INIT (offline stand-in): not comparable to any published figure",
    "efficientnet_lite0": f"{EFFICIENTNET_LITE0.label} (not Inception: its Frechet distance is not FID, "
    "and no figure is comparable to a published FID, KID or IS)",
}
# What the figures on each extractor's features are called. Only the Inception network gives FID,
# KID and IS; the same formulas on another network's features get neutral names.
INCEPTION_NAMES = {"fd": "fid", "kd": "kid", "score": "inception_score"}
NEUTRAL_NAMES = {"fd": "frechet_distance", "kd": "kernel_distance", "score": "classifier_score"}


# pytorch-fid's blocks 0-3, in order, ending at the final average pool
_LAYERS = (
    "Conv2d_1a_3x3",
    "Conv2d_2a_3x3",
    "Conv2d_2b_3x3",
    "maxpool1",
    "Conv2d_3b_1x1",
    "Conv2d_4a_3x3",
    "maxpool2",
    "Mixed_5b",
    "Mixed_5c",
    "Mixed_5d",
    "Mixed_6a",
    "Mixed_6b",
    "Mixed_6c",
    "Mixed_6d",
    "Mixed_6e",
    "Mixed_7a",
    "Mixed_7b",
    "Mixed_7c",
    "avgpool",
)


def fid_inception_architecture() -> torch.nn.Module:
    """pytorch-fid's ``fid_inception_v3`` without its download: the same patched blocks."""
    from pytorch_fid import inception as pfi

    net = pfi._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    net.Mixed_5b = pfi.FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = pfi.FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = pfi.FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = pfi.FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = pfi.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = pfi.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = pfi.FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = pfi.FIDInceptionE_1(1280)
    net.Mixed_7c = pfi.FIDInceptionE_2(2048)
    return net


class InceptionFeatures(torch.nn.Module):
    short = "inception"  # the progress bar's name

    def __init__(
        self, net: torch.nn.Module, label: str, comparable: bool, names: dict[str, str] = INCEPTION_NAMES
    ):
        super().__init__()
        self.net = net.eval()
        self.label = label
        self.comparable = comparable
        self.names = names or INCEPTION_NAMES  # what the figures are called (FID only on Inception)

    @torch.no_grad()
    def forward(self, images_u8: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """uint8 (N, 3, H, W) RGB -> pool3 features (N, 2048) and bias-free logits (N, 1008)."""
        # clean-fid's anti-aliased bicubic resize, on the host (PIL), then back to the images' device
        x = clean_resize(images_u8, 299).to(images_u8.device)
        x = 2 * x - 1
        for name in _LAYERS:
            x = getattr(self.net, name)(x)
        pool = x.flatten(1)
        return pool, pool @ self.net.fc.weight.T


class Lite0Features(InceptionFeatures):
    """EfficientNet-Lite0 ImageNet (the packaged weights): pooled features (N, 1280) and its
    ImageNet logits (N, 1000), on ImageNet-normalised images at 224 px."""

    @torch.no_grad()
    def forward(self, images_u8: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = clean_resize(images_u8, 224).to(images_u8.device)
        pool = self.net.forward_head(self.net.forward_features(imagenet_normalise(x)), pre_logits=True)
        return pool, self.net.get_classifier()(pool)


def build_extractor(extractor: str, cache_dir: str | Path, seed: int = 42) -> InceptionFeatures:
    if extractor not in EXTRACTORS:
        raise ValueError(f"evaluation.feature_extractor must be one of {EXTRACTORS}, got {extractor!r}")
    torch.manual_seed(seed)  # the random stand-in is reproducible
    if extractor == "efficientnet_lite0":
        from ganaug.models.classifiers import create_classifier

        net = create_classifier("timm/tf_efficientnet_lite0", "imagenet", 1000, cache_dir)
        return Lite0Features(net, LABELS[extractor], comparable=False, names=NEUTRAL_NAMES)
    net = fid_inception_architecture()
    if extractor == "inception":
        path = require(FID_INCEPTION, cache_dir)
        log.info("loading FID Inception weights from %s", path)
        net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    else:
        # PyTorch's default init shrinks the signal about threefold per layer, so after Inception's
        # ~45 convolutions every image gives the same features (FID 0 for any two sets). He init
        # keeps the variance through each conv + ReLU, so features still differ between images.
        for m in net.modules():
            if isinstance(m, torch.nn.Conv2d | torch.nn.Linear):
                torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                if m.bias is not None:
                    torch.nn.init.zeros_(m.bias)
    return InceptionFeatures(net, LABELS[extractor], comparable=extractor == "inception")


def verify_fid_inception(path: Path, remove: bool = True) -> None:
    """The file must be a state dict that loads strictly into the FID Inception architecture."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        fid_inception_architecture().load_state_dict(state, strict=True)
    except Exception as err:
        why = f"{type(err).__name__}: {err}"
        raise ValueError(f"{path}: not the FID Inception weights ({why}); {reject(path, remove)}") from None


def extract(
    model: torch.nn.Module, images_u8: np.ndarray, device: torch.device, batch: int = 50, desc: str = ""
) -> tuple[np.ndarray, ...]:
    """Each output of ``model`` (features and logits here; DINOv2's features alone) for uint8
    (N, 3, H, W) images, in batches, with a progress bar.

    float32, as the network gives them; the metrics compute in float64 themselves."""
    from tqdm import tqdm

    model = model.to(device)
    outs = []
    name = f"{getattr(model, 'short', 'features')} {desc}".strip()
    for s in tqdm(range(0, len(images_u8), batch), desc=name, unit="batch"):
        batch_out = model(torch.from_numpy(np.ascontiguousarray(images_u8[s : s + batch])).to(device))
        outs.append([t.float().cpu().numpy() for t in batch_out])
    return tuple(np.concatenate(parts) for parts in zip(*outs, strict=True))
