"""Every condition against its reference(s), per architecture: the tables of results/stats/.

- ``differences.csv``: the paired difference condition - reference in sensitivity, specificity,
  F1, PR-AUC and balanced accuracy, at the validation-tuned threshold and at argmax, pooled over
  replicates, with a lesion-grouped bootstrap interval, a p-value, its Holm adjustment and a
  direction word. The Holm family is every row of the file.
- ``mcnemar.csv``: McNemar per replicate and class: on the minority test images (which model
  finds more DF) and on the majority ones (which raises fewer false alarms), with both
  discordant counts and the winner. Holm family: every row of the file.
- ``replicates.csv``: each replicate's (repeat x seed) own difference.
- ``wilcoxon.csv``: across replicates, the mean difference with its t interval, and the
  signed-rank test with the signed median difference (its direction word follows the median).

Caveat, stated in the report: repeated splits draw their test sets from one archive, so they
share lesions, and both the pooled bootstrap (each repeat's lesions resampled on their own) and
the t interval across replicates treat the repeats as independent. Both intervals are therefore
somewhat too narrow (no correction such as Nadeau and Bengio's is applied); the lesion counts
given count each lesion once.
- ``intervals.csv``: each condition's own metrics with lesion-bootstrap intervals (descriptive:
  overlapping intervals say nothing about a difference; differences.csv does).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
TABLES = ("differences", "replicates", "mcnemar", "wilcoxon", "intervals")  # results/stats/<name>.csv
# the declared Holm families: every row of each file
HOLM_DIFFERENCES = (
    "all {n} rows of differences.csv (test set x arch x condition x reference or pair x metric x decision)"
)
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
    "mean_difference",
    "sd_difference",
    "ci_low",
    "ci_high",
    "median_difference",
    "statistic",
    "p",
    "p_holm",
    "direction",
    "note",
]
# each replicate's own difference: what the across-replicate statistics summarise
REPLICATE_COLUMNS = [
    "arch",
    "condition",
    "reference",
    "metric",
    "decision",
    "repeat",
    "seed",
    "value",
    "reference_value",
    "delta",
]
HOLM_WILCOXON = (
    "all {n} rows of wilcoxon.csv with a p "
    "(test set x arch x condition x reference or pair x metric x decision)"
)
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
HOLM_MCNEMAR = (
    "all {n} rows of mcnemar.csv (test set x arch x condition x reference or pair x replicate x class)"
)


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
    # each group's key (its smallest image id: the same lesion has the same key in every repeat)
    names: tuple[str, ...] = ()

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
        return cls(codes, group_class, tuple(names))

    def n_lesions(self, cls: int) -> int:
        return int((self.group_class == cls).sum())

    def lesions(self, cls: int) -> set[str]:
        return {n for n, c in zip(self.names, self.group_class, strict=True) if c == cls}


def _by_key(fits: Sequence[Fit]) -> dict[tuple[str, str], dict[tuple[int, int], pd.DataFrame]]:
    out: dict[tuple[str, str], dict[tuple[int, int], pd.DataFrame]] = {}
    for f in fits:
        out.setdefault((f.arch, f.condition), {})[f.repeat, f.seed] = f.predictions
    return out


def _test_sets(
    cond: dict, ref: dict | None, groups: dict[int, Groups], column: str
) -> tuple[list[PairedSet], list[tuple[int, int]]]:
    """One PairedSet per distinct test set, holding the (condition, reference) pairs of every
    replicate tested on it: one per repeat in distribution (each repeat its own test split), a
    single one for an external set, which every repeat's fits predict (the same ``Groups``), so
    one bootstrap draw of its lesions serves every replicate."""
    replicates = sorted(cond) if ref is None else sorted(set(cond) & set(ref))
    by_set: dict[int, list[tuple[int, int]]] = {}
    for r, s in replicates:
        by_set.setdefault(id(groups[r]), []).append((r, s))
    sets = []
    for members in by_set.values():
        pairs, target, codes = [], None, None
        for r, s in members:
            a = cond[r, s]
            b = a if ref is None else ref[r, s]
            if not a["image_id"].equals(b["image_id"]):
                raise ValueError(f"repeat {r}, seed {s}: the two fits were tested on different images")
            t = a["target"].to_numpy(int)
            if target is not None and not np.array_equal(t, target):
                raise ValueError(f"repeat {r}, seed {s}: a shared test set with other images or labels")
            target = t
            codes = np.array([groups[r].codes[i] for i in a["image_id"]])
            pairs.append(
                (
                    Model(a["prob"].to_numpy(float), a[column].to_numpy(int)),
                    Model(b["prob"].to_numpy(float), b[column].to_numpy(int)),
                )
            )
        sets.append(PairedSet(target, codes, groups[members[0][0]].group_class, pairs))
    return sets, replicates


def _pairs(conditions: Sequence[str], references: Sequence) -> list[tuple[str, str]]:
    """(condition, reference) pairs: a reference name compares every other condition with it; a
    (condition, reference) pair is one comparison of its own (evaluation.pairs)."""
    out: list[tuple[str, str]] = []
    for r in references:
        out += [(c, r) for c in conditions if c != r] if isinstance(r, str) else [(r[0], r[1])]
    return list(dict.fromkeys(out))


def _comparisons(fits: Sequence[Fit], references: Sequence):
    """(arch, condition, reference, the condition's runs, the reference's runs) of every pair to
    compare that the same architecture has both sides of."""
    by = _by_key(fits)
    for arch in dict.fromkeys(a for a, _ in by):
        conditions = [c for a, c in by if a == arch]
        for cond, ref in _pairs(conditions, references):
            if (arch, cond) in by and (arch, ref) in by:
                yield arch, cond, ref, by[arch, cond], by[arch, ref]


def _difference_rows(
    fits: Sequence[Fit], groups: dict[int, Groups], references: Sequence[str], n_resamples: int, seed: int
) -> pd.DataFrame:
    rows = []
    for arch, cond, ref, runs, ref_runs in _comparisons(fits, references):
        for decision, column in DECISIONS.items():
            sets, reps = _test_sets(runs, ref_runs, groups, column)
            stats = paired_bootstrap(sets, n_resamples, seed)
            distinct = {id(groups[r]): groups[r] for r, _ in reps}.values()  # a shared set counts once
            sizes = {
                "n_replicates": len(reps),
                "n_test_images": int(sum(len(t.target) for t in sets)),
                # distinct lesions: repeated splits test many of the same lesions again
                "n_test_lesions_minority": len(set().union(*(g.lesions(1) for g in distinct))),
                "n_test_lesions_majority": len(set().union(*(g.lesions(0) for g in distinct))),
            }
            key = {"arch": arch, "condition": cond, "reference": ref}
            for metric in COMPARED_METRICS:
                rows.append({**key, "metric": metric, "decision": decision, **stats[metric], **sizes})
    return pd.DataFrame(rows)


def _finish_differences(table: pd.DataFrame) -> pd.DataFrame:
    """Holm over every row of the table (the declared family), and each row's direction."""
    if table.empty:
        return pd.DataFrame(columns=DIFFERENCE_COLUMNS)
    table = table.copy()
    table["p_holm"] = holm(table["p"].tolist())
    table["direction"] = [direction(d, p) for d, p in zip(table["delta"], table["p_holm"], strict=True)]
    table["holm_family"] = HOLM_DIFFERENCES.format(n=len(table))
    return table[DIFFERENCE_COLUMNS + [c for c in table.columns if c not in DIFFERENCE_COLUMNS]]


def differences(
    fits: Sequence[Fit], groups: dict[int, Groups], references: Sequence[str], n_resamples: int, seed: int
) -> pd.DataFrame:
    """Every condition against each reference on one test set (Holm over its rows)."""
    return _finish_differences(_difference_rows(fits, groups, references, n_resamples, seed))


def _mcnemar_rows(fits: Sequence[Fit], references: Sequence[str], classes: dict[int, str]) -> pd.DataFrame:
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
    return pd.DataFrame(rows)


def _finish_mcnemar(table: pd.DataFrame) -> pd.DataFrame:
    if table.empty:
        return pd.DataFrame(columns=MCNEMAR_COLUMNS)
    table = table.copy()
    table["p_holm"] = holm(table["p"].tolist())
    table["holm_family"] = HOLM_MCNEMAR.format(n=len(table))
    return table[MCNEMAR_COLUMNS + [c for c in table.columns if c not in MCNEMAR_COLUMNS]]


def mcnemar_table(fits: Sequence[Fit], references: Sequence[str], classes: dict[int, str]) -> pd.DataFrame:
    """McNemar per (architecture, condition, reference, replicate, class), tuned decision."""
    return _finish_mcnemar(_mcnemar_rows(fits, references, classes))


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


def _paired_replicates(fits: Sequence[Fit], references: Sequence):
    """(key, condition values, reference values) per comparison, indexed by (repeat, seed) and
    restricted to the replicates both have."""
    values = replicate_values(fits)
    for arch, cond, ref, _, _ in _comparisons(fits, references):
        for decision in DECISIONS:
            for metric in COMPARED_METRICS:
                sel = (
                    (values["arch"] == arch) & (values["decision"] == decision) & (values["metric"] == metric)
                )
                a = values[sel & (values["condition"] == cond)].set_index(["repeat", "seed"])["value"]
                b = values[sel & (values["condition"] == ref)].set_index(["repeat", "seed"])["value"]
                both = a.index.intersection(b.index)
                if len(both):
                    key = {
                        "arch": arch,
                        "condition": cond,
                        "reference": ref,
                        "metric": metric,
                        "decision": decision,
                    }
                    yield key, a[both], b[both]


def replicates_table(fits: Sequence[Fit], references: Sequence[str]) -> pd.DataFrame:
    """Every replicate's difference condition - reference (replicates.csv)."""
    rows = []
    for key, a, b in _paired_replicates(fits, references):
        for (repeat, s), va in a.items():
            vb = float(b[repeat, s])
            rows.append({**key, "repeat": repeat, "seed": s, "value": float(va), "reference_value": vb,
                         "delta": float(va) - vb})  # fmt: skip
    return pd.DataFrame(rows, columns=REPLICATE_COLUMNS)


def _wilcoxon_rows(fits: Sequence[Fit], references: Sequence[str]) -> pd.DataFrame:
    rows = [{**key, **wilcoxon_replicates(a, b)} for key, a, b in _paired_replicates(fits, references)]
    return pd.DataFrame(rows, columns=[c for c in WILCOXON_COLUMNS if c not in ("p_holm", "direction")])


def wilcoxon_table(fits: Sequence[Fit], references: Sequence[str]) -> pd.DataFrame:
    """Across replicates: the mean difference with its t interval, and the signed-rank test with
    the signed median; Holm over the rows that have a p, and the direction it supports."""
    return _finish_wilcoxon(_wilcoxon_rows(fits, references))


def _finish_wilcoxon(table: pd.DataFrame) -> pd.DataFrame:
    table = table.copy()
    table["p_holm"] = holm(table["p"].tolist()) if len(table) else []
    table["direction"] = [
        # the signed-rank test's own side: the sign of the median difference
        direction(m, p) if p is not None and not pd.isna(p) else "not tested"
        for m, p in zip(table["median_difference"], table["p_holm"], strict=True)
    ]
    table["holm_family"] = HOLM_WILCOXON.format(n=int(table["p"].notna().sum()))
    return table[[*WILCOXON_COLUMNS, "holm_family"]]


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


IN_DISTRIBUTION = "in_distribution"


@dataclass(frozen=True)
class EvalSet:
    """One test set's fits (their predictions of it) and its lesion groups per repeat."""

    fits: list[Fit]
    groups: dict[int, Groups]


def _tables_of(ts: EvalSet, references, classes, n_resamples: int, seed: int) -> dict[str, pd.DataFrame]:
    missing = sorted({f.repeat for f in ts.fits} - set(ts.groups))
    if missing:
        raise ValueError(f"fits of repeat(s) {missing} but no metadata.csv for them")
    return {
        "differences": _difference_rows(ts.fits, ts.groups, references, n_resamples, seed),
        "replicates": replicates_table(ts.fits, references),
        "mcnemar": _mcnemar_rows(ts.fits, references, classes),
        "wilcoxon": _wilcoxon_rows(ts.fits, references),
        "intervals": intervals(ts.fits, ts.groups, n_resamples, seed),
    }


FINISH = {"differences": _finish_differences, "mcnemar": _finish_mcnemar, "wilcoxon": _finish_wilcoxon}


def significance_tables(
    fits: Sequence[Fit] | dict[str, EvalSet],
    metadata: dict[int, pd.DataFrame] | None,
    references: Sequence[str],
    classes: dict[int, str],
    n_resamples: int,
    seed: int,
) -> dict[str, pd.DataFrame]:
    """All five tables. ``fits`` with ``metadata`` (each repeat's metadata.csv) is the
    in-distribution test set alone; a dict of TestSets holds every test set by name. Each table
    starts with ``test_set``; the Holm families are every row of each file, all sets together."""
    sets = (
        fits
        if isinstance(fits, dict)
        else {IN_DISTRIBUTION: EvalSet(list(fits), {r: Groups.of(m) for r, m in (metadata or {}).items()})}
    )
    parts = {name: _tables_of(ts, references, classes, n_resamples, seed) for name, ts in sets.items()}
    out = {}
    for table in TABLES:
        frames = [p[table].assign(test_set=name) for name, p in parts.items() if not p[table].empty]
        joined = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        finished = FINISH[table](joined) if table in FINISH else joined
        if "test_set" not in finished.columns:
            finished["test_set"] = pd.Series(dtype=str)
        out[table] = finished[["test_set", *(c for c in finished.columns if c != "test_set")]]
    return out


def _read_metadata(path: str | Path) -> pd.DataFrame:
    return pd.read_csv(
        path, dtype={"image_id": str, "lesion_id": str, "patient_id": str}, keep_default_na=False
    )


def external_inputs(inputs: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The rule's ``ext_meta_<name>`` and ``ext_pred_<name>`` inputs, paired by set name."""
    names = [k.removeprefix("ext_meta_") for k in inputs if k.startswith("ext_meta_")]
    return {n: (inputs[f"ext_meta_{n}"], inputs[f"ext_pred_{n}"]) for n in names}


def significance_rule(
    predictions: Sequence[str | Path],
    metrics: Sequence[str | Path],
    metadata: Sequence[str | Path],
    outputs: dict[str, str],
    references: Sequence[str],
    minority: str,
    majority: str,
    bootstrap_resamples: int,
    seed: int,
    repeats: Sequence[int] = (0,),
    external: dict[str, tuple[str | Path, Sequence[str | Path]]] | None = None,
    pairs: Sequence[Sequence[str]] = (),
) -> dict[str, pd.DataFrame]:
    """The rule significance: the tables of results/stats/ and the forest plot. ``metadata``:
    each repeat's metadata.csv, in the order of ``repeats``; ``external``: per external set, its
    metadata.csv and every fit's predictions of it (in the order of ``metrics``); ``pairs``:
    (condition, reference) comparisons beside those with the references."""
    from ganaug.data.external import EXTERNAL_SPLIT
    from ganaug.io import write_csv
    from ganaug.viz import save_forest

    if isinstance(metadata, str | Path):
        metadata = [metadata]
    groups = {int(r): Groups.of(_read_metadata(m)) for r, m in zip(repeats, metadata, strict=True)}
    sets = {IN_DISTRIBUTION: EvalSet(load_fits(predictions, metrics), groups)}
    for name, (meta, preds) in (external or {}).items():
        ext = Groups.of(_read_metadata(meta), split=EXTERNAL_SPLIT)
        # the same external images for every repeat: each repeat's fits are paired on them
        sets[name] = EvalSet(load_fits(preds, metrics), {r: ext for r in groups})
    plan = [*references, *(tuple(p) for p in pairs)]
    tables = significance_tables(sets, None, plan, {1: minority, 0: majority}, bootstrap_resamples, seed)
    for name, table in tables.items():
        write_csv(table, outputs[name], for_spreadsheets=True)
    save_forest(tables["differences"], outputs["forest"])
    return tables
