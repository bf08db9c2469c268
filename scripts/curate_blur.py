"""Rule curate_blur: variance of the Laplacian of every raw synthetic image, kept above the fixed
threshold or above a percentile of the real train-split minority images' values."""

from ganaug.curation.steps import blur_rule
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
blur_rule(
    snakemake.input.raw, snakemake.output[0], **snakemake.params.curation, metadata=snakemake.input.metadata
)
