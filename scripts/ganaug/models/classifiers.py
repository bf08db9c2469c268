"""Classifier registry: one entry point for the study's three torchvision architectures.

``create_classifier(name, weights)`` builds the network, loads its weights (ImageNet from the
weights cache, a file, or none) and replaces the 1000-class head with a 2-class one where the
study says: ``fc`` (ResNet-50), ``classifier`` (DenseNet-121), ``classifier[1]`` (EfficientNet-B0).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganaug.weights import load_torchvision_state_dict

# torchvision's ImageNet preprocessing, which every backbone here (classifiers, cluster features) expects
IMAGENET_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
IMAGENET_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def imagenet_normalise(x_float01: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) in [0, 1] -> ImageNet-normalised, on x's device."""
    return (x_float01 - IMAGENET_MEAN.to(x_float01.device)) / IMAGENET_STD.to(x_float01.device)


@dataclass(frozen=True)
class Arch:
    build: Callable[[], nn.Module]  # the torchvision constructor, random init
    imagenet: Callable[[], Any]  # the torchvision weights enum member
    replace_head: Callable[[nn.Module, int], None]  # swaps the 1000-class layer for n classes
    adapt: Callable[[dict], dict] = lambda state: state  # old checkpoint key names -> current


# torchvision's published DenseNet checkpoints use 'norm.1'-style keys that current module names
# cannot have; torchvision.models.densenet._load_state_dict renames them with this pattern
_DENSE_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$"
)


def _dense_keys(state: dict) -> dict:
    return {(m.group(1) + m.group(2) if (m := _DENSE_KEY.match(k)) else k): v for k, v in state.items()}


def _resnet50() -> Arch:
    from torchvision.models import ResNet50_Weights, resnet50

    def head(m: nn.Module, n: int) -> None:
        m.fc = nn.Linear(m.fc.in_features, n)

    return Arch(lambda: resnet50(weights=None), lambda: ResNet50_Weights.IMAGENET1K_V2, head)


def _densenet121() -> Arch:
    from torchvision.models import DenseNet121_Weights, densenet121

    def head(m: nn.Module, n: int) -> None:
        m.classifier = nn.Linear(m.classifier.in_features, n)

    return Arch(
        lambda: densenet121(weights=None), lambda: DenseNet121_Weights.IMAGENET1K_V1, head, _dense_keys
    )


def _efficientnet_b0() -> Arch:
    from torchvision.models import EfficientNet_B0_Weights, efficientnet_b0

    def head(m: nn.Module, n: int) -> None:
        m.classifier[1] = nn.Linear(m.classifier[1].in_features, n)

    return Arch(lambda: efficientnet_b0(weights=None), lambda: EfficientNet_B0_Weights.IMAGENET1K_V1, head)


REGISTRY: dict[str, Callable[[], Arch]] = {
    "resnet50": _resnet50,
    "densenet121": _densenet121,
    "efficientnet_b0": _efficientnet_b0,
}


def create_classifier(
    name: str, weights: str = "none", num_classes: int = 2, cache_dir: str | Path = "resources/weights"
) -> nn.Module:
    """``weights``: ``imagenet`` (from the weights cache), ``none`` (random init: seed first), or
    the path of a state dict for this architecture (1000-class or ``num_classes`` head)."""
    if name not in REGISTRY:
        raise ValueError(f"unknown architecture {name!r}; registered: {', '.join(REGISTRY)}")
    arch = REGISTRY[name]()
    model = arch.build()
    if weights == "imagenet":
        model.load_state_dict(arch.adapt(load_torchvision_state_dict(arch.imagenet(), cache_dir)))
        arch.replace_head(model, num_classes)
    elif weights == "none":
        arch.replace_head(model, num_classes)
    else:
        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(f"classifier.weights: {path} is not a file (nor 'imagenet' / 'none')")
        state = torch.load(path, map_location="cpu", weights_only=True)
        try:
            model.load_state_dict(state)
            arch.replace_head(model, num_classes)
        except RuntimeError:
            arch.replace_head(model, num_classes)
            model.load_state_dict(state)  # a state dict with the n-class head already
    return model
