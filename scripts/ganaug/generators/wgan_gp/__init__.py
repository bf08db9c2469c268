"""The study's generator: a WGAN-GP (Gulrajani et al. 2017) at the study's exact networks and
settings, with its historical folders (gan/, synthetic/).

``config`` (the ``gan`` section), ``networks`` (generator and critic), ``losses``, ``diffaugment``
(Zhao et al. 2020, optional), ``training`` (the loop's iteration and its checkpoint), ``sampling``
and ``cost``. The modules that import torch are imported only by a job that needs them.
"""

from __future__ import annotations

from ganaug.generators import Family, lazy
from ganaug.generators.wgan_gp.config import NAME, WganGpConfig

HERE = __name__  # the entry points: imported when a job calls them


FAMILY = Family(
    name=NAME,
    label="WGAN-GP",
    config=WganGpConfig,
    train=lazy(f"{HERE}.training", "train_rule"),
    sample=lazy(f"{HERE}.sampling", "sample_rule"),
    cost=lazy(f"{HERE}.cost", "stages"),
    study=True,
    directory="gan",
    synthetic="synthetic",
)
