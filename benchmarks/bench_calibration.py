"""Are the verdicts calibrated, and what power do they have? The calibration simulation
(``ganaug.evaluation.calibration``) at full size: ISIC-2019-shaped worlds (239 DF images of 113
lesions, 12,875 NV), split by the real splitter, predicted by fits with random effects, through
the shipped statistics, in two worlds: the noisy one (each fit's threshold tuned on its repeat's
validation split by the shipped tuner, a training-run effect shared by a repeat's seeds, a
repeat effect shared by the conditions) and, for comparison, the quiet one of the first table.

In the noisy world, for R in {1, 5} repeats and {1, 3} seeds, it runs null worlds (the condition
is the reference procedure), null worlds where the condition's own GAN moves each repeat's DF
scores at random (mean 0), and alternatives with true Δ sensitivity +0.10 and +0.20; in the quiet
world the null and +0.20 with one seed. For every test it reports the rate of rejections at
0.05 (a verdict, for the tests that print one) with its Monte Carlo standard error, and, in the
same worlds, the routes that print no verdict: the plain t across repeats (no Nadeau-Bengio
factor), the previous route (the lesion bootstrap with the fits held fixed), McNemar clustered
by lesion and the Wilcoxon signed-rank test. Then McNemar against its own null, the planner's
power against the simulated one, how often the external set's shared-variance term was 0, and
the between-fit sd of tuned DF sensitivity in each world. Writes a CSV and a markdown table (the
README's).

    python benchmarks/bench_calibration.py --worlds 400 --alt-worlds 200 --bootstrap-worlds 100
                                                           # the README's table: 35 min on 2 busy cores
    python benchmarks/bench_calibration.py --worlds 100    # a quick look
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from ganaug.evaluation import calibration as cal
from ganaug.evaluation.worlds import fit_spread


def scenarios(worlds: int, alt_worlds: int) -> list[tuple[str, cal.Noise, cal.Scenario, int]]:
    """(world, its noise, scenario, worlds): the noisy world in full, the quiet one for comparison."""
    out = []
    noisy, quiet = ("noisy", cal.NOISY), ("quiet", cal.QUIET)
    out.append((*noisy, cal.Scenario("null", 1, 1), max(50, worlds // 5)))  # one split: no verdict
    for seeds in (1, 3):
        out.append((*noisy, cal.Scenario("null", 5, seeds), worlds))
        gan = cal.Scenario("null, GAN per repeat (sd 0.3, correlated 0.18)", 5, seeds, gan_sd=0.3)
        out.append((*noisy, gan, alt_worlds))
        for delta in (0.10, 0.20):
            out.append((*noisy, cal.Scenario(f"Δ sensitivity +{delta:.2f}", 5, seeds, delta), alt_worlds))
    out.append((*quiet, cal.Scenario("null", 5, 1), worlds))
    out.append((*quiet, cal.Scenario("Δ sensitivity +0.20", 5, 1, 0.20), alt_worlds))
    return out


def markdown(table: pd.DataFrame) -> str:
    """The README's table: per scenario, the primary verdicts' rates (in distribution and the
    external set, PR-AUC and tuned sensitivity), the family-wise rate, and the routes beside."""
    rows = []
    for (world, name, r, s), part in table.groupby(["world", "scenario", "repeats", "seeds"], sort=False):
        get = part.set_index(["test", "hypothesis"])["rate"]
        se = part.set_index(["test", "hypothesis"])["mc_se"]

        def cell(test: str, hyp: str, get=get, se=se) -> str:
            if (test, hyp) not in get.index or pd.isna(get[test, hyp]):
                return "—"
            return f"{get[test, hyp]:.3f} ± {se[test, hyp]:.3f}"

        verdict = "primary verdict (corrected t, Holm)"
        row = {"world": world, "scenario": name, "R": r, "seeds": s, "worlds": int(part["worlds"].iloc[0])}
        for hyp in (
            "in_distribution:pr_auc",
            "in_distribution:sensitivity",
            "external:pr_auc",
            "external:sensitivity",
        ):
            row[f"verdict {hyp}"] = cell(verdict, hyp) if r > 1 else "no verdict (one split)"
        row["any wrong verdict"] = (
            cell("primary family: any wrong verdict", "family-wise") if r > 1 else "0 (none printed)"
        )
        row["raw corrected t, sens."] = (
            cell("primary raw p < alpha", "in_distribution:sensitivity") if r > 1 else "—"
        )
        row["plain t, sens."] = cell("plain t across repeats (no correction)", "in_distribution:sensitivity")
        row["fits-fixed bootstrap, sens."] = cell(
            "lesion bootstrap, fits fixed (the previous route)", "in_distribution:sensitivity"
        )
        row["McNemar DF (fits fixed)"] = cell(
            "McNemar clustered by lesion (fits fixed)", "in_distribution:dermatofibroma"
        )
        rows.append(row)
    t = pd.DataFrame(rows)
    lines = ["| " + " | ".join(t.columns) + " |", "|" + "---|" * len(t.columns)]
    lines += ["| " + " | ".join(map(str, r)) + " |" for r in t.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def planner_lines(kept: dict, alpha: float, m: int = 4) -> list[str]:
    """The planner (``calibration.planner_check``: each run's own components) against the
    simulated power at alpha / m, in every world with an effect."""
    lines = []
    for (world, name, r, s), (sc, w) in kept.items():
        if r < 2 or not name.startswith("Δ"):
            continue
        for row in cal.planner_check(w, sc, alpha / m).to_dict("records"):
            lines.append(
                f"- {world}, R={r}, seeds={s}, {name}, {row['hypothesis']}: mean Δ {row['mean_delta']:+.3f}: "
                f"predicted {row['predicted_power']:.3f}, simulated {row['simulated_power']:.3f} "
                f"± {row['mc_se']:.3f}"
            )
    return lines


def shared_zero(kept: dict) -> list[str]:
    """How often the external set's shared-variance term was 0, per scenario."""
    lines = []
    for (world, name, r, s), (_, w) in kept.items():
        cols = [c for c in w.columns if c.startswith("shared:external")]
        if r >= 2 and cols:
            zero = ", ".join(f"{c.split(':')[-1]} {(w[c].astype(float) == 0).mean():.2f}" for c in cols)
            lines.append(f"- {world}, R={r}, seeds={s}, {name}: {zero}")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--worlds", type=int, default=1000, help="null worlds per cell with R = 5")
    ap.add_argument("--alt-worlds", type=int, default=400, help="worlds per cell of the other scenarios")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument(
        "--bootstrap-worlds", type=int, default=300, help="null worlds that also run the fits-fixed bootstrap"
    )
    ap.add_argument("--spread-fits", type=int, default=300, help="fits of the between-fit sd, per world")
    ap.add_argument("--out", default=str(Path(__file__).parent / "out" / "calibration"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    shape = cal.Shape()
    tables, kept = [], {}
    t0 = time.perf_counter()
    for world, noise, sc, n in scenarios(args.worlds, args.alt_worlds):
        t = time.perf_counter()
        worlds = cal.simulate(sc, n, shape, noise, cal.Settings(), args.workers)
        if sc.name == "null" and args.bootstrap_worlds:
            # the previous route in the first of these worlds: the in-distribution bootstrap
            k = min(args.bootstrap_worlds, n)
            boot = cal.simulate(sc, k, shape, noise, cal.Settings(fixed_fit_bootstrap=True), args.workers)
            worlds[[c for c in boot.columns if c.startswith("boot_p:")]] = np.nan
            worlds.loc[: k - 1, [c for c in boot.columns if c.startswith("boot_p:")]] = boot.filter(
                like="boot_p:"
            ).to_numpy()
        rates = cal.rates(worlds, sc).assign(world=world)
        boot_rows = rates["test"].str.startswith("lesion bootstrap")
        rates.loc[boot_rows, "worlds"] = (
            worlds.filter(like="boot_p:in_distribution:sensitivity").notna().sum().iloc[0]
        )
        tables.append(rates)
        kept[world, sc.name, sc.repeats, sc.seeds] = (sc, worlds)
        name = sc.name.split(",")[0].replace(" ", "_")
        tag = f"{world}_{name}_R{sc.repeats}_s{sc.seeds}_{sc.delta_sensitivity}_{sc.gan_sd}"
        worlds.to_csv(out / f"worlds_{tag}.csv", index=False)
        print(f"{world}: {sc}: {n} worlds in {time.perf_counter() - t:.0f} s", flush=True)
    table = pd.concat(tables, ignore_index=True)
    table.to_csv(out / "rates.csv", index=False)  # read it back with keep_default_na=False: "null" is a name
    mc = cal.mcnemar_null(4000)
    mc.to_csv(out / "mcnemar_null.csv", index=False)
    text = markdown(table)
    text += (
        "\nMcNemar against its own null (two fixed models, 17 DF lesions of about 2.1 images, "
        "disagreeing by lesion):\n\n"
    )
    text += (
        "\n".join(f"- {r.test}: {r.rate:.3f} ± {r.mc_se:.3f} ({r.worlds} worlds)" for r in mc.itertuples())
        + "\n"
    )
    text += "\nThe planner against the simulation:\n\n" + "\n".join(planner_lines(kept, 0.05)) + "\n"
    text += "\nThe external set's shared-variance term was 0 in this share of worlds:\n\n"
    text += "\n".join(shared_zero(kept)) + "\n"
    for world, noise in (("noisy", cal.NOISY), ("quiet", cal.QUIET)):
        sd = fit_spread(noise, shape, args.spread_fits)
        text += f"\nBetween-fit sd of tuned DF sensitivity on one test fold, {world} world: {sd:.3f}\n"
    text += f"\n{len(table)} rates in {(time.perf_counter() - t0) / 60:.1f} min on {args.workers} workers\n"
    (out / "table.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
