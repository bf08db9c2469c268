"""Are the verdicts calibrated, and what power do they have? The simulated worlds of
``ganaug.evaluation.worlds`` through the shipped statistics.

Each world's predictions go through :func:`ganaug.evaluation.significance.significance_tables`
with the shipped primary family (gan_curated vs baseline on PR-AUC and tuned sensitivity, in
distribution and on the external set), so what is measured is the code the workflow runs: the
raw rejection rate of each primary hypothesis, the family-wise rate of Holm's verdicts, the power,
and, beside them, the tests that print no verdict (clustered McNemar, which holds the fits fixed;
the Wilcoxon signed-rank test across repeats). Two worlds: the quiet one (a threshold blind to
the fit's scores, no effect shared by a repeat's seeds) and the noisy one (each fit's threshold
tuned on its validation split by the shipped tuner, a training-run effect shared by a repeat's
seeds, a repeat effect shared by the conditions): ``NOISY`` is the latter's settings.

:func:`mcnemar_null` checks the clustered McNemar against its own null, two fixed models that
disagree by lesion with no difference between them, beside McNemar on images.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from ganaug.evaluation import families
from ganaug.evaluation.differences import Design
from ganaug.evaluation.fits import EvalSet, Groups
from ganaug.evaluation.inference import clustered_mcnemar, corrected_t
from ganaug.evaluation.planning import Components, components, shared_from
from ganaug.evaluation.significance import significance_tables
from ganaug.evaluation.stats import metric_values
from ganaug.evaluation.worlds import (
    CONDITION,
    EXTERNAL,
    FRACTIONS,
    REFERENCE,
    Noise,
    Scenario,
    Shape,
    external_archive,
    layout,
    simulate_fits,
)

log = logging.getLogger(__name__)
# the noisy world: a fit's tuned DF sensitivity on one test fold varies with sd 0.13 between
# fits of one procedure (worlds.fit_spread; the F1 tuner alone gives 0.12), as an independent
# simulation of training found (the quiet world: 0.07)
NOISY = Noise(tuned=True, run_sd=0.3, repeat_sd=0.3)
QUIET = Noise()
SHAPE = Shape()


@dataclass(frozen=True)
class Settings:
    n_resamples: int = 200  # the lesion bootstrap: the shared external set's variance term
    alpha: float = 0.05
    # also the lesion bootstrap of fixed fits in distribution: the previous route's p, to set
    # beside the corrected t in the same worlds (it prints no verdict now)
    fixed_fit_bootstrap: bool = False


def run_world(seed: int, sc: Scenario, lay: Layout, shape: Shape, noise: Noise, settings: Settings) -> dict:
    """One world through the shipped statistics: each test's p (and the verdicts) it printed."""
    rng = np.random.default_rng([seed, 11])
    ext = external_archive(shape)
    fits, ext_fits = simulate_fits(rng, lay, ext, sc, noise, shape)
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
    out |= _components(tables["replicates"], prim, design.test_train_ratio)
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


def _components(replicates: pd.DataFrame, primary: pd.DataFrame, ratio: float) -> dict:
    """Each primary hypothesis's variance components, as the planner estimates them."""
    out = {}
    for r in primary.to_dict("records"):
        part = replicates[
            (replicates["test_set"] == r["test_set"])
            & (replicates["metric"] == r["metric"])
            & (replicates["decision"] == r["decision"])
        ]
        c = components(part, shared_from(r, ratio))
        hyp = f"{r['test_set']}:{r['metric']}"
        out |= {f"between:{hyp}": c.between_repeats, f"within:{hyp}": c.between_seeds}
        out[f"shared:{hyp}"] = c.shared
    return out


def planner_check(worlds: pd.DataFrame, sc: Scenario, level: float) -> pd.DataFrame:
    """The planner against the simulation: per primary hypothesis, the power it predicts from
    the worlds' own variance components (what each run estimates of itself, averaged over the
    worlds: each estimate is unbiased) at their mean Δ, beside the worlds' rate of
    p < ``level``. With an effect the spread is not the null's: the effect moves each repeat's
    difference by what its lesions and runs allow."""
    null = alt = worlds

    ratio = FRACTIONS["test"] / FRACTIONS["train"]
    rows = []
    for col in [c for c in null.columns if c.startswith("between:")]:
        hyp = col.removeprefix("between:")
        within = pd.to_numeric(null[f"within:{hyp}"], errors="coerce")
        comp = Components(
            sc.repeats,
            sc.seeds,
            float(null[col].astype(float).mean()),
            float(within.mean()) if within.notna().any() else None,
            float(null[f"shared:{hyp}"].astype(float).mean()),
        )
        delta = float(alt[f"delta:{hyp}"].astype(float).mean())
        sim = float((alt[f"p:{hyp}"].astype(float) < level).mean())
        rows.append(
            {
                "hypothesis": hyp,
                "repeats": sc.repeats,
                "seeds": sc.seeds,
                "mean_delta": delta,
                "predicted_power": comp.power(delta, sc.repeats, sc.seeds, ratio, level),
                "simulated_power": sim,
                "mc_se": float(np.sqrt(sim * (1 - sim) / len(alt))),
                "null_worlds": len(null),
                "alt_worlds": len(alt),
            }
        )
    return pd.DataFrame(rows)


FAST_METRICS = {  # name -> (metric, predictions column): the candidate primary metrics
    "pr_auc": ("pr_auc", "pred_tuned"),
    "sensitivity": ("sensitivity", "pred_tuned"),
    "sensitivity_at_spec": ("sensitivity", "pred_fixed_spec"),
}


def fast_world(seed: int, sc: Scenario, lay: Layout, shape: Shape, noise: Noise) -> dict:
    """One world, in distribution only, the candidate primary metrics only: each metric's
    per-replicate differences, its estimate and the corrected t's p (the shipped
    ``corrected_t`` on the shipped ``metric_values``: equal to ``run_world``'s, tested), and the
    planner's components. What the design comparison runs in thousands of worlds."""
    rng = np.random.default_rng([seed, 11])
    fits, _ = simulate_fits(rng, lay, external_archive(shape), sc, noise, shape)
    values = {}
    for f in fits:
        p = f.predictions
        for name, (metric, column) in FAST_METRICS.items():
            values[name, f.condition, f.repeat, f.seed] = float(
                metric_values(p["target"], p["prob"], p[column])[metric][0]
            )
    out = {}
    for name in FAST_METRICS:
        rows = [
            {"repeat": r, "seed": s, "delta": values[name, CONDITION, r, s] - values[name, REFERENCE, r, s]}
            for r in range(sc.repeats)
            for s in range(sc.seeds)
        ]
        d = pd.DataFrame(rows)
        per_repeat = d.groupby("repeat")["delta"].mean().to_numpy()
        t = corrected_t(per_repeat, FRACTIONS["test"] / FRACTIONS["train"])
        c = components(d)
        out |= {f"p:{name}": t["p"], f"delta:{name}": t["estimate"], f"between:{name}": c.between_repeats}
        out[f"within:{name}"] = c.between_seeds
        out[f"reference:{name}"] = float(np.mean([values[name, REFERENCE, r, 0] for r in range(sc.repeats)]))
    return out


def _world(args) -> dict:
    seed, sc, shape, noise, settings, pool = args
    lay = layout(seed % pool, shape, sc.repeats)
    if settings is None:
        return fast_world(seed, sc, lay, shape, noise)
    return run_world(seed, sc, lay, shape, noise, settings)


def simulate(
    sc: Scenario,
    n_worlds: int,
    shape: Shape = SHAPE,
    noise: Noise = QUIET,
    settings: Settings | None = Settings(),  # None: the fast path (fast_world)
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
