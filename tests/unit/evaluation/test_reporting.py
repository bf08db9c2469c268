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
from ganaug.reporting import (
    data_tables,
    expectations,
    figures,
    generator_words,
    synthetic_tables,
    tables,
    words,
)


def _agg(arch, cond, f1s, p=None, r=None):
    seeds = list(range(42, 42 + len(f1s)))
    p = p or f1s
    r = r or f1s

    def block(v):
        return {
            "mean": float(np.mean(v)),
            "sd": float(np.std(v, ddof=1)) if len(v) > 1 else None,
            "per_replicate": v,
        }

    tuned = {
        "f1": block(f1s),
        "precision": block(p),
        "recall": block(r),
        "balanced_accuracy": block(f1s),
        "pr_auc": block(f1s),
    }
    replicates = [f"repeat_0/seed_{s}" for s in seeds]
    return {
        "arch": arch,
        "condition": cond,
        "n_replicates": len(f1s),
        "replicates": replicates,
        "repeats": [0],
        "seeds": seeds,
        "tuned": tuned,
    }


def _differences(aggs, reference="baseline"):
    """differences.csv rows as significance writes them, from the aggregates' means."""
    rows = []
    for (a, c), agg in aggs.items():
        if c == reference or (a, reference) not in aggs:
            continue
        for metric, key in (("f1", "f1"), ("sensitivity", "recall")):
            v, r = agg["tuned"][key]["mean"], aggs[a, reference]["tuned"][key]["mean"]
            primary = c == "gan_curated" and metric == "sensitivity"
            rows.append(
                {
                    "test_set": "in_distribution",
                    "arch": a,
                    "condition": c,
                    "reference": reference,
                    "metric": metric,
                    "decision": "tuned",
                    "family": "primary" if primary else "exploratory",
                    "value": v,
                    "reference_value": r,
                    "delta": v - r,
                    "ci_low": v - r - 0.1,
                    "ci_high": v - r + 0.1,
                    "ci_adj_low": v - r - 0.15 if primary else None,
                    "ci_adj_high": v - r + 0.15 if primary else None,
                    "p": 0.2,
                    "p_holm": 0.4 if primary else None,
                    "verdict": "no evidence" if primary else "",
                    "degenerate": False,
                    "n_repeats": 2,
                    "n_seeds": 1,
                    "mde_80": 0.3 if primary else None,
                    "n_test_lesions_minority": 6,
                    "n_test_lesions_majority": 30,
                    "holm_family": "Holm over the 2 primary hypotheses" if primary else "",
                }
            )
    return pd.DataFrame(rows)


def _final(aggs, expected=None):
    mc = pd.DataFrame(
        [
            {
                "arch": "resnet50",
                "condition": "gan_curated",
                "reference": "baseline",
                "repeat": 0,
                "seed": 42,
                "class": "dermatofibroma",
                "n": 7,
                "b": 3,
                "c": 0,
                "winner": "condition",
                "method": "exact binomial",
                "statistic": 0.0,
                "p": 0.25,
                "p_holm": 0.5,
            }
        ]
    )
    return build(
        {"splits": {"train": {"total": 10}}},
        {
            "funnel": [{"stage": "raw", "kept": 10}, {"stage": "blur", "kept": 6}],
            "review_mode": "simulate",
            "simulated_review": True,
        },
        {"feature_extractor": {"name": "x", "comparable": False}, "sets": {}},
        aggs,
        {"differences": _differences(aggs), "mcnemar": mc},
        {"phantom_demo_data": True, "classifier_weights": "random", "seeds": [42]},
        expected or {},
    )


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
    assert {
        "dataset_statistics",
        "gan_metrics",
        "classifier_results",
        "comparisons",
        "improvement_percentages",
        "provenance",
        "study_expectations",
    } <= set(f)
    # the improvements are the differences' deltas, by one route
    imp = f["improvement_percentages"]["by_arch"]
    assert imp["resnet50"]["baseline"]["gan_curated"]["f1"]["relative_pct"] == pytest.approx(20.0)
    assert imp["resnet50"]["baseline"]["gan_curated"]["f1"]["absolute"] == pytest.approx(0.1)
    assert imp["densenet121"]["baseline"]["gan_curated"]["f1"]["relative_pct"] is None
    assert "baseline" not in imp["resnet50"]["baseline"]
    diffs = f["comparisons"]["differences"]
    assert len(diffs) == 4 and {d["verdict"] for d in diffs} == {"no evidence", ""}
    assert f["comparisons"]["primary_family"]["hypotheses"] == 2
    assert f["comparisons"]["primary_family"]["verdicts"] == {"no evidence": 2}
    assert f["comparisons"]["mcnemar"][0]["winner"] == "condition"
    assert "corrected resampled t" in f["comparisons"]["how"] and "exploratory" in f["comparisons"]["how"]
    assert f["provenance"]["review_mode"] == "simulate" and f["provenance"]["simulated_review"] is True
    assert f["study_expectations"]["expected_f1"] == {"resnet50": {"gan_curated": 0.9}}
    assert "not measured" in f["study_expectations"]["label"]

    exp = tables.expectation_table(f)
    assert exp.loc[0, "measured F1"] == pytest.approx(0.6)
    assert exp.loc[0, "measured - expected"] == pytest.approx(-0.3)
    assert list(tables.improvement_table(f).index.get_level_values(0)) == ["resnet50", "densenet121"]
    funnel = synthetic_tables.funnel_table(f)
    assert funnel.loc["blur", "kept of previous (%)"] == 60.0
    assert "PHANTOM demo data" in words.header(
        f
        | {
            "provenance": {
                **f["provenance"],
                "data_format": "isic2019",
                "minority": "df",
                "majority": "nv",
                "image_size": 64,
            }
        }
    )
    text = " ".join(words.caveats(f))
    assert "PHANTOM" in text and "SIMULATED" in text and "random init" in text and "One replicate" in text


def test_f1_consistency_flags_a_table_like_the_studys():
    # precision 0.8 and recall 0.6 give F1 0.6857, not 0.75: the check must say so
    good = _agg("resnet50", "baseline", [2 * 0.8 * 0.6 / 1.4], p=[0.8], r=[0.6])
    bad = _agg("resnet50", "gan_curated", [0.75], p=[0.8], r=[0.6])
    f = _final({("resnet50", "baseline"): good, ("resnet50", "gan_curated"): bad})
    t = tables.f1_consistency(f)
    assert t["agrees"].tolist() == [True, False]


def test_differences_are_read_out_with_their_family_and_verdict():
    aggs = {
        ("resnet50", "baseline"): _agg("resnet50", "baseline", [0.5]),
        ("resnet50", "gan_curated"): _agg("resnet50", "gan_curated", [0.64]),
    }
    d = _differences(aggs)
    assert words.in_words(d, "resnet50", "gan_curated", "f1") == (
        "resnet50, gan_curated vs baseline: Δ F1 +0.14 [+0.04, +0.24], exploratory (unadjusted)"
    )
    assert words.in_words(d, "resnet50", "gan_curated", "sensitivity").endswith(", no evidence")
    shown = tables.differences_display(d)
    assert shown["verdict (primary only)"].tolist() == ["", "no evidence"]
    assert shown.iloc[0]["Δ [95 %, unadjusted]"] == "+0.140 [+0.040, +0.240]"
    prim = tables.primary_table(d)
    assert len(prim) == 1 and prim.iloc[0]["Δ [adjusted interval]"] == "+0.140 [-0.010, +0.290]"
    answer = words.primary_answer(d)
    assert answer.startswith("## The answer") and "**no evidence**" in answer and "0.300" in answer
    fig = figures.plot_forest(d, panels=(("sensitivity", "tuned"), ("f1", "tuned")))
    assert len(fig.axes) == 2  # one panel per metric
    assert figures.html(fig, "a forest plot", "caption").startswith(
        '<figure><img src="data:image/png;base64,'
    )


def test_one_split_is_said_in_words_and_impossible_looking_figures_are_explained():
    aggs = {
        ("resnet50", "baseline"): _agg("resnet50", "baseline", [0.5]),
        ("resnet50", "gan_curated"): _agg("resnet50", "gan_curated", [0.64]),
    }
    d = _differences(aggs).assign(
        n_repeats=1, verdict=lambda t: np.where(t["family"] == "primary", "no verdict: one split", "")
    )
    answer = words.primary_answer(d)
    assert (
        "nothing can be said about the training procedure" in answer and "conditional on these fits" in answer
    )
    gan = {
        "names": {"kd": "kid", "score": "inception_score"},
        "feature_extractor": {"comparable": False},
        "sets": {
            "curated": {
                "inception_score": {"mean": 1.0},
                "against": {"val": {"kid": {"mean": -0.002}, "precision": {"mean": 1.0}, "n_per_side": 7}},
            }
        },
    }
    notes = " ".join(generator_words.explain_gan(gan))
    assert (
        "negative" in notes and "unbiased" in notes and "precision 1.0" in notes and "minimum (1.0)" in notes
    )
    turing = {"simulated": True, "reviewers": [{"reviewer": "r1", "realism_auc": 0.3}]}
    assert "more real than the real ones" in generator_words.explain_turing(turing)[0]


def test_load_names_the_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"final_results\.json"):
        reporting.load({"final": str(tmp_path / "final_results.json")})


def test_benchmark_table_reads_snakemake_benchmark_files(tmp_path):
    """The rule and job come from the file's place under benchmarks/, including an architecture
    name with a slash, and the figures are the file's own (its last repeat)."""
    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    files = {
        "benchmarks/ingest.tsv": "1.5\t0:00:01\t120.0\t1\t1\t1\t0\t0\t50\t1.2\n",
        "benchmarks/fit_classifier/timm/tf_efficientnet_lite0_baseline_seed42.tsv": "30.25\t0:00:30\t900.5\t1\t1\t1\t0\t0\t180\t55.0\n",
        "benchmarks/notebook/report.tsv": "2.0\t0:00:02\tNA\tNA\tNA\tNA\tNA\tNA\tNA\t0.5\n",
    }
    paths = []
    for name, row in files.items():
        p = tmp_path / "results" / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(header + row)
        paths.append(str(p))
    t = data_tables.benchmark_table(paths)
    assert list(t["rule"]) == ["fit_classifier", "notebook", "ingest"]
    assert list(t["job"]) == ["timm/tf_efficientnet_lite0_baseline_seed42", "report", ""]
    assert t["seconds"].tolist() == [30.25, 2.0, 1.5]
    assert t.loc[0, "max RSS (MB)"] == 900.5 and math.isnan(t.loc[1, "max RSS (MB)"])
    assert t["CPU seconds"].tolist() == [55.0, 0.5, 1.2]


def _diff_rows(rows):
    base = {
        "decision": "tuned",
        "ci_low": -0.1,
        "ci_high": 0.1,
        "p": 0.5,
        "p_holm": None,
        "verdict": "",
        "family": "exploratory",
        "n_repeats": 2,
        "n_seeds": 1,
        "n_test_lesions_minority": 6,
        "n_test_lesions_majority": 30,
        "value": 0.5,
        "reference_value": 0.4,
        "degenerate": False,
    }
    return pd.DataFrame([{**base, **r} for r in rows])


def test_the_questions_are_answered_from_the_differences():
    d = _diff_rows(
        [
            {
                "test_set": "in_distribution",
                "arch": "a",
                "condition": "gan_curated",
                "reference": "baseline",
                "metric": "sensitivity",
                "delta": 0.10,
            },
            {
                "test_set": "in_distribution",
                "arch": "a",
                "condition": "real_extra",
                "reference": "baseline",
                "metric": "sensitivity",
                "delta": 0.25,
            },
            {
                "test_set": "shifted",
                "arch": "a",
                "condition": "gan_curated",
                "reference": "baseline",
                "metric": "sensitivity",
                "delta": -0.05,
            },
            {
                "test_set": "in_distribution",
                "arch": "a",
                "condition": "gan_curated_25",
                "reference": "baseline",
                "metric": "f1",
                "delta": 0.02,
            },
            {
                "test_set": "in_distribution",
                "arch": "a",
                "condition": "gan_curated",
                "reference": "baseline",
                "metric": "f1",
                "delta": 0.04,
            },
        ]
    )
    t = tables.answer_table(d, [("gan_curated", "baseline")], "shifted")
    row = t.loc[("a", "gan_curated vs baseline", "sensitivity (DF recall) (tuned)")]
    assert row["Δ [95 %, unadjusted]"] == "-0.050 [-0.100, +0.100]" and row["verdict"] == "— (exploratory)"
    assert t["DF / NV test lesions"].iloc[0] == "6 / 30" and t["repeats x seeds"].iloc[0] == "2 x 1"
    assert tables.answer_table(d, [("gan_best", "gan_curated")]).empty
    gap = tables.gap_closed(d)
    assert gap.loc[0, "share of the real images' gain"] == pytest.approx(0.4)
    assert reporting.set_names(d) == ["in_distribution", "shifted"]
    final = {
        "classifier_results": {
            "a": {
                "baseline": {"composition_mean": {"synthetic_source": "none", "real_minority": 8.0}},
                "gan_curated_25": {
                    "composition_mean": {
                        "synthetic_source": "curated",
                        "real_minority": 8.0,
                        "synthetic_minority": 25.0,
                        "traditional_augmentation": False,
                    }
                },
                "gan_curated": {
                    "composition_mean": {
                        "synthetic_source": "curated",
                        "real_minority": 8.0,
                        "synthetic_minority": 100.0,
                        "traditional_augmentation": False,
                    }
                },
                "synthetic_only": {
                    "composition_mean": {
                        "synthetic_source": "curated",
                        "real_minority": 0.0,
                        "synthetic_minority": 100.0,
                    }
                },
            }
        }
    }
    pts = tables.ratio_points(final, d, metric="f1", decision="tuned")
    assert pts["condition"].tolist() == ["baseline", "gan_curated_25", "gan_curated"]
    assert pts["synthetic"].tolist() == [0, 25.0, 100.0] and pts["delta"].tolist() == [0.0, 0.02, 0.04]


def test_the_data_note_counts_what_the_inclusion_rule_left_out_apart_from_the_lost():
    from ganaug.reporting import words

    final = {"dataset_statistics": {"excluded_images": {"image_type 'clinical: close-up'": 2,
                                                          "blank image_type": 1}, "rejected_images": 4}}  # fmt: skip
    note = words.data_inclusion_note(final)
    assert "left out 3 image(s)" in note and "image_type 'clinical: close-up': 2" in note
    assert "4 image(s) were rejected" in note
    assert "left out" not in words.data_inclusion_note({"dataset_statistics": {"rejected_images": 0}})
    final["external_sets"] = {"derm": {"excluded_images": {"blank image_type": 5}}}
    assert "External set derm: 5 image(s) left out" in words.data_inclusion_note(final)


def test_the_data_note_counts_the_same_lesion_pairs():
    from ganaug.reporting import words

    same = {"pairs": 5, "by_hash": 4, "by_list": 2, "new_joins": 3}
    note = words.data_inclusion_note({"dataset_statistics": {"rejected_images": 0, "same_lesion": same}})
    assert "5 pair(s), 4 by hash and 2 listed, 3 of them joining two lesion groups" in note
    assert "same_lesion.csv" in note
    assert "same lesion" not in words.data_inclusion_note({"dataset_statistics": {"rejected_images": 0}})


def test_the_long_tail_conditions_are_those_with_another_loss_in_the_runs_order():
    final = {
        "order": {"conditions": ["baseline", "focal_loss", "gan_curated", "logit_adjusted"]},
        "classifier_results": {
            "a": {"baseline": {"loss": "weighted_ce"}, "focal_loss": {"loss": "focal"}, "gan_curated": {}},
            "b": {"logit_adjusted": {"loss": "logit_adjusted"}},
        },
    }
    assert expectations.long_tail_conditions(final) == ["focal_loss", "logit_adjusted"]
