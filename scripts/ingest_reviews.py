"""Rule ingest_reviews: validate and average the reviewers' scores (or simulate / skip)."""

from ganaug.curation.steps import run_review
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
i = snakemake.input
run_review(
    i.previous,
    i.blur,
    i.ssim,
    i.reviews,
    snakemake.output[0],
    **snakemake.params.curation,
    seed=snakemake.params.seed,
)
