"""Rule fit_classifier: train one (arch, condition, seed), evaluate once on the test split."""

import json
from pathlib import Path

import torch

from ganaug.data.datasets import Condition
from ganaug.data.provenance import manifest_digest
from ganaug.runtime import select_device, setup_logging
from ganaug.training.classifier import FitConfig, FitOutputs, fit_and_evaluate

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
p = snakemake.params
o = snakemake.output
provenance = {"weights_source": p.weights}
summary_path = snakemake.input.get("curation_summary")  # only the curated conditions have one
synthetic_training_set = None
if snakemake.input.get("manifest"):  # the raw conditions
    synthetic_training_set = manifest_digest(snakemake.input.manifest)
if summary_path:
    s = json.loads(Path(summary_path).read_text())
    synthetic_training_set = s.get("gan_training_set")
    provenance.update(
        review_mode=s["review_mode"],
        simulated_review=s["simulated_review"],
        lpips_backbone=s["lpips_backbone"],
        cluster_backbone=s["cluster_backbone"],
    )
fit_and_evaluate(
    arch=snakemake.wildcards.arch,
    cond=Condition.from_dict(snakemake.wildcards.condition, p.condition),
    seed=int(snakemake.wildcards.seed),
    metadata=snakemake.input.metadata,
    cfg=FitConfig(**p.fit),
    weights=p.weights,
    cache_dir=p.cache_dir,
    image_size=p.image_size,
    device=select_device(p.device),
    out=FitOutputs(
        o.model, o.history, o.predictions, o.metrics, o.curves, o.confusion, o.pr_curve, Path(p.tensorboard)
    ),
    raw_dir=snakemake.input.get("raw"),
    curated_dir=snakemake.input.get("curated"),
    provenance=provenance,
    synthetic_training_set=synthetic_training_set,
    match=Condition.from_dict(p.match["name"], p.match) if p.match else None,
)
