"""Rule final_results: the study's summary structure, with only this run's measurements."""

import json
from pathlib import Path

import pandas as pd

from ganaug.evaluation.final_results import build
from ganaug.io import write_json
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
p = snakemake.params
read = lambda path: json.loads(Path(path).read_text())  # noqa: E731
aggregates = {}
for path in snakemake.input.aggregates:
    agg = read(path)
    aggregates[agg["arch"], agg["condition"]] = agg
names = set(snakemake.input.keys())
stats = {
    k: pd.read_csv(snakemake.input[k]) if k in names else pd.DataFrame()
    for k in ("mcnemar", "wilcoxon", "bootstrap")
}
out = build(
    read(snakemake.input.data_summary),
    read(snakemake.input.curation_summary),
    read(snakemake.input.gan_metrics),
    aggregates,
    stats["mcnemar"],
    stats["wilcoxon"],
    stats["bootstrap"],
    p.provenance,
    p.expected_f1,
)
write_json(out, snakemake.output[0])
