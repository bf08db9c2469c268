"""Rule split: leakage-safe stratified 70/15/15 splits -> metadata.csv and summary.json."""

import pandas as pd

from ganaug.data.splits import build_metadata, summarise
from ganaug.io import write_csv, write_json
from ganaug.runtime import setup_logging

log = setup_logging(snakemake.log[0])
processed = pd.read_csv(snakemake.input.table, dtype=str, keep_default_na=False)
n_rejected = len(pd.read_csv(snakemake.input.rejects, dtype=str, keep_default_na=False))
split = snakemake.params.split
fractions = {k: split[k] for k in ("train", "val", "test")}
meta = build_metadata(processed, fractions, split["seed"], snakemake.params.minority, snakemake.params.source)
summary = summarise(meta, snakemake.params.minority, snakemake.params.majority, n_rejected)
write_csv(meta, snakemake.output.metadata)
write_json(summary, snakemake.output.summary)
log.info("splits: %s", summary["splits"])
