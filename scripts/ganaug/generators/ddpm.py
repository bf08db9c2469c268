"""The DDPM generator family: a pixel-space denoising diffusion model trained from scratch on
diffusers (the loop: ganaug.training.diffusion, imported only by a DDPM job, as diffusers takes
seconds to import), and its registry entry.

Unconditional on the minority class by default; ``conditional: true`` learns the minority and
the majority images of the train split with a class embedding, and samples the minority only.
"""

from __future__ import annotations

from ganaug.generators import Family
from ganaug.settings import DDPM_NAME as NAME
from ganaug.settings import DdpmConfig


def train(metadata, params, section, outputs, device, threads):
    from ganaug.training.diffusion import train_from_metadata

    return train_from_metadata(metadata, DdpmConfig.for_training(params, section), outputs, device, threads)


def sample(generator, out_dir, manifest, params, device, threads):
    from ganaug.training.diffusion import sample_rule

    return sample_rule(generator, out_dir, manifest, params, device, threads)


FAMILY = Family(
    name=NAME,
    label="DDPM",
    section="ddpm",
    config=DdpmConfig,
    train=train,
    sample=sample,
    length_key="ddpm.total_steps",
)
