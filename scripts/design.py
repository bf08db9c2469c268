"""Rule design: per primary hypothesis, the variance components of this run, the power of its
design at the effect of interest, and the repeats x seeds that would reach 80 %."""

from ganaug.evaluation.planning import design_rule
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
i = snakemake.input
design_rule(
    i.differences,
    i.replicates,
    i.cost,
    snakemake.output[0],
    **snakemake.params.evaluation,
    split=snakemake.params.split,
)
