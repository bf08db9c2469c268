"""Every comparison of two conditions, per architecture and test set: the tables of results/stats/.

- ``differences.csv``: condition - reference in sensitivity, specificity, F1 and balanced accuracy
  (at the validation-tuned threshold and at argmax) and PR-AUC (once: it has no threshold). The
  estimate is the mean over repeats of each repeat's difference (seeds averaged within a repeat).
  With two or more repeats its interval and p come from the corrected resampled t across repeats
  (``ganaug.evaluation.inference``), which includes the variance between training runs; with one
  split from the lesion bootstrap, labelled "conditional on these fits". Every row says whether it
  is ``primary`` (the declared family of ``evaluation.primary``: Holm-adjusted, with a verdict
  word) or ``exploratory`` (an unadjusted interval, no verdict). The lesion bootstrap interval of
  these fits is kept beside it on every row (``boot_*``), and the confusion counts of both sides.
  A comparison of identical training sets is ``degenerate``, not a difference of 0.
- ``replicates.csv``: each replicate's (repeat x seed) own difference.
- ``mcnemar.csv``: McNemar per class, on the pooled out-of-fold predictions (every repeat's
  disjoint test fold, every seed), clustered by lesion, with its exact sign-flip p. It holds the
  fits fixed: exploratory, no verdict.
- ``wilcoxon.csv``: the signed-rank test of the per-repeat differences, its smallest attainable p
  and the Hodges-Lehmann estimate (whose sign is its direction). Exploratory.
- ``intervals.csv``: each condition's own metrics with lesion-bootstrap intervals (descriptive).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ganaug.data.external import EXTERNAL_SPLIT
from ganaug.data.same_lesion import as_pairs, read_pairs
from ganaug.evaluation import families
from ganaug.evaluation.columns import COLUMNS, IN_DISTRIBUTION, TABLES
from ganaug.evaluation.differences import Design, comparison_rows, finish_differences
from ganaug.evaluation.fits import EvalSet, Groups, comparisons, load_fits
from ganaug.evaluation.secondary import interval_rows, mcnemar_rows, wilcoxon_rows
from ganaug.io import write_csv
from ganaug.viz import save_forest


def set_tables(name: str, ts: EvalSet, plan: Sequence, classes: dict[int, str], design: Design) -> dict:
    """Every table's rows for one test set."""
    missing = sorted({f.repeat for f in ts.fits} - set(ts.groups))
    if missing:
        raise ValueError(f"fits of repeat(s) {missing} but no metadata.csv for them")
    out: dict[str, list[dict]] = {t: [] for t in TABLES}
    for arch, cond, ref, reps in comparisons(ts.fits, plan):
        rows, reps_rows = comparison_rows(arch, cond, ref, reps, ts, design, name)
        out["differences"] += rows
        out["replicates"] += reps_rows
        out["mcnemar"] += mcnemar_rows(arch, cond, ref, reps, ts, classes, name)
        out["wilcoxon"] += wilcoxon_rows(arch, cond, ref, reps_rows, design.primary.alpha)
    if design.n_resamples and design.intervals:
        out["intervals"] = interval_rows(ts.fits, ts, design, name)
    return out


def significance_tables(
    sets: Mapping[str, EvalSet], references: Sequence, classes: dict[int, str], design: Design
) -> dict[str, pd.DataFrame]:
    """All five tables over every test set. ``references``: reference names and (condition,
    reference) pairs; the primary comparisons are always made."""
    plan = families.planned(references, [], design.primary)
    parts = {name: set_tables(name, ts, plan, classes, design) for name, ts in sets.items()}
    out = {}
    for table in TABLES:
        rows = [r for p in parts.values() for r in p[table]]
        frame = pd.DataFrame(rows, columns=None if rows else COLUMNS[table])
        if table == "differences":
            frame = finish_differences(frame, design.primary, design.test_train_ratio)
        out[table] = frame.reindex(columns=COLUMNS[table])
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
    split: Mapping[str, float],
    primary: Mapping | None = None,
    alpha: float = 0.05,
    repeats: Sequence[int] = (0,),
    external: dict[str, tuple[str | Path, Sequence[str | Path]]] | None = None,
    pairs: Sequence[Sequence[str]] = (),
    same_lesion: str | Path | None = None,
) -> dict[str, pd.DataFrame]:
    """The rule significance: the tables of results/stats/ and the forest plot. ``metadata``:
    each repeat's metadata.csv, in the order of ``repeats``; ``external``: per external set, its
    metadata.csv and every fit's predictions of it (in the order of ``metrics``); ``split``: the
    split fractions (the corrected t's n_test / n_train); ``same_lesion``: the archive's
    same-lesion pairs (same_lesion.csv), one lesion in the bootstrap as in the split."""
    if isinstance(metadata, str | Path):
        metadata = [metadata]
    joined = as_pairs(read_pairs(same_lesion)) if same_lesion else ()
    groups = {
        int(r): Groups.of(_read_metadata(m), pairs=joined) for r, m in zip(repeats, metadata, strict=True)
    }
    sets = {IN_DISTRIBUTION: EvalSet(load_fits(predictions, metrics), groups)}
    for name, (meta, preds) in (external or {}).items():
        ext = Groups.of(_read_metadata(meta), split=EXTERNAL_SPLIT)
        # the same external images for every repeat: each repeat's fits are paired on them
        sets[name] = EvalSet(load_fits(preds, metrics), {r: ext for r in groups}, shared=True)
    design = Design(
        families.Primary.of(primary, alpha), split["test"] / split["train"], bootstrap_resamples, seed
    )
    plan = [*references, *(tuple(p) for p in pairs)]
    tables = significance_tables(sets, plan, {1: minority, 0: majority}, design)
    for name, table in tables.items():
        write_csv(table, outputs[name], for_spreadsheets=True)
    save_forest(tables["differences"], outputs["forest"])
    return tables
