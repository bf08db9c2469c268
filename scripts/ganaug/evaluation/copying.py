"""Does a generator copy its training images? The data-copying test of Meehan, Chaudhuri and
Dasgupta (AISTATS 2020), the C_T statistic.

Held-out real images (here the validation-split DF images, which no generator saw) are as far
from the training set as new samples of the real distribution are. A generator that copies puts
its samples closer to the training images than that; one that underfits puts them farther. Per
cell of a partition of the feature space (k-means on the training features), the Mann-Whitney U
of generated against held-out nearest-training-neighbour distances is z-scored under the null of
no difference; C_T is their average weighted by the held-out share of each cell, over the cells
that hold more than ``min_generated`` generated images (20, the paper's tau = 20 / m). C_T << 0:
copying; C_T >> 0: underfitting. Each cell's z is N(0, 1) under the null, so C_T, their weighted
mean, has sd sqrt(sum w^2) (1 with one cell, about 0.58 with three equal ones); ``z`` divides by
it, so that z is N(0, 1) for a generator that samples the real distribution (tested), and
``p_copying`` is its lower tail.

The conventions are the authors' (github.com/casey-meehan/data-copying): U counts the pairs in
which the generated image is the farther one, the z uses the mean nm/2 - 1/2 (a continuity
correction that raises z: against calling copying) and sd sqrt(nm(n + m + 1) / 12), and
distances are taken to the training images of the same cell. Features are reduced to at most
64 principal components of the training features first, as data-copying implementations do for
Inception features.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

MIN_GENERATED = 20  # a cell counts when it holds more generated images than this (the paper's tau)
MAX_DIMS = 64  # principal components of the training features the distances are taken in


def nearest_distance(query: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Euclidean distance of each query point to its nearest reference point."""
    q, r = np.asarray(query, np.float64), np.asarray(reference, np.float64)
    sq = (q**2).sum(1)[:, None] + (r**2).sum(1)[None, :] - 2 * q @ r.T
    return np.sqrt(np.maximum(sq, 0.0)).min(axis=1)


def z_u(held_out: np.ndarray, generated: np.ndarray) -> float:
    """The z-scored Mann-Whitney U of generated against held-out distances (U: pairs in which the
    generated distance is the larger, ties half)."""
    p, q = np.asarray(held_out, np.float64), np.asarray(generated, np.float64)
    n, m = len(p), len(q)
    order = np.sort(p)
    u = (np.searchsorted(order, q, side="left") + np.searchsorted(order, q, side="right")).sum() / 2
    return float((u - (n * m / 2 - 0.5)) / np.sqrt(n * m * (n + m + 1) / 12))


def _cells(train: np.ndarray, k: int, seed: int):
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=k, n_init=10, random_state=seed).fit(train)


def _partition(t: np.ndarray, p: np.ndarray, q: np.ndarray, cells: int, seed: int):
    """(k, cell labels of t, p, q): k-means on the training features with as many of ``cells``
    as leave every cell a training and a held-out image."""
    for k in range(min(cells, len(t)), 0, -1):
        km = _cells(t, k, seed)
        labels = km.labels_, km.predict(p), km.predict(q)
        if all((labels[0] == c).any() and (labels[1] == c).any() for c in range(k)):
            return k, labels
    return 1, (np.zeros(len(t), int), np.zeros(len(p), int), np.zeros(len(q), int))


def _cell_rows(t, p, q, labels, k: int, min_generated: int) -> list[dict]:
    """Each cell's counts and its z_u (None without generated images); counted when it holds more
    than ``min_generated`` generated images."""
    lt, lp, lq = labels
    rows = []
    for c in range(k):
        tc, pc, qc = t[lt == c], p[lp == c], q[lq == c]
        z = z_u(nearest_distance(pc, tc), nearest_distance(qc, tc)) if len(qc) else None
        row = {"cell": c, "n_train": len(tc), "n_held_out": len(pc), "n_generated": len(qc), "z_u": z}
        rows.append(row | {"counted": len(qc) > min_generated})
    return rows


def c_t(
    train: np.ndarray,
    held_out: np.ndarray,
    generated: np.ndarray,
    cells: int = 3,
    seed: int = 42,
    min_generated: int = MIN_GENERATED,
) -> dict:
    """The C_T statistic of ``generated`` against ``held_out``, both measured to ``train``.

    The partition has ``cells`` k-means cells of the training features; where a cell would hold
    no held-out or no training image, fewer cells are used (the number used is returned, never
    silently changed). With no cell holding more than ``min_generated`` generated images the
    statistic cannot be estimated, and the result says so.
    """
    from sklearn.decomposition import PCA

    t, p, q = (np.asarray(x, np.float64) for x in (train, held_out, generated))
    if len(p) == 0 or len(q) == 0 or len(t) < 2:
        return {
            "cells_asked": cells,
            "cells_used": 0,
            "n_train": len(t),
            "n_held_out": len(p),
            "n_generated": len(q),
            "cells": [],
            "c_t": None,
            "z": None,
            "p_copying": None,
            "why": "needs held-out and generated images and at least 2 training images",
        }
    dims = int(min(MAX_DIMS, t.shape[1], len(t) - 1))
    pca = PCA(n_components=dims, random_state=seed).fit(t)
    t, p, q = pca.transform(t), pca.transform(p), pca.transform(q)
    k, (lt, lp, lq) = _partition(t, p, q, cells, seed)
    rows = _cell_rows(t, p, q, (lt, lp, lq), k, min_generated)
    counted = [r for r in rows if r["counted"]]
    out = {
        "cells_asked": cells,
        "cells_used": k,
        "dims": dims,
        "min_generated": min_generated,
        "n_train": len(t),
        "n_held_out": len(p),
        "n_generated": len(q),
        "cells": rows,
    }
    if not counted:
        return out | {
            "c_t": None,
            "z": None,
            "p_copying": None,
            "why": f"no cell holds more than {min_generated} generated images",
        }
    w = np.array([r["n_held_out"] for r in counted], np.float64)
    w /= w.sum()
    value = float(w @ np.array([r["z_u"] for r in counted]))
    z = value / float(np.sqrt((w**2).sum()))
    return out | {"c_t": value, "z": z, "p_copying": float(norm.cdf(z)), "why": ""}
