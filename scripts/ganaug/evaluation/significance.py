"""Every condition against its reference(s), per architecture: the tables of results/stats/.

- ``differences.csv``: the paired difference condition - reference in sensitivity, specificity,
  F1, PR-AUC and balanced accuracy, at the validation-tuned threshold and at argmax, pooled over
  replicates, with a lesion-grouped bootstrap interval, a p-value, its Holm adjustment and a
  direction word. The Holm family is every row of the file.
- ``mcnemar.csv``: McNemar per replicate and class: on the minority test images (which model
  finds more DF) and on the majority ones (which raises fewer false alarms), with both
  discordant counts and the winner. Holm family: every row of the file.
- ``wilcoxon.csv``: the signed-rank test across replicates, with the signed median difference.
- ``intervals.csv``: each condition's own metrics with lesion-bootstrap intervals (descriptive:
  overlapping intervals say nothing about a difference; differences.csv does).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ganaug.data.splits import lesion_groups
from ganaug.evaluation.stats import (
    COMPARED_METRICS,
    Model,
    PairedSet,
    direction,
    holm,
    mcnemar_by_class,
    metric_values,
    paired_bootstrap,
    percentile_intervals,
    wilcoxon_replicates,
)

DECISIONS = {"tuned": "pred_tuned", "argmax": "pred_argmax"}  # decision -> predictions.csv column
TUNED = "tuned"
TABLES = ("differences", "mcnemar", "wilcoxon", "intervals")  # results/stats/<name>.csv
# the declared Holm families: every row of each file
HOLM_DIFFERENCES = "all {n} rows of differences.csv (arch x condition x reference x metric x decision)"
DIFFERENCE_COLUMNS = [
    "arch",
    "condition",
    "reference",
    "metric",
    "decision",
    "value",
    "reference_value",
    "delta",
    "ci_low",
    "ci_high",
    "p",
    "p_holm",
    "direction",
]
MCNEMAR_COLUMNS = [
    "arch",
    "condition",
    "reference",
    "repeat",
    "seed",
    "class",
    "n",
    "b",
    "c",
    "winner",
    "method",
    "statistic",
    "p",
    "p_holm",
]
WILCOXON_COLUMNS = [
    "arch",
    "condition",
    "reference",
    "metric",
    "decision",
    "n_replicates",
    "median_difference",
    "statistic",
    "p",
    "note",
]
INTERVAL_COLUMNS = [
    "arch",
    "condition",
    "metric",
    "decision",
    "estimate",
    "ci_low",
    "ci_high",
    "n_replicates",
]
HOLM_MCNEMAR = "all {n} rows of mcnemar.csv (arch x condition x reference x replicate x class)"


@dataclass(frozen=True)
class Fit:
    """One fit's identity and its test predictions."""

    arch: str
    condition: str
    seed: int
    repeat: int  # the split repeat (0 with one split)
    predictions: pd.DataFrame  # image_id, target, prob, pred_argmax, pred_tuned


def load_fits(predictions: Sequence[str | Path], metrics: Sequence[str | Path]) -> list[Fit]:
    """Fits from their predictions.csv and metrics.json, given as matching lists of paths."""
    fits = []
    for pred_path, metrics_path in zip(predictions, metrics, strict=True):
        m = json.loads(Path(metrics_path).read_text())
        pred = pd.read_csv(pred_path, dtype={"image_id": str})
        fits.append(Fit(m["arch"], m["condition"], int(m["seed"]), int(m.get("repeat", 0)), pred))
    return fits


@dataclass(frozen=True)
class Groups:
    """The lesion groups of one test set: a code per image and a class per group."""

    codes: dict[str, int]  # image_id -> group code
    group_class: np.ndarray  # 1 where the group holds a minority image

    @classmethod
    def of(cls, metadata: pd.DataFrame, split: str = "test") -> Groups:
        rows = metadata[metadata["split"] == split].sort_values("image_id").reset_index(drop=True)
        key = lesion_groups(rows)
        names = sorted(key.unique())
        index = {g: i for i, g in enumerate(names)}
        codes = {iid: index[g] for iid, g in zip(rows["image_id"], key, strict=True)}
        group_class = np.zeros(len(names), dtype=int)
        for g, t in zip(key, rows["target"].astype(int), strict=True):
            group_class[index[g]] = max(group_class[index[g]], t)
        return cls(codes, group_class)

    def n_lesions(self, cls: int) -> int:
        return int((self.group_class == cls).sum())


def _by_key(fits: Sequence[Fit]) -> dict[tuple[str, str], dict[tuple[int, int], pd.DataFrame]]:
    out: dict[tuple[str, str], dict[tuple[int, int], pd.DataFrame]] = {}
    for f in fits:
        out.setdefault((f.arch, f.condition), {})[f.repeat, f.seed] = f.predictions
    return out


def _test_sets(
    cond: dict, ref: dict | None, groups: dict[int, Groups], column: str
) -> tuple[list[PairedSet], list[tuple[int, int]]]:
    """One PairedSet per repeat, holding the (condition, reference) pairs of its seeds."""
    replicates = sorted(cond) if ref is None else sorted(set(cond) & set(ref))
    sets = []
    for repeat in sorted({r for r, _ in replicates}):
        pairs, target, codes = [], None, None
        for r, s in replicates:
            if r != repeat:
                continue
            a = cond[r, s]
            b = a if ref is None else ref[r, s]
            if not a["image_id"].equals(b["image_id"]):
                raise ValueError(f"repeat {r}, seed {s}: the two fits were tested on different images")
            target = a["target"].to_numpy(int)
            codes = np.array([groups[repeat].codes[i] for i in a["image_id"]])
            pairs.append(
                (
                    Model(a["prob"].to_numpy(float), a[column].to_numpy(int)),
                    Model(b["prob"].to_numpy(float), b[column].to_numpy(int)),
                )
            )
        sets.append(PairedSet(target, codes, groups[repeat].group_class, pairs))
    return sets, replicates


def _comparisons(fits: Sequence[Fit], references: Sequence[str]):
    """(arch, condition, reference, the condition's runs, the reference's runs) of every pair to
    compare: each condition with each reference that the same architecture has."""
    by = _by_key(fits)
    for (arch, cond), runs in by.items():
        for ref in references:
            if cond != ref and (arch, ref) in by:
                yield arch, cond, ref, runs, by[arch, ref]


def differences(
    fits: Sequence[Fit], groups: dict[int, Groups], references: Sequence[str], n_resamples: int, seed: int
) -> pd.DataFrame:
    rows = []
    for arch, cond, ref, runs, ref_runs in _comparisons(fits, references):
        for decision, column in DECISIONS.items():
            sets, reps = _test_sets(runs, ref_runs, groups, column)
            stats = paired_bootstrap(sets, n_resamples, seed)
            repeats = {r for r, _ in reps}
            sizes = {
                "n_replicates": len(reps),
                "n_test_images": int(sum(len(t.target) for t in sets)),
                "n_test_lesions_minority": sum(groups[r].n_lesions(1) for r in repeats),
                "n_test_lesions_majority": sum(groups[r].n_lesions(0) for r in repeats),
            }
            key = {"arch": arch, "condition": cond, "reference": ref}
            for metric in COMPARED_METRICS:
                rows.append({**key, "metric": metric, "decision": decision, **stats[metric], **sizes})
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=DIFFERENCE_COLUMNS)
    table["p_holm"] = holm(table["p"].tolist())
    table["direction"] = [direction(d, p) for d, p in zip(table["delta"], table["p_holm"], strict=True)]
    table["holm_family"] = HOLM_DIFFERENCES.format(n=len(table))
    return table[DIFFERENCE_COLUMNS + [c for c in table.columns if c not in DIFFERENCE_COLUMNS]]


def mcnemar_table(fits: Sequence[Fit], references: Sequence[str], classes: dict[int, str]) -> pd.DataFrame:
    """McNemar per (architecture, condition, reference, replicate, class), tuned decision."""
    rows = []
    for arch, cond, ref, runs, ref_runs in _comparisons(fits, references):
        for (repeat, s), a in sorted(runs.items()):
            b = ref_runs.get((repeat, s))
            if b is None:
                continue
            if not a["image_id"].equals(b["image_id"]):
                raise ValueError(f"{arch}/{cond} repeat {repeat} seed {s}: test images differ from {ref}'s")
            key = {"arch": arch, "condition": cond, "reference": ref, "repeat": repeat, "seed": s}
            for cls, name in classes.items():
                t = mcnemar_by_class(a["target"], a[DECISIONS[TUNED]], b[DECISIONS[TUNED]], cls)
                rows.append({**key, "class": name, "decision": TUNED, **t})
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=MCNEMAR_COLUMNS)
    table["p_holm"] = holm(table["p"].tolist())
    table["holm_family"] = HOLM_MCNEMAR.format(n=len(table))
    return table[MCNEMAR_COLUMNS + [c for c in table.columns if c not in MCNEMAR_COLUMNS]]


def replicate_values(fits: Sequence[Fit]) -> pd.DataFrame:
    """Every compared metric of every fit, per decision: what the Wilcoxon and the report read."""
    rows = []
    for f in fits:
        p = f.predictions
        for decision, column in DECISIONS.items():
            v = metric_values(p["target"], p["prob"], p[column])
            key = {"arch": f.arch, "condition": f.condition, "repeat": f.repeat, "seed": f.seed}
            rows += [
                {**key, "decision": decision, "metric": m, "value": float(v[m][0])} for m in COMPARED_METRICS
            ]
    return pd.DataFrame(rows)


def wilcoxon_table(fits: Sequence[Fit], references: Sequence[str]) -> pd.DataFrame:
    values = replicate_values(fits)
    rows = []
    for (arch, cond), _ in _by_key(fits).items():
        for ref in references:
            if cond == ref:
                continue
            for decision in DECISIONS:
                for metric in COMPARED_METRICS:
                    sel = (
                        (values["arch"] == arch)
                        & (values["decision"] == decision)
                        & (values["metric"] == metric)
                    )
                    a = values[sel & (values["condition"] == cond)].set_index(["repeat", "seed"])["value"]
                    b = values[sel & (values["condition"] == ref)].set_index(["repeat", "seed"])["value"]
                    both = a.index.intersection(b.index)
                    if not len(both):
                        continue
                    rows.append(
                        {
                            "arch": arch,
                            "condition": cond,
                            "reference": ref,
                            "metric": metric,
                            "decision": decision,
                            **wilcoxon_replicates(a[both], b[both]),
                        }
                    )
    return pd.DataFrame(rows, columns=WILCOXON_COLUMNS)


def intervals(fits: Sequence[Fit], groups: dict[int, Groups], n_resamples: int, seed: int) -> pd.DataFrame:
    rows = []
    for (arch, cond), runs in _by_key(fits).items():
        for decision, column in DECISIONS.items():
            sets, reps = _test_sets(runs, None, groups, column)
            for metric, v in percentile_intervals(sets, n_resamples, seed).items():
                rows.append(
                    {
                        "arch": arch,
                        "condition": cond,
                        "metric": metric,
                        "decision": decision,
                        **v,
                        "n_replicates": len(reps),
                    }
                )
    return pd.DataFrame(rows, columns=INTERVAL_COLUMNS)


def significance_tables(
    fits: Sequence[Fit],
    metadata: pd.DataFrame,
    references: Sequence[str],
    classes: dict[int, str],
    n_resamples: int,
    seed: int,
) -> dict[str, pd.DataFrame]:
    """All four tables, from the fits and metadata.csv (for the test split's lesion groups)."""
    groups = {0: Groups.of(metadata)}
    return {
        "differences": differences(fits, groups, references, n_resamples, seed),
        "mcnemar": mcnemar_table(fits, references, classes),
        "wilcoxon": wilcoxon_table(fits, references),
        "intervals": intervals(fits, groups, n_resamples, seed),
    }


def significance_rule(
    predictions: Sequence[str | Path],
    metrics: Sequence[str | Path],
    metadata: str | Path,
    outputs: dict[str, str],
    references: Sequence[str],
    minority: str,
    majority: str,
    bootstrap_resamples: int,
    seed: int,
) -> dict[str, pd.DataFrame]:
    """The rule significance: the four tables of results/stats/ and the forest plot."""
    from ganaug.io import write_csv
    from ganaug.viz import save_forest

    meta = pd.read_csv(
        metadata, dtype={"image_id": str, "lesion_id": str, "patient_id": str}, keep_default_na=False
    )
    fits = load_fits(predictions, metrics)
    tables = significance_tables(
        fits, meta, references, {1: minority, 0: majority}, bootstrap_resamples, seed
    )
    for name, table in tables.items():
        write_csv(table, outputs[name], for_spreadsheets=True)
    save_forest(tables["differences"], outputs["forest"])
    return tables
