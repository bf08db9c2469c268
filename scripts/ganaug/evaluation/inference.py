"""Inference over training runs: the tests that may print a verdict, and the ones beside them.

Pure functions on per-repeat differences or per-lesion counts, each tested against an
independent route (a plain loop, scipy, statsmodels, baycomp's correlated t):

- :func:`corrected_t`: the corrected resampled t of Nadeau & Bengio (2003). The repeats' training
  sets overlap, so their differences are correlated and the plain t's variance (s^2 / R) is too
  small; the correction multiplies it by (1/R + n_test/n_train) / (1/R), with R - 1 degrees of
  freedom. At the study's 70/15/15 and R = 5 that is 2.07 on the variance.
- :func:`hodges_lehmann` and :func:`wilcoxon_across`: the signed-rank test across repeats, its
  smallest attainable p (2 / 2^n: 0.0625 at n = 5, so it cannot reach 0.05) and its direction
  from the Hodges-Lehmann estimate, never from the median.
- :func:`clustered_mcnemar`: McNemar for matched pairs clustered by lesion (Durkalski et al.
  2003), with its p from the exact sign-flip distribution of the per-lesion differences (under
  the null each lesion's difference is as likely to have either sign). With one image per lesion
  it is McNemar's exact test. It holds the fitted models fixed: evidence about these fits, never
  about the training procedure.
- :func:`minimum_detectable_effect`: the smallest |delta| the corrected t detects with the given
  power, from the noncentral t under independent repeats (checked against the calibration
  simulation, and against a simulated t test), and
  :func:`conditional_mde` for one split, where only the test lesions' noise can be measured.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import optimize
from scipy import stats as sps


def variance_factor(n_repeats: int, test_train_ratio: float) -> float:
    """Nadeau & Bengio's (1/R + n_test/n_train)."""
    return 1.0 / n_repeats + test_train_ratio


def corrected_t(
    deltas: Sequence[float], test_train_ratio: float, extra_variance: float = 0.0, level: float = 0.95
) -> dict:
    """The corrected resampled t on per-repeat differences: estimate (their mean), its corrected
    standard error, t, R - 1 degrees of freedom, the two-sided p and the ``level`` interval.

    ``extra_variance`` is added to the squared standard error: variance that every repeat shares
    and that their spread therefore cannot show (the lesion sampling of an external test set that
    every repeat predicts). Needs two repeats; with no spread at all (sd 0) and nothing added
    there is no variance to test against, so no p is given rather than an infinite t.
    """
    d = np.asarray(deltas, dtype=np.float64)
    r = len(d)
    out: dict = {"estimate": float(d.mean()) if r else None, "n_repeats": r, "df": r - 1 if r else None}
    if r < 2:
        return out | {
            "se": None,
            "t": None,
            "p": None,
            "ci_low": None,
            "ci_high": None,
            "note": "one repeat: nothing can be said about the training procedure",
        }
    sd = float(d.std(ddof=1))
    if sd <= 1e-12 * max(1.0, float(np.abs(d).max())):
        sd = 0.0  # equal differences leave rounding (1e-17), not spread
    se = float(np.sqrt(variance_factor(r, test_train_ratio) * sd**2 + extra_variance))
    half = float(sps.t.ppf(0.5 + level / 2, r - 1)) * se
    out |= {"sd": sd, "se": se, "ci_low": out["estimate"] - half, "ci_high": out["estimate"] + half}
    if se == 0:
        return out | {
            "t": None,
            "p": None,
            "note": "every repeat gives the same difference: no spread to test against",
        }
    t = out["estimate"] / se
    return out | {"t": float(t), "p": float(2 * sps.t.sf(abs(t), r - 1)), "note": ""}


def hodges_lehmann(d: Sequence[float]) -> float | None:
    """The one-sample Hodges-Lehmann estimate: the median of the Walsh averages (d_i + d_j) / 2,
    i <= j. The centre the signed-rank test is about."""
    x = np.asarray(d, dtype=np.float64)
    if len(x) == 0:
        return None
    i, j = np.triu_indices(len(x))
    return float(np.median((x[i] + x[j]) / 2))


def smallest_signed_rank_p(n_nonzero: int) -> float:
    """The smallest two-sided p the exact signed-rank test can give with n non-zero differences:
    every difference of one sign, probability 2 / 2^n."""
    return min(1.0, 2.0 / 2**n_nonzero)


def wilcoxon_across(d: Sequence[float], alpha: float = 0.05) -> dict:
    """Signed-rank test of per-repeat differences: p (exact where scipy can), the smallest p it
    could reach, whether it can reach ``alpha`` at all, and the Hodges-Lehmann estimate with its
    sign as the direction."""
    x = np.asarray(d, dtype=np.float64)
    nonzero = int(np.count_nonzero(x))
    floor = smallest_signed_rank_p(nonzero)
    hl = hodges_lehmann(x)
    out = {
        "n_repeats": len(x),
        "hodges_lehmann": hl,
        "p_min_attainable": floor,
        "can_reach_alpha": floor < alpha,
        "direction": "none" if not hl else ("condition higher" if hl > 0 else "condition lower"),
    }
    if nonzero == 0:
        return out | {"statistic": None, "p": 1.0 if len(x) else None}
    res = sps.wilcoxon(x, zero_method="wilcox", method="auto")
    return out | {"statistic": float(res.statistic), "p": float(res.pvalue)}


def sign_flip_distribution(magnitudes: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """The exact null distribution of S = sum_k e_k m_k with independent fair signs e_k: the
    support (integers) and the probabilities, by convolving one lesion at a time."""
    m = np.abs(np.asarray(magnitudes, dtype=np.int64))
    m = m[m > 0]
    total = int(m.sum())
    prob = np.zeros(2 * total + 1)
    prob[total] = 1.0  # index = S + total
    for k in m:
        prob = 0.5 * (np.roll(prob, k) + np.roll(prob, -k))  # no wrap: |S| <= total always
    return np.arange(-total, total + 1), prob


def clustered_mcnemar(b_per_lesion: Sequence[int], c_per_lesion: Sequence[int]) -> dict:
    """McNemar's test with pairs clustered by lesion: ``b`` counts, per lesion, the (image, seed)
    pairs only the condition got right, ``c`` those only the reference got right.

    Statistic (Durkalski et al. 2003): (sum_k d_k)^2 / sum_k d_k^2, d_k = b_k - c_k. The p is
    exact: P(|S| >= |sum d_k|) under independent fair signs of each lesion's d_k, so lesions whose
    images disagree together count once, not once per image.
    """
    b = np.asarray(b_per_lesion, dtype=np.int64)
    c = np.asarray(c_per_lesion, dtype=np.int64)
    d = b - c
    s, ss = int(d.sum()), int((d**2).sum())
    out = {
        "b": int(b.sum()),
        "c": int(c.sum()),
        "lesions": len(d),
        "discordant_lesions": int(np.count_nonzero(d)),
    }
    if ss == 0:
        return out | {"statistic": 0.0, "p": 1.0}
    support, prob = sign_flip_distribution(d)
    p = float(prob[np.abs(support) >= abs(s) - 1e-9].sum())
    return out | {"statistic": s * s / ss, "p": min(1.0, p)}


def power_t(delta: float, se: float, df: int, alpha: float) -> float:
    """Power of a two-sided t test at level ``alpha`` with ``df`` degrees of freedom when the
    true difference is ``delta`` and the statistic's standard error is ``se``: the noncentral t."""
    return _power(abs(delta) / se, 1.0, df, alpha)


def _power(nc: float, k: float, df: int, alpha: float, df_shape: float | None = None) -> float:
    """P(|T| > k c) for T noncentral t (``df_shape`` or df, nc) and c the two-sided critical
    value of the t with df degrees of freedom (the one the test uses)."""
    crit = k * sps.t.ppf(1 - alpha / 2, df)
    shape = df if df_shape is None else df_shape
    near = float(sps.nct.sf(crit, shape, nc))
    far = float(np.nan_to_num(sps.nct.cdf(-crit, shape, nc)))  # the wrong tail: scipy returns nan where ~0
    return near + far


def power_corrected_t(
    delta: float,
    sd: float,
    n_repeats: int,
    test_train_ratio: float,
    alpha: float,
    extra_variance: float = 0.0,
) -> float:
    """Power of the corrected t when the per-repeat differences have sd ``sd`` and, apart from
    a shared variance ``extra_variance`` (an external set's lesion sampling), vary independently
    (what the calibration simulation models). The estimate's variance is then sd^2 / R + v while
    the test divides by (1/R + n_test/n_train) sd^2 + v: T is a noncentral t with nc =
    delta / sqrt(sd^2/R + v), compared with its critical value times sqrt(((1/R + r) sd^2 + v) /
    (sd^2/R + v)). Where the repeats are correlated as much as Nadeau and Bengio assume, the power
    is lower: that of :func:`power_t` with the corrected standard error. A known shared variance
    makes the denominator steadier: its degrees of freedom are Satterthwaite's."""
    df = n_repeats - 1
    spread = variance_factor(n_repeats, test_train_ratio) * sd**2
    plain = sd**2 / n_repeats + extra_variance
    k = np.sqrt((spread + extra_variance) / plain)
    shape = df * ((spread + extra_variance) / spread) ** 2 if spread > 0 else np.inf
    return _power(abs(delta) / np.sqrt(plain), float(k), df, alpha, min(float(shape), 1e6))


def minimum_detectable_effect(
    sd: float | None,
    n_repeats: int,
    test_train_ratio: float,
    alpha: float,
    extra_variance: float = 0.0,
    power: float = 0.8,
) -> float | None:
    """The smallest |delta| the corrected t at level ``alpha`` detects with ``power``
    (:func:`power_corrected_t`), given the spread of the per-repeat differences. None with fewer
    than two repeats or no spread at all."""
    if n_repeats < 2 or sd is None or not np.isfinite(sd) or (sd == 0 and not extra_variance):
        return None
    f = lambda x: power_corrected_t(x, sd, n_repeats, test_train_ratio, alpha, extra_variance) - power  # noqa: E731
    hi = max(sd, np.sqrt(extra_variance))
    while f(hi) < 0:
        hi *= 2
    return float(optimize.brentq(f, 0.0, hi, xtol=1e-12 * max(1.0, hi)))


def conditional_mde(se: float | None, alpha: float, power: float = 0.8) -> float | None:
    """With one split: the smallest |delta| the test lesions alone could resolve (normal
    approximation, fits fixed): (z_{1-alpha/2} + z_power) x the bootstrap standard error. A lower
    bound on what any test of the training procedure would need."""
    if not se or not np.isfinite(se):
        return None
    return float((sps.norm.ppf(1 - alpha / 2) + sps.norm.ppf(power)) * se)
