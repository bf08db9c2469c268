"""Rule significance: McNemar, Wilcoxon and bootstrap CIs of every condition against baseline."""

from ganaug.evaluation.ablation import load_runs, statistics
from ganaug.io import write_csv
from ganaug.runtime import setup_logging

setup_logging(snakemake.log[0])
p = snakemake.params
runs = load_runs(p.root, p.archs, p.conditions, p.seeds)
tables = statistics(runs, p.archs, p.conditions, p.seeds, "baseline", p.resamples, p.seed)
for name, table in tables.items():
    write_csv(table, snakemake.output[name], for_spreadsheets=True)
