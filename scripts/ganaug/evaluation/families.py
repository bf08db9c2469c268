"""The declared primary question, and the one place a verdict word is given.

``evaluation.primary`` names a small family of hypotheses: comparisons x metrics x test sets x
architectures. Holm's step-down adjustment runs over exactly that family, and only its rows get
a verdict (``better``, ``worse`` or ``no evidence``), from the corrected resampled t across
repeats, whose type-I error the calibration simulation measures (``ganaug.evaluation.
calibration``; the README's table). Every other row of ``differences.csv`` is exploratory: an
estimate and an unadjusted interval, labelled so, and no verdict.

With one split (the study's own design, and the demo) no verdict is given at all: the variance
between training runs cannot be seen, so nothing can be said about the training procedure. The
row then carries the lesion-bootstrap interval, labelled "conditional on these fits".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from ganaug.evaluation.stats import THRESHOLD_FREE, holm
from ganaug.primary import ALL, Primary

PRIMARY, EXPLORATORY = "primary", "exploratory"
BETTER, WORSE, NO_EVIDENCE = "better", "worse", "no evidence"
NO_VERDICT_ONE_SPLIT = "no verdict: one split"
DEGENERATE = "degenerate"


def holds(primary: Primary, row: Mapping) -> bool:
    """Whether a row of differences.csv is one of the primary family's hypotheses."""
    compared = (row["condition"], row["reference"]) in primary.comparisons
    if not compared or row["metric"] not in primary.metrics:
        return False
    wanted = "none" if row["metric"] in THRESHOLD_FREE else primary.decision
    return (
        row["decision"] == wanted
        and (primary.test_sets == ALL or row["test_set"] in primary.test_sets)
        and (primary.archs == ALL or row["arch"] in primary.archs)
    )


def verdict(delta: float, p_holm: float | None, alpha: float) -> str:
    """better / worse when the Holm-adjusted p is below alpha, else no evidence either way."""
    if p_holm is None or pd.isna(p_holm) or p_holm >= alpha or delta == 0:
        return NO_EVIDENCE
    return BETTER if delta > 0 else WORSE


def assign(table: pd.DataFrame, primary: Primary) -> pd.DataFrame:
    """Mark each row primary or exploratory; adjust the primary p-values together (Holm; a
    hypothesis that cannot be tested counts with p = 1, so the family never shrinks to flatter
    the others); give primary rows their verdict."""
    table = table.copy()
    is_primary = [holds(primary, r) for r in table.to_dict("records")] if len(table) else []
    table["family"] = [PRIMARY if x else EXPLORATORY for x in is_primary]
    prim = table["family"] == PRIMARY
    testable = prim & (table["n_repeats"] >= 2) & ~table["degenerate"]
    p = table.loc[prim, "p"].where(testable[prim], 1.0).fillna(1.0)
    table["p_holm"] = None
    table.loc[prim, "p_holm"] = holm(p.tolist()) if prim.any() else []
    table.loc[prim & ~testable, "p_holm"] = None  # counted in m, but no test of its own to adjust
    words = []
    for r in table.itertuples():
        if r.family != PRIMARY:
            words.append("")
        elif r.degenerate:
            words.append(DEGENERATE)
        elif r.n_repeats < 2:
            words.append(NO_VERDICT_ONE_SPLIT)
        else:
            words.append(verdict(r.delta, r.p_holm, primary.alpha))
    table["verdict"] = words
    table["holm_family"] = [primary.describe(int(prim.sum())) if x else "" for x in prim]
    return table


def family_size(table: pd.DataFrame) -> int:
    return int((table.get("family", pd.Series(dtype=str)) == PRIMARY).sum())


def smallest_adjusted_p(n_hypotheses: int, smallest_p: float | None) -> float | None:
    """The smallest Holm-adjusted p the family can reach: m x the smallest p of its test
    (None when its test gives no p at all: one split)."""
    if smallest_p is None or n_hypotheses == 0:
        return None
    return min(1.0, n_hypotheses * smallest_p)


def planned(references: Sequence, pairs: Sequence, primary: Primary) -> list:
    """The comparisons to make: every condition against each reference, the pairs, and the
    primary comparisons (always made, whatever the other two lists say)."""
    return [*references, *(tuple(p) for p in pairs), *primary.comparisons]
