"""Rule gan_metrics: FID, IS, KID, precision/recall, LPIPS and SSIM of the raw (at the curated
set's size) and the curated synthetic sets, against the train- and validation-split DF images."""

from pathlib import Path

import torch

from ganaug.curation.lpips_fast import FastLpips, build_lpips
from ganaug.data.provenance import check_raw_set
from ganaug.evaluation.features import build_extractor
from ganaug.evaluation.synthetic_quality import GanMetricsOutputs, Settings, gan_metrics
from ganaug.runtime import select_device, setup_logging
from ganaug.weights import backbone_label

log = setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
p = snakemake.params
device = select_device(p.device)
extractor = build_extractor(p.extractor, p.cache_dir, p.seed)
if not extractor.comparable:
    log.warning("GAN metrics with a RANDOM-INIT Inception: not comparable to any published FID/IS")
check_raw_set(snakemake.input.manifest, snakemake.input.metadata, p.image_size)
o = snakemake.output
gan_metrics(
    snakemake.input.metadata,
    snakemake.input.raw,
    snakemake.input.curated,
    extractor,
    FastLpips(build_lpips(p.lpips_backbone, p.cache_dir, p.seed), device),
    backbone_label("vgg16", p.lpips_backbone),
    device,
    Settings(**p.settings, seed=p.seed),
    p.n_show,
    GanMetricsOutputs(Path(o.metrics), Path(o.features), Path(o.per_image), Path(o.figure)),
)
