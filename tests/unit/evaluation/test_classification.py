"""Threshold tuning and the aggregation over seeds."""

from __future__ import annotations

import numpy as np
import pytest

from ganaug.evaluation.classification import SUMMARY_METRICS, aggregate_seeds, decide, metrics, tune_threshold


def test_tuned_threshold_maximises_validation_f1():
    rng = np.random.default_rng(7)
    y = (rng.random(200) < 0.2).astype(int)
    p = np.clip(rng.normal(0.3 + 0.3 * y, 0.15), 0, 1)
    t = tune_threshold(y, p)
    best = metrics(y, p, decide(p, t))["f1"]
    for cand in np.linspace(0, 1, 201):
        assert metrics(y, p, decide(p, cand))["f1"] <= best + 1e-12


def test_aggregate_seeds():
    runs = []
    for seed, f1 in ((1, 0.5), (2, 0.7), (3, 0.9)):
        m = dict.fromkeys(SUMMARY_METRICS, f1)
        runs.append(
            {
                "arch": "a",
                "condition": "c",
                "seed": seed,
                "composition": {},
                "threshold": 0.5,
                "argmax": m,
                "tuned": m,
            }
        )
    agg = aggregate_seeds(runs)
    assert agg["tuned"]["f1"]["mean"] == pytest.approx(0.7)
    assert agg["tuned"]["f1"]["sd"] == pytest.approx(np.std([0.5, 0.7, 0.9], ddof=1))
    assert agg["seeds"] == [1, 2, 3] and aggregate_seeds(runs[:1])["tuned"]["f1"]["sd"] is None
