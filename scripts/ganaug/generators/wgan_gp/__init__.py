"""The study's generator: a WGAN-GP (Gulrajani et al. 2017) at the study's exact networks and
settings, with its historical folders (gan/, synthetic/).

``config`` (the ``gan`` section), ``networks`` (generator and critic), ``losses``, ``diffaugment``
(Zhao et al. 2020, optional), ``training`` (the loop's iteration and its checkpoint), ``sampling``
and ``cost``. The modules that import torch are imported only by a job that needs them.
"""

from __future__ import annotations

from ganaug.generators import Family
from ganaug.generators.wgan_gp.config import NAME, WganGpConfig


def train(metadata, params, section, outputs, device, threads):
    from ganaug.generators.wgan_gp.training import train_from_metadata

    return train_from_metadata(metadata, WganGpConfig.for_training(params, section), outputs, device, threads)


def sample(generator, out_dir, manifest, params, device, threads):
    from ganaug.generators.wgan_gp.sampling import sample_rule

    return sample_rule(generator, out_dir, manifest, params, device, threads)


def cost(settings, repeats):
    from ganaug.generators.wgan_gp.cost import stages

    return stages(settings, repeats)


FAMILY = Family(
    name=NAME,
    label="WGAN-GP",
    config=WganGpConfig,
    train=train,
    sample=sample,
    cost=cost,
    study=True,
    directory="gan",
    synthetic="synthetic",
)
