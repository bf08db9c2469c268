"""Rule ingest_reviews: unblind and average the reviewers' scores (or simulate / skip), and the
visual Turing test's summary."""

from ganaug.curation.steps import run_review
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
i = snakemake.input
run_review(
    i.previous,
    i.blur,
    i.ssim,
    i.key,
    i.reviews,
    dict(snakemake.output.items()),
    **snakemake.params.curation,
    seed=snakemake.params.seed,
)
