"""Rule perceptual_hashes: the archive's raw images hashed for the near-duplicate screen."""

from ganaug.data.near_duplicates import hash_table_files
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
hash_table_files(snakemake.input.table, snakemake.input.images, snakemake.output.hashes, snakemake.threads)
