"""The generator registry: every family that can make a raw synthetic set, under one interface.

A family is one folder, ``generators/<family>/``, holding everything it is (its typed config, its
networks, losses, training, sampling and cost), whose ``__init__`` defines ``FAMILY`` (a
:class:`Family`), registered by one line in ``_MODULES`` below. What every family's loop needs
(the output paths, the endless sampler, SIGTERM, the checkpoint cadence, the progress grids) is
``loop``; when a checkpoint may be resumed, ``resume``; what every family's sampling shares
(per-image seeds, the raw set's manifest, reading a generator file), ``sampling``; the config
protocol, ``config``. Nothing outside a family's folder names a family (tested): adding one is
the list of files in ``generators/README.md``.

Its interface is what the workflow needs of any generator:

- ``config``: its :class:`~ganaug.generators.config.GeneratorConfig` dataclass, which says what
  training depends on (``training_params``: the rule's params, so a change retrains), what
  sampling depends on (``sampling_params``), and how training is watched (read from the config,
  never a param);
- ``train(metadata, params, section, outputs, device, threads)``: train, or resume, on one
  repeat's train-split minority images (selected from metadata.csv before any image is opened),
  with the checkpoint contract of ``resume`` (its family, training-set fingerprint and settings;
  anything else is moved aside);
- ``sample(generator, out_dir, manifest, params, device, threads)``: n images, image i from its
  own seed, and the manifest carrying the training-set fingerprint curation and the fits check;
- ``cost(settings, repeats)``: its training and sampling stages for the cost model
  (``ganaug.cost``).

Where a family's files go: ``results/repeat_<r>/<directory>/`` (its generator and curves) and
``results/repeat_<r>/<synthetic>/`` (its raw set and its curation). The study's generator
(``study=True``: what a condition without ``generator:`` uses) keeps the paths it always had
(gan/, synthetic/); every other family's folders are named after it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Family:
    name: str  # the config's word: conditions' generator:, curation.blur_threshold's keys
    label: str  # how the report names it
    config: type  # its GeneratorConfig dataclass (its section, its length, its params)
    train: Callable[..., Any]  # (metadata, params, section, outputs, device, threads): the rule's
    sample: Callable[..., Any]  # (generator, out_dir, manifest, params, device, threads): the rule's
    cost: Callable[..., Any]  # (settings, repeats) -> its training and sampling Stages
    study: bool = False  # the study's generator: the default of a condition, the historical folders
    directory: str = ""  # results/repeat_<r>/<directory>/: generator.pt, curves, grids
    synthetic: str = ""  # results/repeat_<r>/<synthetic>/: raw set, curation, selections

    def __post_init__(self) -> None:
        # the study's keeps its historical folders; every other family's are named after it
        object.__setattr__(self, "directory", self.directory or self.name)
        object.__setattr__(self, "synthetic", self.synthetic or f"synthetic_{self.name}")

    @property
    def section(self) -> str:
        """Its config section."""
        return self.config.SECTION

    @property
    def length_key(self) -> str:
        """The config key that sets its training length."""
        return f"{self.section}.{self.config.LENGTH_KEY}"

    @property
    def suffix(self) -> str:
        """What its curation folders add to the study's names: "" for the study's generator
        (synthetic/), "_<name>" for synthetic_<name>/."""
        return self.synthetic.removeprefix("synthetic")

    def settings(self, config: dict[str, Any]):
        """Its settings at the data's image size and the global seed."""
        return self.config.from_section(config[self.section], config["data"]["image_size"], config["seed"])


# one line per family: the folder under ganaug.generators whose __init__ defines FAMILY
_MODULES = ("wgan_gp", "ddpm", "stylegan2_ada")


def lazy(module: str, name: str) -> Callable[..., Any]:
    """``module.name``, imported when first called: a family's entry points import torch (and
    diffusers), which parsing the workflow must not (a dry run takes seconds, not tens)."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


def _load() -> dict[str, Family]:
    out = {}
    for m in _MODULES:
        fam = importlib.import_module(f"{__name__}.{m}").FAMILY
        out[fam.name] = fam
    studies = [f.name for f in out.values() if f.study]
    if len(studies) != 1:
        raise RuntimeError(
            f"exactly one generator family is the study's (study=True), not {studies or 'none'}"
        )
    return out


FAMILIES: dict[str, Family] = _load()
DEFAULT = next(f.name for f in FAMILIES.values() if f.study)  # a condition without generator: uses it


def family(name: str) -> Family:
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown generator {name!r}: registered are {', '.join(FAMILIES)}") from None


def study() -> Family:
    """The study's generator."""
    return FAMILIES[DEFAULT]


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
    return [f for f in FAMILIES.values() if f.study or f.name in named]
