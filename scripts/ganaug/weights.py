"""Pretrained weights from a cache directory, through torchvision's own weights API.

Compute nodes have no internet, and the tests and the demo never download. A rule that needs
ImageNet weights points torch.hub at ``weights.cache_dir`` and loads through the standard
``Weights.get_state_dict`` call, which reads ``<cache_dir>/hub/checkpoints/<file>`` when it is
there. When it is not, this module fails before any download is attempted, naming the file, the
URL it comes from, and where to put it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# config value -> what it means; "random" is labelled as such in every table and log it feeds
BACKBONES = ("imagenet", "random")


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
            f"Download {weights.url} to that path on a machine with internet (the cache is "
            "config key weights.cache_dir), or use a random-init backbone (labelled as such)."
        )
    torch.hub.set_dir(str(hub_dir(cache_dir)))
    log.info("loading %s from %s", weights, path)
    return weights.get_state_dict(progress=False)
