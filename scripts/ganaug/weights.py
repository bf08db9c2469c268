"""Pretrained files in a cache directory: where they are, loading them, fetching them.

A leaf: it knows no network. Compute nodes have no internet, and the tests and the demo never
download. A rule that needs a file reads it from ``<weights.cache_dir>/hub/checkpoints/``
(:func:`checkpoint_dir`) through the standard APIs (torch.hub's ``load_state_dict_from_url``,
which torchvision's ``Weights.get_state_dict`` calls, or timm's ``create_model``), which read a
cached file instead of downloading. When the file is not there, loading fails before any
download is attempted, naming the file, the address it comes from, and where to put it. Which
files a config needs is ``ganaug.pretrained``'s business.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WeightFile:
    name: str  # file name in <cache>/hub/checkpoints/
    url: str  # where it is published ("timm:<model>": timm's pretrained config says, at fetch time)
    purpose: str  # which config key needs it
    # how a fetched file is checked: "sha256-prefix" (torch.hub's convention: the hex digits in
    # the name start the file's SHA-256), "fid-inception" for pytorch-fid's FID weights, whose
    # name does not follow that convention (the file must load, with every key and shape, into
    # the FID Inception architecture), "timm" (it must load into its timm architecture)
    verify: str = "sha256-prefix"


class MissingWeights(FileNotFoundError):
    """A pretrained file is not in the weights cache, and nothing may be downloaded."""


def checkpoint_dir(cache_dir: str | Path) -> Path:
    """The one folder pretrained files are read from (torch.hub's layout under cache_dir)."""
    return Path(cache_dir) / "hub" / "checkpoints"


def cached_file(wf: WeightFile, cache_dir: str | Path) -> Path:
    return checkpoint_dir(cache_dir) / wf.name


def require(wf: WeightFile, cache_dir: str | Path) -> Path:
    """The cached file of ``wf``; MissingWeights, saying what to do, when it is not there."""
    path = cached_file(wf, cache_dir)
    if not path.is_file():
        raise MissingWeights(
            f"pretrained weights {wf.name} ({wf.purpose}) are not in the weights cache: expected "
            f"{path}. Run `snakemake fetch_weights` on a machine with internet (e.g. the login node), "
            f"or download {wf.url} to that path yourself (the cache is config key weights.cache_dir), "
            f"or set {wf.purpose.split(' ')[0]}: random (a random init, labelled as such)."
        )
    return path


def load_cached_state_dict(wf: WeightFile, cache_dir: str | Path) -> dict[str, Any]:
    """The state dict of ``wf`` through torch.hub's standard loader, from the cache only."""
    import torch

    path = require(wf, cache_dir)
    log.info("loading %s from %s", wf.name, path)
    # the loader torchvision's Weights.get_state_dict uses: it finds the file in model_dir and
    # reads it instead of downloading
    return torch.hub.load_state_dict_from_url(
        wf.url,
        model_dir=str(path.parent),
        file_name=wf.name,
        progress=False,
        map_location="cpu",
        weights_only=True,
    )


# ---------------------------------------------------------------- fetching, on a machine with internet

# torch.hub's convention: the hex digits after the last '-' of a checkpoint's file name are the
# start of its SHA-256 (torch.hub.HASH_REGEX)
_HASH_IN_NAME = re.compile(r"-([a-f0-9]{6,})\.")


def reject(path: Path, remove: bool) -> str:
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
            f"{path}: SHA-256 {digest[:16]}... does not start with {m.group(1)}; {reject(path, remove)}"
        )


Verifier = Callable[[Path, bool], None]
Resolver = Callable[[WeightFile], str]


def fetch(
    files: list[WeightFile],
    cache_dir: str | Path,
    mirror: str | None = None,
    verifiers: dict[str, Verifier] | None = None,
    resolve: Resolver | None = None,
) -> list[Path]:
    """Download (resumably) every file not yet in the cache, and check each one.

    ``verifiers`` maps a WeightFile.verify kind to its check (``sha256-prefix`` is built in);
    ``resolve`` turns a ``timm:`` address into a real one (a mirror needs neither: it serves
    every file under its name).
    """
    from ganaug.data.download import download

    checks: dict[str, Verifier] = {"sha256-prefix": verify_hash_prefix, **(verifiers or {})}
    done = []
    for f in files:
        dest = cached_file(f, cache_dir)
        fetched = not dest.exists()
        if fetched:
            if mirror:
                url = mirror.rstrip("/") + "/" + f.name
            elif f.url.startswith("timm:"):
                if resolve is None:
                    raise ValueError(f"{f.name}: no resolver for the timm address {f.url}")
                url = resolve(f)
            else:
                url = f.url
            log.info("fetching %s for %s from %s", f.name, f.purpose, url)
            download(url, dest)
        if f.verify not in checks:
            raise ValueError(f"{f.name}: no check for kind {f.verify!r}")
        checks[f.verify](dest, fetched)
        done.append(dest)
    return done
