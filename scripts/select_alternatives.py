"""Rule select_alternatives: the random and best-scored selections, the cluster selection's controls."""

from ganaug.curation.steps import alternatives_rule
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
i = snakemake.input
alternatives_rule(i.review, i.clusters, i.raw, dict(snakemake.output.items()), snakemake.params.seed)
