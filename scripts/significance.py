"""Rule significance: every condition against its reference(s): differences with lesion-bootstrap
intervals, McNemar per class, Wilcoxon across replicates, and per-condition intervals."""

import pandas as pd

from ganaug.evaluation.significance import load_fits, significance_tables
from ganaug.io import write_csv
from ganaug.runtime import setup_logging
from ganaug.viz import save_forest

setup_logging(snakemake.log[0])
p = snakemake.params
tables = significance_tables(
    load_fits(snakemake.input.predictions, snakemake.input.metrics),
    pd.read_csv(
        snakemake.input.metadata,
        dtype={"image_id": str, "lesion_id": str, "patient_id": str},
        keep_default_na=False,
    ),
    p.references,
    {1: p.minority, 0: p.majority},
    p.resamples,
    p.seed,
)
for name, table in tables.items():
    write_csv(table, snakemake.output[name], for_spreadsheets=True)
save_forest(tables["differences"], snakemake.output.forest)
