"""Simulated worlds at the level of predictions: what the calibration simulation and the planner
run the shipped statistics on.

A world is an archive shaped like ISIC 2019's two classes (239 DF images of 113 lesions, 12,875
NV images, 1 to 6 images a lesion), split into repeats by the real splitter
(``ganaug.data.splits``: disjoint test folds; further rounds of folds for repeats beyond them),
plus an external test set that every repeat predicts. Each fit scores each image on the logit
scale:

    score = mu_class + u_lesion + eta_(fit, lesion) + eps_(fit, image)
            + on DF images: a_repeat + b_(repeat, condition) + the condition's effect

- ``u``: a lesion's own difficulty, the same for every fit (normal, or Student's t with
  ``lesion_df`` degrees of freedom scaled to the same sd: a few lesions far from their class);
- ``eta``, ``eps``: how one fit (a seed) differs from another, per lesion and per image; with
  common random numbers (``crn``) the two conditions of one (repeat, seed) share that share of
  it, as two fits with one initialisation and one data order would;
- ``a``: what one repeat's training set does to every condition trained on it (``repeat_sd``);
- ``b``: what one training run of a condition in a repeat does to every seed of it
  (``run_sd``): its GAN and its curated set are made once per repeat, so its seeds share them;
- the tuned threshold: in the **quiet world** (the first one this project simulated)
  ``tau + N(0, threshold_sd)``, blind to the fit's scores; in the **noisy world** each fit's
  threshold is tuned on its repeat's validation split, from that fit's own scores, by the
  shipped F1 tuner (``ganaug.evaluation.classification.tune_threshold``), as the fit rule does.

The condition under test adds ``delta`` to DF scores, chosen so that its expected tuned DF
sensitivity is ``delta_sensitivity`` above the reference's (in the noisy world from the
population's F1-optimal threshold: the simulation reports the Δ it actually measured), plus,
optionally, a per-repeat GAN effect of mean 0 correlated between repeats.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special
from scipy import stats as sps

from ganaug.data.splits import assign_splits
from ganaug.evaluation.classification import tune_threshold
from ganaug.evaluation.fits import Fit, Groups

REFERENCE, CONDITION = "baseline", "gan_curated"
EXTERNAL = "external"
ARCH = "simulated"
FRACTIONS = {"train": 0.70, "val": 0.15, "test": 0.15}


@dataclass(frozen=True)
class Shape:
    """The archive: ISIC 2019's DF and NV counts, and a small external set."""

    minority_lesions: int = 113
    minority_images: int = 239
    majority_images: int = 12875
    majority_mean_images: float = 1.4  # NV images per lesion (ISIC 2019 does not publish it; HAM10000's 1.24)
    max_images: int = 6  # images of one lesion at most
    external_minority_lesions: int = 20
    external_majority_lesions: int = 60


@dataclass(frozen=True)
class Noise:
    """The random effects, on the logit scale of the scores."""

    lesion_sd: float = 1.0  # a lesion's own difficulty (every fit sees it)
    # how one fit differs from another: in the quiet world two fits of one procedure then differ
    # in tuned DF sensitivity on one test fold with sd 0.086 (bench_calibration.py measures it)
    fit_lesion_sd: float = 0.2  # one fit's view of a lesion against another's
    image_sd: float = 0.2  # one fit's view of an image
    threshold_sd: float = 0.1  # the quiet world's threshold offset, per fit
    sensitivity: float = 0.55  # the reference's expected tuned DF sensitivity
    specificity: float = 0.92  # the quiet world: its expected tuned NV specificity
    threshold: float = 0.5  # the quiet world: the tuned threshold's centre (argmax is 0)
    # the noisy world
    tuned: bool = False  # thresholds tuned on the validation split from the fit's own scores
    run_sd: float = 0.0  # per (repeat, condition), shared by its seeds, on DF scores
    repeat_sd: float = 0.0  # per repeat, shared by both conditions, on DF scores
    lesion_df: float | None = None  # Student's t lesion effects (None: normal)
    crn: float = 0.0  # the share of a fit's own noise the two conditions of a (repeat, seed) share

    def sd(self, extra: float = 0.0) -> float:
        """The quiet world's sd of a score about its class mean (threshold offset included)."""
        return float(
            np.sqrt(
                self.lesion_sd**2 + self.fit_lesion_sd**2 + self.image_sd**2 + self.threshold_sd**2 + extra**2
            )
        )

    def class_sd(self, minority: bool, extra: float = 0.0) -> float:
        """The noisy world's sd of a score about its class mean (the threshold is fitted)."""
        own = self.lesion_sd**2 + self.fit_lesion_sd**2 + self.image_sd**2
        if minority:
            own += self.run_sd**2 + self.repeat_sd**2 + extra**2
        return float(np.sqrt(own))

    def means(self, shape: Shape = Shape()) -> tuple[float, float]:
        """(NV mean, DF mean) giving the reference its expected sensitivity (and, in the quiet
        world, its specificity; in the noisy world NV sits at 0 and the DF mean is such that the
        F1-optimal threshold of the validation population finds ``sensitivity`` of DF)."""
        if not self.tuned:
            s = self.sd()
            return (
                self.threshold - s * sps.norm.ppf(self.specificity),
                self.threshold + s * sps.norm.ppf(self.sensitivity),
            )
        return 0.0, _tuned_df_mean(self, shape)

    def shift_for(self, delta_sensitivity: float, gan_sd: float = 0.0, shape: Shape = Shape()) -> float:
        """The DF score shift that raises the expected tuned sensitivity by ``delta_sensitivity``
        (with a GAN effect of sd ``gan_sd``, a shift that keeps it equal at 0: a mean-zero effect
        on the logits would lower the sensitivity a little)."""
        if delta_sensitivity == 0 and gan_sd == 0:
            return 0.0
        if not self.tuned:
            s = self.sd(gan_sd)
            _, mu1 = self.means()
            return float(self.threshold + s * sps.norm.ppf(self.sensitivity + delta_sensitivity) - mu1)
        return _tuned_shift(self, shape, delta_sensitivity, gan_sd)


@functools.lru_cache(maxsize=256)
def _tuned_df_mean(noise: Noise, shape: Shape) -> float:
    f = lambda m1: tuned_sensitivity(noise, shape, m1) - noise.sensitivity  # noqa: E731
    return _root_from_above(f, 0.0, 12.0)


@functools.lru_cache(maxsize=256)
def _tuned_shift(noise: Noise, shape: Shape, delta_sensitivity: float, gan_sd: float) -> float:
    mu1 = _tuned_df_mean(noise, shape)
    goal = noise.sensitivity + delta_sensitivity
    f = lambda d: tuned_sensitivity(noise, shape, mu1 + d, gan_sd) - goal  # noqa: E731
    return _root_from_above(f, -mu1, 12.0)


def _root_from_above(f, lo: float, hi: float) -> float:
    """The largest root of ``f`` in [lo, hi], f > 0 at hi: the F1-optimal sensitivity rises with
    the DF mean where the classes separate, but not where they overlap so much that calling
    everything DF is F1-optimal; scanning down from the separated end finds the root that
    matters."""
    grid = np.linspace(hi, lo, 97)
    values = [f(x) for x in grid]
    for k in range(1, len(grid)):
        if values[k] <= 0 < values[k - 1]:
            return float(optimize.brentq(f, grid[k], grid[k - 1], xtol=1e-10))
    raise ValueError(f"no DF mean in [{lo}, {hi}] gives the asked sensitivity")


@dataclass(frozen=True)
class Scenario:
    name: str
    repeats: int
    seeds: int
    delta_sensitivity: float = 0.0  # the true difference in expected tuned DF sensitivity
    # sd of the condition's per-repeat effect on DF scores (its own GAN, trained once per repeat),
    # of mean 0 and correlated between repeats as Nadeau and Bengio assume (their training sets
    # overlap): n_test / (n_test + n_train) = 0.176 at 70/15/15
    gan_sd: float = 0.0
    gan_correlation: float = FRACTIONS["test"] / (FRACTIONS["test"] + FRACTIONS["train"])


def tuned_sensitivity(noise: Noise, shape: Shape, df_mean: float, gan_sd: float = 0.0) -> float:
    """The DF sensitivity at the F1-optimal threshold of the validation population (its expected
    counts of each class, NV at mean 0): the tuner's target, without its sampling noise."""
    n1 = shape.minority_images * FRACTIONS["val"]
    n0 = shape.majority_images * FRACTIONS["val"]
    s1, s0 = noise.class_sd(True, gan_sd), noise.class_sd(False)

    def neg_f1(t: float) -> float:
        tp, fp = n1 * sps.norm.sf((t - df_mean) / s1), n0 * sps.norm.sf(t / s0)
        return -2 * tp / (2 * tp + fp + (n1 - tp))

    t = optimize.minimize_scalar(neg_f1, bounds=(-4 * s0, df_mean + 6 * s1), method="bounded").x
    return float(sps.norm.sf((t - df_mean) / s1))


def lesion_sizes(rng: np.random.Generator, n_lesions: int, n_images: int, max_images: int) -> np.ndarray:
    """``n_lesions`` sizes of 1..max_images summing to ``n_images``: one image each, the rest
    spread with a skew (most lesions once, a few many times, as in ISIC 2019's DF)."""
    if not n_lesions <= n_images <= n_lesions * max_images:
        raise ValueError(f"{n_images} images cannot spread over {n_lesions} lesions of 1..{max_images}")
    sizes = np.ones(n_lesions, dtype=int)
    weight = rng.pareto(1.5, n_lesions) + 0.05
    for _ in range(n_images - n_lesions):
        open_ = sizes < max_images
        p = weight * open_
        sizes[rng.choice(n_lesions, p=p / p.sum())] += 1
    return sizes


def archive(rng: np.random.Generator, shape: Shape) -> pd.DataFrame:
    """image_id, label, lesion_id, patient_id, target: the simulated archive."""
    n_nv = round(shape.majority_images / shape.majority_mean_images)
    df_sizes = lesion_sizes(rng, shape.minority_lesions, shape.minority_images, shape.max_images)
    nv_sizes = lesion_sizes(rng, n_nv, shape.majority_images, shape.max_images)
    rows = []
    for label, target, sizes in (("dermatofibroma", 1, df_sizes), ("nevus", 0, nv_sizes)):
        for k, n in enumerate(sizes):
            rows += [(f"{label[:2]}{k:05d}_{i}", label, f"{label[:2]}{k:05d}", "", target) for i in range(n)]
    return pd.DataFrame(rows, columns=["image_id", "label", "lesion_id", "patient_id", "target"])


def external_archive(shape: Shape) -> pd.DataFrame:
    """An external set of one image a lesion (the shared test set every repeat predicts)."""
    rows = [
        (f"ex{t}{k:04d}", "dermatofibroma" if t else "nevus", f"exL{t}{k:04d}", "", t)
        for t, n in ((1, shape.external_minority_lesions), (0, shape.external_majority_lesions))
        for k in range(n)
    ]
    return pd.DataFrame(rows, columns=["image_id", "label", "lesion_id", "patient_id", "target"])


@dataclass
class Layout:
    """One archive with its repeats' test folds and validation splits, drawn by the real splitter."""

    images: pd.DataFrame  # the archive, with a lesion code per image
    tests: list[np.ndarray]  # per repeat: the row indices of its test fold
    vals: list[np.ndarray]  # per repeat: the row indices of its validation split
    groups: dict  # per repeat: the lesion groups of its test fold (fits.Groups)


@functools.lru_cache(maxsize=64)
def layout(seed: int, shape: Shape, repeats: int) -> Layout:
    """Repeats beyond the splitter's disjoint folds take the folds of its further rounds (the
    Bouckaert-Frank r x k design: test folds disjoint within a round)."""
    images = archive(np.random.default_rng([seed, 7]), shape)
    images["lesion"] = pd.factorize(images["lesion_id"])[0]
    tests, vals, groups = [], [], {}
    for r in range(repeats):
        split = assign_splits(images, FRACTIONS, seed, "dermatofibroma", r).to_numpy()
        tests.append(np.flatnonzero(split == "test"))
        vals.append(np.flatnonzero(split == "val"))
        groups[r] = Groups.of(images.iloc[tests[-1]].assign(split="test"))
    return Layout(images, tests, vals, groups)


FIXED_SPECIFICITY = 0.95  # the candidate primary decision: NV specificity fixed on validation


def _predictions(ids, target, prob, threshold, at_specificity=None) -> pd.DataFrame:
    out = {
        "image_id": ids,
        "target": target,
        "prob": prob,
        "pred_argmax": (prob > 0.5).astype(int),
        "pred_tuned": (prob > threshold).astype(int),
    }
    if at_specificity is not None:  # read by the design comparison only; the statistics ignore it
        out["pred_fixed_spec"] = (prob > at_specificity).astype(int)
    return pd.DataFrame(out)


def _lesion_effects(rng, n: int, noise: Noise) -> np.ndarray:
    if noise.lesion_df is None:
        return rng.normal(0.0, noise.lesion_sd, n)
    nu = noise.lesion_df  # Student's t scaled to sd lesion_sd (needs nu > 2)
    return noise.lesion_sd * np.sqrt((nu - 2) / nu) * rng.standard_t(nu, n)


class _FitNoise:
    """One (repeat, seed)'s draws of fit noise for every archive lesion and image and the external
    set: each condition mixes the shared draw with its own by ``crn``."""

    def __init__(self, rng, n_lesions: int, n_images: int, n_ext: int, noise: Noise):
        self.rng, self.noise = rng, noise
        self.sizes = (n_lesions, n_images, n_ext, n_ext)
        self.shared = self._draw() if noise.crn else None

    def _draw(self) -> list[np.ndarray]:
        n = self.noise
        sds = (n.fit_lesion_sd, n.image_sd, n.fit_lesion_sd, n.image_sd)
        return [self.rng.normal(0.0, sd, k) for sd, k in zip(sds, self.sizes, strict=True)]

    def draw(self) -> list[np.ndarray]:
        own = self._draw()
        if self.shared is None:
            return own
        c = self.noise.crn
        return [np.sqrt(c) * s + np.sqrt(1 - c) * o for s, o in zip(self.shared, own, strict=True)]


def simulate_fits(rng, lay: Layout, ext: pd.DataFrame, sc, noise: Noise, shape: Shape = Shape()):
    """Every fit's predictions of its repeat's test fold and of the external set."""
    mu = np.array(noise.means(shape))
    img = lay.images
    target_all, lesion_all = img["target"].to_numpy(), img["lesion"].to_numpy()
    u = _lesion_effects(rng, lesion_all.max() + 1, noise)
    t_ext = ext["target"].to_numpy()
    u_ext = _lesion_effects(rng, len(ext), noise)
    base = mu[target_all] + u[lesion_all]
    base_ext = mu[t_ext] + u_ext
    shift = noise.shift_for(sc.delta_sensitivity, sc.gan_sd, shape)
    ids, ext_ids = img["image_id"].to_numpy(), ext["image_id"].to_numpy()
    common = rng.normal()  # what every repeat's GAN shares (their training sets overlap)
    fits, ext_fits = [], []
    for r in range(sc.repeats):
        test, val = lay.tests[r], lay.vals[r]
        rho = sc.gan_correlation
        gan = sc.gan_sd * (np.sqrt(rho) * common + np.sqrt(1 - rho) * rng.normal()) if sc.gan_sd else 0.0
        on_df = {REFERENCE: 0.0, CONDITION: shift + gan}
        a = rng.normal(0.0, noise.repeat_sd) if noise.repeat_sd else 0.0
        runs = {c: a + (rng.normal(0.0, noise.run_sd) if noise.run_sd else 0.0) + on_df[c] for c in on_df}
        for seed in range(sc.seeds):
            draws = _FitNoise(rng, len(u), len(img), len(ext), noise)
            for cond in (REFERENCE, CONDITION):
                eta, eps, eta_x, eps_x = draws.draw()
                score = base + eta[lesion_all] + eps + runs[cond] * target_all
                prob = special.expit(score)
                if noise.tuned:
                    tau = tune_threshold(target_all[val], prob[val])
                else:
                    tau = float(special.expit(noise.threshold + rng.normal(0.0, noise.threshold_sd)))
                nv_val = prob[val][target_all[val] == 0]
                at_spec = float(np.quantile(nv_val, FIXED_SPECIFICITY))  # specificity 0.95 on validation
                pred = _predictions(ids[test], target_all[test], prob[test], tau, at_spec)
                fits.append(Fit(ARCH, cond, seed, r, pred))
                prob_x = special.expit(base_ext + eta_x + eps_x + runs[cond] * t_ext)
                ext_fits.append(Fit(ARCH, cond, seed, r, _predictions(ext_ids, t_ext, prob_x, tau, at_spec)))
    return fits, ext_fits


def fit_spread(noise: Noise, shape: Shape = Shape(), n_fits: int = 300, seed: int = 0) -> float:
    """The sd of the reference's tuned DF sensitivity between fits of one procedure on one test
    fold (the lesions, the split and the fold held; the repeat and run effects, the fit noise
    and the threshold drawn afresh each fit): how noisy one training run is, the figure an
    independent simulation of training put at about 0.13."""
    rng = np.random.default_rng([seed, 13])
    lay = layout(seed, shape, 1)
    img = lay.images
    target, lesion = img["target"].to_numpy(), img["lesion"].to_numpy()
    base = np.array(noise.means(shape))[target] + _lesion_effects(rng, lesion.max() + 1, noise)[lesion]
    test, val = lay.tests[0], lay.vals[0]
    df_test = test[target[test] == 1]
    out = []
    for _ in range(n_fits):
        eta, eps, *_ = _FitNoise(rng, lesion.max() + 1, len(img), 1, noise).draw()
        shared = rng.normal(0.0, noise.repeat_sd) + rng.normal(0.0, noise.run_sd)
        prob = special.expit(base + eta[lesion] + eps + shared * target)
        if noise.tuned:
            tau = tune_threshold(target[val], prob[val])
        else:
            tau = float(special.expit(noise.threshold + rng.normal(0.0, noise.threshold_sd)))
        out.append(float((prob[df_test] > tau).mean()))
    return float(np.std(out, ddof=1))
