"""Rule split: one repeat's leakage-safe stratified 70/15/15 split -> metadata.csv and summary.json."""

from ganaug.data.splits import split_rule
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
i, o, p = snakemake.input, snakemake.output, snakemake.params
split_rule(i.table, i.rejects, i.same_lesion, o.metadata, o.summary, **p.data, split=p.split)
