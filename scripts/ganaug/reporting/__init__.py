"""What the notebooks and the HTML report show, from the files their rule declares.

Three concerns, one module each: ``tables`` (data frames to display), ``figures`` (plots, each
with a caption and alt text) and ``words`` (the answers and caveats in sentences). This module
holds what all three share: loading the run's files and a few names. The notebooks stay short:
they call these functions and display what comes back, so what the report shows is the same
code the tests run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ganaug.evaluation.columns import IN_DISTRIBUTION

METRIC_LABELS = {
    "sensitivity": "sensitivity (DF recall)",
    "specificity": "specificity (NV)",
    "f1": "F1",
    "pr_auc": "PR-AUC",
    "balanced_accuracy": "balanced accuracy",
}


@dataclass
class Results:
    """What the report and the notebooks show, read from the files their rule declares."""

    paths: dict  # name -> declared input (ganaug.notebooks.notebook_paths)
    final: dict
    differences: pd.DataFrame
    mcnemar: pd.DataFrame
    wilcoxon: pd.DataFrame
    intervals: pd.DataFrame
    replicates: pd.DataFrame  # each replicate's difference from its reference
    design: pd.DataFrame  # the planning table (design.csv): power, components, the next design

    def fits(self) -> list[dict]:
        """Every fit's metrics.json (as a dict), history and predictions, in the rule's order."""
        out = []
        for f in self.paths["fits"]:
            m = json.loads(Path(f["metrics"]).read_text())
            out.append(
                {
                    "arch": m["arch"],
                    "condition": m["condition"],
                    "repeat": m.get("repeat", 0),
                    "seed": m["seed"],
                    "metrics": m,
                    "history": pd.read_csv(f["history"]),
                    "predictions": pd.read_csv(f["predictions"]),
                }
            )
        return out


def _csv(paths: dict, name: str) -> pd.DataFrame:
    return pd.read_csv(paths[name], keep_default_na=True) if name in paths else pd.DataFrame()


def load(paths: dict) -> Results:
    """``paths``: the notebook's papermill parameter, every file its rule declares as input."""
    final = Path(paths["final"])
    if not final.is_file():
        raise FileNotFoundError(f"{final} not found: run `snakemake {final}` first")
    return Results(
        paths,
        json.loads(final.read_text()),
        *(
            _csv(paths, k)
            for k in ("differences", "mcnemar", "wilcoxon", "intervals", "replicates", "design")
        ),
    )


def order(final: dict) -> tuple[list[str], list[str]]:
    """Architectures and conditions in the config's order (the JSON's keys are sorted)."""
    o = final.get("order") or {}
    archs = o.get("archs") or list(final["classifier_results"])
    conds = o.get("conditions") or list(next(iter(final["classifier_results"].values())))
    return archs, conds


def set_names(table: pd.DataFrame) -> list[str]:
    """The test sets a stats table holds, in distribution first."""
    if table.empty or "test_set" not in table.columns:
        return [IN_DISTRIBUTION] if not table.empty else []
    names = list(dict.fromkeys(table["test_set"]))
    return sorted(names, key=lambda n: (n != IN_DISTRIBUTION, n))


def for_set(table: pd.DataFrame, test_set: str | None) -> pd.DataFrame:
    """The rows of one test set (None: all of them)."""
    if test_set is None or table.empty or "test_set" not in table.columns:
        return table
    return table[table["test_set"] == test_set]


def select(table: pd.DataFrame, **match) -> pd.DataFrame:
    """The rows whose columns equal ``match``."""
    if table.empty:
        return table
    keep = np.ones(len(table), bool)
    for k, v in match.items():
        keep &= (table[k] == v).to_numpy()
    return table[keep]


def primary_rows(diff: pd.DataFrame) -> pd.DataFrame:
    """The declared family's rows of differences.csv."""
    if diff.empty or "family" not in diff.columns:
        return diff.iloc[0:0]
    return diff[diff["family"] == "primary"]
