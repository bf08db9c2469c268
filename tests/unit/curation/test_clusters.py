"""Cluster-balanced selection: quotas, scores, ties."""

from __future__ import annotations

import numpy as np

from ganaug.curation.clusters import select

CANDS = ["generated_0000.png", "generated_0001.png", "generated_0002.png"]


def test_select_meets_quotas_and_prefers_high_scores():
    rng = np.random.default_rng(0)
    clusters = np.repeat([0, 1, 2], [100, 30, 60])
    scores = rng.uniform(1, 5, len(clusters))
    chosen, notes = select(clusters, scores, final_count=150, min_per_cluster=50)
    assert chosen.sum() == 150
    assert chosen[clusters == 1].all()  # the small cluster gives all it has
    for c in (0, 2):
        assert chosen[clusters == c].sum() >= 50
        # within a cluster, every chosen image outscores every left-out one
        assert scores[(clusters == c) & chosen].min() >= scores[(clusters == c) & ~chosen].max()
    assert any("cluster 1 has 30 images" in n for n in notes)


def test_select_with_fewer_candidates_than_wanted():
    chosen, notes = select(
        np.array([0, 0, 1]), np.array([3.0, 4.0, 5.0]), final_count=600, min_per_cluster=50
    )
    assert chosen.all() and any("only 3 candidates" in n for n in notes)


def test_select_without_scores_is_deterministic():
    clusters = np.array([0, 1, 0, 1, 0, 1])
    chosen, _ = select(clusters, np.full(6, np.nan), final_count=4, min_per_cluster=1)
    assert chosen.tolist() == [True, True, True, True, False, False]
