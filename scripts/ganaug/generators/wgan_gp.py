"""The study's generator: the WGAN-GP of ganaug.training.gan, exactly as before the registry
(its folders, its settings, its outputs), behind the registry's interface."""

from __future__ import annotations

from ganaug.generators import Family
from ganaug.settings import GanConfig


def train(metadata, params, section, outputs, device, threads):
    from ganaug.training.gan import train_from_metadata

    return train_from_metadata(metadata, GanConfig.for_training(params, section), outputs, device, threads)


def sample(generator, out_dir, manifest, params, device, threads):
    from ganaug.training.sample import sample_rule

    return sample_rule(generator, out_dir, manifest, params, device, threads)


FAMILY = Family(
    name="wgan_gp",
    label="WGAN-GP",
    section="gan",
    config=GanConfig,
    train=train,
    sample=sample,
    length_key="gan.total_iterations",
    directory="gan",
    synthetic="synthetic",
)
