"""Rule review_sheet: one page per repeat (every generator's LPIPS survivors and real images,
blinded) and its key."""

from ganaug.curation.steps import candidate_sets, review_sheet_rule
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
i, o, p = snakemake.input, snakemake.output, snakemake.params
sets = candidate_sets(dict(i.items()), p.generators)
review_sheet_rule(sets, i.metadata, o.page, o.key, p.page_id, p.review, p.seed)
