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

from ganaug.evaluation.ablation import ABLATION_METRICS, DECISION

BASELINE = "baseline"


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


def _records(df: pd.DataFrame, arch: str, condition: str, drop: tuple[str, ...]) -> list[dict]:
    if df.empty:
        return []
    rows = df[(df["arch"] == arch) & (df["condition"] == condition)]
    return [clean(r) for r in rows.drop(columns=list(drop), errors="ignore").to_dict("records")]


def build(
    data_summary: dict,
    curation_summary: dict,
    gan_metrics: dict,
    aggregates: dict[tuple[str, str], dict],
    mcnemar: pd.DataFrame,
    wilcoxon: pd.DataFrame,
    bootstrap: pd.DataFrame,
    provenance: dict,
    expected_f1: dict,
) -> dict:
    archs = list(dict.fromkeys(a for a, _ in aggregates))
    conditions = list(dict.fromkeys(c for _, c in aggregates))
    results: dict[str, dict] = {}
    significance: dict[str, dict] = {}
    improvement: dict[str, dict] = {}
    for a in archs:
        results[a], significance[a], improvement[a] = {}, {}, {}
        for c in conditions:
            agg = aggregates[a, c]
            results[a][c] = {
                "decision": "threshold tuned on the validation split",
                "n_seeds": agg["n_seeds"],
                "seeds": agg["seeds"],
                **{m: agg[DECISION][m] for m in agg[DECISION]},
            }
            significance[a][c] = {
                "bootstrap_ci95": _records(bootstrap, a, c, ("arch", "condition")),
            }
            if c == BASELINE:
                continue
            significance[a][c] |= {
                "versus": BASELINE,
                "mcnemar": _records(mcnemar, a, c, ("arch", "condition", "versus")),
                "wilcoxon": _records(wilcoxon, a, c, ("arch", "condition", "versus")),
            }
            if (a, BASELINE) in aggregates:
                base = aggregates[a, BASELINE][DECISION]
                improvement[a][c] = {
                    m: change(agg[DECISION][m]["mean"], base[m]["mean"]) for m in ABLATION_METRICS
                }
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
            "statistical_significance": significance,
            "improvement_percentages": {
                "versus": BASELINE,
                "metric_of": "mean over seeds, validation-tuned threshold, test split",
                "absolute": "new - baseline, in units of the metric",
                "relative_pct": "100 * (new - baseline) / baseline; null where the baseline is 0",
                "by_arch": improvement,
            },
            "study_expectations": {
                "expected_f1": expected_f1,
                "label": "the original study's expected F1 (config evaluation.study_expected_f1), "
                "not measured",
            },
        }
    )
