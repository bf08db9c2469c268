"""final_results.json: the study's summary structure, filled only with what this run measured.

Sections as the study has them (dataset statistics, GAN metrics, classifier results, statistical
significance, improvement percentages), per architecture and condition, plus the provenance that
decides how far the numbers can be trusted: the data (real or phantom), the classifier weights,
the GAN-metric feature extractor, the LPIPS and cluster backbones and the review mode. The
study's own expectations appear only under ``study_expectations``, labelled as such.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from ganaug.evaluation.ablation import DECISION
from ganaug.evaluation.columns import IN_DISTRIBUTION, TABLES
from ganaug.evaluation.score_check import STUDY_TEST_SET, check_expectations
from ganaug.evaluation.which_generator import summarise
from ganaug.io import write_json


def clean(obj: Any) -> Any:
    """JSON-safe: NaN and inf become null (JSON has neither), numpy scalars plain numbers."""
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [clean(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, str | bytes):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def change(new: float | None, base: float | None) -> dict[str, float | None]:
    """Absolute change (points of the metric) and relative change in % of the baseline; the
    relative change is null where the baseline is 0 (undefined), never a made-up number."""
    if new is None or base is None:
        return {"absolute": None, "relative_pct": None}
    return {
        "absolute": new - base,
        "relative_pct": None if base == 0 else 100.0 * (new - base) / base,
    }


def _records(df: pd.DataFrame, **match: str) -> list[dict]:
    if df.empty:
        return []
    rows = df
    for k, v in match.items():
        rows = rows[rows[k] == v]
    return [clean(r) for r in rows.drop(columns=list(match)).to_dict("records")]


def per_repeat(data: list[dict], curation: list[dict], gan: list[dict]) -> dict:
    """Each repeat's split sizes, curation funnel and GAN metrics (repeat 0's are also the
    headline ones of final_results)."""
    return {
        str(d.get("repeat", r)): {
            "split_seed": d.get("split_seed"),
            "splits": d["splits"],
            "curation_funnel": c.get("funnel", []),
            "gan_metrics": g.get("sets"),
        }
        for r, (d, c, g) in enumerate(zip(data, curation, gan, strict=True))
    }


def comparisons(tables: dict[str, pd.DataFrame]) -> dict:
    """The rows of results/stats/ (differences, mcnemar, wilcoxon) and how they were made."""
    diffs = tables.get("differences", pd.DataFrame())
    primary = diffs[diffs["family"] == "primary"] if "family" in diffs.columns else diffs.iloc[0:0]
    return {
        "question": "does a condition find more DF than its reference, at what cost in false alarms on NV?",
        "primary_family": {
            "hypotheses": len(primary),
            "declared": primary["holm_family"].iloc[0] if len(primary) else None,
            "verdicts": {str(k): int(v) for k, v in primary["verdict"].value_counts().items()}
            if len(primary)
            else {},
        },
        "differences": _records(diffs),
        "mcnemar": _records(tables.get("mcnemar", pd.DataFrame())),
        "wilcoxon": _records(tables.get("wilcoxon", pd.DataFrame())),
        "how": "delta = condition - reference: the mean over repeats of each repeat's difference (seeds "
        "averaged within a repeat). With two or more repeats, its interval and p come from the corrected "
        "resampled t across repeats (Nadeau & Bengio 2003), which includes the variance between training "
        "runs; with one split from a paired bootstrap of test lesions within each class, conditional on the "
        "fits. Holm runs over the declared primary family (evaluation.primary) only, and only its rows get a "
        "verdict (better, worse, no evidence; none with one split); every other row is exploratory, with an "
        "unadjusted interval",
    }


def build(
    data_summary: dict | list[dict],
    curation_summary: dict | list[dict],
    gan_metrics: dict | list[dict],
    aggregates: dict[tuple[str, str], dict],
    tables: dict[str, pd.DataFrame],
    provenance: dict,
    expected_f1: dict,
) -> dict:
    """The summary. ``tables`` are results/stats/ (differences, mcnemar, wilcoxon, intervals);
    every comparison in it is copied from them, so a number reaches the report by one route.
    The summaries come one per repeat (a single dict: one repeat); repeat 0's are shown first."""
    data, cur, gan = (
        [x] if isinstance(x, dict) else list(x) for x in (data_summary, curation_summary, gan_metrics)
    )
    repeats = per_repeat(data, cur, gan)
    data_summary, curation_summary, gan_metrics = data[0], cur[0], gan[0]
    archs = list(dict.fromkeys(a for a, _ in aggregates))
    conditions = list(dict.fromkeys(c for _, c in aggregates))
    diffs = tables.get("differences", pd.DataFrame())
    results = classifier_results(aggregates, tables.get("intervals", pd.DataFrame()))
    external = external_results(aggregates, tables.get("intervals", pd.DataFrame()))
    review = curation_summary.get("review_mode")
    return clean(
        {
            "note": "Every value below was measured by this run; none is copied from the study. "
            "The study's expectations, where configured, are under study_expectations.",
            # JSON objects are written with sorted keys; these lists keep the config's order
            "order": {"archs": archs, "conditions": conditions},
            "provenance": {
                **provenance,
                "review_mode": review,
                "simulated_review": bool(curation_summary.get("simulated_review")),
                "gan_feature_extractor": gan_metrics.get("feature_extractor"),
                "gan_dinov2": gan_metrics.get("dinov2"),
            },
            "dataset_statistics": data_summary,
            "curation": {"funnel": curation_summary.get("funnel", [])},
            "gan_metrics": gan_metrics,
            "repeats": {"n": len(repeats), "shown_above": "repeat 0", "each": repeats},
            "classifier_results": results,
            # the same, on each out-of-distribution test set (never read before the threshold)
            "external_results": external,
            "comparisons": comparisons(tables),
            "improvement_percentages": improvements(diffs),
            "study_expectations": {
                "expected_f1": expected_f1,
                "label": "the original study's expected F1 (config evaluation.study_expected_f1), "
                "not measured",
                # can any confusion matrix of the study's test set give them? (mlscorecheck)
                "score_check": check_expectations(expected_f1, **STUDY_TEST_SET),
                "score_check_test_set": STUDY_TEST_SET,
            },
        }
    )


def _of_set(table: pd.DataFrame, name: str) -> pd.DataFrame:
    """The rows of one test set (a table without test_set column is in distribution)."""
    if table.empty or "test_set" not in table.columns:
        return table if name == IN_DISTRIBUTION else pd.DataFrame()
    return table[table["test_set"] == name].drop(columns="test_set")


def classifier_results(
    aggregates: dict[tuple[str, str], dict], intervals: pd.DataFrame, test_set: str = IN_DISTRIBUTION
) -> dict:
    """Per architecture and condition: the tuned decision's metrics over replicates on one test
    set, with each metric's own lesion-bootstrap interval (descriptive)."""
    ivals = _of_set(intervals, test_set)
    results: dict[str, dict] = {}
    for (a, c), agg in aggregates.items():
        block = (
            agg[DECISION]
            if test_set == IN_DISTRIBUTION
            else agg.get("external", {}).get(test_set, {}).get(DECISION)
        )
        if block is None:
            continue
        results.setdefault(a, {})[c] = {
            "composition_mean": composition_mean(agg.get("composition", {})),
            "loss": agg.get("loss", {}).get("name", "weighted_ce"),  # the training loss (long-tail baselines)
            "decision": "threshold tuned on the validation split",
            "n_replicates": agg["n_replicates"],
            "replicates": agg["replicates"],
            "repeats": agg["repeats"],
            "seeds": agg["seeds"],
            **{m: block[m] for m in block},
            "lesion_bootstrap_ci95": _records(ivals, arch=a, condition=c, decision=DECISION),
        }
    return results


def composition_mean(per_replicate: dict[str, dict]) -> dict:
    """The training composition over replicates: numbers averaged, the rest as the first has it."""
    comps = list(per_replicate.values())
    if not comps:
        return {}
    out = {}
    for k, v in comps[0].items():
        numeric = isinstance(v, int | float) and not isinstance(v, bool)
        out[k] = float(np.mean([c[k] for c in comps])) if numeric else v
    return out


def external_results(aggregates: dict[tuple[str, str], dict], intervals: pd.DataFrame) -> dict:
    """classifier_results for every external test set, by name."""
    names = sorted(set().union(*(agg.get("external", {}) for agg in aggregates.values())))
    return {n: classifier_results(aggregates, intervals, n) for n in names}


def improvements(diffs: pd.DataFrame) -> dict:
    """The study's 'improvement percentages', taken from differences.csv (tuned decision): the
    absolute change is its delta, the relative one delta / reference value."""
    by_arch: dict[str, dict] = {}
    diffs = _of_set(diffs, IN_DISTRIBUTION)
    if not diffs.empty:
        for r in diffs[diffs["decision"] == DECISION].itertuples():
            entry = change(r.value, r.reference_value)
            by_arch.setdefault(r.arch, {}).setdefault(r.reference, {}).setdefault(r.condition, {})[
                r.metric
            ] = entry
    return {
        "metric_of": "mean over replicates, validation-tuned threshold, test split (differences.csv)",
        "absolute": "condition - reference, in units of the metric",
        "relative_pct": "100 * (condition - reference) / reference; null where the reference is 0",
        "by_arch": by_arch,
    }


def generators_section(inputs: dict[str, Any], generators: dict, diffs: pd.DataFrame, read) -> dict:
    """The "Which generator?" section (ganaug.evaluation.which_generator) from each generator's
    files the rule declares (generator_metrics_<name>, generator_turing_<name>,
    generator_train_<name>, generator_snapshot_<name>: one per repeat; generator_budget: one)."""

    def listed(key: str) -> list[str]:
        v = inputs[key]
        return [v] if isinstance(v, str) else list(v)

    each = {
        g["name"]: {
            "metrics": [read(p) for p in listed(f"generator_metrics_{g['name']}")],
            "turing": [read(p) for p in listed(f"generator_turing_{g['name']}")],
            "train_benchmark": listed(f"generator_train_{g['name']}"),
            "snapshot": [read(p) for p in listed(f"generator_snapshot_{g['name']}")],
            "budget": read(inputs["generator_budget"])["families"][g["name"]],
        }
        for g in generators["generators"]
    }
    return summarise(generators["generators"], each, generators["generator_of"], diffs)


def final_results_rule(
    inputs: dict[str, Any],
    out: str,
    provenance: dict,
    study_expected_f1: dict,
    generators: dict | None = None,
) -> dict:
    """The rule final_results: read the summaries and tables it declares, write the JSON."""
    import json
    from pathlib import Path

    def read(path: str) -> dict:
        return json.loads(Path(path).read_text())

    aggregates = {}
    for path in inputs["aggregates"]:
        agg = read(path)
        aggregates[agg["arch"], agg["condition"]] = agg
    tables = {k: pd.read_csv(v) for k, v in inputs.items() if k in TABLES}

    def each(key: str) -> list[dict]:
        paths = inputs[key]
        return [read(p) for p in ([paths] if isinstance(paths, str) else paths)]

    extras = {
        "review_turing": each("review_turing") if "review_turing" in inputs else [],
        "external_sets": {s["name"]: s for s in each("external_summaries")}
        if "external_summaries" in inputs
        else {},
    }
    result = build(
        each("data_summary"),
        each("curation_summary"),
        each("gan_metrics"),
        aggregates,
        tables,
        provenance,
        study_expected_f1,
    )
    if "attribution" in inputs:
        from ganaug.data.licences import licence_summary

        extras["licences"] = licence_summary(inputs["attribution"])
    if generators is not None:
        extras["generators"] = generators_section(
            inputs, generators, tables.get("differences", pd.DataFrame()), read
        )
    result |= clean(extras)
    write_json(result, out)
    return result
