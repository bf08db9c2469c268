"""Rule plan_cost: what the configured study costs on one H100, per kind of job, and what each
kind scales with (the planner's input)."""

from ganaug.cost.study import plan_cost_rule
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
plan_cost_rule(snakemake.params.study, snakemake.output[0])
