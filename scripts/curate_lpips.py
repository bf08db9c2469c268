"""Rule curate_lpips: min LPIPS (VGG) of each SSIM survivor to the real train-split minority images."""

from ganaug.curation.steps import lpips_rule
from ganaug.runtime import configure_runtime, setup_logging

setup_logging(snakemake.log[0])
configure_runtime(snakemake.config)
i, p = snakemake.input, snakemake.params
lpips_rule(
    i.previous,
    i.raw,
    i.metadata,
    i.manifest,
    snakemake.output[0],
    **p.curation,
    cache_dir=p.cache_dir,
    seed=p.seed,
    device=p.device,
    threads=snakemake.threads,
)
