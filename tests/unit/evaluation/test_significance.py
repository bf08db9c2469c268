"""The comparison tables from fits: differences recomputed from the predictions, McNemar rows by class."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ganaug.evaluation.significance import Fit, Groups, differences, mcnemar_table, significance_tables
from ganaug.evaluation.stats import (
    holm,
)
from tests.helpers import sk_metrics


def fits_and_metadata(rng, seeds=(1, 2)):
    rows, lesion = [], 0
    for cls, n in ((1, 14), (0, 50)):
        for _ in range(n):
            for _ in range(int(rng.integers(1, 3))):
                rows.append({"image_id": f"I{len(rows):04d}", "target": cls, "split": "test",
                             "lesion_id": f"L{lesion}", "patient_id": ""})  # fmt: skip
            lesion += 1
    meta = pd.DataFrame(rows)
    fits = []
    for cond, shift in (("baseline", 0.0), ("gan_curated", 0.15)):
        for s in seeds:
            prob = np.clip(
                0.45 * meta["target"] + rng.normal(0.25 + shift * meta["target"], 0.2, len(meta)), 0, 1
            )
            pred = pd.DataFrame({"image_id": meta["image_id"], "target": meta["target"], "prob": prob,
                                 "pred_argmax": (prob > 0.5).astype(int), "pred_tuned": (prob > 0.4).astype(int)})  # fmt: skip
            fits.append(Fit("resnet50", cond, s, 0, pred))
    return fits, meta


def test_differences_equal_the_predictions_recomputed():
    rng = np.random.default_rng(11)
    fits, meta = fits_and_metadata(rng)
    tables = significance_tables(fits, {0: meta}, ["baseline"], {1: "dermatofibroma", 0: "nevus"}, 300, 42)
    d = tables["differences"]
    assert list(d.columns[:14]) == ["test_set", "arch", "condition", "reference", "metric", "decision", "value",
                                   "reference_value", "delta", "ci_low", "ci_high", "p", "p_holm", "direction"]  # fmt: skip
    assert set(d["test_set"]) == {"in_distribution"}  # no external set configured
    assert len(d) == 10 and set(d["direction"]) <= {"better", "worse", "no evidence"}
    assert (d["ci_low"] <= d["delta"]).all() and (d["delta"] <= d["ci_high"]).all()
    assert d["p_holm"].tolist() == pytest.approx(holm(d["p"].tolist()))
    assert d["holm_family"].iloc[0].startswith("all 10 rows of differences.csv")
    by = {(f.condition, f.seed): f.predictions for f in fits}
    for r in d.itertuples():
        col = "pred_tuned" if r.decision == "tuned" else "pred_argmax"
        vals = {c: np.mean([sk_metrics(p["target"], p["prob"], p[col])[r.metric]
                            for (cc, _), p in by.items() if cc == c]) for c in ("gan_curated", "baseline")}  # fmt: skip
        assert r.value == pytest.approx(vals["gan_curated"], abs=1e-12)
        assert r.reference_value == pytest.approx(vals["baseline"], abs=1e-12)
        assert r.delta == pytest.approx(vals["gan_curated"] - vals["baseline"], abs=1e-12)
    groups = Groups.of(meta)
    assert d["n_test_lesions_minority"].iloc[0] == 14 == groups.n_lesions(1)
    m = tables["mcnemar"]
    assert list(m["class"]) == ["dermatofibroma", "nevus"] * 2
    assert {"b", "c", "winner", "method", "p", "p_holm"} <= set(m.columns)
    w = tables["wilcoxon"]
    assert (w["n_replicates"] == 2).all() and w["p"].isna().all()
    assert len(tables["intervals"]) == 2 * 2 * 5


def test_a_reference_missing_for_an_arch_gives_no_rows():
    rng = np.random.default_rng(1)
    fits, meta = fits_and_metadata(rng, seeds=(1,))
    only = [f for f in fits if f.condition == "gan_curated"]
    assert differences(only, {0: Groups.of(meta)}, ["baseline"], 50, 0).empty
    assert mcnemar_table(only, ["baseline"], {1: "df", 0: "nv"}).empty


def test_repeats_each_keep_their_own_test_set_and_pool_into_one_answer():
    """Two repeated splits with different test images: each fit is matched with the reference
    fit of its own repeat and seed, each repeat's lesions are resampled within that repeat, and
    the across-replicate mean difference is the mean of replicates.csv's deltas."""
    rng = np.random.default_rng(5)
    fits0, meta0 = fits_and_metadata(rng, seeds=(1, 2))
    fits1, meta1 = fits_and_metadata(rng, seeds=(1, 2))
    meta1 = meta1.assign(image_id="R1" + meta1["image_id"], lesion_id="R1" + meta1["lesion_id"])
    fits1 = [Fit(f.arch, f.condition, f.seed, 1, f.predictions.assign(image_id="R1" + f.predictions["image_id"]))
             for f in fits1]  # fmt: skip
    fits = fits0 + fits1
    tables = significance_tables(fits, {0: meta0, 1: meta1}, ["baseline"], {1: "df", 0: "nv"}, 200, 42)
    d = tables["differences"]
    assert (d["n_replicates"] == 4).all()
    assert d["n_test_lesions_minority"].iloc[0] == Groups.of(meta0).n_lesions(1) + Groups.of(meta1).n_lesions(
        1
    )
    reps = tables["replicates"]
    assert sorted(set(zip(reps["repeat"], reps["seed"], strict=True))) == [(0, 1), (0, 2), (1, 1), (1, 2)]
    w = tables["wilcoxon"].set_index(["metric", "decision"])
    for (metric, decision), group in reps.groupby(["metric", "decision"]):
        row = w.loc[(metric, decision)]
        assert row["mean_difference"] == pytest.approx(group["delta"].mean())
        assert row["ci_low"] <= row["mean_difference"] <= row["ci_high"]
        assert row["direction"] == "not tested" and "at least 6" in row["note"]
        # the pooled difference of differences.csv is the same mean over the four replicates
        pooled = d[(d["metric"] == metric) & (d["decision"] == decision)]["delta"].iloc[0]
        assert pooled == pytest.approx(group["delta"].mean(), abs=1e-12)
    with pytest.raises(ValueError, match=r"repeat\(s\) \[1\] but no metadata.csv"):
        significance_tables(fits, {0: meta0}, ["baseline"], {1: "df", 0: "nv"}, 50, 42)
