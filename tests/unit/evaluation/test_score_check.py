"""ganaug.evaluation.score_check: mlscorecheck's verdict on scores computed from a random
confusion matrix (possible by construction), on the same scores with one changed (impossible),
and on the study's expectations."""

from __future__ import annotations

import numpy as np
import pytest

from ganaug.evaluation.classification import metrics
from ganaug.evaluation.score_check import (
    DESIGN_CARD_F1,
    check_expectations,
    check_metrics_block,
    check_scores,
)


@pytest.mark.parametrize("seed", range(4))
def test_the_scores_of_real_predictions_are_possible_and_a_changed_one_is_not(seed):
    rng = np.random.default_rng(seed)
    y = (rng.random(300) < 0.1).astype(int)
    prob = np.clip(0.3 * y + rng.random(300) * 0.8, 0, 1)
    block = metrics(y, prob, (prob >= 0.5).astype(int))
    assert check_metrics_block(block)["consistent"]
    wrong = dict(block, accuracy=block["accuracy"] + 1.5 / 300)  # between two attainable values
    assert not check_metrics_block(wrong)["consistent"]


def test_one_vs_rest_accuracy_of_99_percent_with_a_weak_sensitivity_needs_a_high_specificity():
    """The kind of published claim the issue names: accuracy 0.99 on a 1 % class; with
    sensitivity 0.9 and specificity 0.5 no confusion matrix of the test set gives it."""
    assert check_scores({"accuracy": 0.99, "recall": 0.5, "specificity": 0.99}, 36, 1931, 0.005)["consistent"]
    assert not check_scores({"accuracy": 0.99, "recall": 0.9, "specificity": 0.5}, 36, 1931, 0.005)[
        "consistent"
    ]


def test_the_expectations_and_the_design_cards_f1_are_checked_against_the_studys_test_set():
    rows = check_expectations({"resnet50": {"gan_curated": 0.76}}, 36, 1931)
    assert [(r["arch"], r["condition"], r["f1"]) for r in rows] == [
        ("resnet50", "gan_curated", 0.76),
        *[("", c, f) for c, f in DESIGN_CARD_F1.items()],
    ]
    assert all(r["consistent"] and r["eps"] == 0.005 for r in rows)  # F1 alone constrains little
    # one positive among six images: F1 is 2 / (2 + FP) or 0, so 0.5 is possible and 0.6 is not
    assert check_expectations({"a": {"c": 0.5}}, 1, 5)[0]["consistent"]
    assert not check_expectations({"a": {"c": 0.6}}, 1, 5)[0]["consistent"]
