"""Plan the next run from this one: the variance components of each primary hypothesis, the power
of the configured design at the effect of interest, and the repeats x seeds that would reach the
power asked for, with their GPU-hours from the anchored cost model (``ganaug.cost``).

The per-replicate difference of repeat r and seed s is modelled as

    d_rs = Δ + g_r + w_rs,   Var(g_r) = between repeats,  Var(w_rs) = between seeds in a repeat,

``g_r`` holding all a repeat's seeds share (its split's test lesions, its training set, the
training run of a condition whose GAN and curated set are made once per repeat), ``w_rs`` the
rest. A repeat's seed-averaged difference then has variance between + seeds_var / S, and the
corrected resampled t over R repeats has the power of :func:`ganaug.evaluation.inference.
power_corrected_t` at that spread (an external set adds the variance its shared lesions bring,
which more repeats do not shrink). Seeds cut only the second term; repeats both. With one seed
the two cannot be told apart: the whole spread counts as between repeats (so more seeds are
predicted to buy nothing, which the note says). The level is Holm's first step, alpha / m:
what Holm needs of the smallest p (Holm's power for the family is at least this).

Pure functions on the run's own tables (``replicates.csv``, ``differences.csv``) and on the cost
model's per-stage hours (``plan_cost``'s ``cost.json``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from ganaug.data.splits import n_test_folds
from ganaug.evaluation import families
from ganaug.evaluation.columns import IN_DISTRIBUTION
from ganaug.evaluation.inference import power_corrected_t, variance_factor
from ganaug.io import write_csv

POWER_GOAL = 0.8
ROUNDS = 3  # the planner's designs: up to 3 rounds of the splitter's folds (18 repeats at 15 %)
SEEDS = 5  # and up to 5 seeds


def repeat_options(folds: int, rounds: int = ROUNDS) -> list[int]:
    """The repeats the splitter allows: 2 .. folds, then whole rounds of folds."""
    return [*range(2, folds + 1), *(folds * k for k in range(2, rounds + 1))]


def grid_text(folds: int) -> str:
    return f"{ROUNDS} rounds of {folds} folds x {SEEDS} seeds"


DESIGN_COLUMNS = [
    "test_set",
    "arch",
    "condition",
    "reference",
    "metric",
    "decision",
    "n_repeats",
    "n_seeds",
    "delta",
    "var_between_repeats",
    "var_between_seeds",
    "var_test_lesions",
    "var_shared_set",
    "effect_of_interest",
    "level",
    "power",
    "gpu_hours",
    "repeats_for_goal",
    "seeds_for_goal",
    "power_for_goal",
    "gpu_hours_for_goal",
    "note",
]


@dataclass(frozen=True)
class Components:
    """One hypothesis's variance components, from its replicates."""

    n_repeats: int
    n_seeds: int
    between_repeats: float  # Var(g_r): what a repeat's seeds share
    between_seeds: float | None  # Var(w_rs): None with one seed (it cannot be seen)
    shared: float = 0.0  # an external set's lesion sampling, the same for every repeat

    def spread(self, seeds: int) -> float:
        """The sd of a repeat's seed-averaged difference with ``seeds`` seeds."""
        return float(np.sqrt(self.between_repeats + (self.between_seeds or 0.0) / seeds))

    def power(self, effect: float, repeats: int, seeds: int, ratio: float, level: float) -> float:
        if repeats < 2 or self.spread(seeds) ** 2 / repeats + self.shared <= 0:
            return float("nan")  # one repeat, or no variance at all: nothing to plan from
        return power_corrected_t(effect, self.spread(seeds), repeats, ratio, level, self.shared)


def components(deltas: pd.DataFrame, shared: float = 0.0) -> Components:
    """From one hypothesis's replicate rows (repeat, seed, delta): the spread of the per-repeat
    means less what the seeds add (never below 0), and the pooled spread of seeds within a
    repeat (the one-way ANOVA's method of moments)."""
    by = deltas.groupby("repeat")["delta"]
    means, sizes = by.mean(), by.size()
    n_rep, n_seeds = len(means), int(sizes.max())
    within = None
    if (sizes >= 2).any():
        ss = float(by.apply(lambda x: ((x - x.mean()) ** 2).sum()).sum())
        within = ss / float((sizes - 1).sum())
    total = float(means.var(ddof=1)) if n_rep >= 2 else float("nan")
    between = max(0.0, total - (within or 0.0) / float(np.mean(sizes))) if n_rep >= 2 else float("nan")
    return Components(n_rep, n_seeds, between, within, shared)


@dataclass(frozen=True)
class Cost:
    """GPU-hours (one H100, one job at a time, the expected case) of a design: fits scale with
    repeats x seeds, every other stage with repeats (each repeat trains its own generators)."""

    repeats: int
    seeds: int
    fit_hours: float
    repeat_hours: float

    @classmethod
    def of(cls, cost: Mapping) -> Cost:
        fit = sum(s["job_hours"] for s in cost["stages"] if s["scales_with"] == "repeats x seeds")
        rep = sum(s["job_hours"] for s in cost["stages"] if s["scales_with"] == "repeats")
        return cls(int(cost["repeats"]), int(cost["seeds"]), fit, rep)

    def hours(self, repeats: int, seeds: int) -> float:
        return self.fit_hours * repeats * seeds / (self.repeats * self.seeds) + self.repeat_hours * (
            repeats / self.repeats
        )


def cheapest(
    comp: Components,
    effect: float,
    ratio: float,
    level: float,
    cost: Cost,
    max_repeats: int,
    max_seeds: int = SEEDS,
    goal: float = POWER_GOAL,
) -> dict | None:
    """The design of the splitter's repeats (``max_repeats``: its folds, then whole rounds of them)
    and 1..max_seeds seeds reaching ``goal`` power at the
    fewest GPU-hours (ties: fewer repeats), or None when none does."""
    best = None
    for r in repeat_options(max_repeats):
        for s in range(1, max_seeds + 1):
            p = comp.power(effect, r, s, ratio, level)
            h = cost.hours(r, s)
            if p >= goal and (best is None or h < best["gpu_hours"] - 1e-9):
                best = {"repeats": r, "seeds": s, "power": p, "gpu_hours": h}
    return best


def nearest(
    comp: Components,
    effect: float,
    ratio: float,
    level: float,
    cost: Cost,
    max_repeats: int,
    max_seeds: int = SEEDS,
) -> dict:
    """The most powerful design of the grid (ties: the cheaper): what gets closest when none
    reaches the goal."""
    grid = [
        {
            "repeats": r,
            "seeds": s,
            "power": comp.power(effect, r, s, ratio, level),
            "gpu_hours": cost.hours(r, s),
        }
        for r in repeat_options(max_repeats)
        for s in range(1, max_seeds + 1)
    ]
    return max(grid, key=lambda d: (round(d["power"], 6), -d["gpu_hours"]))


def shared_from(row: Mapping, ratio: float) -> float:
    """What a shared (external) set adds to a row's variance: its se^2 less the corrected
    spread (the quantity the corrected t added; 0 in distribution)."""
    if row.get("test_set") == IN_DISTRIBUTION:
        return 0.0  # its repeats test on their own folds: nothing is shared
    se, sd, r = row.get("se"), row.get("sd_between_repeats"), row.get("n_repeats")
    if se is None or sd is None or pd.isna(se) or pd.isna(sd) or not r or r < 2:
        return 0.0
    return max(0.0, float(se) ** 2 - variance_factor(int(r), ratio) * float(sd) ** 2)


def lesion_sampling_variance(row: Mapping, level: float = 0.95) -> float | None:
    """A repeat's test-lesion sampling variance, from the row's lesion-bootstrap interval (fits
    held fixed) read as a normal interval of the mean over its R test folds: R x se^2."""
    lo, hi, r = row.get("boot_ci_low"), row.get("boot_ci_high"), row.get("n_repeats")
    if lo is None or hi is None or pd.isna(lo) or pd.isna(hi) or not r:
        return None
    se = (float(hi) - float(lo)) / (2 * sps.norm.ppf(0.5 + level / 2))
    return float(r) * se**2


def design_table(
    differences: pd.DataFrame,
    replicates: pd.DataFrame,
    effects: Mapping[str, float],
    cost: Mapping,
    ratio: float,
    max_repeats: int,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """design.csv: per primary hypothesis, its components, the configured design's power at the
    effect of interest and the cheapest design that reaches the goal."""
    prim = differences[(differences["family"] == families.PRIMARY)] if len(differences) else differences
    m = max(len(prim), 1)
    level = alpha / m
    c = Cost.of(cost)
    rows = []
    key = ["test_set", "arch", "condition", "reference", "metric", "decision"]
    for row in prim.to_dict("records"):
        part = replicates.loc[(replicates[key] == pd.Series({k: row[k] for k in key})).all(axis=1)]
        out = {k: row[k] for k in key} | {"delta": row["delta"], "level": level}
        effect = effects.get(row["metric"])
        out["effect_of_interest"] = effect
        comp = components(part, shared_from(row, ratio))
        out |= {
            "n_repeats": comp.n_repeats,
            "n_seeds": comp.n_seeds,
            "var_between_repeats": comp.between_repeats,
            "var_between_seeds": comp.between_seeds,
            "var_test_lesions": lesion_sampling_variance(row),
            "var_shared_set": comp.shared,
            "gpu_hours": c.hours(comp.n_repeats, comp.n_seeds),
        }
        notes = []
        if comp.n_repeats < 2:
            notes.append("one repeat: no spread between training runs to plan from")
        elif effect is None:
            notes.append(f"no effect of interest stated for {row['metric']} (evaluation.effect_of_interest)")
        else:
            out |= _next_design(comp, effect, ratio, level, c, max_repeats, notes)
        out["note"] = "; ".join(notes)
        rows.append(out)
    return pd.DataFrame(rows, columns=DESIGN_COLUMNS)


def _next_design(
    comp: Components, effect: float, ratio: float, level: float, c: Cost, max_repeats: int, notes: list[str]
) -> dict:
    """This design's power, and the cheapest that reaches the goal (or, in ``notes``, the nearest)."""
    out = {"power": comp.power(effect, comp.n_repeats, comp.n_seeds, ratio, level)}
    best = cheapest(comp, effect, ratio, level, c, max_repeats)
    if best:
        out |= {f"{k}_for_goal": best[k] for k in ("repeats", "seeds", "power", "gpu_hours")}
    else:
        near = nearest(comp, effect, ratio, level, c, max_repeats)
        notes.append(
            f"no design of up to {grid_text(max_repeats)} reaches {POWER_GOAL:.0%} power; the nearest, "
            f"{near['repeats']} x {near['seeds']}, {near['power']:.2f} ({near['gpu_hours']:.1f} GPU-hours)"
        )
    if comp.between_seeds is None:
        notes.append("one seed: the seeds' share cannot be seen, so more seeds are predicted to buy nothing")
    return out


def design_rule(
    differences: str,
    replicates: str,
    cost: str,
    output: str,
    primary: Mapping | None,
    alpha: float,
    effect_of_interest: Mapping[str, float],
    split: Mapping[str, float],
) -> pd.DataFrame:
    """The rule design: results/stats/design.csv from this run's tables and the cost model."""
    import json
    from pathlib import Path

    table = design_table(
        pd.read_csv(differences, keep_default_na=True),
        pd.read_csv(replicates, keep_default_na=True),
        dict(effect_of_interest),
        json.loads(Path(cost).read_text()),
        split["test"] / split["train"],
        n_test_folds(split["test"]),
        alpha,
    )
    write_csv(table, output, for_spreadsheets=True)
    return table
