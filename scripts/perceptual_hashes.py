"""Rule perceptual_hashes: the archive's raw images hashed for the near-duplicate screen."""

from ganaug.data.near_duplicates import perceptual_hashes_rule
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
perceptual_hashes_rule(
    snakemake.input.table, snakemake.input.images, snakemake.output.hashes, snakemake.threads
)
