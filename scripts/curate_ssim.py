"""Rule curate_ssim: max SSIM of each blur survivor against the real train-split minority images."""

import torch

from ganaug.curation.stages import ssim_stage
from ganaug.io import write_csv
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
p = snakemake.params
table = ssim_stage(
    snakemake.input.previous,
    snakemake.input.raw,
    snakemake.input.metadata,
    snakemake.input.manifest,
    p.lo,
    p.hi,
    p.chunk,
)
write_csv(table, snakemake.output[0])
