"""Are the verdicts calibrated? A simulation at the level of predictions, through the shipped code.

A simulated world is an archive shaped like ISIC 2019's two classes (239 DF images of 113
lesions, 12,875 NV images, 1 to 6 images a lesion), split into repeats by the real splitter
(``ganaug.data.splits``: disjoint test folds), plus an external test set that every repeat
predicts. Each fit scores each test image on the logit scale:

    score = mu_class + u_lesion + eta_(fit, lesion) + eps_(fit, image) [+ effect on DF images]

- ``u``: a lesion's own difficulty, the same for every fit: what makes test sampling matter, and
  what makes a lesion's images agree with each other;
- ``eta``, ``eps``: how one fit (a seed, a training run) differs from another, per lesion and per
  image;
- the tuned threshold of each fit is ``tau + t_fit`` (``t_fit`` the threshold's random offset);
  argmax is score > 0;
- the condition under test adds ``delta`` to DF scores, chosen so that its expected tuned DF
  sensitivity is ``delta_sensitivity`` above the reference's, plus, optionally, a per-repeat
  effect of mean 0 (its own GAN, trained once per repeat).

A null world (``delta_sensitivity = 0``) is one where the condition is the reference procedure.
Each world's predictions go through :func:`ganaug.evaluation.significance.significance_tables`
with the shipped primary family (gan_curated vs baseline on PR-AUC and tuned sensitivity, in
distribution and on the external set), so what is measured is the code the workflow runs:
the raw rejection rate of each primary hypothesis, the family-wise rate of Holm's verdicts,
the power, and, beside them, the tests that print no verdict (clustered McNemar, which holds the
fits fixed; the Wilcoxon signed-rank test across repeats).

:func:`mcnemar_null` checks the clustered McNemar against its own null, two fixed models that
disagree by lesion with no difference between them, beside McNemar on images.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

log = logging.getLogger(__name__)

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
    # how one fit differs from another: between two fits of one procedure, the tuned DF
    # sensitivity on one test fold then differs with sd 0.08 (bench_calibration.py measures it)
    fit_lesion_sd: float = 0.2  # one fit's view of a lesion against another's
    image_sd: float = 0.2  # one fit's view of an image
    threshold_sd: float = 0.1  # the tuned threshold's offset, per fit
    sensitivity: float = 0.55  # the reference's expected tuned DF sensitivity
    specificity: float = 0.92  # its expected tuned NV specificity
    threshold: float = 0.5  # the tuned threshold's centre (argmax is 0)

    def sd(self, extra: float = 0.0) -> float:
        return float(
            np.sqrt(
                self.lesion_sd**2 + self.fit_lesion_sd**2 + self.image_sd**2 + self.threshold_sd**2 + extra**2
            )
        )

    def means(self) -> tuple[float, float]:
        """(NV mean, DF mean) giving the reference its expected specificity and sensitivity."""
        s = self.sd()
        return (
            self.threshold - s * sps.norm.ppf(self.specificity),
            self.threshold + s * sps.norm.ppf(self.sensitivity),
        )

    def shift_for(self, delta_sensitivity: float, gan_sd: float = 0.0) -> float:
        """The DF score shift that raises the expected tuned sensitivity by ``delta_sensitivity``
        (with a GAN effect of sd ``gan_sd``, a shift that keeps it equal at 0: a mean-zero effect
        on the logits would lower the sensitivity a little)."""
        if delta_sensitivity == 0 and gan_sd == 0:
            return 0.0
        s = self.sd(gan_sd)
        _, mu1 = self.means()
        return float(self.threshold + s * sps.norm.ppf(self.sensitivity + delta_sensitivity) - mu1)


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
    """One archive with its repeats' test folds, drawn by the real splitter."""

    images: pd.DataFrame  # the archive, with a lesion code per image
    tests: list[np.ndarray]  # per repeat: the row indices of its test fold
    groups: dict  # per repeat: the lesion groups of its test fold (fits.Groups)


@functools.lru_cache(maxsize=64)
def layout(seed: int, shape: Shape, repeats: int) -> Layout:
    from ganaug.data.splits import assign_splits
    from ganaug.evaluation.fits import Groups

    images = archive(np.random.default_rng([seed, 7]), shape)
    images["lesion"] = pd.factorize(images["lesion_id"])[0]
    tests, groups = [], {}
    for r in range(repeats):
        split = assign_splits(images, FRACTIONS, seed, "dermatofibroma", r).to_numpy()
        idx = np.flatnonzero(split == "test")
        tests.append(idx)
        groups[r] = Groups.of(images.iloc[idx].assign(split="test"))
    return Layout(images, tests, groups)


def _scores(rng, target, lesion, u, mu, shift, noise: Noise) -> np.ndarray:
    """One fit's scores of some images: class mean, lesion difficulty, this fit's noise."""
    eta = rng.normal(0.0, noise.fit_lesion_sd, lesion.max() + 1)[lesion]
    eps = rng.normal(0.0, noise.image_sd, len(target))
    return mu[target] + u[lesion] + eta + eps + shift * target


def _predictions(ids, target, score, threshold) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "image_id": ids,
            "target": target,
            "prob": 1.0 / (1.0 + np.exp(-score)),
            "pred_argmax": (score > 0).astype(int),
            "pred_tuned": (score > threshold).astype(int),
        }
    )


def simulate_fits(rng, lay: Layout, ext: pd.DataFrame, sc: Scenario, noise: Noise):
    """Every fit's predictions of its repeat's test fold and of the external set."""
    from ganaug.evaluation.fits import Fit

    nv_mean, df_mean = noise.means()
    mu = np.array([nv_mean, df_mean])
    u = rng.normal(0.0, noise.lesion_sd, lay.images["lesion"].max() + 1)
    ext_lesion = np.arange(len(ext))
    u_ext = rng.normal(0.0, noise.lesion_sd, len(ext))
    shift = noise.shift_for(sc.delta_sensitivity, sc.gan_sd)
    common = rng.normal()  # what every repeat's GAN shares (their training sets overlap)
    fits, ext_fits = [], []
    for r in range(sc.repeats):
        rows = lay.images.iloc[lay.tests[r]]
        target, lesion = rows["target"].to_numpy(), rows["lesion"].to_numpy()
        rho = sc.gan_correlation
        gan = sc.gan_sd * (np.sqrt(rho) * common + np.sqrt(1 - rho) * rng.normal()) if sc.gan_sd else 0.0
        for cond, s_cond in ((REFERENCE, 0.0), (CONDITION, shift + gan)):
            for seed in range(sc.seeds):
                tau = noise.threshold + rng.normal(0.0, noise.threshold_sd)
                score = _scores(rng, target, lesion, u, mu, s_cond, noise)
                fits.append(
                    Fit(ARCH, cond, seed, r, _predictions(rows["image_id"].to_numpy(), target, score, tau))
                )
                t_ext = ext["target"].to_numpy()
                score = _scores(rng, t_ext, ext_lesion, u_ext, mu, s_cond, noise)
                ext_fits.append(
                    Fit(ARCH, cond, seed, r, _predictions(ext["image_id"].to_numpy(), t_ext, score, tau))
                )
    return fits, ext_fits


@dataclass(frozen=True)
class Settings:
    n_resamples: int = 200  # the lesion bootstrap: the shared external set's variance term
    alpha: float = 0.05
    # also the lesion bootstrap of fixed fits in distribution: the previous route's p, to set
    # beside the corrected t in the same worlds (it prints no verdict now)
    fixed_fit_bootstrap: bool = False


def run_world(seed: int, sc: Scenario, lay: Layout, shape: Shape, noise: Noise, settings: Settings) -> dict:
    """One world through the shipped statistics: each test's p (and the verdicts) it printed."""
    from ganaug.evaluation import families
    from ganaug.evaluation.differences import Design
    from ganaug.evaluation.fits import EvalSet, Groups
    from ganaug.evaluation.significance import significance_tables

    rng = np.random.default_rng([seed, 11])
    ext = external_archive(shape)
    fits, ext_fits = simulate_fits(rng, lay, ext, sc, noise)
    groups = {r: lay.groups[r] for r in range(sc.repeats)}
    ext_groups = Groups.of(ext.assign(split="test"))
    sets = {
        "in_distribution": EvalSet(fits, groups),
        EXTERNAL: EvalSet(ext_fits, dict.fromkeys(groups, ext_groups), True),
    }
    primary = families.Primary(comparisons=((CONDITION, REFERENCE),), alpha=settings.alpha)
    design = Design(
        primary,
        FRACTIONS["test"] / FRACTIONS["train"],
        settings.n_resamples,
        seed,
        fixed_fit_bootstrap=settings.fixed_fit_bootstrap,
        intervals=False,
    )
    tables = significance_tables(sets, [REFERENCE], {1: "dermatofibroma", 0: "nevus"}, design)
    d = tables["differences"]
    prim = d[d["family"] == families.PRIMARY]
    out = {f"p:{r.test_set}:{r.metric}": r.p for r in prim.itertuples()}
    out |= {f"verdict:{r.test_set}:{r.metric}": r.verdict for r in prim.itertuples()}
    out |= {f"delta:{r.test_set}:{r.metric}": r.delta for r in prim.itertuples()}
    out |= {f"se:{r.test_set}:{r.metric}": r.se for r in prim.itertuples()}
    out |= {f"sd:{r.test_set}:{r.metric}": r.sd_between_repeats for r in prim.itertuples()}
    out |= {f"boot_p:{r.test_set}:{r.metric}": r.boot_p for r in prim.itertuples()}
    out |= _plain_t(tables["replicates"], prim)
    out |= {f"mcnemar:{r['test_set']}:{r['class']}": r["p"] for r in tables["mcnemar"].to_dict("records")}
    w = tables["wilcoxon"]
    w = w[w["decision"].isin(["none", "tuned"]) & w["metric"].isin(primary.metrics)]
    out |= {f"wilcoxon:{r.test_set}:{r.metric}": r.p for r in w.itertuples()}
    return out


def _plain_t(replicates: pd.DataFrame, primary: pd.DataFrame) -> dict:
    """The uncorrected one-sample t across repeats (s^2 / R), for comparison: what the corrected
    t would be without Nadeau and Bengio's factor."""
    out = {}
    for r in primary.itertuples():
        part = replicates[
            (replicates["test_set"] == r.test_set)
            & (replicates["metric"] == r.metric)
            & (replicates["decision"] == r.decision)
        ]
        d = part.groupby("repeat")["delta"].mean().to_numpy()
        ok = len(d) >= 2 and d.std() > 0
        out[f"plain_t:{r.test_set}:{r.metric}"] = float(sps.ttest_1samp(d, 0.0).pvalue) if ok else None
    return out


def _world(args) -> dict:
    seed, sc, shape, noise, settings, pool = args
    lay = layout(seed % pool, shape, sc.repeats)
    return run_world(seed, sc, lay, shape, noise, settings)


def simulate(
    sc: Scenario,
    n_worlds: int,
    shape: Shape = Shape(),
    noise: Noise = Noise(),
    settings: Settings = Settings(),
    workers: int = 1,
    pool: int = 25,
    first: int = 0,
) -> pd.DataFrame:
    """``n_worlds`` worlds of one scenario, one row each. Archives and their splits are drawn
    from a pool of ``pool`` seeds (the splitter is the slow part), the effects afresh per world."""
    jobs = [(first + w, sc, shape, noise, settings, pool) for w in range(n_worlds)]
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(workers) as ex:
            rows = list(ex.map(_world, jobs, chunksize=max(1, n_worlds // (4 * workers))))
    else:
        rows = [_world(j) for j in jobs]
    return pd.DataFrame(rows)


def rates(worlds: pd.DataFrame, sc: Scenario, alpha: float = 0.05) -> pd.DataFrame:
    """Per test: how often it rejected at ``alpha`` (a verdict: better or worse), with its Monte
    Carlo standard error. With one split no verdict is printed, which the table says."""
    from ganaug.evaluation import families

    n = len(worlds)
    rows = []

    def add(test: str, hypothesis: str, hits: pd.Series, prints_verdict: bool) -> None:
        k = float(hits.mean()) if n else float("nan")
        rows.append(
            {
                "scenario": sc.name,
                "repeats": sc.repeats,
                "seeds": sc.seeds,
                "delta_sensitivity": sc.delta_sensitivity,
                "gan_sd": sc.gan_sd,
                "test": test,
                "hypothesis": hypothesis,
                "prints_verdict": prints_verdict,
                "worlds": n,
                "rate": k,
                "mc_se": float(np.sqrt(k * (1 - k) / n)) if n else float("nan"),
            }
        )

    verdicts = [c for c in worlds.columns if c.startswith("verdict:")]
    for c in verdicts:
        hyp = c.removeprefix("verdict:")
        word = families.BETTER if sc.delta_sensitivity > 0 else None
        hits = worlds[c] == word if word else worlds[c].isin([families.BETTER, families.WORSE])
        add("primary verdict (corrected t, Holm)", hyp, hits, sc.repeats >= 2)
        add("primary raw p < alpha", hyp, worlds[f"p:{hyp}"].astype(float) < alpha, False)
    if verdicts:
        wrong = worlds[verdicts].isin([families.BETTER, families.WORSE]).any(axis=1)
        if sc.delta_sensitivity > 0:
            wrong = worlds[verdicts].isin([families.WORSE]).any(axis=1)
        add("primary family: any wrong verdict", "family-wise", wrong, sc.repeats >= 2)
    others = {
        "plain_t": "plain t across repeats (no correction)",
        "boot_p": "lesion bootstrap, fits fixed (the previous route)",
        "mcnemar": "McNemar clustered by lesion (fits fixed)",
        "wilcoxon": "Wilcoxon signed-rank across repeats",
    }
    for c in [c for c in worlds.columns if c.split(":")[0] in others]:
        p = pd.to_numeric(worlds[c], errors="coerce")
        if p.notna().any():
            add(others[c.split(":")[0]], c.split(":", 1)[1], p < alpha, False)
    return pd.DataFrame(rows)


def mcnemar_null(
    n_worlds: int, n_lesions: int = 17, mean_images: float = 2.1, discordant: float = 0.35, seed: int = 42
) -> pd.DataFrame:
    """Two fixed models with no difference between them, whose disagreements come by lesion: a
    discordant lesion has all its images right for one model and wrong for the other (which one,
    a fair coin). The rejection rate at 0.05 of McNemar on images and clustered by lesion."""
    from statsmodels.stats.contingency_tables import mcnemar

    from ganaug.evaluation.inference import clustered_mcnemar

    rng = np.random.default_rng(seed)
    hits = {"images (exact McNemar)": 0, "clustered by lesion": 0}
    for _ in range(n_worlds):
        sizes = 1 + rng.poisson(mean_images - 1, n_lesions)
        sign = np.where(rng.random(n_lesions) < 0.5, 1, -1) * (rng.random(n_lesions) < discordant)
        b, c = np.where(sign > 0, sizes, 0), np.where(sign < 0, sizes, 0)
        image_p = mcnemar([[0, b.sum()], [c.sum(), 0]], exact=True).pvalue if b.sum() + c.sum() else 1.0
        hits["images (exact McNemar)"] += image_p < 0.05
        hits["clustered by lesion"] += clustered_mcnemar(b, c)["p"] < 0.05
    return pd.DataFrame(
        [
            {
                "test": k,
                "worlds": n_worlds,
                "rate": v / n_worlds,
                "mc_se": float(np.sqrt(v / n_worlds * (1 - v / n_worlds) / n_worlds)),
            }
            for k, v in hits.items()
        ]
    )
