"""Rule gan_metrics: FID, IS, KID, precision/recall, LPIPS and SSIM of the raw (at the curated
set's size) and the curated synthetic sets, against the train- and validation-split DF images."""

from ganaug.evaluation.synthetic_quality import gan_metrics_rule
from ganaug.runtime import configure_runtime, setup_logging

setup_logging(snakemake.log[0])
configure_runtime(snakemake.config)
p = snakemake.params
gan_metrics_rule(
    dict(snakemake.input.items()),
    dict(snakemake.output.items()),
    p.evaluation,
    p.lpips_backbone,
    p.cache_dir,
    p.image_size,
    p.seed,
    p.device,
    snakemake.threads,
)
