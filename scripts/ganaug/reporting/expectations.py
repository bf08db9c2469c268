"""The report's checks of what others claim: the study's expected values and the design card's
F1 against every confusion matrix of the study's test set (``ganaug.evaluation.score_check``),
and which conditions are the long-tail baselines a synthetic-image gain must beat."""

from __future__ import annotations

import pandas as pd


def long_tail_conditions(final: dict) -> list[str]:
    """The conditions that trained with a long-tail loss (logit adjustment, balanced softmax,
    focal) instead of the class-weighted cross-entropy, in the run's condition order."""
    order = final.get("order", {}).get("conditions", [])
    losses = {
        c: r.get("loss", "weighted_ce") for a in final["classifier_results"].values() for c, r in a.items()
    }
    return [c for c in order if losses.get(c, "weighted_ce") != "weighted_ce"]


def score_check_table(final: dict) -> tuple[pd.DataFrame, str]:
    """The study's expected values and the design card's, each checked by mlscorecheck against
    every confusion matrix of the study's test set; and one sentence on which none can give."""
    exp = final["study_expectations"]
    rows = exp.get("score_check", [])
    table = pd.DataFrame(
        [
            {
                "source": r["source"],
                "arch": r["arch"],
                "condition": r["condition"],
                "F1": r["f1"],
                "a confusion matrix gives it": "yes" if r["consistent"] else "NO",
            }
            for r in rows
        ]
    )
    t = exp.get("score_check_test_set", {})
    impossible = [f"{r['condition']} {r['f1']}" for r in rows if not r["consistent"]]
    where = f"the study's test set ({t.get('p')} DF, {t.get('n')} NV images)"
    if impossible:
        return table, f"No confusion matrix of {where} can produce: {', '.join(impossible)}."
    return table, (
        f"Each of these can come from some confusion matrix of {where}, to its two decimals: an F1 "
        "alone constrains little, so this says the values are possible, not that they were measured."
    )
