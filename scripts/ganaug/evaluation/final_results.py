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

import pandas as pd

from ganaug.evaluation.ablation import DECISION


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


def build(
    data_summary: dict,
    curation_summary: dict,
    gan_metrics: dict,
    aggregates: dict[tuple[str, str], dict],
    tables: dict[str, pd.DataFrame],
    provenance: dict,
    expected_f1: dict,
) -> dict:
    """The summary. ``tables`` are results/stats/ (differences, mcnemar, wilcoxon, intervals);
    every comparison in it is copied from them, so a number reaches the report by one route."""
    archs = list(dict.fromkeys(a for a, _ in aggregates))
    conditions = list(dict.fromkeys(c for _, c in aggregates))
    diffs = tables.get("differences", pd.DataFrame())
    results = classifier_results(aggregates, tables.get("intervals", pd.DataFrame()))
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
            },
            "dataset_statistics": data_summary,
            "curation": {"funnel": curation_summary.get("funnel", [])},
            "gan_metrics": gan_metrics,
            "classifier_results": results,
            "comparisons": {
                "question": "does a condition find more DF than its reference, at what cost in "
                "false alarms on NV?",
                "differences": _records(diffs),
                "mcnemar": _records(tables.get("mcnemar", pd.DataFrame())),
                "wilcoxon": _records(tables.get("wilcoxon", pd.DataFrame())),
                "how": "delta = condition - reference, pooled over replicates; 95 % interval and p "
                "from a paired bootstrap that resamples lesion groups within each class; Holm over "
                "the declared family (every row of differences.csv); direction: better or worse where "
                "the Holm-adjusted p < 0.05, else no evidence",
            },
            "improvement_percentages": improvements(diffs),
            "study_expectations": {
                "expected_f1": expected_f1,
                "label": "the original study's expected F1 (config evaluation.study_expected_f1), "
                "not measured",
            },
        }
    )


def classifier_results(aggregates: dict[tuple[str, str], dict], intervals: pd.DataFrame) -> dict:
    """Per architecture and condition: the tuned decision's metrics over replicates, with each
    metric's own lesion-bootstrap interval (descriptive)."""
    results: dict[str, dict] = {}
    for (a, c), agg in aggregates.items():
        results.setdefault(a, {})[c] = {
            "decision": "threshold tuned on the validation split",
            "n_replicates": agg["n_seeds"],
            "seeds": agg["seeds"],
            **{m: agg[DECISION][m] for m in agg[DECISION]},
            "lesion_bootstrap_ci95": _records(intervals, arch=a, condition=c, decision=DECISION),
        }
    return results


def improvements(diffs: pd.DataFrame) -> dict:
    """The study's 'improvement percentages', taken from differences.csv (tuned decision): the
    absolute change is its delta, the relative one delta / reference value."""
    by_arch: dict[str, dict] = {}
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


def final_results_rule(inputs: dict[str, Any], out: str, provenance: dict, study_expected_f1: dict) -> dict:
    """The rule final_results: read the summaries and tables it declares, write the JSON."""
    import json
    from pathlib import Path

    from ganaug.evaluation.significance import TABLES
    from ganaug.io import write_json

    def read(path: str) -> dict:
        return json.loads(Path(path).read_text())

    aggregates = {}
    for path in inputs["aggregates"]:
        agg = read(path)
        aggregates[agg["arch"], agg["condition"]] = agg
    tables = {k: pd.read_csv(v) for k, v in inputs.items() if k in TABLES}
    result = build(
        read(inputs["data_summary"]),
        read(inputs["curation_summary"]),
        read(inputs["gan_metrics"]),
        aggregates,
        tables,
        provenance,
        study_expected_f1,
    )
    write_json(result, out)
    return result
