"""The report's comparison tables: the conditions against their references (the primary answer,
the differences, McNemar, Wilcoxon, the improvements, the ablation, the design), data frames
built from final_results.json and results/stats/, one route for every number. The synthetic
sets' tables are ``synthetic_tables``; the data's and the benchmarks', ``data_tables``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ganaug.evaluation.ablation import display_table
from ganaug.reporting import IN_DISTRIBUTION, METRIC_LABELS, for_set, order, primary_rows, select


def ablation_display(final: dict) -> pd.DataFrame:
    """The ablation table from final_results.json: one route for every number of the report."""
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


def _interval(x, lo, hi) -> str:
    if pd.isna(x):
        return "degenerate"
    if pd.isna(lo):
        return f"{x:+.3f} [n/a]"
    return f"{x:+.3f} [{lo:+.3f}, {hi:+.3f}]"


def _mde(v) -> str:
    """A minimum detectable effect as shown: none possible at or above 1 (the metrics are shares)."""
    if pd.isna(v):
        return "n/a"
    return f"±{v:.3f}" if v < 1 else "none (needs |Δ| > 1)"


def _decision_label(metric: str, decision: str) -> str:
    return METRIC_LABELS[metric] + ("" if decision == "none" else f" ({decision})")


def primary_table(diff: pd.DataFrame) -> pd.DataFrame:
    """The declared family, as the report's answer shows it: each hypothesis with its estimate,
    its adjusted interval, Holm's p, the verdict and what the design could detect."""
    d = primary_rows(diff)
    if d.empty:
        return pd.DataFrame()
    return pd.DataFrame(
        {
            "test set": d["test_set"],
            "arch": d["arch"],
            "comparison": d["condition"] + " vs " + d["reference"],
            "metric": [_decision_label(m, x) for m, x in zip(d["metric"], d["decision"], strict=True)],
            "Δ [adjusted interval]": [
                _interval(x, lo, hi)
                for x, lo, hi in zip(d["delta"], d["ci_adj_low"], d["ci_adj_high"], strict=True)
            ],
            "Δ [unadjusted 95 %]": [
                _interval(x, lo, hi) for x, lo, hi in zip(d["delta"], d["ci_low"], d["ci_high"], strict=True)
            ],
            "p (Holm)": d["p_holm"].map(_p),
            "verdict": d["verdict"],
            "detectable at 80 % power": d["mde_80"].map(_mde),
            "repeats x seeds": d["n_repeats"].astype(str) + " x " + d["n_seeds"].astype(str),
            "DF / NV test lesions": d["n_test_lesions_minority"].astype(str)
            + " / "
            + d["n_test_lesions_majority"].astype(str),
        }
    ).set_index(["test set", "arch", "comparison", "metric"])


def differences_display(diff: pd.DataFrame, test_set: str | None = IN_DISTRIBUTION) -> pd.DataFrame:
    """Every difference with its interval and, for the primary rows only, the verdict."""
    d = for_set(diff, test_set)
    if d.empty:
        return d
    t = pd.DataFrame(
        {
            "arch": d["arch"],
            "condition": d["condition"],
            "versus": d["reference"],
            "metric": [_decision_label(m, x) for m, x in zip(d["metric"], d["decision"], strict=True)],
            "family": d["family"],
            "condition value": d["value"].map(lambda v: f"{v:.3f}"),
            "reference value": d["reference_value"].map(lambda v: f"{v:.3f}"),
            "Δ [95 %, unadjusted]": [
                _interval(x, lo, hi) for x, lo, hi in zip(d["delta"], d["ci_low"], d["ci_high"], strict=True)
            ],
            "p (unadjusted)": d["p"].map(_p),
            "verdict (primary only)": d["verdict"].fillna(""),
        }
    )
    keys = ["arch", "condition", "versus", "metric"]
    if test_set is None and "test_set" in d.columns:  # every set: say which on each row
        t.insert(0, "test set", d["test_set"])
        keys.insert(0, "test set")
    return t.set_index(keys)


def counts_table(
    diff: pd.DataFrame, pairs: list[tuple[str, str]], test_set: str = IN_DISTRIBUTION
) -> pd.DataFrame:
    """TP, FN, FP and TN of both sides of each comparison (tuned decision, summed over the
    replicates), with the DF and NV test lesions they come from."""
    d = for_set(diff, test_set)
    rows = []
    for cond, ref in pairs:
        r = select(d, condition=cond, reference=ref, metric="sensitivity", decision="tuned")
        for x in r.itertuples():
            for side, name, pre in (("condition", cond, ""), ("reference", ref, "ref_")):
                rows.append(
                    {
                        "arch": x.arch,
                        "comparison": f"{cond} vs {ref}",
                        "side": side,
                        "condition": name,
                        **{k.upper(): int(getattr(x, pre + k)) for k in ("tp", "fn", "fp", "tn")},
                        "DF lesions": x.n_test_lesions_minority,
                        "NV lesions": x.n_test_lesions_majority,
                    }
                )
    return pd.DataFrame(rows).set_index(["arch", "comparison", "side"]) if rows else pd.DataFrame()


def _row_keys(table: pd.DataFrame, keys: list[str], test_set: str | None) -> list[str]:
    """A display table's index: ``keys``, led by the test set where every set is shown."""
    return ["test_set", *keys] if test_set is None and "test_set" in table.columns else keys


def mcnemar_display(mcnemar: pd.DataFrame, test_set: str | None = IN_DISTRIBUTION) -> pd.DataFrame:
    mcnemar = for_set(mcnemar, test_set)
    if mcnemar.empty:
        return mcnemar
    keys = _row_keys(mcnemar, ["arch", "condition", "reference", "class"], test_set)
    shown = ["lesions", "discordant_lesions", "n_image_replicates", "b", "c", "more_often_right"]
    t = mcnemar[[*keys, *shown]].copy()
    t["p (unadjusted, fits fixed)"] = mcnemar["p"].map(_p)
    return t.set_index(keys)


def wilcoxon_display(wilcoxon: pd.DataFrame, test_set: str | None = IN_DISTRIBUTION) -> pd.DataFrame:
    w = for_set(wilcoxon, test_set)
    if w.empty:
        return w
    keys = _row_keys(w, ["arch", "condition", "reference", "metric"], test_set)
    t = w[keys].copy()
    t["metric"] = [_decision_label(m, x) for m, x in zip(w["metric"], w["decision"], strict=True)]
    t["repeats"] = w["n_repeats"]
    t["Hodges-Lehmann Δ"] = w["hodges_lehmann"].map(lambda v: "n/a" if pd.isna(v) else f"{v:+.3f}")
    t["direction"] = w["direction"]
    t["p (signed rank, unadjusted)"] = w["p"].map(_p)
    t["smallest attainable p"] = w["p_min_attainable"].map(_p)
    return t.set_index(keys)


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


ANSWER_METRICS = (("pr_auc", "none"), ("sensitivity", "tuned"), ("specificity", "tuned"), ("f1", "tuned"))


def answer_table(
    diff: pd.DataFrame, pairs: list[tuple[str, str]], test_set: str = IN_DISTRIBUTION
) -> pd.DataFrame:
    """The differences that answer one question: for each (condition, reference) pair and
    architecture, Δ with its interval, whether the row is primary (with its verdict) or
    exploratory, and the replicates and test lesions it rests on. Empty when none was run."""
    d = for_set(diff, test_set)
    if d.empty:
        return pd.DataFrame()
    keep = pd.Series(False, index=d.index)
    for cond, ref in pairs:
        keep |= (d["condition"] == cond) & (d["reference"] == ref)
    wanted = pd.Series(
        [(m, x) in ANSWER_METRICS for m, x in zip(d["metric"], d["decision"], strict=True)], index=d.index
    )
    d = d[keep & wanted]
    if d.empty:
        return pd.DataFrame()
    return pd.DataFrame(
        {
            "arch": d["arch"],
            "comparison": d["condition"] + " vs " + d["reference"],
            "metric": [_decision_label(m, x) for m, x in zip(d["metric"], d["decision"], strict=True)],
            "Δ [95 %, unadjusted]": [
                _interval(x, lo, hi) for x, lo, hi in zip(d["delta"], d["ci_low"], d["ci_high"], strict=True)
            ],
            "family": d["family"],
            "verdict": [
                v if f == "primary" else "— (exploratory)"
                for f, v in zip(d["family"], d["verdict"], strict=True)
            ],
            "repeats x seeds": d["n_repeats"].astype(str) + " x " + d["n_seeds"].astype(str),
            "DF / NV test lesions": d["n_test_lesions_minority"].astype(str)
            + " / "
            + d["n_test_lesions_majority"].astype(str),
        }
    ).set_index(["arch", "comparison", "metric"])


def degenerate_pairs(
    diff: pd.DataFrame, pairs: list[tuple[str, str]], test_set: str = IN_DISTRIBUTION
) -> list:
    """The (condition, reference) pairs of ``pairs`` whose two conditions trained on identical
    training sets: nothing to compare."""
    d = for_set(diff, test_set)
    if d.empty or "degenerate" not in d.columns:
        return []
    d = d[d["degenerate"].astype(bool)]
    return sorted({(c, r) for c, r in zip(d["condition"], d["reference"], strict=True) if (c, r) in pairs})


def gap_closed(diff: pd.DataFrame, test_set: str = IN_DISTRIBUTION) -> pd.DataFrame:
    """How much of the gain of real_extra (new real images) gan_curated reaches: both differences
    from baseline, and their ratio where the real images did gain (descriptive; the direct
    comparison gan_curated vs real_extra carries the interval)."""
    d = for_set(diff, test_set)
    rows = []
    for arch in dict.fromkeys(d.get("arch", [])):
        for metric, decision in ANSWER_METRICS:
            sel = {"arch": arch, "reference": "baseline", "metric": metric, "decision": decision}
            pick = {c: select(d, condition=c, **sel) for c in ("gan_curated", "real_extra")}
            if any(p.empty for p in pick.values()):
                continue
            gan, real = (float(pick[c]["delta"].iloc[0]) for c in ("gan_curated", "real_extra"))
            share = gan / real if real > 0 else None
            rows.append(
                {
                    "arch": arch,
                    "metric": _decision_label(metric, decision),
                    "Δ gan_curated": gan,
                    "Δ real_extra": real,
                    "share of the real images' gain": share,
                }
            )
    return pd.DataFrame(rows)


def ratio_points(
    final: dict, diff: pd.DataFrame, metric: str = "pr_auc", decision: str = "none"
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
            row = select(d, arch=arch, condition=cond, reference="baseline", metric=metric, decision=decision)
            if row.empty or pd.isna(row["ci_low"].iloc[0]):
                continue
            rows.append(
                {
                    "arch": arch,
                    "condition": cond,
                    "synthetic": comp["synthetic_minority"],
                    **{k: float(row[k].iloc[0]) for k in ("delta", "ci_low", "ci_high")},
                }
            )
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame(rows).sort_values(["arch", "synthetic"]).reset_index(drop=True)


def design_table(design: pd.DataFrame) -> pd.DataFrame:
    """design.csv as the report shows it: per primary hypothesis, the variance components, the
    power of this design and the cheapest design that would reach 80 %."""

    def num(x, fmt: str = ".4f") -> str:
        return "—" if x is None or pd.isna(x) else format(float(x), fmt)

    def goal(r) -> str:
        if pd.isna(r["repeats_for_goal"]):
            return "none the splitter allows" if pd.notna(r["power"]) else "—"
        return (
            f"{int(r['repeats_for_goal'])} x {int(r['seeds_for_goal'])} ({r['gpu_hours_for_goal']:.1f} GPU-h)"
        )

    return pd.DataFrame(
        {
            "test set": design["test_set"],
            "arch": design["arch"],
            "metric": design["metric"],
            "var between repeats": design["var_between_repeats"].map(num),
            "var between seeds": design["var_between_seeds"].map(num),
            "var of test lesions": design["var_test_lesions"].map(num),
            "effect of interest": design["effect_of_interest"].map(lambda x: num(x, "+.2f")),
            "power, this design": design["power"].map(lambda x: num(x, ".2f")),
            "GPU-hours, this design": design["gpu_hours"].map(lambda x: num(x, ".1f")),
            "80 % needs (repeats x seeds)": [goal(r) for r in design.to_dict("records")],
        }
    )
