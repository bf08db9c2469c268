"""The tests that may print a verdict, and those beside them, each against an independent route
on fresh random data: baycomp's correlated t, scipy, statsmodels, and plain loops."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats as sps
from statsmodels.stats.contingency_tables import mcnemar

from ganaug.evaluation.inference import (
    clustered_mcnemar,
    conditional_mde,
    corrected_t,
    hodges_lehmann,
    minimum_detectable_effect,
    power_corrected_t,
    power_t,
    sign_flip_distribution,
    smallest_signed_rank_p,
    variance_factor,
    wilcoxon_across,
)


@pytest.mark.parametrize("seed", range(5))
def test_corrected_t_equals_baycomps_correlated_t(seed):
    """baycomp's CorrelatedTTest (Benavoli et al. 2017) uses Nadeau and Bengio's variance
    1/n + 1/(k - 1) for k-fold cross-validation repeated n/k times; with n_test/n_train = 1/(k-1)
    it is the same statistic, and its posterior under the flat prior is our p's t."""
    from baycomp.single import CorrelatedTTest, Posterior

    rng = np.random.default_rng(seed)
    runs, folds = int(rng.integers(1, 4)), int(rng.integers(3, 8))
    ref = rng.normal(0.6, 0.05, runs * folds)
    cond = ref + rng.normal(rng.normal(0, 0.02), 0.04, runs * folds)
    ours = corrected_t(cond - ref, 1 / (folds - 1))
    mean, var, df = CorrelatedTTest.compute_statistics(ref, cond, runs)
    assert ours["estimate"] == pytest.approx(mean, abs=1e-14)
    assert ours["se"] ** 2 == pytest.approx(var, rel=1e-12) and ours["df"] == df
    p_left, p_right = Posterior(mean, var, df).probs()
    assert ours["p"] == pytest.approx(2 * min(p_left, p_right), rel=1e-9)


def test_corrected_t_by_hand_and_its_interval():
    d = np.array([0.10, -0.02, 0.05, 0.08, 0.01])
    out = corrected_t(d, 0.15 / 0.70)
    se = d.std(ddof=1) * np.sqrt(1 / 5 + 0.15 / 0.70)
    assert out["se"] == pytest.approx(se) and out["df"] == 4
    assert out["p"] == pytest.approx(2 * sps.t.sf(d.mean() / se, 4))
    half = sps.t.ppf(0.975, 4) * se
    assert (out["ci_low"], out["ci_high"]) == pytest.approx((d.mean() - half, d.mean() + half))
    # the figure: at 70/15/15 and R = 5 the variance is 2.07 times the plain t's
    assert variance_factor(5, 0.15 / 0.70) / (1 / 5) == pytest.approx(2.0714, abs=1e-4)
    # a shared variance adds to the squared standard error
    more = corrected_t(d, 0.15 / 0.70, extra_variance=0.01**2)
    assert more["se"] == pytest.approx(np.sqrt(se**2 + 1e-4))


def test_corrected_t_gives_no_p_without_repeats_or_spread():
    assert corrected_t([0.1], 0.2)["p"] is None
    same = corrected_t([0.1, 0.1, 0.1], 0.2)
    assert same["p"] is None and same["note"]


@pytest.mark.parametrize("seed", range(4))
def test_hodges_lehmann_equals_a_loop_and_centres_the_signed_rank_test(seed):
    rng = np.random.default_rng(seed)
    d = rng.normal(0.05, 0.1, int(rng.integers(3, 12)))
    walsh = [(d[i] + d[j]) / 2 for i, j in itertools.combinations_with_replacement(range(len(d)), 2)]
    hl = hodges_lehmann(d)
    assert hl == pytest.approx(float(np.median(walsh)), abs=1e-15)
    # the estimate the signed-rank test is about: shifted by it, the data show no location at all
    w = sps.wilcoxon(d - hl, method="exact")
    assert w.pvalue > 0.8


def test_wilcoxon_states_the_p_it_cannot_go_below():
    assert smallest_signed_rank_p(5) == 0.0625 and smallest_signed_rank_p(6) == 0.03125
    out = wilcoxon_across([0.1, 0.2, 0.15, 0.3, 0.05])
    assert out["p"] == pytest.approx(0.0625) and out["p_min_attainable"] == pytest.approx(0.0625)
    assert not out["can_reach_alpha"] and out["direction"] == "condition higher"
    # the direction is the Hodges-Lehmann estimate's, not the median's: median +0.01, HL < 0
    d = [0.01, 0.02, 0.01, -0.4, -0.3]
    assert np.median(d) > 0 and wilcoxon_across(d)["direction"] == "condition lower"


def _plain_clustered_p(d: np.ndarray) -> float:
    """Every sign vector, enumerated: the exact sign-flip p by brute force."""
    s = abs(d.sum())
    hits = sum(abs(np.dot(signs, d)) >= s - 1e-12 for signs in itertools.product((-1, 1), repeat=len(d)))
    return hits / 2 ** len(d)


@pytest.mark.parametrize("seed", range(6))
def test_clustered_mcnemar_equals_enumerating_every_sign(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(3, 12))
    b, c = rng.integers(0, 4, k), rng.integers(0, 4, k)
    out = clustered_mcnemar(b, c)
    d = b - c
    assert out["p"] == pytest.approx(_plain_clustered_p(d), abs=1e-12)
    assert out["statistic"] == pytest.approx(d.sum() ** 2 / (d**2).sum() if (d**2).sum() else 0.0)
    assert (out["b"], out["c"], out["lesions"]) == (b.sum(), c.sum(), k)


@pytest.mark.parametrize("b, c", [(7, 2), (12, 4), (0, 5), (3, 3), (30, 14)])
def test_one_image_a_lesion_is_mcnemars_exact_test(b, c):
    """Singleton clusters: the sign-flip distribution is the binomial(b + c, 1/2)."""
    got = clustered_mcnemar([1] * b + [0] * c, [0] * b + [1] * c)["p"]
    ref = mcnemar([[10, b], [c, 10]], exact=True).pvalue
    assert got == pytest.approx(ref, abs=1e-12)


def test_sign_flip_distribution_sums_to_one_and_is_symmetric():
    support, prob = sign_flip_distribution([3, 1, 2, 0, 5])
    assert prob.sum() == pytest.approx(1.0) and np.allclose(prob, prob[::-1])
    assert support[0] == -11 and support[-1] == 11


def test_clustered_mcnemar_counts_a_lesion_once_not_per_image():
    """Three lesions of four images, all for the condition: on images McNemar sees 12 to 0
    (p 0.0005); clustered it sees three coin flips (p 0.25)."""
    b, c = [4, 4, 4], [0, 0, 0]
    assert mcnemar([[0, 12], [0, 0]], exact=True).pvalue < 0.001
    assert clustered_mcnemar(b, c)["p"] == pytest.approx(0.25)


@pytest.mark.parametrize("df, alpha", [(4, 0.05), (4, 0.0125), (9, 0.05)])
def test_power_t_agrees_with_a_simulated_t_test(df, alpha):
    """The noncentral-t power of a plain t test, checked by simulating the test itself."""
    se = 0.03
    rng = np.random.default_rng(df)
    n = df + 1
    sd = se * np.sqrt(n)  # a plain t of n values has se = sd / sqrt(n)
    x = rng.normal(0.06, sd, (40000, n))
    p = 2 * sps.t.sf(np.abs(x.mean(1) / (x.std(1, ddof=1) / np.sqrt(n))), df)
    assert (p < alpha).mean() == pytest.approx(power_t(0.06, se, df, alpha), abs=0.01)


@pytest.mark.parametrize("repeats, extra, alpha", [(5, 0.0, 0.0125), (5, 0.03**2, 0.0125), (3, 0.0, 0.05)])
def test_the_minimum_detectable_effect_is_where_the_simulated_corrected_t_has_80_percent(
    repeats, extra, alpha
):
    """Independent repeats with sd 0.08 (plus a shared shift of variance ``extra``, known, as an
    external set's lesion sampling is): the corrected t, simulated, detects the MDE 80 % of the
    time."""
    sd, ratio = 0.08, 0.15 / 0.70
    mde = minimum_detectable_effect(sd, repeats, ratio, alpha, extra)
    assert power_corrected_t(mde, sd, repeats, ratio, alpha, extra) == pytest.approx(0.8, abs=1e-6)
    rng = np.random.default_rng(repeats)
    d = rng.normal(mde, sd, (40000, repeats)) + rng.normal(0, np.sqrt(extra), (40000, 1))
    se = np.sqrt(variance_factor(repeats, ratio) * d.var(1, ddof=1) + extra)
    p = 2 * sps.t.sf(np.abs(d.mean(1)) / se, repeats - 1)
    assert (p < alpha).mean() == pytest.approx(0.8, abs=0.012)
    assert minimum_detectable_effect(None, repeats, ratio, alpha) is None
    assert minimum_detectable_effect(sd, 1, ratio, alpha) is None


def test_conditional_mde_is_the_normal_formula():
    assert conditional_mde(0.05, 0.05) == pytest.approx((1.959964 + 0.841621) * 0.05, rel=1e-5)
    assert conditional_mde(None, 0.05) is None
