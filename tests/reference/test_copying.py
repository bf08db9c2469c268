"""The data-copying test (C_T, Meehan et al. 2020) against a plain loop of its definition, and
checked for what it is for: about N(0, 1) when the generator samples the real distribution,
far below 0 when it copies its training images."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import mannwhitneyu

from ganaug.evaluation.copying import c_t, nearest_distance, z_u
from ganaug.evaluation.which_generator import COPYING_Z


def test_nearest_distance_equals_a_loop():
    rng = np.random.default_rng(0)
    q, r = rng.normal(size=(30, 7)), rng.normal(size=(20, 7))
    loop = [min(np.linalg.norm(x - y) for y in r) for x in q]
    assert np.allclose(nearest_distance(q, r), loop, atol=1e-10)


@pytest.mark.parametrize("seed", range(4))
def test_z_u_is_the_z_scored_mann_whitney_u_of_the_authors(seed):
    rng = np.random.default_rng(seed)
    p = np.round(rng.gamma(2.0, 1.0, int(rng.integers(5, 40))), 1)  # ties, counted half
    q = np.round(rng.gamma(2.0, 1.1, int(rng.integers(5, 60))), 1)
    u = mannwhitneyu(q, p).statistic  # U of the generated sample: pairs where it is the larger
    loop = sum((x > y) + 0.5 * (x == y) for x in q for y in p)
    assert u == pytest.approx(loop)
    n, m = len(p), len(q)
    assert z_u(p, q) == pytest.approx((u - (n * m / 2 - 0.5)) / np.sqrt(n * m * (n + m + 1) / 12))


def _blobs(rng, n, centres, scale=1.0):
    return centres[rng.integers(0, len(centres), n)] + rng.normal(0, scale, (n, centres.shape[1]))


def _plain_c_t(train, held, gen, labels_t, labels_p, labels_q, k, tau):
    """The definition, cell by cell with loops (the partition given)."""
    zs, weights = [], []
    for c in range(k):
        t, p, q = train[labels_t == c], held[labels_p == c], gen[labels_q == c]
        if len(q) <= tau:
            continue
        dp = [min(np.linalg.norm(x - y) for y in t) for x in p]
        dq = [min(np.linalg.norm(x - y) for y in t) for x in q]
        u = sum((a > b) + 0.5 * (a == b) for a in dq for b in dp)
        n, m = len(dp), len(dq)
        zs.append((u - (n * m / 2 - 0.5)) / np.sqrt(n * m * (n + m + 1) / 12))
        weights.append(len(p) / len(held))
    return float(np.dot(weights, zs) / np.sum(weights))


def test_c_t_equals_its_definition_cell_by_cell():
    from sklearn.cluster import KMeans
    from sklearn.decomposition import PCA

    rng = np.random.default_rng(3)
    centres = rng.normal(0, 6, (3, 5))
    train, held, gen = _blobs(rng, 90, centres), _blobs(rng, 45, centres), _blobs(rng, 120, centres, 0.8)
    out = c_t(train, held, gen, cells=3, seed=42)
    pca = PCA(n_components=out["dims"], random_state=42).fit(train)
    t, p, q = (pca.transform(x) for x in (train, held, gen))
    km = KMeans(3, n_init=10, random_state=42).fit(t)
    ref = _plain_c_t(t, p, q, km.labels_, km.predict(p), km.predict(q), 3, 20)
    assert out["cells_used"] == 3 and out["c_t"] == pytest.approx(ref, abs=1e-10)


def test_its_z_is_about_standard_normal_for_a_faithful_generator():
    """Generated, held-out and training images from one distribution: over many seeds z has mean
    about 0 and sd about 1, and C_T (a weighted mean of three cells' z) an sd near 0.58."""
    zs, cts = [], []
    for seed in range(80):
        rng = np.random.default_rng(100 + seed)
        centres = np.array([[0.0, 0, 0, 0], [5, 5, 0, 0], [0, 6, 6, 0]])
        train, held, gen = (_blobs(rng, n, centres) for n in (120, 40, 150))
        out = c_t(train, held, gen, cells=3, seed=seed)
        zs.append(out["z"])
        cts.append(out["c_t"])
    z = np.array(zs)
    assert abs(z.mean()) < 0.35 and 0.75 < z.std(ddof=1) < 1.25
    assert 0.4 < np.std(cts, ddof=1) < 0.75
    # the report's copying flag (which_generator.COPYING_Z) in these 80 null worlds: N(0, 1) puts
    # 0.13 % below -3, so one false flag in 80 would already be far more than expected
    assert (z < COPYING_Z).sum() == 0, z.min()


def test_c_t_finds_copies_of_the_training_images():
    rng = np.random.default_rng(7)
    centres = rng.normal(0, 6, (3, 6))
    train, held = _blobs(rng, 100, centres), _blobs(rng, 40, centres)
    copies = train[rng.integers(0, len(train), 150)] + rng.normal(0, 0.01, (150, 6))
    out = c_t(train, held, copies, cells=3)
    assert out["c_t"] < -5 and out["z"] < out["c_t"] and out["p_copying"] < 1e-6


def test_c_t_says_when_it_cannot_be_estimated_and_how_many_cells_it_used():
    rng = np.random.default_rng(1)
    train, held, gen = rng.normal(size=(40, 3)), rng.normal(size=(3, 3)), rng.normal(size=(10, 3))
    out = c_t(train, held, gen, cells=5)
    assert out["cells_used"] <= 3 and out["cells_asked"] == 5  # a cell needs a held-out image
    assert out["c_t"] is None and out["z"] is None and "no cell holds more than 20" in out["why"]
