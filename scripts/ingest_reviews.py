"""Rule ingest_reviews: validate and average the reviewers' scores (or simulate / skip)."""

from ganaug.curation.stages import review_stage
from ganaug.io import write_csv
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
p = snakemake.params
table = review_stage(
    snakemake.input.previous,
    p.mode,
    list(snakemake.input.reviews),
    p.reviewers,
    p.threshold,
    p.noise,
    p.seed,
    snakemake.input.blur,
    snakemake.input.ssim,
    p.review_dir,
)
write_csv(table, snakemake.output[0])
