"""Rule significance: every condition against its reference(s), on every test set: differences
with lesion-bootstrap intervals, each replicate's difference, McNemar per class, across-replicate
mean difference and Wilcoxon, per-condition intervals, forest plot."""

from ganaug.evaluation.significance import external_inputs, significance_rule
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
i, p = snakemake.input, snakemake.params
significance_rule(
    i.predictions,
    i.metrics,
    i.metadata,
    dict(snakemake.output.items()),
    **p.evaluation,
    split=p.split,
    repeats=p.repeats,
    minority=p.minority,
    majority=p.majority,
    seed=p.seed,
    external=external_inputs(dict(i.items())),
    same_lesion=i.same_lesion,
)
