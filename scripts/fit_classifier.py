"""Rule fit_classifier: train one (arch, condition, seed), evaluate once on the test split."""

from pathlib import Path

import torch

from ganaug.runtime import setup_logging
from ganaug.training.classifier import FitOutputs, fit_rule

setup_logging(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
i, o, p = snakemake.input, snakemake.output, snakemake.params
fit_rule(
    snakemake.wildcards.arch,
    int(snakemake.wildcards.seed),
    p.fit,
    i.metadata,
    p.cache_dir,
    p.image_size,
    p.device,
    FitOutputs(
        o.model, o.history, o.predictions, o.metrics, o.curves, o.confusion, o.pr_curve, Path(p.tensorboard)
    ),
    **{k: i.get(k) for k in ("raw", "manifest", "curated", "curation_summary") if i.get(k)},
)
