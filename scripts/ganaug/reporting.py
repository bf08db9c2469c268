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

# per set: the set's own figures
SET_ROWS = [
    ("n_synthetic", "synthetic images"),
    ("inception_score", "Inception Score"),
    ("lpips_diversity", "LPIPS between synthetic images (diversity)"),
]
# per set and reference
AGAINST_ROWS = [
    ("n_real", "real reference images"),
    ("kid", "KID (x 1000; the headline under 2,048 images)"),
    ("fid", "FID (biased upward at these sizes)"),
    ("precision", "precision (k-NN, fidelity)"),
    ("recall", "recall (k-NN, coverage)"),
    ("lpips_to_nearest_real", "LPIPS to the nearest real image"),
    ("ssim_best_match", "SSIM of the best real match"),
]
METRIC_LABELS = {
    "sensitivity": "sensitivity (DF recall)",
    "specificity": "specificity (NV)",
    "f1": "F1",
    "pr_auc": "PR-AUC",
    "balanced_accuracy": "balanced accuracy",
}


@dataclass
class Results:
    """What the report and the notebooks show, read from the files their rule declares."""

    paths: dict  # name -> declared input (ganaug.notebooks.notebook_paths)
    final: dict
    differences: pd.DataFrame
    mcnemar: pd.DataFrame
    wilcoxon: pd.DataFrame
    intervals: pd.DataFrame
    replicates: pd.DataFrame  # each replicate's difference from its reference

    def fits(self) -> list[dict]:
        """Every fit's metrics.json (as a dict), history and predictions, in the rule's order."""
        out = []
        for f in self.paths["fits"]:
            m = json.loads(Path(f["metrics"]).read_text())
            out.append(
                {
                    "arch": m["arch"],
                    "condition": m["condition"],
                    "repeat": m.get("repeat", 0),
                    "seed": m["seed"],
                    "metrics": m,
                    "history": pd.read_csv(f["history"]),
                    "predictions": pd.read_csv(f["predictions"]),
                }
            )
        return out


def _csv(paths: dict, name: str) -> pd.DataFrame:
    return pd.read_csv(paths[name]) if name in paths else pd.DataFrame()


def load(paths: dict) -> Results:
    """``paths``: the notebook's papermill parameter, every file its rule declares as input."""
    final = Path(paths["final"])
    if not final.is_file():
        raise FileNotFoundError(f"{final} not found: run `snakemake {final}` first")
    return Results(
        paths,
        json.loads(final.read_text()),
        *(_csv(paths, k) for k in ("differences", "mcnemar", "wilcoxon", "intervals", "replicates")),
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
    weights = p.get("classifier_weights")
    per_arch = weights if isinstance(weights, dict) else {"every architecture": weights}
    random = [a for a, w in per_arch.items() if w != "imagenet"]
    if random:
        out.append(
            f"Classifiers trained from a random init, not ImageNet weights: {', '.join(random)} "
            "(their numbers exercise the code; they say little about what a network can learn)."
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
    n = len(p.get("seeds", [])) * len(p.get("repeats", [0]))
    if n < 2:
        out.append("One replicate only (one split, one seed): no spread over replicates, and no "
                   "test across them.")  # fmt: skip
    return out


def dataset_table(final: dict) -> pd.DataFrame:
    splits = final["dataset_statistics"]["splits"]
    t = pd.DataFrame(splits).T.loc[[s for s in ("train", "val", "test", "all") if s in splits]]
    for col in t.columns:  # counts as integers; the transpose made every column float
        if (t[col] == t[col].round()).all():
            t[col] = t[col].astype(int)
    return t


def _fmt(key: str, v) -> str:
    if isinstance(v, dict):
        mean, sd = v["mean"], v.get("sd")
        if key in ("kid", "kernel_distance"):
            mean, sd = 1000 * mean, None if sd is None else 1000 * sd
        return f"{mean:.4g}" + ("" if sd is None else f" ± {sd:.2g}")
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _named(rows: list[tuple[str, str]], names: dict) -> list[tuple[str, str]]:
    """The GAN-metric rows under the names this run's extractor gives them (FID, KID and IS
    only on Inception; Frechet distance, kernel distance and classifier score otherwise)."""
    rename = {"fid": names["fd"], "kid": names["kd"], "inception_score": names["score"]}
    labels = {
        "frechet_distance": "Frechet distance (not FID: not Inception features)",
        "kernel_distance": "kernel distance x 1000 (not KID)",
        "classifier_score": "classifier score (not IS)",
    }
    return [(rename.get(k, k), labels.get(rename.get(k, k), label)) for k, label in rows]


def gan_metrics_table(gan: dict) -> pd.DataFrame:
    """Rows: metrics; columns: (set, reference). KID is shown x 1000, as usually reported."""
    names = gan.get("names", {"fd": "fid", "kd": "kid", "score": "inception_score"})
    set_rows, against_rows = _named(SET_ROWS, names), _named(AGAINST_ROWS, names)
    sets = [k for k in ("raw", "curated") if k in gan["sets"]] + [
        k for k in gan["sets"] if k not in ("raw", "curated")
    ]
    refs = list(gan["references"])
    cols = {}
    for name in sets:
        s = gan["sets"][name]
        for ref in refs:
            a = s["against"][ref]
            own = [_fmt(k, s[k]) if ref == refs[0] else "" for k, _ in set_rows]
            cols[f"{name} vs {ref}"] = own + [_fmt(k, a[k]) for k, _ in against_rows]
    return pd.DataFrame(cols, index=[label for _, label in set_rows + against_rows])


def memorisation_table(gan: dict) -> pd.DataFrame:
    """Closeness to the images the GAN learnt from beside closeness to held-out ones: a set much
    closer to train than to val copies its training images rather than generalising."""
    rows = []
    kd = gan.get("names", {}).get("kd", "kid")
    for name, s in gan["sets"].items():
        a = s["against"]
        if not {"train", "val"} <= set(a):
            continue
        for key, label in (
            (kd, f"{kd} x 1000"),
            ("lpips_to_nearest_real", "LPIPS to nearest"),
            ("ssim_best_match", "best SSIM"),
        ):
            t, v = a["train"][key], a["val"][key]
            t, v = (t["mean"], v["mean"]) if isinstance(t, dict) else (t, v)
            scale = 1000 if key == kd else 1
            rows.append(
                {
                    "set": name,
                    "figure": label,
                    "vs train": scale * t,
                    "vs val (held out)": scale * v,
                    "train - val": scale * (t - v),
                }
            )
    return pd.DataFrame(rows).set_index(["set", "figure"]) if rows else pd.DataFrame()


def funnel_table(final: dict) -> pd.DataFrame:
    f = pd.DataFrame(final["curation"]["funnel"])
    if f.empty:
        return f
    f["kept of previous (%)"] = (100 * f["kept"] / f["kept"].shift(1)).round(1)
    f["kept of raw (%)"] = (100 * f["kept"] / f["kept"].iloc[0]).round(1)
    return f.set_index("stage")


def ablation_display(final: dict) -> pd.DataFrame:
    """The ablation table from final_results.json: one route for every number of the report."""
    from ganaug.evaluation.ablation import display_table

    archs, conds = order(final)
    rows = []
    expected = final["study_expectations"]["expected_f1"]
    for a in archs:
        for c in conds:
            r = final["classifier_results"][a][c]
            row = {"arch": a, "condition": c}
            for m in ("f1", "recall", "precision", "balanced_accuracy", "pr_auc"):
                row[f"{m}_mean"], row[f"{m}_sd"] = r[m]["mean"], r[m]["sd"]
            row["study_expected_f1"] = expected.get(a, {}).get(c)
            rows.append(row)
    return display_table(pd.DataFrame(rows)).set_index(["architecture", "condition"])


def _p(v) -> str:
    return "—" if v is None or pd.isna(v) else f"{v:.3g}"


IN_DISTRIBUTION = "in_distribution"


def set_names(table: pd.DataFrame) -> list[str]:
    """The test sets a stats table holds, in distribution first."""
    if table.empty or "test_set" not in table.columns:
        return [IN_DISTRIBUTION] if not table.empty else []
    names = list(dict.fromkeys(table["test_set"]))
    return sorted(names, key=lambda n: (n != IN_DISTRIBUTION, n))


def for_set(table: pd.DataFrame, test_set: str | None) -> pd.DataFrame:
    """The rows of one test set (None: all of them)."""
    if test_set is None or table.empty or "test_set" not in table.columns:
        return table
    return table[table["test_set"] == test_set]


def differences_display(
    diff: pd.DataFrame, decision: str = "tuned", test_set: str | None = IN_DISTRIBUTION
) -> pd.DataFrame:
    """Each difference with its interval and direction word, as the report shows it."""
    diff = for_set(diff, test_set)
    if diff.empty:
        return diff
    d = diff[diff["decision"] == decision]
    t = pd.DataFrame(
        {
            "arch": d["arch"],
            "condition": d["condition"],
            "versus": d["reference"],
            "metric": d["metric"].map(METRIC_LABELS),
            "condition value": d["value"].map(lambda v: f"{v:.3f}"),
            "reference value": d["reference_value"].map(lambda v: f"{v:.3f}"),
            "Δ [95 % CI]": [
                f"{x:+.3f} [{lo:+.3f}, {hi:+.3f}]"
                for x, lo, hi in zip(d["delta"], d["ci_low"], d["ci_high"], strict=True)
            ],
            "p (Holm)": d["p_holm"].map(_p),
            "direction": d["direction"],
        }
    )
    keys = ["arch", "condition", "versus", "metric"]
    if test_set is None and "test_set" in d.columns:  # every set: say which on each row
        t.insert(0, "test set", d["test_set"])
        keys.insert(0, "test set")
    return t.set_index(keys)


def in_words(
    diff: pd.DataFrame,
    arch: str,
    condition: str,
    metric: str,
    decision: str = "tuned",
    test_set: str = IN_DISTRIBUTION,
) -> str:
    """One difference read out: "resnet50, gan_curated vs baseline: Δ sensitivity +0.14 [−0.05, 0.33],
    no evidence"."""
    diff = for_set(diff, test_set)
    r = diff[
        (diff["arch"] == arch)
        & (diff["condition"] == condition)
        & (diff["metric"] == metric)
        & (diff["decision"] == decision)
    ].iloc[0]
    return (
        f"{arch}, {condition} vs {r['reference']}: Δ {METRIC_LABELS[metric]} {r['delta']:+.2f} "
        f"[{r['ci_low']:+.2f}, {r['ci_high']:+.2f}], {r['direction']}"
    )


def mcnemar_display(mcnemar: pd.DataFrame, test_set: str | None = IN_DISTRIBUTION) -> pd.DataFrame:
    mcnemar = for_set(mcnemar, test_set)
    if mcnemar.empty:
        return mcnemar
    keys = ["arch", "condition", "reference", "repeat", "seed", "class"]
    if test_set is None and "test_set" in mcnemar.columns:
        keys.insert(0, "test_set")
    t = mcnemar[[*keys, "n", "b", "c", "winner", "method"]].copy()
    t["p"] = mcnemar["p"].map(_p)
    t["p (Holm)"] = mcnemar["p_holm"].map(_p)
    return t.set_index(keys)


def wilcoxon_display(
    wilcoxon: pd.DataFrame, decision: str = "tuned", test_set: str | None = IN_DISTRIBUTION
) -> pd.DataFrame:
    wilcoxon = for_set(wilcoxon, test_set)
    if wilcoxon.empty:
        return wilcoxon
    w = wilcoxon[wilcoxon["decision"] == decision]
    t = w[["arch", "condition", "reference", "metric", "n_replicates"]].copy()
    t["mean Δ [95 % t interval]"] = [
        "n/a" if pd.isna(m) else f"{m:+.3f}" + ("" if pd.isna(lo) else f" [{lo:+.3f}, {hi:+.3f}]")
        for m, lo, hi in zip(w["mean_difference"], w["ci_low"], w["ci_high"], strict=True)
    ]
    t["median Δ"] = w["median_difference"].map(lambda v: "n/a" if pd.isna(v) else f"{v:+.3f}")
    t["p (signed rank)"] = w["p"].map(_p)
    t["p (Holm)"] = w["p_holm"].map(_p)
    t["direction"] = w["direction"]
    t["note"] = w["note"].fillna("")
    return t.set_index(["arch", "condition", "reference", "metric"])


def improvement_table(final: dict, metric: str = "f1") -> pd.DataFrame:
    rows = []
    by_arch = final["improvement_percentages"]["by_arch"]
    archs, conds = order(final)
    for arch in archs:
        for ref, per_cond in by_arch.get(arch, {}).items():
            for cond in conds:
                m = per_cond.get(cond)
                if m is None or metric not in m:
                    continue
                rows.append(
                    {
                        "arch": arch,
                        "condition": cond,
                        "versus": ref,
                        f"{metric} change": m[metric]["absolute"],
                        f"{metric} change (% of reference)": m[metric]["relative_pct"],
                    }
                )
    return pd.DataFrame(rows).set_index(["arch", "condition", "versus"]) if rows else pd.DataFrame()


def expectation_table(final: dict) -> pd.DataFrame:
    """The study's expected F1 beside the measured mean F1, where the config gives one."""
    rows = []
    expected = final["study_expectations"]["expected_f1"]
    for arch, conds in expected.items():
        for cond, exp in conds.items():
            got = final["classifier_results"].get(arch, {}).get(cond, {}).get("f1", {}).get("mean")
            rows.append(
                {
                    "arch": arch,
                    "condition": cond,
                    "study's expected F1": exp,
                    "measured F1": got,
                    "measured - expected": None if got is None else got - exp,
                }
            )
    return pd.DataFrame(rows)


def f1_consistency(final: dict) -> pd.DataFrame:
    """Per replicate, F1 against 2PR/(P+R) of the reported precision and recall: the check the
    study's own table fails. Here every row must agree (to rounding)."""
    rows = []
    archs, conds = order(final)
    for arch in archs:
        for cond in conds:
            r = final["classifier_results"][arch][cond]
            for i, replicate in enumerate(r["replicates"]):
                p, rc, f1 = (r[m]["per_replicate"][i] for m in ("precision", "recall", "f1"))
                implied = 0.0 if p + rc == 0 else 2 * p * rc / (p + rc)
                rows.append(
                    {
                        "arch": arch,
                        "condition": cond,
                        "replicate": replicate,
                        "precision": p,
                        "recall": rc,
                        "F1 reported": f1,
                        "2PR/(P+R)": implied,
                        "agrees": bool(np.isclose(f1, implied, atol=1e-9)),
                    }
                )
    return pd.DataFrame(rows).set_index(["arch", "condition", "replicate"])


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


def plot_f1_by_condition(final: dict, intervals: pd.DataFrame, ax=None):
    """Mean F1 per architecture and condition, with each condition's own lesion-bootstrap 95 %
    interval. Descriptive only: whether two conditions differ is read from the forest plot of
    differences, never from overlapping bars."""
    import matplotlib.pyplot as plt

    res = final["classifier_results"]
    archs, conds = order(final)
    if ax is None:
        _, ax = plt.subplots(figsize=(max(6, 1.6 * len(archs) * len(conds) / 3), 3.6))
    width = 0.8 / len(conds)
    for j, c in enumerate(conds):
        means, lo, hi = [], [], []
        for a in archs:
            mean = res[a][c]["f1"]["mean"]
            means.append(mean)
            b = _select(
                for_set(intervals, IN_DISTRIBUTION), arch=a, condition=c, metric="f1", decision="tuned"
            )
            lo.append(mean - b["ci_low"].iloc[0] if len(b) else 0)
            hi.append(b["ci_high"].iloc[0] - mean if len(b) else 0)
        x = np.arange(len(archs)) + (j - (len(conds) - 1) / 2) * width
        ax.bar(x, means, width, yerr=[lo, hi], capsize=2, label=c)
    ax.set_xticks(np.arange(len(archs)), archs)
    ax.set_ylabel("F1 (test, tuned threshold)")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=8, ncol=min(5, len(conds)), loc="upper center", bbox_to_anchor=(0.5, -0.12))
    ax.grid(axis="y", alpha=0.3)
    return ax


def _select(table: pd.DataFrame, **match) -> pd.DataFrame:
    if table.empty:
        return table
    keep = np.ones(len(table), bool)
    for k, v in match.items():
        keep &= (table[k] == v).to_numpy()
    return table[keep]


DIRECTION_COLOURS = {"better": "#15803d", "worse": "#b91c1c", "no evidence": "#6b7280"}


def plot_forest(diff: pd.DataFrame, decision: str = "tuned"):
    """Forest plot of the differences (seaborn): one panel per metric, architecture x condition on
    the rows, Δ with its 95 % interval, coloured by its direction word (Holm-adjusted)."""
    import matplotlib.pyplot as plt
    import seaborn as sns

    d = diff[diff["decision"] == decision].copy()
    d["row"] = d["arch"] + " / " + d["condition"] + " vs " + d["reference"]
    if len(set_names(d)) > 1:  # in distribution and external sets: say which on every row
        d["row"] = d["row"] + " [" + d["test_set"] + "]"
    d["metric_label"] = d["metric"].map(METRIC_LABELS)
    metrics = [METRIC_LABELS[m] for m in METRIC_LABELS if m in set(d["metric"])]
    rows = list(dict.fromkeys(d["row"]))
    grid = sns.FacetGrid(d, col="metric_label", col_order=metrics, sharex=False, sharey=True,
                         height=0.36 * len(rows) + 1.6, aspect=1.1)  # fmt: skip

    def forest(data: pd.DataFrame, **_) -> None:
        ax = plt.gca()
        for _, r in data.iterrows():
            y = rows.index(r["row"])
            colour = DIRECTION_COLOURS.get(r["direction"], "k")
            ax.plot([r["ci_low"], r["ci_high"]], [y, y], color=colour, lw=1.6)
            ax.plot(r["delta"], y, "o", color=colour, ms=4)
        ax.axvline(0, color="k", lw=0.8)
        ax.set_yticks(range(len(rows)), rows, fontsize=8)
        ax.set_ylim(len(rows) - 0.5, -0.5)
        ax.grid(axis="x", alpha=0.3)

    grid.map_dataframe(forest)
    grid.set_titles("{col_name}", size=9)
    grid.set_xlabels("Δ vs reference", fontsize=8)
    handles = [plt.Line2D([], [], color=c, marker="o", lw=1.6, label=k) for k, c in DIRECTION_COLOURS.items()]
    grid.figure.legend(handles=handles, loc="lower center", ncol=3, fontsize=8, frameon=False)
    grid.figure.suptitle(f"condition - reference ({decision} decision): 95 % lesion-bootstrap intervals; "
                         "colour: direction after Holm", fontsize=9)  # fmt: skip
    grid.figure.tight_layout(rect=(0, 0.06, 1, 0.95))
    return grid.figure


def benchmark_table(files: list[str]) -> pd.DataFrame:
    """Wall time and peak memory of each rule, from Snakemake's benchmark files: the rule, its
    wildcards (from the file name), seconds, max RSS in MB, and CPU seconds."""
    rows = []
    for f in files:
        path = Path(f)
        b = pd.read_csv(path, sep="\t")
        # results/benchmarks/<rule>.tsv or results/benchmarks/<rule>/<job>.tsv, where the job may
        # hold a slash of its own (the timm/<name> architectures)
        parts = path.with_suffix("").parts
        rest = parts[len(parts) - 1 - parts[::-1].index("benchmarks") + 1 :]
        rule, job = rest[0], "/".join(rest[1:])
        max_rss = pd.to_numeric(b["max_rss"].iloc[-1], errors="coerce")
        rows.append({"rule": rule, "job": job, "seconds": float(b["s"].iloc[-1]), "max RSS (MB)": max_rss,
                     "CPU seconds": float(b["cpu_time"].iloc[-1])})  # fmt: skip
    t = pd.DataFrame(rows)
    return t.sort_values("seconds", ascending=False).reset_index(drop=True) if len(t) else t


# ---------------------------------------------------------------- the questions, answered

ANSWER_METRICS = ("sensitivity", "f1", "specificity")


def answer_table(
    diff: pd.DataFrame, pairs: list[tuple[str, str]], test_set: str = IN_DISTRIBUTION, decision: str = "tuned"
) -> pd.DataFrame:
    """The differences that answer one question: for each (condition, reference) pair and
    architecture, Δ with its interval and direction word, and how many replicates and test
    lesions it rests on. Empty when none of the pairs was run."""
    d = for_set(diff, test_set)
    if d.empty:
        return pd.DataFrame()
    keep = pd.Series(False, index=d.index)
    for cond, ref in pairs:
        keep |= (d["condition"] == cond) & (d["reference"] == ref)
    d = d[keep & (d["decision"] == decision) & d["metric"].isin(ANSWER_METRICS)]
    if d.empty:
        return pd.DataFrame()
    return pd.DataFrame(
        {
            "arch": d["arch"],
            "comparison": d["condition"] + " vs " + d["reference"],
            "metric": d["metric"].map(METRIC_LABELS),
            "Δ [95 % CI]": [
                f"{x:+.3f} [{lo:+.3f}, {hi:+.3f}]"
                for x, lo, hi in zip(d["delta"], d["ci_low"], d["ci_high"], strict=True)
            ],
            "direction": d["direction"],
            "replicates": d["n_replicates"],
            "DF / NV test lesions": d["n_test_lesions_minority"].astype(str)
            + " / "
            + d["n_test_lesions_majority"].astype(str),
        }
    ).set_index(["arch", "comparison", "metric"])


def gap_closed(diff: pd.DataFrame, test_set: str = IN_DISTRIBUTION, decision: str = "tuned") -> pd.DataFrame:
    """How much of the gain of real_extra (new real images) gan_curated reaches: both differences
    from baseline, and their ratio where the real images did gain (descriptive; the direct
    comparison gan_curated vs real_extra carries the interval)."""
    d = for_set(diff, test_set)
    rows = []
    for arch in dict.fromkeys(d.get("arch", [])):
        for metric in ANSWER_METRICS:
            sel = {"arch": arch, "reference": "baseline", "metric": metric, "decision": decision}
            pick = {c: _select(d, condition=c, **sel) for c in ("gan_curated", "real_extra")}
            if any(p.empty for p in pick.values()):
                continue
            gan, real = (float(pick[c]["delta"].iloc[0]) for c in ("gan_curated", "real_extra"))
            share = gan / real if real > 0 else None
            rows.append({"arch": arch, "metric": METRIC_LABELS[metric], "Δ gan_curated": gan,
                         "Δ real_extra": real, "share of the real images' gain": share})  # fmt: skip
    return pd.DataFrame(rows)


def ratio_points(
    final: dict, diff: pd.DataFrame, metric: str = "f1", decision: str = "tuned"
) -> pd.DataFrame:
    """Δ from baseline against the number of curated synthetic images added (0: baseline itself),
    for every condition that adds curated images to the real ones without augmentation."""
    rows = []
    d = for_set(diff, IN_DISTRIBUTION)
    for arch, conds in final["classifier_results"].items():
        rows.append(
            {
                "arch": arch,
                "condition": "baseline",
                "synthetic": 0,
                "delta": 0.0,
                "ci_low": 0.0,
                "ci_high": 0.0,
            }
        )
        for cond, r in conds.items():
            comp = r.get("composition_mean") or {}
            if comp.get("synthetic_source") != "curated" or not comp.get("real_minority"):
                continue
            if comp.get("traditional_augmentation"):
                continue
            row = _select(
                d, arch=arch, condition=cond, reference="baseline", metric=metric, decision=decision
            )
            if row.empty:
                continue
            rows.append({"arch": arch, "condition": cond, "synthetic": comp["synthetic_minority"],
                         **{k: float(row[k].iloc[0]) for k in ("delta", "ci_low", "ci_high")}})  # fmt: skip
    return (
        pd.DataFrame(rows).sort_values(["arch", "synthetic"]).reset_index(drop=True)
        if rows
        else pd.DataFrame()
    )


def plot_ratio_curve(points: pd.DataFrame, metric: str = "f1"):
    """Does more synthetic help? Δ from baseline with its 95 % interval, against the count."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.4))
    for arch, p in points.groupby("arch", sort=False):
        err = [p["delta"] - p["ci_low"], p["ci_high"] - p["delta"]]
        ax.errorbar(p["synthetic"], p["delta"], yerr=err, marker="o", capsize=3, label=arch)
        for _, r in p.iterrows():
            ax.annotate(r["condition"], (r["synthetic"], r["delta"]), fontsize=7, xytext=(3, 3),
                        textcoords="offset points")  # fmt: skip
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xlabel("curated synthetic DF images added")
    ax.set_ylabel(f"Δ {METRIC_LABELS[metric]} vs baseline")
    ax.set_title("does more synthetic help? (in distribution, tuned threshold, 95 % intervals)", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def turing_table(turing: dict) -> pd.DataFrame:
    """Per reviewer: can they tell real from synthetic (the visual Turing test)?"""
    t = pd.DataFrame(turing.get("reviewers", []))
    return t.set_index("reviewer") if not t.empty else t
