"""Rule curate_blur: variance of the Laplacian of every raw synthetic image."""

from ganaug.curation.stages import blur_stage
from ganaug.io import write_csv
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
write_csv(blur_stage(snakemake.input.raw, snakemake.params.threshold), snakemake.output[0])
