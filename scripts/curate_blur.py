"""Rule curate_blur: variance of the Laplacian of every raw synthetic image."""

from ganaug.curation.steps import blur_rule
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
blur_rule(snakemake.input.raw, snakemake.output[0], **snakemake.params.curation)
