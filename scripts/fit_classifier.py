"""Rule fit_classifier: train one (repeat, arch, condition, seed), evaluate once on its test split."""

import torch

from ganaug.runtime import configure_runtime, setup_logging
from ganaug.training.classifier import FitOutputs, fit_rule

setup_logging(snakemake.log[0])
configure_runtime(snakemake.config)
torch.set_num_threads(snakemake.threads)
i, p, w = snakemake.input, snakemake.params, snakemake.wildcards
fit_rule(
    w.arch,
    int(w.seed),
    p.fit,
    i.metadata,
    p.cache_dir,
    p.image_size,
    p.device,
    FitOutputs.of(snakemake.output, p.tensorboard),
    **{k: i.get(k) for k in ("raw", "manifest", "curated", "curation_summary", "extra") if i.get(k)},
    repeat=int(w.repeat),
    external={k.removeprefix("external_"): v for k, v in i.items() if k.startswith("external_")},
    caches={k.removeprefix("cache_"): v for k, v in i.items() if k.startswith("cache_")},
)
