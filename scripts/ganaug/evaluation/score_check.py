"""Can a set of reported scores come from any confusion matrix of the stated test set? Checked by
``mlscorecheck`` (Fazekas & Kovács, Pattern Recognition 2024; PyPI ``mlscorecheck``), a tool
nobody here wrote, which tries every confusion matrix of p positives and n negatives.

Used twice: the tests run it on every metrics.json the demo and the protocol test write (they
must pass by construction: the figures are computed from the predictions beside them), and
``final_results`` runs it on the study's expected values (``evaluation.study_expected_f1``) and on
the design card's F1 0.51 and 0.76, so the report can say which of them no confusion matrix of a
test set can produce. A published score that fails is an error in the publication, not a
borderline result.
"""

from __future__ import annotations

from typing import Any

# metrics.json's names -> mlscorecheck's
SCORE_NAMES = {
    "accuracy": "acc",
    "recall": "sens",
    "specificity": "spec",
    "balanced_accuracy": "bacc",
    "f1": "f1",
    "precision": "ppv",
}
# the design card's F1, baseline -> GAN-augmented: the "Expected Results" target of a public
# README with the same 167/36/36 DF split, never measured
DESIGN_CARD_F1 = {"baseline": 0.51, "gan_augmented": 0.76}
# the study's test set under its 70/15/15 split of ISIC 2019: 36 DF images, and 15 % of 12,875 NV
STUDY_TEST_SET = {"p": 36, "n": round(0.15 * 12875)}


def check_scores(scores: dict[str, float | None], p: int, n: int, eps: float) -> dict[str, Any]:
    """Whether ``scores`` (metrics.json's names; None ones are left out) can all come from one
    confusion matrix of ``p`` positives and ``n`` negatives, each within ``eps``:
    {"consistent": bool, "checked": the scores checked, "p", "n", "eps"}."""
    import logging

    from mlscorecheck.check.binary import check_1_testset_no_kfold

    # mlscorecheck logs every step of every check at DEBUG to its own stderr handler
    logging.getLogger("mlscorecheck").setLevel(logging.WARNING)
    given = {SCORE_NAMES[k]: float(v) for k, v in scores.items() if k in SCORE_NAMES and v is not None}
    if not given:
        raise ValueError("no score to check")
    result = check_1_testset_no_kfold(testset={"p": int(p), "n": int(n)}, scores=given, eps=eps)
    return {
        "consistent": not result["inconsistency"],
        "checked": sorted(k for k in SCORE_NAMES if k in scores and scores[k] is not None),
        "p": int(p),
        "n": int(n),
        "eps": eps,
    }


def check_metrics_block(block: dict[str, Any], eps: float = 1e-9) -> dict[str, Any]:
    """One decision's block of a metrics.json (accuracy, recall, ... with ``n`` and
    ``n_positive``): its scores against its own test set, to float precision."""
    p = int(block["n_positive"])
    return check_scores({k: block.get(k) for k in SCORE_NAMES}, p, int(block["n"]) - p, eps)


def check_expectations(expected_f1: dict[str, dict[str, float]], p: int, n: int) -> list[dict[str, Any]]:
    """The study's expected F1 per (arch, condition), and the design card's two, each checked
    against a test set of ``p`` DF and ``n`` NV images, to the two decimals they are given in."""
    rows = [
        {"arch": arch, "condition": cond, "f1": f1, "source": "evaluation.study_expected_f1"}
        for arch, conds in expected_f1.items()
        for cond, f1 in conds.items()
    ]
    rows += [
        {"arch": "", "condition": cond, "f1": f1, "source": "design card (a public README's target)"}
        for cond, f1 in DESIGN_CARD_F1.items()
    ]
    for row in rows:
        row |= check_scores({"f1": row["f1"]}, p, n, eps=0.005)
        row.pop("checked")
    return rows
