"""The DDPM generator family: a pixel-space denoising diffusion model (Ho et al. 2020) trained
from scratch on diffusers, sampled with DDIM (Song et al. 2021).

Unconditional on the minority class by default; ``conditional: true`` learns the minority and
the majority images of the train split with a class embedding, and samples the minority only.
``config`` (the ``ddpm`` section), ``networks`` (the UNet and the schedules), ``ema``,
``training``, ``sampling`` and ``cost``: imported only by a job that needs them, as diffusers
takes seconds to import.
"""

from __future__ import annotations

from ganaug.generators import Family
from ganaug.generators.ddpm.config import NAME, DdpmConfig


def train(metadata, params, section, outputs, device, threads):
    from ganaug.generators.ddpm.training import train_from_metadata

    return train_from_metadata(metadata, DdpmConfig.for_training(params, section), outputs, device, threads)


def sample(generator, out_dir, manifest, params, device, threads):
    from ganaug.generators.ddpm.sampling import sample_rule

    return sample_rule(generator, out_dir, manifest, params, device, threads)


def cost(settings, repeats):
    from ganaug.generators.ddpm.cost import stages

    return stages(settings, repeats)


FAMILY = Family(name=NAME, label="DDPM", config=DdpmConfig, train=train, sample=sample, cost=cost)
