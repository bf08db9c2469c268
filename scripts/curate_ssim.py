"""Rule curate_ssim: max SSIM of each blur survivor against the real train-split minority images."""

from ganaug.curation.steps import ssim_rule
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
i = snakemake.input
ssim_rule(
    i.previous,
    i.raw,
    i.metadata,
    i.manifest,
    snakemake.output[0],
    **snakemake.params.curation,
    threads=snakemake.threads,
)
