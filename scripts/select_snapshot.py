"""Rules select_snapshot (the study's generator) and select_generator_snapshot (any other
registered family, by its folder {gdir}): which snapshot the raw set is sampled from."""

from ganaug.generators import by_directory, study
from ganaug.generators.snapshots import select_rule
from ganaug.runtime import configure_runtime, setup_logging

setup_logging(snakemake.log[0])
configure_runtime(snakemake.config)
w, p = snakemake.wildcards, snakemake.params
select_rule(
    snakemake.input.snapshots,
    snakemake.input.metadata,
    by_directory(w.gdir) if w.get("gdir") else study(),
    p.sampling,
    p.method,
    p.evaluation,
    p.cache_dir,
    p.seed,
    p.device,
    snakemake.threads,
    dict(snakemake.output.items()),
    p.draws,
)
