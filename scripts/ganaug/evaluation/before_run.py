"""The plan before a run: what the configured design can detect, from the noisy calibration
world (``ganaug.evaluation.calibration``) and the anchored cost model, with no data read
(``snakemake results/plan/plan.md``). The planner's maths are ``ganaug.evaluation.planning``'s."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ganaug.data.splits import n_test_folds
from ganaug.evaluation import calibration as cal
from ganaug.evaluation import families
from ganaug.evaluation.planning import Components, Cost, cheapest, grid_text, nearest
from ganaug.evaluation.worlds import FRACTIONS
from ganaug.io import atomic_path

SIM_METRICS = {"pr_auc": "pr_auc", "sensitivity": "sensitivity"}  # config metric -> fast_world's name


def plan(
    cost: Mapping,
    metrics: tuple[str, ...],
    m: int,
    effect_sensitivity: float,
    max_repeats: int,
    alpha: float = 0.05,
    n_worlds: int = 100,
    workers: int = 1,
) -> tuple[str, pd.DataFrame]:
    """The plan before a run: in the noisy calibration world (ISIC 2019's counts, 70/15/15), the
    configured design's power on each primary metric at a true Δ tuned DF sensitivity of
    ``effect_sensitivity`` (PR-AUC's equivalent is what the same worlds measure), simulated and
    predicted by the planner, its GPU-hours, and the cheapest design that reaches the goal.
    Components come from worlds with the effect, of one round of folds x 2 seeds whatever the
    config's design (they are per-repeat quantities); the simulated power from worlds of the
    configured design."""
    c = Cost.of(cost)
    level = alpha / max(m, 1)
    ratio = cal.FRACTIONS["test"] / cal.FRACTIONS["train"]
    r_sim, s_sim = max_repeats, 2  # one round of folds, two seeds: enough to see both components
    sim = dict(shape=cal.SHAPE, noise=cal.NOISY, settings=None, workers=workers, pool=8)
    # the components as a run with the effect would estimate them (with an effect the spread is
    # not the null's: calibration.planner_check)
    runs = cal.simulate(
        cal.Scenario("effect", r_sim, s_sim, effect_sensitivity), n_worlds, **sim, first=10_000
    )
    alt = None
    if c.repeats >= 2:
        here = cal.Scenario("effect", c.repeats, c.seeds, effect_sensitivity)
        same = (c.repeats, c.seeds) == (r_sim, s_sim)
        alt = runs if same else cal.simulate(here, n_worlds, **sim, first=20_000)
    rows = []
    for metric in metrics:
        name = SIM_METRICS.get(metric)
        if name is None:
            continue
        within = pd.to_numeric(runs[f"within:{name}"], errors="coerce")
        comp = Components(r_sim, s_sim, float(runs[f"between:{name}"].mean()), float(within.mean()))
        effect = float(runs[f"delta:{name}"].mean())
        row = {
            "metric": metric,
            "effect": effect,
            "var_between_repeats": comp.between_repeats,
            "var_between_seeds": comp.between_seeds,
            "predicted_power": comp.power(effect, c.repeats, c.seeds, ratio, level)
            if c.repeats >= 2
            else 0.0,
            "simulated_power": float((alt[f"p:{name}"] < level).mean()) if alt is not None else 0.0,
        }
        row["mc_se"] = float(np.sqrt(row["simulated_power"] * (1 - row["simulated_power"]) / n_worlds))
        best = cheapest(comp, effect, ratio, level, c, max_repeats)
        row |= {f"goal_{k}": v for k, v in (best or {}).items()}
        row |= {f"nearest_{k}": v for k, v in nearest(comp, effect, ratio, level, c, max_repeats).items()}
        rows.append(row)
    table = pd.DataFrame(rows)
    return plan_text(table, c, cost, m, level, effect_sensitivity, max_repeats, n_worlds), table


def plan_text(table, c: Cost, cost: Mapping, m: int, level: float, effect: float, max_repeats: int, n) -> str:
    hours = c.hours(c.repeats, c.seeds)
    span = [sum(s["job_hours_range"][i] for s in cost["stages"]) for i in range(3)]
    lines = [
        "# The plan, before the run",
        "",
        f"The configured design: **{c.repeats} repeat(s) x {c.seeds} seed(s)**, {m} primary hypotheses "
        f"(Holm's first step at α/m = {level:.4g}). Projected on one {cost['gpu']}, one job at a time: "
        f"**{hours:.1f} GPU-hours** expected ({span[0]:.1f} to {span[2]:.1f}, the anchored cost model at "
        f"ISIC 2019's counts; a projection until a GPU measures it).",
        "",
        f"Power at the effect of interest (true Δ tuned DF sensitivity {effect:+.2f}; PR-AUC's equivalent "
        f"is the Δ the same worlds measure), in the noisy calibration world ({n} simulated worlds a "
        "side; README, 'Are the verdicts calibrated?'):",
        "",
        "| metric | effect | power, simulated | power, planner | cheapest design reaching 80 % | its power "
        "| its GPU-hours |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in table.to_dict("records"):
        goal = r.get("goal_repeats")
        design = (
            f"{int(goal)} x {int(r['goal_seeds'])}"
            if goal and pd.notna(goal)
            else (
                f"none of up to {grid_text(max_repeats)} (nearest: {int(r['nearest_repeats'])} x "
                f"{int(r['nearest_seeds'])}, power {r['nearest_power']:.3f}, "
                f"{r['nearest_gpu_hours']:.1f} GPU-h)"
            )
        )
        lines.append(
            f"| {r['metric']} | {r['effect']:+.3f} | {r['simulated_power']:.3f} ± {r['mc_se']:.3f} "
            f"| {r['predicted_power']:.3f} | {design} | "
            + (
                f"{r['goal_power']:.3f} | {r['goal_gpu_hours']:.1f} |"
                if goal and pd.notna(goal)
                else "— | — |"
            )
        )
    if c.repeats < 2:
        lines += [
            "",
            "With one split no verdict is printed (the power is 0): set `data.split.repeats` to 2 or more.",
        ]
    return "\n".join(lines) + "\n"


def plan_rule(
    cost: str,
    output: str,
    primary: Mapping | None,
    alpha: float,
    effect_of_interest: Mapping[str, float],
    archs: list[str],
    test_sets: list[str],
    n_worlds: int = 100,
    workers: int = 1,
) -> str:
    """The rule plan: results/plan/plan.md (and the same on stdout)."""
    import json
    from pathlib import Path

    prim = families.Primary.of(primary, alpha)
    text, _ = plan(
        json.loads(Path(cost).read_text()),
        prim.metrics,
        prim.size(archs, test_sets),
        effect_of_interest["sensitivity"],
        n_test_folds(FRACTIONS["test"]),
        alpha,
        n_worlds,
        workers,
    )
    with atomic_path(output) as tmp:
        tmp.write_text(text)
    print(text)
    return text
