"""Rule review_sheet: one page per repeat, every generator's part under its blinded names."""

from ganaug.curation.steps import review_sheet_rule
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
i, p = snakemake.input, snakemake.params
files = dict(i.items())
keys = {g: files[f"key_{g}"] for g in p.generators}
raws = {g: files[f"raw_{g}"] for g in p.generators}
review_sheet_rule(keys, raws, i.metadata, snakemake.output.page, p.page_id)
