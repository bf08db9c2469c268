"""Every condition against the baseline, per architecture: the statistics tables and the
ablation table (mean +- sd over seeds), from the per-seed predictions and metrics."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from ganaug.evaluation.stats import bootstrap_ci, holm, mcnemar_test, wilcoxon_images, wilcoxon_seeds

ABLATION_METRICS = ("f1", "recall", "precision", "balanced_accuracy", "pr_auc")
DECISION = "tuned"  # the validation-tuned threshold: the decision the study's F1 is about


def load_runs(root: str | Path, archs: list[str], conditions: list[str], seeds: list[int]) -> dict:
    runs = {}
    for a in archs:
        for c in conditions:
            for s in seeds:
                d = Path(root) / a / c / f"seed_{s}"
                runs[a, c, s] = (
                    pd.read_csv(d / "predictions.csv"),
                    json.loads((d / "metrics.json").read_text()),
                )
    return runs


def statistics(runs: dict, archs: list[str], conditions: list[str], seeds: list[int], baseline: str,
               n_resamples: int, seed: int) -> dict[str, pd.DataFrame]:  # fmt: skip
    col = f"pred_{DECISION}"
    mc, wx, bs = [], [], []
    for a in archs:
        rows = []
        for c in conditions:
            for s in seeds:
                pred, _ = runs[a, c, s]
                ci = bootstrap_ci(
                    pred["target"].to_numpy(),
                    pred["prob"].to_numpy(),
                    pred[col].to_numpy(),
                    n_resamples,
                    seed,
                )
                bs += [{"arch": a, "condition": c, "seed": s, "metric": m, "estimate": v["estimate"],
                        "ci95_low": v["ci95"][0], "ci95_high": v["ci95"][1],
                        "undefined_resamples": v["undefined_resamples"]} for m, v in ci.items()]  # fmt: skip
                if c == baseline:
                    continue
                base, _ = runs[a, baseline, s]
                if not base["image_id"].equals(pred["image_id"]):
                    raise ValueError(f"{a}/{c}/seed {s}: test images differ from the baseline's")
                t = mcnemar_test(pred["target"].to_numpy(), base[col].to_numpy(), pred[col].to_numpy())
                rows.append(
                    {"arch": a, "seed": s, "condition": c, "versus": baseline, "decision": DECISION,
                     "discordant": t["discordant"], "method": t["method"], "statistic": t["statistic"],
                     "p": t["p"]}
                )  # fmt: skip
                w = wilcoxon_images(
                    pred["target"].to_numpy(), base["prob"].to_numpy(), pred["prob"].to_numpy()
                )
                wx.append({"arch": a, "condition": c, "versus": baseline, "seed": s, **w})
            if c != baseline:
                f1 = [runs[a, c, s][1][DECISION]["f1"] for s in seeds]
                f1_base = [runs[a, baseline, s][1][DECISION]["f1"] for s in seeds]
                wx.append(
                    {
                        "arch": a,
                        "condition": c,
                        "versus": baseline,
                        "seed": "all",
                        **wilcoxon_seeds(f1, f1_base),
                    }
                )
        # Holm across this architecture's comparisons (conditions x seeds)
        for r, adj in zip(rows, holm([r["p"] for r in rows]), strict=True):
            r["p_holm"] = adj
        mc += rows
    return {"mcnemar": pd.DataFrame(mc), "wilcoxon": pd.DataFrame(wx), "bootstrap": pd.DataFrame(bs)}


def ablation_table(aggregates: dict[tuple[str, str], dict], expected_f1: dict) -> pd.DataFrame:
    rows = []
    for (a, c), agg in aggregates.items():
        row = {"arch": a, "condition": c, "n_seeds": agg["n_seeds"]}
        for m in ABLATION_METRICS:
            row[f"{m}_mean"] = agg[DECISION][m]["mean"]
            row[f"{m}_sd"] = agg[DECISION][m]["sd"]
        row["study_expected_f1"] = expected_f1.get(a, {}).get(c)
        rows.append(row)
    return pd.DataFrame(rows)


def _cell(mean, sd) -> str:
    if mean is None or (isinstance(mean, float) and np.isnan(mean)):
        return "n/a"
    if sd is None or (isinstance(sd, float) and np.isnan(sd)):
        return f"{mean:.3f}"
    return f"{mean:.3f} ± {sd:.3f}"


def display_table(table: pd.DataFrame) -> pd.DataFrame:
    """The ablation table as strings (mean ± sd), as the markdown file and the figure show it."""
    rows = []
    for _, r in table.iterrows():
        exp = r["study_expected_f1"]
        row = {"architecture": r["arch"], "condition": r["condition"]}
        row |= {m.replace("_", " "): _cell(r[f"{m}_mean"], r[f"{m}_sd"]) for m in ABLATION_METRICS}
        row["study's expected F1"] = (
            "—" if exp is None or pd.isna(exp) else f"{exp:.2f} (the study's, not measured)"
        )
        rows.append(row)
    return pd.DataFrame(rows)


def ablation_markdown(table: pd.DataFrame, note: str) -> str:
    shown = display_table(table)
    lines = ["| " + " | ".join(shown.columns) + " |", "|" + "---|" * len(shown.columns)]
    for _, r in shown.iterrows():
        lines.append("| " + " | ".join(map(str, r.tolist())) + " |")
    return "\n".join(lines) + "\n\n" + note + "\n"
