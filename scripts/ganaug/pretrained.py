"""What a config needs from the weights cache, and how each kind of file is checked after a fetch.

The one module that looks at the config and the registry together, so imports run one way:
consumers and this module -> ``models/registry.py`` -> ``weights.py``. Torch-free at import: the
workflow calls :func:`required_files` while it is parsed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ganaug.dataclass_io import from_dict
from ganaug.models.registry import CLUSTER_RESNET50, DINOV2, FID_INCEPTION, LPIPS_VGG16, arch_spec
from ganaug.settings import ClassifierConfig
from ganaug.weights import WeightFile, fetch


def required_files(config: dict[str, Any]) -> list[WeightFile]:
    """Every file of the weights cache the validated config will read, once each.

    Networks with random init, and those whose weights an installed package ships
    (EfficientNet-Lite0), need nothing from the cache.
    """
    wanted: list[WeightFile] = []
    cls = from_dict(ClassifierConfig, config["classifier"], "classifier")
    for arch in cls.archs:
        spec = arch_spec(arch)
        if cls.weights_of(arch) == "imagenet" and spec.imagenet is not None:
            wanted.append(spec.imagenet)
    if config["curation"]["lpips_backbone"] == "imagenet":
        wanted.append(LPIPS_VGG16)
    if config["curation"]["cluster_backbone"] == "imagenet":
        wanted.append(CLUSTER_RESNET50)
    if config["evaluation"]["feature_extractor"] == "inception":
        wanted.append(FID_INCEPTION)
    if config["evaluation"]["dinov2"] == "pretrained":
        wanted.append(DINOV2)
    out: dict[str, WeightFile] = {}
    for f in wanted:
        out.setdefault(f.name, f)
    return list(out.values())


def verify_fid_inception(path: Path, remove: bool) -> None:
    from ganaug.evaluation.features import verify_fid_inception as check

    check(path, remove)


def verify_timm(path: Path, remove: bool) -> None:
    from ganaug.models.classifiers import verify_timm_file

    verify_timm_file(path, remove)


def resolve_timm(wf: WeightFile) -> str:
    """The download address of a timm model's weights, from timm's own pretrained config."""
    from ganaug.models.classifiers import timm_download_url

    return timm_download_url(wf.url.removeprefix("timm:"))


VERIFIERS = {"fid-inception": verify_fid_inception, "timm": verify_timm}


def fetch_weights_rule(files: list[dict[str, str]], cache_dir: str | Path, mirror: str | None) -> None:
    """The rule fetch_weights: the missing files of ``files`` (WeightFile fields) downloaded into
    the cache, and every one checked, with the verifiers and the timm resolver above."""
    fetch([WeightFile(**f) for f in files], cache_dir, mirror, VERIFIERS, resolve_timm)
