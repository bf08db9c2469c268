"""Rule generator_budget: each generator's training length and its projected GPU time on one H100
(from budget.gpu_hours where it is set, else each family's own length)."""

from ganaug.cost.budget import budget_rule
from ganaug.generators import in_use
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
cfg = snakemake.config
budget_rule(cfg, in_use(cfg["classifier"]["conditions"]), snakemake.output[0])
