"""Rule review_sheet: the reviewers' page for the LPIPS survivors."""

from pathlib import Path

from ganaug.curation.review import write_review_sheet
from ganaug.curation.stages import candidates
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
names = candidates(snakemake.input.previous, snakemake.input.raw)
write_review_sheet(names, snakemake.input.raw, Path(snakemake.output[0]).parent, snakemake.params.page_id)
