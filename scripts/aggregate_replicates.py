"""Rule aggregate_replicates: mean, sd and every replicate (repeat x seed) of one (arch, condition)."""

from ganaug.evaluation.classification import aggregate_rule
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
aggregate_rule(list(snakemake.input), snakemake.output[0])
