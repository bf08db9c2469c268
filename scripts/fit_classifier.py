"""Rule fit_classifier: train one (repeat, arch, condition, seed), evaluate once on its test split."""

import torch

from ganaug.runtime import configure_runtime, setup_logging
from ganaug.training.fit_job import FitOutputs, fit_rule

setup_logging(snakemake.log[0])
configure_runtime(snakemake.config)
torch.set_num_threads(snakemake.threads)
i, p, w = snakemake.input, snakemake.params, snakemake.wildcards
fit_rule(
    w.arch,
    int(w.seed),
    p.fit,
    dict(i.items()),
    p.cache_dir,
    p.image_size,
    p.device,
    FitOutputs.of(snakemake.output, p.tensorboard),
    repeat=int(w.repeat),
)
