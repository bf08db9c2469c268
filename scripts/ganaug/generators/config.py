"""What every generator family's config is: a frozen dataclass of its config section (at the
data's image size and the global seed) that says what training and sampling depend on.

A family's dataclass derives from :class:`GeneratorConfig` and declares, beside its fields (each
with a comment, the defaults the schema's):

- ``SECTION``: its config section; ``LENGTH_KEY``: the field that sets the training length;
- ``SAMPLING_KEYS``: what only sampling reads (a change must not retrain);
- ``WATCH_KEYS``: how training is watched or how fast it runs, not what it learns (read from the
  config by the training job, never a rule param, so a change never retrains);
- ``SAMPLED_WITH``: the generator file's record of the network, which sampling checks against
  the config;
- ``RESUME_KEYS`` where the settings a checkpoint is resumed with are not simply every other
  field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ganaug.dataclass_io import as_dict, from_dict


def precision_label(bf16: bool, tf32: bool, device_type: str) -> str:
    """fp32 | tf32 | bf16 (autocast forwards, TF32 elsewhere) | bf16+fp32 (autocast forwards,
    full fp32 elsewhere): what the arithmetic was, not only what was asked. TF32 exists only on
    CUDA; bf16 autocast runs wherever it is asked for (the CPU's in the tests)."""
    if device_type != "cuda":
        return "bf16+fp32" if bf16 else "fp32"
    if bf16:
        return "bf16" if tf32 else "bf16+fp32"
    return "tf32" if tf32 else "fp32"


class GeneratorConfig:
    """The protocol of a family's config, implemented once (a mixin of its frozen dataclass)."""

    SECTION: ClassVar[str]
    LENGTH_KEY: ClassVar[str]
    SAMPLING_KEYS: ClassVar[tuple[str, ...]]
    WATCH_KEYS: ClassVar[tuple[str, ...]]
    SAMPLED_WITH: ClassVar[tuple[str, ...]]
    RESUME_KEYS: ClassVar[tuple[str, ...] | None] = None

    @classmethod
    def from_section(cls, section: Mapping[str, Any], img_size: int, seed: int):
        """The family's section, at the data's image size and the global seed."""
        return from_dict(cls, {**section, "img_size": img_size, "seed": seed}, cls.SECTION)

    @classmethod
    def for_training(cls, params: Mapping[str, Any], section: Mapping[str, Any]):
        """The config the training job runs with: its params, and the watch keys from the config."""
        watch = {k: section[k] for k in cls.WATCH_KEYS if k in section}
        return from_dict(cls, {**params, **watch}, cls.SECTION)

    @property
    def length(self) -> int:
        """The training length, in the family's units."""
        return getattr(self, self.LENGTH_KEY)

    def training_params(self) -> dict[str, Any]:
        """What training's result depends on: its rule params (a change reruns it)."""
        skip = (*self.SAMPLING_KEYS, *self.WATCH_KEYS)
        return {k: v for k, v in as_dict(self).items() if k not in skip}

    def sampling_params(self) -> dict[str, Any]:
        """What sampling depends on: how many images, the seed, the network the file must hold,
        and TF32 (which moves a GPU's samples by a few grey levels)."""
        return {k: getattr(self, k) for k in (*self.SAMPLING_KEYS, "seed", *self.SAMPLED_WITH, "tf32")}

    def resume_settings(self, device: Any) -> dict[str, Any]:
        """The settings that change the weights (``RESUME_KEYS``, or every field but the sampling,
        watch, length and precision ones), the device type and the precision actually used: a
        checkpoint written with others is another experiment."""
        d = as_dict(self)
        if self.RESUME_KEYS is not None:
            out = {k: d[k] for k in self.RESUME_KEYS}
        else:
            skip = (*self.SAMPLING_KEYS, *self.WATCH_KEYS, self.LENGTH_KEY, "bf16", "tf32")
            out = {k: v for k, v in d.items() if k not in skip}
        out["device"] = device.type
        out["precision"] = precision_label(self.bf16, self.tf32, device.type)
        return out
