"""Rule significance: every condition against its reference(s): differences with lesion-bootstrap
intervals, McNemar per class, Wilcoxon across replicates, per-condition intervals, forest plot."""

from ganaug.evaluation.significance import significance_rule
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
i, p = snakemake.input, snakemake.params
significance_rule(
    i.predictions,
    i.metrics,
    i.metadata,
    dict(snakemake.output.items()),
    **p.evaluation,
    minority=p.minority,
    majority=p.majority,
    seed=p.seed,
)
