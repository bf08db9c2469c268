"""The generator registry: every family that can make a raw synthetic set, under one interface.

A family is one module with a ``FAMILY`` (a :class:`Family`), registered by one line in
``_MODULES`` below. Its interface is what the workflow needs of any generator:

- ``config``: a dataclass built from the family's config section (``from_section``), which
  says what training depends on (``training_params``: the rule's params, so a change retrains),
  what sampling depends on (``sampling_params``), and how training is watched (read from the
  config, never a param);
- ``train(metadata, params, section, outputs, device, threads)``: train, or resume, on one
  repeat's train-split minority images (selected from metadata.csv before any image is opened),
  with the checkpoint contract of ``ganaug.training.checkpoints`` (its family, training-set
  fingerprint and settings; anything else is moved aside);
- ``sample(generator, out_dir, manifest, params, device, threads)``: n images, image i from its
  own seed, and the manifest carrying the training-set fingerprint curation and the fits check.

Where a family's files go: ``results/repeat_<r>/<directory>/`` (its generator and curves) and
``results/repeat_<r>/<synthetic>/`` (its raw set and its curation). The study's WGAN-GP keeps the
paths it always had (gan/, synthetic/); any other family's name its folders.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DEFAULT = "wgan_gp"  # the study's generator: what a condition without generator: uses


@dataclass(frozen=True)
class Family:
    name: str  # the config's word: conditions' generator:, the generators: list
    label: str  # how the report names it
    section: str  # its config section
    config: type  # its settings' dataclass (from_section, training_params, sampling_params)
    train: Callable[..., Any]
    sample: Callable[..., Any]
    length_key: str  # the config key that sets the training length
    directory: str = ""  # results/repeat_<r>/<directory>/: generator.pt, curves, grids
    synthetic: str = ""  # results/repeat_<r>/<synthetic>/: raw set, curation, selections

    def __post_init__(self) -> None:
        # the study's keeps its historical folders; every other family's are named after it
        object.__setattr__(self, "directory", self.directory or self.name)
        object.__setattr__(self, "synthetic", self.synthetic or f"synthetic_{self.name}")

    @property
    def suffix(self) -> str:
        """What its curation folders add to the study's names: "" for the study's generator
        (synthetic/), "_ddpm" for synthetic_ddpm/."""
        return self.synthetic.removeprefix("synthetic")

    def settings(self, config: dict[str, Any]):
        """Its settings at the data's image size and the global seed."""
        return self.config.from_section(config[self.section], config["data"]["image_size"], config["seed"])


# one line per family: the module under ganaug.generators that defines FAMILY
_MODULES = ("wgan_gp", "ddpm")


def _load() -> dict[str, Family]:
    out = {}
    for m in _MODULES:
        fam = importlib.import_module(f"{__name__}.{m}").FAMILY
        out[fam.name] = fam
    return out


FAMILIES: dict[str, Family] = _load()


def family(name: str) -> Family:
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown generator {name!r}: registered are {', '.join(FAMILIES)}") from None


def by_directory(directory: str) -> Family:
    return next(f for f in FAMILIES.values() if f.directory == directory)


def by_synthetic(synthetic: str) -> Family:
    return next(f for f in FAMILIES.values() if f.synthetic == synthetic)


def of_condition(cond: dict[str, Any]) -> Family:
    """The generator of a condition's synthetic images (the study's where it names none)."""
    return family(cond.get("generator", DEFAULT))


def in_use(conditions: dict[str, dict[str, Any]]) -> list[Family]:
    """The study's generator (its outputs are the study's, built whatever the table holds), then
    every other family a condition with synthetic images names, in the registry's order."""
    named = {c.get("generator", DEFAULT) for c in conditions.values() if c["synthetic"] != "none"}
    return [f for f in FAMILIES.values() if f.name == DEFAULT or f.name in named]
