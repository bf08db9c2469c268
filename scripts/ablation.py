"""Rule ablation: conditions x architectures, mean +- sd over replicates (tuned decision)."""

from ganaug.evaluation.ablation import ablation_rule
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
o = snakemake.output
ablation_rule(snakemake.input.aggregates, o.csv, o.md, o.figure, **snakemake.params.evaluation)
