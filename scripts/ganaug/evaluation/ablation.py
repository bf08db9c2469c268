"""The ablation table: conditions x architectures, mean +- sd over replicates of the tuned
decision's metrics, from the aggregated metrics.json files. (Comparisons between conditions are
in ganaug.evaluation.significance.)"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ganaug.io import atomic_path, write_csv
from ganaug.viz import table_figure

ABLATION_METRICS = ("f1", "recall", "precision", "balanced_accuracy", "pr_auc")
DECISION = "tuned"  # the validation-tuned threshold: the decision the study's F1 is about


def ablation_table(aggregates: dict[tuple[str, str], dict], expected_f1: dict) -> pd.DataFrame:
    rows = []
    for (a, c), agg in aggregates.items():
        row = {"arch": a, "condition": c, "n_replicates": agg["n_replicates"]}
        for m in ABLATION_METRICS:
            row[f"{m}_mean"] = agg[DECISION][m]["mean"]
            row[f"{m}_sd"] = agg[DECISION][m]["sd"]
        row["study_expected_f1"] = expected_f1.get(a, {}).get(c)
        rows.append(row)
    return pd.DataFrame(rows)


def _cell(mean, sd) -> str:
    if mean is None or (isinstance(mean, float) and np.isnan(mean)):
        return "n/a"
    if sd is None or (isinstance(sd, float) and np.isnan(sd)):
        return f"{mean:.3f}"
    return f"{mean:.3f} ± {sd:.3f}"


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    """The ablation table as strings (mean ± sd), as the markdown file and the figure show it."""
    rows = []
    for _, r in table.iterrows():
        exp = r["study_expected_f1"]
        row = {"architecture": r["arch"], "condition": r["condition"]}
        row |= {m.replace("_", " "): _cell(r[f"{m}_mean"], r[f"{m}_sd"]) for m in ABLATION_METRICS}
        row["study's expected F1"] = (
            "—" if exp is None or pd.isna(exp) else f"{exp:.2f} (the study's, not measured)"
        )
        rows.append(row)
    return pd.DataFrame(rows)


def ablation_markdown(table: pd.DataFrame, note: str) -> str:
    shown = display_table(table)
    lines = ["| " + " | ".join(shown.columns) + " |", "|" + "---|" * len(shown.columns)]
    for _, r in shown.iterrows():
        lines.append("| " + " | ".join(map(str, r.tolist())) + " |")
    return "\n".join(lines) + "\n\n" + note + "\n"


def ablation_rule(
    aggregates: list[str | Path], csv: str | Path, md: str | Path, figure: str | Path, study_expected_f1: dict
) -> pd.DataFrame:
    """The rule ablation: the table as CSV (for spreadsheets), markdown and a figure."""
    import json
    from pathlib import Path

    aggs = {}
    for path in aggregates:
        agg = json.loads(Path(path).read_text())
        aggs[agg["arch"], agg["condition"]] = agg
    table = ablation_table(aggs, study_expected_f1)
    write_csv(table, csv, for_spreadsheets=True)
    first = next(iter(aggs.values()))
    simulated = any(a.get("simulated_review") for a in aggs.values())
    note = (
        f"Test split, threshold tuned on validation; mean ± sd over {first['n_replicates']} "
        f"replicate(s) ({len(first['repeats'])} split(s) x {len(first['seeds'])} seed(s); sd needs "
        f"two). Classifier weights: {first.get('weights', '?')}. "
        + ("Curated conditions used a SIMULATED review. " if simulated else "")
        + "The last column is the original study's expectation, copied from the config, not a measurement."
    )
    with atomic_path(md) as tmp:
        tmp.write_text(ablation_markdown(table, note), encoding="utf-8")
    title = f"Ablation: test split, tuned threshold, mean ± sd over {first['n_replicates']} replicate(s)"
    table_figure(display_table(table), figure, title)
    return table
