"""Rule ingest_reviews: unblind the one page's scores and split them by generator (or simulate /
skip); each generator's review table and visual Turing test."""

from ganaug.curation.steps import candidate_sets, ingest_reviews_rule
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
i, p = snakemake.input, snakemake.params
ingest_reviews_rule(
    candidate_sets(dict(i.items()), p.generators),
    i.key,
    i.metadata,
    i.reviews,
    dict(snakemake.output.items()),
    **p.curation,
    seed=p.seed,
)
