"""Rule sample_gan: n_samples images from the trained generator, one seed per image."""

from ganaug.runtime import configure_runtime, setup_logging
from ganaug.training.sample import sample_rule

setup_logging(snakemake.log[0])
configure_runtime(snakemake.config)
sample_rule(
    snakemake.input.generator,
    snakemake.output.images,
    snakemake.output.manifest,
    snakemake.params.gan,
    snakemake.params.device,
    snakemake.threads,
)
