"""Rule curate_lpips: min LPIPS (VGG) of each SSIM survivor to the real train-split minority images."""

import torch

from ganaug.curation.lpips_fast import FastLpips, build_lpips
from ganaug.curation.stages import lpips_stage
from ganaug.io import write_csv
from ganaug.runtime import select_device, setup_logging

log = setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
p = snakemake.params
if p.backbone == "random":
    log.warning("LPIPS with a RANDOM-INIT VGG16 trunk (offline demo): distances are not comparable to LPIPS")
fast = FastLpips(build_lpips(p.backbone, p.cache_dir, p.seed), select_device(p.device))
table = lpips_stage(
    snakemake.input.previous,
    snakemake.input.raw,
    snakemake.input.metadata,
    snakemake.input.manifest,
    fast,
    p.backbone,
    p.threshold,
    p.chunk,
)
write_csv(table, snakemake.output[0])
