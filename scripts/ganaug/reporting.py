"""Tables and figures for the notebooks and the HTML report, from the files under results/.

The notebooks stay short: they call these functions and display what comes back, so what the
report shows is the same code the tests run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

GAN_ROWS = [
    ("n_synthetic", "synthetic images"),
    ("n_real", "real reference images (train split)"),
    ("fid", "FID (lower is closer)"),
    ("inception_score", "Inception Score (10 splits)"),
    ("kid", "KID (x 1000)"),
    ("precision", "precision (k-NN, fidelity)"),
    ("recall", "recall (k-NN, coverage)"),
    ("lpips_to_nearest_real", "LPIPS to the nearest real image"),
    ("lpips_diversity", "LPIPS between synthetic images (diversity)"),
    ("ssim_best_match", "SSIM of the best real match"),
]


@dataclass
class Results:
    root: Path
    final: dict
    ablation: pd.DataFrame
    mcnemar: pd.DataFrame
    wilcoxon: pd.DataFrame
    bootstrap: pd.DataFrame

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path) if path.is_file() else pd.DataFrame()


def load(results_dir: str | Path) -> Results:
    root = Path(results_dir)
    final = root / "final_results.json"
    if not final.is_file():
        raise FileNotFoundError(f"{final} not found: run `snakemake {final}` first")
    return Results(
        root,
        json.loads(final.read_text()),
        _csv(root / "ablation.csv"),
        _csv(root / "stats" / "mcnemar.csv"),
        _csv(root / "stats" / "wilcoxon.csv"),
        _csv(root / "stats" / "bootstrap.csv"),
    )


def order(final: dict) -> tuple[list[str], list[str]]:
    """Architectures and conditions in the config's order (the JSON's keys are sorted)."""
    o = final.get("order") or {}
    archs = o.get("archs") or list(final["classifier_results"])
    conds = o.get("conditions") or list(next(iter(final["classifier_results"].values())))
    return archs, conds


def caveats(final: dict) -> list[str]:
    """What limits the meaning of these numbers, in words, from the run's own provenance."""
    p = final["provenance"]
    out = []
    if p.get("phantom_demo_data"):
        out.append(
            "The data are the embedded PHANTOM demo set (generated images): "
            "no number here says anything about dermoscopy."
        )
    if p.get("classifier_weights") != "imagenet":
        out.append(
            "Classifiers were trained from a random init "
            f"(classifier.weights: {p.get('classifier_weights')}), not ImageNet weights."
        )
    ex = p.get("gan_feature_extractor") or {}
    if not ex.get("comparable", True):
        out.append(f"GAN metrics: {ex.get('name')}.")
    if p.get("simulated_review"):
        out.append("The human review of synthetic images was SIMULATED (curation.review.mode: simulate).")
    for key in ("lpips_backbone", "cluster_backbone"):
        if p.get(key) == "random":
            out.append(
                f"curation.{key} is a random-init network: "
                "its distances are not comparable to published ones."
            )
    if len(p.get("seeds", [])) < 2:
        out.append("One seed only: no spread over seeds, and no Wilcoxon test across seeds.")
    return out


def dataset_table(final: dict) -> pd.DataFrame:
    splits = final["dataset_statistics"]["splits"]
    t = pd.DataFrame(splits).T.loc[[s for s in ("train", "val", "test", "all") if s in splits]]
    for col in t.columns:  # counts as integers; the transpose made every column float
        if (t[col] == t[col].round()).all():
            t[col] = t[col].astype(int)
    return t


def gan_metrics_table(gan: dict) -> pd.DataFrame:
    """Rows: metrics; columns: the synthetic sets. KID is shown x 1000, as usually reported."""

    def fmt(key, v):
        if isinstance(v, dict):
            mean, sd = v["mean"], v.get("sd")
            if key == "kid":
                mean, sd = 1000 * mean, None if sd is None else 1000 * sd
            return f"{mean:.4g}" + ("" if sd is None else f" ± {sd:.2g}")
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    cols = {}
    order = [k for k in ("raw", "curated") if k in gan["sets"]] + [
        k for k in gan["sets"] if k not in ("raw", "curated")
    ]
    for name in order:
        s = gan["sets"][name]
        cols[name] = [fmt(k, s[k]) for k, _ in GAN_ROWS]
    return pd.DataFrame(cols, index=[label for _, label in GAN_ROWS])


def funnel_table(final: dict) -> pd.DataFrame:
    f = pd.DataFrame(final["curation"]["funnel"])
    if f.empty:
        return f
    f["kept of previous (%)"] = (100 * f["kept"] / f["kept"].shift(1)).round(1)
    f["kept of raw (%)"] = (100 * f["kept"] / f["kept"].iloc[0]).round(1)
    return f.set_index("stage")


def ablation_display(ablation: pd.DataFrame) -> pd.DataFrame:
    from ganaug.evaluation.ablation import display_table

    return display_table(ablation).set_index(["architecture", "condition"])


def _p(v) -> str:
    return "—" if v is None or pd.isna(v) else f"{v:.3g}"


def significance_table(mcnemar: pd.DataFrame) -> pd.DataFrame:
    if mcnemar.empty:
        return mcnemar
    t = mcnemar[["arch", "condition", "seed", "discordant", "method"]].copy()
    t["p"] = mcnemar["p"].map(_p)
    t["p (Holm)"] = mcnemar["p_holm"].map(_p)
    t["significant at 0.05 (Holm)"] = np.where(mcnemar["p_holm"] < 0.05, "yes", "no")
    return t.set_index(["arch", "condition", "seed"])


def wilcoxon_tables(wilcoxon: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-image tests, per-seed tests): the two kinds apart, each labelled."""
    if wilcoxon.empty:
        return wilcoxon, wilcoxon
    per_seed = wilcoxon["seed"].astype(str) == "all"
    img = wilcoxon[~per_seed][["arch", "condition", "seed", "kind", "n", "statistic"]].copy()
    img["p"] = wilcoxon.loc[~per_seed, "p"].map(_p)
    seeds = wilcoxon[per_seed][["arch", "condition", "kind", "n"]].copy()
    seeds["p"] = wilcoxon.loc[per_seed, "p"].map(_p)
    if "reason" in wilcoxon:
        seeds["note"] = wilcoxon.loc[per_seed, "reason"].fillna("")
    return img.set_index(["arch", "condition", "seed"]), seeds.set_index(["arch", "condition"])


def improvement_table(final: dict, metric: str = "f1") -> pd.DataFrame:
    rows = []
    by_arch = final["improvement_percentages"]["by_arch"]
    archs, conds = order(final)
    for arch in archs:
        for cond in conds:
            m = by_arch.get(arch, {}).get(cond)
            if m is None:
                continue
            rows.append({"arch": arch, "condition": cond, f"{metric} change": m[metric]["absolute"],
                         f"{metric} change (% of baseline)": m[metric]["relative_pct"]})  # fmt: skip
    return pd.DataFrame(rows).set_index(["arch", "condition"]) if rows else pd.DataFrame()


def expectation_table(final: dict) -> pd.DataFrame:
    """The study's expected F1 beside the measured mean F1, where the config gives one."""
    rows = []
    expected = final["study_expectations"]["expected_f1"]
    for arch, conds in expected.items():
        for cond, exp in conds.items():
            got = final["classifier_results"].get(arch, {}).get(cond, {}).get("f1", {}).get("mean")
            rows.append({"arch": arch, "condition": cond, "study's expected F1": exp, "measured F1": got,
                         "measured - expected": None if got is None else got - exp})  # fmt: skip
    return pd.DataFrame(rows)


def f1_consistency(final: dict) -> pd.DataFrame:
    """Per seed, F1 against 2PR/(P+R) of the reported precision and recall: the check the study's
    own table fails. Here every row must agree (to rounding)."""
    rows = []
    archs, conds = order(final)
    for arch in archs:
        for cond in conds:
            r = final["classifier_results"][arch][cond]
            for i, seed in enumerate(r["seeds"]):
                p, rc, f1 = (r[m]["per_seed"][i] for m in ("precision", "recall", "f1"))
                implied = 0.0 if p + rc == 0 else 2 * p * rc / (p + rc)
                rows.append({"arch": arch, "condition": cond, "seed": seed, "precision": p, "recall": rc,
                             "F1 reported": f1, "2PR/(P+R)": implied,
                             "agrees": bool(np.isclose(f1, implied, atol=1e-9))})  # fmt: skip
    return pd.DataFrame(rows).set_index(["arch", "condition", "seed"])


def plot_funnel(final: dict, ax=None):
    import matplotlib.pyplot as plt

    f = pd.DataFrame(final["curation"]["funnel"])
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3))
    ax.bar(f["stage"], f["kept"], color="C0")
    for i, v in enumerate(f["kept"]):
        ax.text(i, v, str(v), ha="center", va="bottom", fontsize=9)
    ax.set_ylabel("images kept")
    ax.set_title("curation funnel: images kept after each stage", fontsize=10)
    return ax


def plot_f1_by_condition(final: dict, bootstrap: pd.DataFrame, ax=None):
    """Mean F1 per architecture and condition; error bars: sd over seeds where there are two or
    more, else the single seed's bootstrap 95 % interval."""
    import matplotlib.pyplot as plt

    res = final["classifier_results"]
    archs, conds = order(final)
    if ax is None:
        _, ax = plt.subplots(figsize=(max(6, 1.6 * len(archs) * len(conds) / 3), 3.6))
    width = 0.8 / len(conds)
    for j, c in enumerate(conds):
        means, lo, hi = [], [], []
        for a in archs:
            f1 = res[a][c]["f1"]
            means.append(f1["mean"])
            if f1.get("sd") is not None:
                lo.append(f1["sd"])
                hi.append(f1["sd"])
            elif bootstrap.empty:  # no baseline, so no significance tables: no error bars
                lo.append(0)
                hi.append(0)
            else:
                b = bootstrap[
                    (bootstrap["arch"] == a) & (bootstrap["condition"] == c) & (bootstrap["metric"] == "f1")
                ]
                lo.append(f1["mean"] - b["ci95_low"].iloc[0] if len(b) else 0)
                hi.append(b["ci95_high"].iloc[0] - f1["mean"] if len(b) else 0)
        x = np.arange(len(archs)) + (j - (len(conds) - 1) / 2) * width
        ax.bar(x, means, width, yerr=[lo, hi], capsize=2, label=c)
    ax.set_xticks(np.arange(len(archs)), archs)
    ax.set_ylabel("F1 (test, tuned threshold)")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=8, ncol=min(5, len(conds)), loc="upper center", bbox_to_anchor=(0.5, -0.12))
    ax.grid(axis="y", alpha=0.3)
    return ax
