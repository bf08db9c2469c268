"""Rule review_sheet: the reviewers' page (LPIPS survivors and real images, blinded) and its key."""

from ganaug.curation.steps import run_review_sheet
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
i, o, p = snakemake.input, snakemake.output, snakemake.params
run_review_sheet(i.previous, i.raw, i.metadata, i.manifest, o.page, o.key, p.page_id, p.review, p.seed)
