"""Threshold tuning and the aggregation over seeds."""

from __future__ import annotations

import numpy as np
import pytest

from ganaug.evaluation.classification import (
    SUMMARY_METRICS,
    aggregate_replicates,
    decide,
    metrics,
    tune_threshold,
)


def test_tuned_threshold_maximises_validation_f1():
    rng = np.random.default_rng(7)
    y = (rng.random(200) < 0.2).astype(int)
    p = np.clip(rng.normal(0.3 + 0.3 * y, 0.15), 0, 1)
    t = tune_threshold(y, p)
    best = metrics(y, p, decide(p, t))["f1"]
    for cand in np.linspace(0, 1, 201):
        assert metrics(y, p, decide(p, cand))["f1"] <= best + 1e-12


def _tune_by_loop(y, p):
    """The tuner as it was written first: every candidate in turn, ties to the larger."""
    u = np.unique(p)
    cands = np.concatenate([[u[0] - 1e-6], (u[:-1] + u[1:]) / 2]) if len(u) > 1 else np.array([u[0] - 1e-6])
    best_t, best_f1 = 0.5, -1.0
    for t in cands:
        f1 = metrics(y, p, decide(p, t))["f1"]
        if f1 >= best_f1:
            best_t, best_f1 = float(t), f1
    return best_t


@pytest.mark.parametrize("seed", range(6))
def test_the_tuner_equals_a_loop_over_the_candidates(seed):
    rng = np.random.default_rng(seed + 100)
    n = int(rng.integers(1, 300))
    y = (rng.random(n) < rng.uniform(0.02, 0.5)).astype(int)
    p = rng.random(n)
    if seed % 2:  # ties between images, and between candidates of equal F1
        p = np.round(p, 1)
    assert tune_threshold(y, p) == _tune_by_loop(y, p)
    assert tune_threshold(np.zeros(n, int), p) == _tune_by_loop(np.zeros(n, int), p)


def test_aggregate_replicates_over_repeats_and_seeds():
    runs = []
    for (repeat, seed), f1 in zip(((0, 1), (0, 2), (1, 1), (1, 2)), (0.5, 0.7, 0.9, 0.6), strict=True):
        m = dict.fromkeys(SUMMARY_METRICS, f1)
        runs.append(
            {
                "arch": "a",
                "condition": "c",
                "repeat": repeat,
                "seed": seed,
                "composition": {"n": repeat},
                "threshold": 0.5,
                "argmax": m,
                "tuned": m,
            }
        )
    agg = aggregate_replicates(runs)
    assert agg["tuned"]["f1"]["mean"] == pytest.approx(0.675)
    assert agg["tuned"]["f1"]["sd"] == pytest.approx(np.std([0.5, 0.7, 0.9, 0.6], ddof=1))
    assert agg["tuned"]["f1"]["per_replicate"] == [0.5, 0.7, 0.9, 0.6]
    assert agg["replicates"] == ["repeat_0/seed_1", "repeat_0/seed_2", "repeat_1/seed_1", "repeat_1/seed_2"]
    assert agg["n_replicates"] == 4 and agg["repeats"] == [0, 1] and agg["seeds"] == [1, 2]
    assert agg["composition"]["repeat_1/seed_2"] == {"n": 1}
    assert aggregate_replicates(runs[:1])["tuned"]["f1"]["sd"] is None
