"""Pretrained weights from a cache directory, through torchvision's own weights API.

Compute nodes have no internet, and the tests and the demo never download. A rule that needs
ImageNet weights points torch.hub at ``weights.cache_dir`` and loads through the standard
``Weights.get_state_dict`` call, which reads ``<cache_dir>/hub/checkpoints/<file>`` when it is
there. When it is not, this module fails before any download is attempted, naming the file, the
URL it comes from, and where to put it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# config value -> what it means; "random" is labelled as such in every table and log it feeds
BACKBONES = ("imagenet", "random")


def backbone_label(net: str, backbone: str) -> str:
    """How a table or log names a trunk: ``vgg16-imagenet``, or random-init marked not comparable."""
    return f"{net}-imagenet" if backbone == "imagenet" else f"{net}-random-init (not comparable)"


class MissingWeights(FileNotFoundError):
    """A pretrained file is not in the weights cache, and nothing may be downloaded."""


def hub_dir(cache_dir: str | Path) -> Path:
    return Path(cache_dir) / "hub"


def cached_file(weights: Any, cache_dir: str | Path) -> Path:
    """Where torch.hub looks for ``weights`` (a torchvision ``WeightsEnum`` member)."""
    return hub_dir(cache_dir) / "checkpoints" / Path(weights.url).name


def load_torchvision_state_dict(weights: Any, cache_dir: str | Path) -> dict[str, Any]:
    """The state dict of ``weights`` from the cache; MissingWeights if it is not there."""
    import torch

    path = cached_file(weights, cache_dir)
    if not path.is_file():
        raise MissingWeights(
            f"pretrained weights {weights} are not in the weights cache: expected {path}. "
            f"Run `snakemake fetch_weights` on a machine with internet (e.g. the login node), or "
            f"download {weights.url} to that path yourself (the cache is config key "
            "weights.cache_dir), or use a random-init backbone (labelled as such)."
        )
    torch.hub.set_dir(str(hub_dir(cache_dir)))
    log.info("loading %s from %s", weights, path)
    return weights.get_state_dict(progress=False)


# ---------------------------------------------------------------- fetching, on a machine with internet

# torch.hub's convention: the hex digits after the last '-' of a checkpoint's file name are the
# start of its SHA-256 (torch.hub.HASH_REGEX)
_HASH_IN_NAME = re.compile(r"-([a-f0-9]{6,})\.")


@dataclass(frozen=True)
class WeightFile:
    name: str  # file name in <cache>/hub/checkpoints/
    url: str  # where it is published
    purpose: str  # which config key needs it
    # how a fetched file is checked: "sha256-prefix" (torch.hub's convention: the hex digits in
    # the name start the file's SHA-256), or "fid-inception" for pytorch-fid's FID weights, whose
    # name does not follow that convention (pytorch-fid loads it without a hash check): the file
    # must load, with every key and shape, into the FID Inception architecture
    verify: str = "sha256-prefix"


def required_files(config: dict[str, Any]) -> list[WeightFile]:
    """Every pretrained file the validated config will read, without duplicates."""
    from torchvision.models import ResNet50_Weights, VGG16_Weights

    from ganaug.models.classifiers import REGISTRY

    wanted: list[tuple[Any, str]] = []
    if config["classifier"]["weights"] == "imagenet":
        wanted += [
            (REGISTRY[a]().imagenet(), f"classifier.weights ({a})") for a in config["classifier"]["archs"]
        ]
    if config["curation"]["lpips_backbone"] == "imagenet":
        wanted.append((VGG16_Weights.IMAGENET1K_V1, "curation.lpips_backbone"))
    if config["curation"]["cluster_backbone"] == "imagenet":
        wanted.append((ResNet50_Weights.IMAGENET1K_V2, "curation.cluster_backbone"))
    out: dict[str, WeightFile] = {}
    for w, purpose in wanted:
        name = Path(w.url).name
        out.setdefault(name, WeightFile(name, w.url, purpose))
    if config["evaluation"]["feature_extractor"] == "inception":
        from ganaug.evaluation.features import FID_WEIGHTS

        out.setdefault(FID_WEIGHTS.name, FID_WEIGHTS)
    return list(out.values())


def _reject(path: Path, remove: bool) -> str:
    """Remove a bad file this run downloaded; never one that was in the cache before."""
    if remove:
        path.unlink()
        return "file removed"
    return "the file was already in the cache and is left as it is; replace it"


def verify_hash_prefix(path: Path, remove: bool = True) -> None:
    """Check a file against the SHA-256 prefix in its name (torch.hub's check_hash)."""
    from ganaug.data.download import sha256sum

    m = _HASH_IN_NAME.search(path.name)
    if m is None:
        raise ValueError(f"{path.name}: no hash in the file name to check against")
    digest = sha256sum(path)
    if not digest.startswith(m.group(1)):
        raise ValueError(
            f"{path}: SHA-256 {digest[:16]}... does not start with {m.group(1)}; {_reject(path, remove)}"
        )


def verify_fid_inception(path: Path, remove: bool = True) -> None:
    """The file must be a state dict that loads strictly into the FID Inception architecture."""
    import torch

    from ganaug.evaluation.features import fid_inception_architecture

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        fid_inception_architecture().load_state_dict(state, strict=True)
    except Exception as err:
        why = f"{type(err).__name__}: {err}"
        raise ValueError(f"{path}: not the FID Inception weights ({why}); {_reject(path, remove)}") from None


VERIFY = {"sha256-prefix": verify_hash_prefix, "fid-inception": verify_fid_inception}


def fetch(files: list[WeightFile], cache_dir: str | Path, mirror: str | None = None) -> list[Path]:
    """Download (resumably) every file not yet in the cache, and check each one's hash."""
    from ganaug.data.download import download

    folder = hub_dir(cache_dir) / "checkpoints"
    done = []
    for f in files:
        dest = folder / f.name
        fetched = not dest.exists()
        if fetched:
            url = (mirror.rstrip("/") + "/" + f.name) if mirror else f.url
            log.info("fetching %s for %s from %s", f.name, f.purpose, url)
            download(url, dest)
        VERIFY[f.verify](dest, remove=fetched)
        done.append(dest)
    return done
