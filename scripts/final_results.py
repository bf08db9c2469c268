"""Rule final_results: the study's summary structure, with only this run's measurements."""

import json
from pathlib import Path

import pandas as pd

from ganaug.evaluation.final_results import build
from ganaug.evaluation.significance import TABLES as STATS
from ganaug.io import write_json
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
p = snakemake.params
read = lambda path: json.loads(Path(path).read_text())  # noqa: E731
aggregates = {}
for path in snakemake.input.aggregates:
    agg = read(path)
    aggregates[agg["arch"], agg["condition"]] = agg
tables = {k: pd.read_csv(v) for k, v in snakemake.input.items() if k in STATS}
out = build(
    read(snakemake.input.data_summary),
    read(snakemake.input.curation_summary),
    read(snakemake.input.gan_metrics),
    aggregates,
    tables,
    p.provenance,
    p.expected_f1,
)
write_json(out, snakemake.output[0])
