"""Density and coverage against the authors' ``prdc`` package; alpha-precision, beta-recall and
authenticity (Alaa et al. 2022) on small cases worked by hand."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import prdc
import pytest

from ganaug.evaluation.sample_metrics import alpha_beta_authenticity, density_coverage


@pytest.mark.parametrize(("seed", "k"), [(0, 3), (1, 5), (2, 5)])
def test_density_and_coverage_equal_the_prdc_package(seed, k):
    rng = np.random.default_rng(seed)
    real = rng.normal(size=(120, 16))
    fake = rng.normal(0.3, 1.2, size=(90, 16))
    with contextlib.redirect_stdout(io.StringIO()):  # prdc prints the set sizes
        ref = prdc.compute_prdc(real, fake, nearest_k=k)
    got = density_coverage(real, fake, k)
    assert got["density"] == pytest.approx(ref["density"], rel=1e-12)
    assert got["coverage"] == pytest.approx(ref["coverage"], rel=1e-12)


def test_alpha_precision_worked_by_hand():
    """Real -2, -1, 1, 2 (mean 0, distances 2, 1, 1, 2): at alpha 0, 0.5, 1 the radii are 1, 1.5
    and 2. Synthetic 0 and 3 lie at 0 and 3: P = 0.5 at every alpha, so IP = 1 - 2 (0.5 + 0 + 0.5)
    x 0.5 = 0."""
    real = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    got = alpha_beta_authenticity(real, np.array([[0.0], [3.0]]), steps=3)
    assert got["alpha_precision_curve"] == [0.5, 0.5, 0.5] and got["alpha_precision"] == pytest.approx(0.0)
    # synthetic images spread as the real ones: P = 0.5 at 0 (two at the smallest radius), 0.5, 1
    same = alpha_beta_authenticity(real, real.copy(), steps=3)
    assert same["alpha_precision_curve"] == [0.5, 0.5, 1.0]
    assert same["alpha_precision"] == pytest.approx(1 - 2 * (0.5 + 0 + 0) * 0.5)


def test_beta_recall_worked_by_hand():
    """Real -2, -1, 1, 2, each 1 from its nearest real neighbour. Synthetic -1.5 and 5: -2 and -1
        have -1.5 within 0.5 (close enough), 1 and 2 have their nearest synthetic 2.5 and 3 away (too
        far). The nearest synthetic images lie 3.25 from the synthetic mean 1.75, so every beta radius
        is 3.25 and R = 0.5 at every beta: IR = 1 - 2 (0.5 + 0 + 0.5) x 0.5 = 0. Synthetic -1.5 and 1.2
        are close to all four: R = 1 at every beta, IR = 1 - 2 (1 + 0.5 + 0) x 0.5 = -0.5 (the integrated
    score punishes a curve above the diagonal as much as one below it)."""
    real = np.array([[-2.0], [-1.0], [1.0], [2.0]])
    got = alpha_beta_authenticity(real, np.array([[-1.5], [5.0]]), steps=3)
    assert got["beta_recall_curve"] == [0.5, 0.5, 0.5] and got["beta_recall"] == pytest.approx(0.0)
    near = alpha_beta_authenticity(real, np.array([[-1.5], [1.2]]), steps=3)
    assert near["beta_recall_curve"] == [1.0, 1.0, 1.0] and near["beta_recall"] == pytest.approx(-0.5)


def test_authenticity_worked_by_hand():
    """Real 0, 1, 10, 11: each 1 from its nearest real neighbour. Synthetic 0.2 is 0.2 from real 0
    (a copy: closer than 1); 5 is 4 from real 1 (authentic); 10.5 is 0.5 from 10 (a copy): 1/3."""
    real = np.array([[0.0], [1.0], [10.0], [11.0]])
    got = alpha_beta_authenticity(real, np.array([[0.2], [5.0], [10.5]]))
    assert got["authenticity"] == pytest.approx(1 / 3)
    # real images copied exactly are never authentic; images far from every real one always are
    assert alpha_beta_authenticity(real, real.copy())["authenticity"] == 0.0
    assert alpha_beta_authenticity(real, real + 100.0)["authenticity"] == 1.0


def test_a_sample_from_the_real_distribution_scores_near_one():
    rng = np.random.default_rng(5)
    real, fake = rng.normal(size=(2000, 4)), rng.normal(size=(2000, 4))
    got = alpha_beta_authenticity(real, fake)
    assert got["alpha_precision"] > 0.95
    shifted = alpha_beta_authenticity(real, fake + 3.0)
    assert shifted["alpha_precision"] < 0.5 and shifted["beta_recall"] < got["beta_recall"]
