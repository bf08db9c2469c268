"""Rule sample_gan: n_samples images from the trained generator, one seed per image."""

import torch

from ganaug.runtime import select_device, setup_logging
from ganaug.training.sample import sample_images

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
sample_images(
    snakemake.input.generator,
    snakemake.output.images,
    snakemake.output.manifest,
    n=snakemake.params.n_samples,
    seed=snakemake.params.seed,
    batch_size=snakemake.params.batch_size,
    device=select_device(snakemake.params.device),
    expected=snakemake.params.expected,
)
