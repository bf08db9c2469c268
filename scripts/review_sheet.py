"""Rule review_sheet: the reviewers' page for the LPIPS survivors."""

from ganaug.curation.steps import run_review_sheet
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
run_review_sheet(snakemake.input.previous, snakemake.input.raw, snakemake.output[0], snakemake.params.page_id)
