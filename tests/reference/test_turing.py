"""The visual Turing test's statistics against independent routes: Krippendorff's alpha against
the krippendorff package, the realism AUC against a count over all real-synthetic pairs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ganaug.curation.turing import REAL_AT, krippendorff_alpha_interval, reviewer_discrimination


def test_krippendorff_alpha_equals_the_krippendorff_package():
    import krippendorff

    rng = np.random.default_rng()
    truth = rng.integers(1, 6, size=40).astype(float)
    ratings = np.clip(np.rint(truth[None, :] + rng.normal(0, 0.9, size=(4, 40))), 1, 5)
    ratings[rng.random(ratings.shape) < 0.15] = np.nan  # raters skip some images
    ours = krippendorff_alpha_interval(ratings)
    ref = krippendorff.alpha(reliability_data=ratings, level_of_measurement="interval")
    assert ours == pytest.approx(ref, abs=1e-12)
    assert krippendorff_alpha_interval(np.tile(truth, (3, 1))) == pytest.approx(1.0)


def test_realism_auc_and_accuracy_equal_a_pairwise_count():
    rng = np.random.default_rng()
    rows = []
    for reviewer, shift in (("ann", 1.0), ("bob", 0.0)):
        for k in range(30):
            real = k < 8
            score = int(np.clip(np.rint(3 + shift * real + rng.normal(0, 1)), 1, 5))
            rows.append({"reviewer": reviewer, "image": f"i{k}", "source": "real" if real else "synthetic",
                         "realism": score})  # fmt: skip
    scores = pd.DataFrame(rows)
    got = reviewer_discrimination(scores).set_index("reviewer")
    for reviewer, s in scores.groupby("reviewer"):
        r = s.loc[s["source"] == "real", "realism"].to_numpy()
        f = s.loc[s["source"] == "synthetic", "realism"].to_numpy()
        pairs = [(a > b) + 0.5 * (a == b) for a in r for b in f]
        assert got.loc[reviewer, "realism_auc"] == pytest.approx(np.mean(pairs))
        says = s["realism"] >= REAL_AT
        assert got.loc[reviewer, "accuracy"] == pytest.approx(np.mean(says == (s["source"] == "real")))
        assert got.loc[reviewer, "balanced_accuracy"] == pytest.approx(
            ((r >= REAL_AT).mean() + (f < REAL_AT).mean()) / 2
        )
