"""final_results.json and the report's tables, on small hand-made inputs (the demo run is in
test_workflow)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from ganaug import reporting
from ganaug.evaluation.final_results import build, change, clean


def _agg(arch, cond, f1s, p=None, r=None):
    seeds = list(range(42, 42 + len(f1s)))
    p = p or f1s
    r = r or f1s

    def block(v):
        return {
            "mean": float(np.mean(v)),
            "sd": float(np.std(v, ddof=1)) if len(v) > 1 else None,
            "per_seed": v,
        }

    tuned = {"f1": block(f1s), "precision": block(p), "recall": block(r),
             "balanced_accuracy": block(f1s), "pr_auc": block(f1s)}  # fmt: skip
    return {"arch": arch, "condition": cond, "n_seeds": len(f1s), "seeds": seeds, "tuned": tuned}


def _final(aggs, expected=None):
    mc = pd.DataFrame([{"arch": "resnet50", "seed": 42, "condition": "gan_curated", "versus": "baseline",
                        "decision": "tuned", "discordant": 3, "method": "exact binomial", "statistic": 1.0,
                        "p": 0.625, "p_holm": 0.625}])  # fmt: skip
    return build(
        {"splits": {"train": {"total": 10}}},
        {"funnel": [{"stage": "raw", "kept": 10}, {"stage": "blur", "kept": 6}], "review_mode": "simulate",
         "simulated_review": True},
        {"feature_extractor": {"name": "x", "comparable": False}, "sets": {}},
        aggs,
        mc,
        pd.DataFrame(),
        pd.DataFrame(),
        {"phantom_demo_data": True, "classifier_weights": "none", "seeds": [42]},
        expected or {},
    )  # fmt: skip


def test_changes_against_the_baseline_are_computed_not_invented():
    assert change(0.6, 0.5) == {"absolute": pytest.approx(0.1), "relative_pct": pytest.approx(20.0)}
    assert change(0.3, 0.0) == {"absolute": 0.3, "relative_pct": None}  # undefined, not infinite
    assert change(None, 0.5) == {"absolute": None, "relative_pct": None}


def test_clean_makes_strict_json():
    out = clean({"a": float("nan"), "b": [np.float32(1.5), np.int64(2), math.inf], "c": {"d": "x"}})
    assert out == {"a": None, "b": [1.5, 2, None], "c": {"d": "x"}}
    json.dumps(out, allow_nan=False)


def test_final_results_structure_and_values():
    aggs = {
        ("resnet50", "baseline"): _agg("resnet50", "baseline", [0.5]),
        ("resnet50", "gan_curated"): _agg("resnet50", "gan_curated", [0.6]),
        ("densenet121", "baseline"): _agg("densenet121", "baseline", [0.0]),
        ("densenet121", "gan_curated"): _agg("densenet121", "gan_curated", [0.2]),
    }
    f = _final(aggs, {"resnet50": {"gan_curated": 0.9}})
    json.dumps(f, allow_nan=False)
    assert f["order"] == {"archs": ["resnet50", "densenet121"], "conditions": ["baseline", "gan_curated"]}
    assert {"dataset_statistics", "gan_metrics", "classifier_results", "statistical_significance",
            "improvement_percentages", "provenance", "study_expectations"} <= set(f)  # fmt: skip
    imp = f["improvement_percentages"]["by_arch"]
    assert imp["resnet50"]["gan_curated"]["f1"]["relative_pct"] == pytest.approx(20.0)
    assert imp["densenet121"]["gan_curated"]["f1"]["relative_pct"] is None
    assert "baseline" not in imp["resnet50"]
    assert f["statistical_significance"]["resnet50"]["gan_curated"]["mcnemar"][0]["p_holm"] == 0.625
    assert f["statistical_significance"]["densenet121"]["gan_curated"]["mcnemar"] == []
    assert f["provenance"]["review_mode"] == "simulate" and f["provenance"]["simulated_review"] is True
    assert f["study_expectations"]["expected_f1"] == {"resnet50": {"gan_curated": 0.9}}
    assert "not measured" in f["study_expectations"]["label"]

    exp = reporting.expectation_table(f)
    assert exp.loc[0, "measured F1"] == pytest.approx(0.6)
    assert exp.loc[0, "measured - expected"] == pytest.approx(-0.3)
    assert list(reporting.improvement_table(f).index.get_level_values(0)) == ["resnet50", "densenet121"]
    funnel = reporting.funnel_table(f)
    assert funnel.loc["blur", "kept of previous (%)"] == 60.0
    text = " ".join(reporting.caveats(f))
    assert "PHANTOM" in text and "SIMULATED" in text and "random init" in text and "One seed" in text


def test_f1_consistency_flags_a_table_like_the_studys():
    # precision 0.8 and recall 0.6 give F1 0.6857, not 0.75: the check must say so
    good = _agg("resnet50", "baseline", [2 * 0.8 * 0.6 / 1.4], p=[0.8], r=[0.6])
    bad = _agg("resnet50", "gan_curated", [0.75], p=[0.8], r=[0.6])
    f = _final({("resnet50", "baseline"): good, ("resnet50", "gan_curated"): bad})
    t = reporting.f1_consistency(f)
    assert t["agrees"].tolist() == [True, False]


def test_wilcoxon_tables_keep_the_two_kinds_apart():
    wx = pd.DataFrame([
        {"arch": "a", "condition": "c", "versus": "baseline", "seed": "42", "kind": "paired per-image true-class probability",
         "n": 40, "statistic": 10.0, "p": 0.01, "reason": None},
        {"arch": "a", "condition": "c", "versus": "baseline", "seed": "all", "kind": "per-seed F1 across seeds",
         "n": 1, "statistic": None, "p": None, "reason": "not computed: 1 seed"},
    ])  # fmt: skip
    img, seeds = reporting.wilcoxon_tables(wx)
    assert img["kind"].tolist() == ["paired per-image true-class probability"] and img["p"].tolist() == [
        "0.01"
    ]
    assert seeds["note"].tolist() == ["not computed: 1 seed"] and seeds["p"].tolist() == ["—"]


def test_load_names_the_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"final_results\.json"):
        reporting.load(tmp_path)
