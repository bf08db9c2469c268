"""Rules sample_gan (the study's generator) and sample_generator (any other registered family, by
its folder {gdir}): n_samples images from the trained generator, one seed per image."""

from ganaug.generators import by_directory, study
from ganaug.runtime import configure_runtime, setup_logging

setup_logging(snakemake.log[0])
configure_runtime(snakemake.config)
w = snakemake.wildcards
fam = by_directory(w.gdir) if w.get("gdir") else study()
fam.sample(
    snakemake.input.generator,
    snakemake.output.images,
    snakemake.output.manifest,
    snakemake.params.settings,
    snakemake.params.device,
    snakemake.threads,
)
