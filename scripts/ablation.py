"""Rule ablation: conditions x architectures, mean +- sd over seeds (tuned decision)."""

import json
from pathlib import Path

from ganaug.evaluation.ablation import ablation_markdown, ablation_table, display_table
from ganaug.io import atomic_path, write_csv
from ganaug.runtime import setup_logging
from ganaug.viz import table_figure

setup_logging(snakemake.log[0])
p = snakemake.params
aggregates = {}
for path in snakemake.input:
    agg = json.loads(Path(path).read_text())
    aggregates[agg["arch"], agg["condition"]] = agg
table = ablation_table(aggregates, p.expected_f1)
write_csv(table, snakemake.output.csv, for_spreadsheets=True)
first = next(iter(aggregates.values()))
note = (
    f"Test split, threshold tuned on validation; mean ± sd over {first['n_seeds']} seed(s) (sd needs two). "
    f"Classifier weights: {first.get('weights', '?')}. "
    + (
        "Curated conditions used a SIMULATED review. "
        if any(a.get("simulated_review") for a in aggregates.values())
        else ""
    )
    + "The last column is the original study's expectation, copied from the config, not a measurement."
)
with atomic_path(snakemake.output.md) as tmp:
    tmp.write_text(ablation_markdown(table, note), encoding="utf-8")
table_figure(
    display_table(table),
    snakemake.output.figure,
    f"Ablation: test split, tuned threshold, mean ± sd over {first['n_seeds']} seed(s)",
)
