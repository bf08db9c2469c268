"""The DDPM generator family: a pixel-space denoising diffusion model (Ho et al. 2020) trained
from scratch on diffusers, sampled with DDIM (Song et al. 2021).

Unconditional on the minority class by default; ``conditional: true`` learns the minority and
the majority images of the train split with a class embedding, and samples the minority only.
``config`` (the ``ddpm`` section), ``networks`` (the UNet and the schedules), ``ema``,
``training``, ``sampling`` and ``cost``: imported only by a job that needs them, as diffusers
takes seconds to import.
"""

from __future__ import annotations

from ganaug.generators import Family, lazy
from ganaug.generators.ddpm.config import NAME, DdpmConfig

HERE = __name__  # the entry points: imported when a job calls them


FAMILY = Family(
    name=NAME,
    label="DDPM",
    config=DdpmConfig,
    train=lazy(f"{HERE}.training", "train_rule"),
    sample=lazy(f"{HERE}.sampling", "sample_rule"),
    cost=lazy(f"{HERE}.cost", "stages"),
)
