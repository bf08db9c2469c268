"""Rule plan: before a long run, the configured design's power at the effect of interest (the
noisy calibration world) and its projected GPU-hours (the anchored cost model). No data read."""

from ganaug.evaluation.before_run import plan_rule
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
p = snakemake.params
plan_rule(
    snakemake.input.cost,
    snakemake.output[0],
    **p.evaluation,
    archs=p.archs,
    test_sets=p.test_sets,
    workers=snakemake.threads,
)
