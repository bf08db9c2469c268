"""Rule split: leakage-safe stratified 70/15/15 splits -> metadata.csv and summary.json."""

from ganaug.data.splits import split_files
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
i, o = snakemake.input, snakemake.output
split_files(i.table, i.rejects, o.metadata, o.summary, **snakemake.params.data)
