"""Which study design buys power per GPU-hour? Candidate designs compared in the noisy calibration
world (``ganaug.evaluation.calibration.NOISY``: thresholds tuned by the shipped tuner on each
repeat's validation split, a training-run effect shared by a repeat's seeds, a repeat effect
shared by the conditions) with the anchored cost model (``ganaug.cost``).

For each design: the primary metric(s) and so the family size m (3 architectures each), the
repeats (past the splitter's 6 disjoint folds: further rounds of folds, Bouckaert and Frank's
r x k with the same corrected t), the seeds, and common random numbers (the two conditions of a
(repeat, seed) sharing that share of their fit noise). Null worlds give the per-hypothesis
type-I error at Holm's first step alpha / m, alternative worlds (true Δ tuned DF sensitivity
+0.20) its power there (a lower bound on Holm's), each with its Monte Carlo SE; the fast path
(``calibration.fast_world``: the shipped metric values and corrected t, in distribution) runs
them. GPU-hours: the study config's anchored projection (one H100, one job at a time, expected
case), fits scaled with repeats x seeds and every other stage with repeats.

    python benchmarks/bench_design.py                  # the README's table: 32 min on 2 busy cores
    python benchmarks/bench_design.py --worlds 100     # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from ganaug.evaluation import calibration as cal  # noqa: E402
from ganaug.evaluation.planning import Cost  # noqa: E402

ARCHS = 3  # the study config's architectures: each metric is a hypothesis per architecture
BUILT, NOT_BUILT = "built", "not built"


@dataclass(frozen=True)
class Candidate:
    name: str
    metrics: tuple[str, ...]
    repeats: int
    seeds: int
    crn: float = 0.0
    status: str = BUILT  # whether the workflow can run it today

    @property
    def m(self) -> int:
        return ARCHS * len(self.metrics)


BOTH = ("pr_auc", "sensitivity")
CANDIDATES = [
    Candidate("today's study config", BOTH, 5, 1),
    Candidate("3 seeds", BOTH, 5, 3),
    Candidate("all 6 folds", BOTH, 6, 1),
    Candidate("all 6 folds, 3 seeds", BOTH, 6, 3),
    Candidate("PR-AUC alone", ("pr_auc",), 6, 1),
    Candidate("PR-AUC alone, 2 seeds", ("pr_auc",), 6, 2),
    Candidate("PR-AUC alone, 3 seeds", ("pr_auc",), 6, 3),
    Candidate("PR-AUC alone, 5 seeds", ("pr_auc",), 6, 5),
    Candidate(
        "sensitivity at NV specificity 0.95 + PR-AUC", ("pr_auc", "sensitivity_at_spec"), 6, 3, 0.0, NOT_BUILT
    ),
    Candidate("PR-AUC alone, 3 seeds, common random numbers 0.5", ("pr_auc",), 6, 3, 0.5, NOT_BUILT),
    Candidate("PR-AUC alone, 2 rounds of 6 folds", ("pr_auc",), 12, 1),
    Candidate("PR-AUC alone, 2 rounds of 6 folds, 2 seeds", ("pr_auc",), 12, 2),
    Candidate("PR-AUC alone, 3 rounds of 6 folds", ("pr_auc",), 18, 1),
    Candidate("PR-AUC alone, 4 rounds of 6 folds", ("pr_auc",), 24, 1),
]


def run(c: Candidate, worlds: int, workers: int, noise, delta: float, alpha: float, cost: Cost) -> dict:
    noise = replace(noise, crn=c.crn)
    level = alpha / c.m
    out = {"design": c.name, "repeats": c.repeats, "seeds": c.seeds, "m": c.m, "status": c.status}
    null = cal.simulate(cal.Scenario("null", c.repeats, c.seeds), worlds, cal.SHAPE, noise, None, workers, 25)
    alt = cal.simulate(
        cal.Scenario("alt", c.repeats, c.seeds, delta), worlds, cal.SHAPE, noise, None, workers, 25, 10_000
    )
    type1, power = [], []
    for metric in c.metrics:
        t1 = float((null[f"p:{metric}"].astype(float) < level).mean())
        pw = float((alt[f"p:{metric}"].astype(float) < level).mean())
        type1.append(t1)
        power.append(pw)
        out[f"type_I {metric}"] = t1
        out[f"power {metric}"] = pw
        out[f"mean Δ {metric}"] = float(alt[f"delta:{metric}"].astype(float).mean())
    out["worlds"] = worlds
    out["worst type_I"] = max(type1)
    out["weakest power"] = min(power)
    out["gpu_hours"] = cost.hours(c.repeats, c.seeds)
    return out


def markdown(table: pd.DataFrame, worlds: int, baseline_hours: float) -> str:
    se = lambda p: np.sqrt(p * (1 - p) / worlds)  # noqa: E731
    lines = [
        "| design | R x seeds | m | type-I per hypothesis at α/m (worst) | power: PR-AUC "
        "| power: tuned sensitivity | power: sensitivity at spec 0.95 | GPU-hours, one H100 | x today "
        "| runs today? |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in table.to_dict("records"):
        cell = lambda k, r=r: f"{r[k]:.3f} ± {se(r[k]):.3f}" if k in r and pd.notna(r.get(k)) else "—"  # noqa: E731
        lines.append(
            f"| {r['design']} | {r['repeats']} x {r['seeds']} | {r['m']} | {r['worst type_I']:.3f} ± "
            f"{se(r['worst type_I']):.3f} | {cell('power pr_auc')} | {cell('power sensitivity')} | "
            f"{cell('power sensitivity_at_spec')} | {r['gpu_hours']:.1f} | "
            f"{r['gpu_hours'] / baseline_hours:.1f} | {'yes' if r['status'] == BUILT else 'no'} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    from ganaug.config import validate_config
    from ganaug.cost.study import plan_cost

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worlds", type=int, default=400, help="null and alternative worlds per design")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--delta", type=float, default=0.20, help="true Δ expected tuned DF sensitivity")
    ap.add_argument(
        "--run-sd", type=float, help="the noisy world's run effect (default: calibration.NOISY's)"
    )
    ap.add_argument("--only", help="comma-separated indices of CANDIDATES to run (default: all)")
    ap.add_argument("--config", type=Path, default=ROOT / "config/config.yaml")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/out/design")
    args = ap.parse_args()
    cfg = validate_config(yaml.safe_load(args.config.read_text()))
    cost = Cost.of(plan_cost(cfg))
    noise = cal.NOISY if args.run_sd is None else replace(cal.NOISY, run_sd=args.run_sd)
    rows, t0 = [], time.time()
    chosen = [CANDIDATES[int(i)] for i in args.only.split(",")] if args.only else CANDIDATES
    for c in chosen:
        rows.append(run(c, args.worlds, args.workers, noise, args.delta, 0.05, cost))
        r = rows[-1]
        print(
            f"{c.name}: type-I {r['worst type_I']:.3f}, weakest power {r['weakest power']:.3f}, "
            f"{r['gpu_hours']:.1f} GPU-h ({time.time() - t0:.0f} s)",
            flush=True,
        )
    table = pd.DataFrame(rows)
    args.out.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out / "designs.csv", index=False)
    md = markdown(table, args.worlds, cost.hours(5, 1))  # x today: the 5 x 1 study config before
    (args.out / "table.md").write_text(md)
    (args.out / "world.json").write_text(json.dumps({"noise": noise.__dict__, "delta": args.delta}, indent=2))
    print(md)
    print(f"{args.worlds} worlds a side per design, {time.time() - t0:.0f} s in all")


if __name__ == "__main__":
    main()
