"""The StyleGAN2-ADA generator family: StyleGAN2 (Karras et al., CVPR 2020) trained with adaptive
discriminator augmentation (Karras et al., NeurIPS 2020), written here in plain PyTorch from the
papers (NVIDIA's code is licensed for non-commercial research only and compiles CUDA kernels).

``config`` (the ``stylegan2_ada`` section), ``networks`` (mapping, modulated convolutions, the
skip generator, the residual discriminator), ``augment`` (the ADA pipeline and its controller),
``losses`` (the logistic loss, lazy R1, path length), ``training``, ``sampling`` and ``cost``:
imported only by a job that needs them.
"""

from __future__ import annotations

from ganaug.generators import Family, lazy
from ganaug.generators.stylegan2_ada.config import NAME, StyleGan2AdaConfig

HERE = __name__  # the entry points: imported when a job calls them


FAMILY = Family(
    name=NAME,
    label="StyleGAN2-ADA",
    config=StyleGan2AdaConfig,
    train=lazy(f"{HERE}.training", "train_rule"),
    sample=lazy(f"{HERE}.sampling", "sample_rule"),
    cost=lazy(f"{HERE}.cost", "stages"),
)
