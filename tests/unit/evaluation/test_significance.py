"""The comparison tables from fits: differences recomputed from the predictions, the primary
family and its verdicts, degenerate comparisons, McNemar pooled and clustered, Wilcoxon."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from ganaug.evaluation import families
from ganaug.evaluation.differences import Design
from ganaug.evaluation.fits import EvalSet, Fit, Groups
from ganaug.evaluation.significance import significance_tables
from ganaug.evaluation.stats import holm
from tests.helpers import sk_metrics

CLASSES = {1: "dermatofibroma", 0: "nevus"}


def world(rng, repeats=3, seeds=(1, 2), shift=0.15, same_set=False):
    """Fits of baseline and gan_curated on each repeat's own test fold (disjoint ids)."""
    groups, fits = {}, []
    for r in range(repeats):
        rows, lesion = [], 0
        for cls, n in ((1, 14), (0, 50)):
            for _ in range(n):
                for _ in range(int(rng.integers(1, 3))):
                    rows.append(
                        {
                            "image_id": f"R{r}I{len(rows):04d}",
                            "target": cls,
                            "split": "test",
                            "lesion_id": f"R{r}L{lesion}",
                            "patient_id": "",
                        }
                    )
                lesion += 1
        meta = pd.DataFrame(rows)
        groups[r] = Groups.of(meta)
        for cond, sh in (("baseline", 0.0), ("gan_curated", shift)):
            for s in seeds:
                prob = np.clip(
                    0.45 * meta["target"] + rng.normal(0.25 + sh * meta["target"], 0.2, len(meta)), 0, 1
                )
                pred = pd.DataFrame(
                    {
                        "image_id": meta["image_id"],
                        "target": meta["target"],
                        "prob": prob,
                        "pred_argmax": (prob > 0.5).astype(int),
                        "pred_tuned": (prob > 0.4).astype(int),
                    }
                )
                fits.append(Fit("resnet50", cond, s, r, pred, "same" if same_set else f"{cond}{r}{s}"))
    return fits, groups


def tables_of(fits, groups, **design):
    return significance_tables(
        {"in_distribution": EvalSet(fits, groups)}, ["baseline"], CLASSES, Design(n_resamples=200, **design)
    )


def test_every_delta_is_the_mean_over_repeats_of_the_predictions_recomputed():
    fits, groups = world(np.random.default_rng(11))
    d = tables_of(fits, groups)["differences"]
    # PR-AUC once (no threshold), the four threshold metrics per decision
    assert len(d) == 1 + 4 * 2 and (d["metric"] == "pr_auc").sum() == 1
    assert d.loc[d["metric"] == "pr_auc", "decision"].tolist() == ["none"]
    by = {(f.condition, f.repeat, f.seed): f.predictions for f in fits}
    for r in d.itertuples():
        col = "pred_argmax" if r.decision == "argmax" else "pred_tuned"
        per_repeat = [
            np.mean(
                [
                    sk_metrics(
                        by["gan_curated", k, s]["target"],
                        by["gan_curated", k, s]["prob"],
                        by["gan_curated", k, s][col],
                    )[r.metric]
                    - sk_metrics(
                        by["baseline", k, s]["target"],
                        by["baseline", k, s]["prob"],
                        by["baseline", k, s][col],
                    )[r.metric]
                    for s in (1, 2)
                ]
            )
            for k in range(3)
        ]
        assert r.delta == pytest.approx(np.mean(per_repeat), abs=1e-12)
        # the corrected resampled t over the three repeats, by hand
        se = np.std(per_repeat, ddof=1) * np.sqrt(1 / 3 + 0.15 / 0.70)
        assert r.se == pytest.approx(se, rel=1e-9) and r.df == 2
        assert r.p == pytest.approx(2 * sps.t.sf(abs(np.mean(per_repeat)) / se, 2), rel=1e-9)
        assert r.ci_low <= r.delta <= r.ci_high and r.boot_ci_low <= r.boot_ci_high


def test_holm_runs_over_the_primary_family_only_and_only_it_gets_a_verdict():
    fits, groups = world(np.random.default_rng(3))
    d = tables_of(fits, groups)["differences"]
    prim = d[d["family"] == "primary"]
    assert sorted(zip(prim["metric"], prim["decision"], strict=True)) == [
        ("pr_auc", "none"),
        ("sensitivity", "tuned"),
    ]
    assert prim["p_holm"].tolist() == pytest.approx(holm(prim["p"].tolist()))
    assert set(prim["verdict"]) <= {"better", "worse", "no evidence"}
    assert prim["holm_family"].iloc[0].startswith("Holm over the 2 primary hypotheses")
    expl = d[d["family"] == "exploratory"]
    assert expl["p_holm"].isna().all() and (expl["verdict"] == "").all() and expl["mde_80"].isna().all()
    # primary rows carry Bonferroni's 1 - alpha/m interval and the design's detectable effect
    half = sps.t.ppf(1 - 0.05 / 2 / 2, 2) * prim["se"]
    assert np.allclose(prim["ci_adj_high"] - prim["delta"], half) and (prim["mde_80"] > 0).all()


def test_a_declared_family_decides_which_rows_are_primary():
    fits, groups = world(np.random.default_rng(4))
    primary = families.Primary(metrics=("f1", "specificity"), decision="argmax")
    d = tables_of(fits, groups, primary=primary)["differences"]
    prim = d[d["family"] == "primary"]
    assert sorted(prim["metric"]) == ["f1", "specificity"] and set(prim["decision"]) == {"argmax"}


def test_one_split_gives_no_verdict_and_a_conditional_interval():
    fits, groups = world(np.random.default_rng(5), repeats=1, seeds=(1,))
    d = tables_of(fits, groups)["differences"]
    prim = d[d["family"] == "primary"]
    assert (prim["verdict"] == families.NO_VERDICT_ONE_SPLIT).all()
    assert d["interval"].str.contains("conditional on these fits").all()
    assert (d["ci_low"] == d["boot_ci_low"]).all() and d["p"].notna().all()
    assert prim["mde_basis"].str.contains("test lesions only").all()


def test_a_comparison_of_identical_training_sets_is_degenerate_not_zero():
    fits, groups = world(np.random.default_rng(6), shift=0.0, same_set=True)
    d = tables_of(fits, groups)["differences"]
    assert d["degenerate"].all() and d["ci_low"].isna().all() and d["p"].isna().all()
    prim = d[d["family"] == "primary"]
    assert (prim["verdict"] == families.DEGENERATE).all()


def test_confusion_counts_are_summed_over_the_replicates():
    fits, groups = world(np.random.default_rng(7))
    d = tables_of(fits, groups)["differences"]
    row = d[(d["metric"] == "sensitivity") & (d["decision"] == "tuned")].iloc[0]
    tp = sum(
        int(((f.predictions["target"] == 1) & (f.predictions["pred_tuned"] == 1)).sum())
        for f in fits
        if f.condition == "gan_curated"
    )
    assert row["tp"] == tp
    assert (
        row["tp"] + row["fn"]
        == row["ref_tp"] + row["ref_fn"]
        == sum(int((f.predictions["target"] == 1).sum()) for f in fits if f.condition == "baseline")
    )
    assert pd.isna(d.loc[d["metric"] == "pr_auc", "tp"].iloc[0])


def test_mcnemar_pools_every_repeat_and_seed_by_lesion():
    fits, groups = world(np.random.default_rng(8))
    m = tables_of(fits, groups)["mcnemar"]
    assert list(m["class"]) == ["dermatofibroma", "nevus"] and (m["family"] == "exploratory").all()
    assert m["lesions"].iloc[0] == sum(int(g.group_class.sum()) for g in groups.values())
    by = {(f.condition, f.repeat, f.seed): f.predictions for f in fits}
    b = sum(
        int(
            (
                (p := by["gan_curated", r, s])["target"].eq(1)
                & p["pred_tuned"].eq(1)
                & by["baseline", r, s]["pred_tuned"].eq(0)
            ).sum()
        )
        for r in range(3)
        for s in (1, 2)
    )
    assert m["b"].iloc[0] == b and m["n_image_replicates"].iloc[0] == 2 * sum(
        int((by["baseline", r, 1]["target"] == 1).sum()) for r in range(3)
    )


def test_wilcoxon_rows_say_their_test_set_and_what_they_can_reach():
    fits, groups = world(np.random.default_rng(9))
    w = tables_of(fits, groups)["wilcoxon"]
    assert (w["test_set"] == "in_distribution").all() and (w["n_repeats"] == 3).all()
    assert (w["p_min_attainable"] == 0.25).all() and not w["can_reach_alpha"].any()
    assert w["note"].str.contains("cannot reach 0.05").all()


def test_a_shared_external_set_adds_its_lesion_sampling_to_the_variance():
    rng = np.random.default_rng(10)
    fits, groups = world(rng)
    ext = groups[0]  # every repeat's fits "predict" repeat 0's images: a shared set
    ext_fits = [
        Fit(
            f.arch,
            f.condition,
            f.seed,
            f.repeat,
            next(g.predictions for g in fits if (g.condition, g.seed, g.repeat) == (f.condition, f.seed, 0)),
            f.training_set,
        )
        for f in fits
    ]
    # the same predictions in every repeat: no spread between repeats at all, only lesion sampling
    sets = {
        "in_distribution": EvalSet(fits, groups),
        "shifted": EvalSet(ext_fits, dict.fromkeys(groups, ext), True),
    }
    d = significance_tables(sets, ["baseline"], CLASSES, Design(n_resamples=300))["differences"]
    e = d[(d["test_set"] == "shifted") & (d["metric"] == "pr_auc")].iloc[0]
    assert e["sd_between_repeats"] == 0 and e["se"] > 0
    # the bootstrap's standard error is all there is
    assert e["interval"].endswith("lesion sampling added")
    assert (d.loc[d["test_set"] == "shifted", "n_test_lesions_minority"] == int(ext.group_class.sum())).all()


def _write_fit(tmp_path, name: str, fit: Fit, **drop) -> tuple[str, str]:
    """A fit as the fit rule leaves it: predictions.csv and metrics.json."""
    import json

    d = tmp_path / name
    d.mkdir()
    fit.predictions.to_csv(d / "predictions.csv", index=False)
    m = {"arch": fit.arch, "condition": fit.condition, "seed": fit.seed, "repeat": fit.repeat}
    for k in drop:
        m.pop(k)
    (d / "metrics.json").write_text(json.dumps(m))
    return str(d / "predictions.csv"), str(d / "metrics.json")


def test_no_fit_is_lost_silently(tmp_path):
    from ganaug.evaluation.fits import by_key, load_fits

    fits, _ = world(np.random.default_rng(21), repeats=2, seeds=(1,))
    paths = [_write_fit(tmp_path, f"f{i}", f) for i, f in enumerate(fits)]
    loaded = load_fits(*zip(*paths, strict=True))
    assert [(f.arch, f.condition, f.repeat, f.seed) for f in loaded] == [
        (f.arch, f.condition, f.repeat, f.seed) for f in fits
    ]
    # five repeats without 'repeat' would have become five fits of repeat 0, and one kept
    no_repeat = _write_fit(tmp_path, "norep", fits[0], repeat=None)
    with pytest.raises(ValueError, match=r"norep/metrics.json: no 'repeat'"):
        load_fits([no_repeat[0]], [no_repeat[1]])
    # the same identity twice: both files are named
    twin = _write_fit(tmp_path, "twin", fits[0])
    with pytest.raises(ValueError, match=r"f0/metrics.json and .*twin/metrics.json"):
        load_fits([paths[0][0], twin[0]], [paths[0][1], twin[1]])
    with pytest.raises(ValueError, match="repeat 0, seed 1"):
        by_key([fits[0], fits[0]])


def test_the_shared_sets_variance_is_the_lesions_share_not_zero_by_construction():
    """A shared set's per-lesion differences c_l + e_rl (c: the effect's lesion sampling, shared
    by every repeat; e: each repeat's fit noise on the lesion). The lesion bootstrap's variance of
    one repeat's mean is about var(c + e) / n, of the pooled mean var(c + e-bar) / n: the
    estimator recovers var(c) / n on average, where subtracting the whole spread between
    repeats / R (the first estimator) gives 0 whenever runs differ by more than lesions do."""
    from ganaug.evaluation.differences import shared_variance

    rng = np.random.default_rng(8)
    n, r, sc, se_, run = 40, 5, 0.3, 0.5, 0.4
    est, old = [], []
    for _ in range(4000):
        c = rng.normal(0, sc, n)
        e = rng.normal(0, se_, (r, n)) + rng.normal(0, run, (r, 1))  # a run's shift: no lesion varies it
        per_repeat = [np.var(c + e[k], ddof=1) / n for k in range(r)]
        pooled = np.var(c + e.mean(axis=0), ddof=1) / n
        est.append(shared_variance(np.sqrt(pooled), list(np.sqrt(per_repeat)), r))
        spread = np.var((c + e).mean(axis=1), ddof=1)
        old.append(max(0.0, pooled - spread / r))
    assert np.mean(est) == pytest.approx(sc**2 / n, rel=0.1)
    assert np.mean(np.array(old) == 0) > 0.5  # what the first estimator did
    # without per-repeat bootstraps the pooled variance stands alone (an upper bound)
    assert shared_variance(0.1, [], 5) == pytest.approx(0.01)
