"""Statistics against statsmodels and scipy on known tables and fresh random data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest, chi2, wilcoxon
from sklearn.metrics import f1_score

from ganaug.evaluation.stats import bootstrap_ci, holm, mcnemar_test, wilcoxon_images, wilcoxon_seeds


def preds_from_table(a_ok_b_ok: int, a_ok_b_wrong: int, a_wrong_b_ok: int, both_wrong: int):
    n = a_ok_b_ok + a_ok_b_wrong + a_wrong_b_ok + both_wrong
    y = np.ones(n, int)
    a = np.array([1] * (a_ok_b_ok + a_ok_b_wrong) + [0] * (a_wrong_b_ok + both_wrong))
    b = np.array([1] * a_ok_b_ok + [0] * a_ok_b_wrong + [1] * a_wrong_b_ok + [0] * both_wrong)
    return y, a, b


def test_mcnemar_chi_square_with_correction():
    y, a, b = preds_from_table(50, 30, 12, 8)  # 42 discordant: the chi-square
    res = mcnemar_test(y, a, b)
    stat = (abs(30 - 12) - 1) ** 2 / (30 + 12)  # Edwards' continuity correction, by hand
    assert res["method"] == "chi-square, continuity-corrected" and res["table"] == [[50, 30], [12, 8]]
    assert res["statistic"] == pytest.approx(stat) and res["p"] == pytest.approx(chi2.sf(stat, 1))


def test_mcnemar_exact_below_25_discordant():
    y, a, b = preds_from_table(70, 9, 3, 5)
    res = mcnemar_test(y, a, b)
    assert res["method"] == "exact binomial" and res["discordant"] == 12
    assert res["p"] == pytest.approx(binomtest(3, 12, 0.5).pvalue)


def test_wilcoxon_needs_six_seeds():
    res = wilcoxon_seeds([0.5, 0.6, 0.7, 0.6, 0.5], [0.4, 0.5, 0.6, 0.5, 0.4])
    assert res["p"] is None and "0.0625" in res["reason"]
    a = [0.51, 0.62, 0.7, 0.64, 0.55, 0.6, 0.58]
    b = [0.41, 0.5, 0.66, 0.5, 0.47, 0.61, 0.5]
    res = wilcoxon_seeds(a, b)
    assert res["p"] == pytest.approx(wilcoxon(a, b).pvalue)


def test_wilcoxon_on_true_class_probabilities():
    rng = np.random.default_rng(1)
    y = (rng.random(80) < 0.3).astype(int)
    pa, pb = rng.random(80), rng.random(80)
    res = wilcoxon_images(y, pa, pb)
    ta, tb = np.where(y == 1, pa, 1 - pa), np.where(y == 1, pb, 1 - pb)
    assert res["p"] == pytest.approx(wilcoxon(ta, tb).pvalue) and res["kind"].startswith("paired per-image")


def test_bootstrap_is_deterministic_and_brackets_the_estimate():
    rng = np.random.default_rng(2)
    y = (rng.random(200) < 0.2).astype(int)
    p = np.clip(0.3 * y + rng.random(200) * 0.7, 0, 1)
    d = (p > 0.5).astype(int)
    a, b = bootstrap_ci(y, p, d, n_resamples=300), bootstrap_ci(y, p, d, n_resamples=300)
    assert a == b
    assert a["f1"]["estimate"] == pytest.approx(f1_score(y, d))
    for m in ("f1", "recall", "balanced_accuracy", "pr_auc"):
        lo, hi = a[m]["ci95"]
        assert lo <= a[m]["estimate"] <= hi


def test_holm_matches_statsmodels_and_keeps_gaps():
    from statsmodels.stats.multitest import multipletests

    p = [0.01, None, 0.04, 0.03]
    got = holm(p)
    want = multipletests([0.01, 0.04, 0.03], method="holm")[1]
    assert got[1] is None and got[0] == pytest.approx(want[0]) and got[2] == pytest.approx(want[1])


def test_bootstrap_intervals_equal_a_plain_loop():
    """The vectorised resampling against sklearn metrics on the same resamples."""
    from sklearn.metrics import average_precision_score, balanced_accuracy_score, recall_score

    rng = np.random.default_rng(3)
    y = (rng.random(60) < 0.3).astype(int)
    p = rng.random(60)
    d = (p > 0.4).astype(int)
    got = bootstrap_ci(y, p, d, n_resamples=200, seed=42)
    idx = np.random.default_rng(42).integers(0, 60, size=(200, 60))
    ref = {
        "f1": [f1_score(y[i], d[i], zero_division=0) for i in idx],
        "recall": [recall_score(y[i], d[i], zero_division=0) for i in idx],
        "balanced_accuracy": [balanced_accuracy_score(y[i], d[i]) for i in idx if 0 < y[i].sum() < 60],
        "pr_auc": [average_precision_score(y[i], p[i]) for i in idx if 0 < y[i].sum() < 60],
    }
    for m in ("f1", "recall", "pr_auc", "balanced_accuracy"):
        assert got[m]["ci95"] == pytest.approx(list(np.percentile(ref[m], [2.5, 97.5])), abs=1e-12), m


def test_statistics_and_ablation_tables():
    """Every condition against baseline per architecture, Holm within an architecture, and the
    ablation table with the study's expectation kept apart from the measurements."""
    import pandas as pd

    from ganaug.evaluation.ablation import ablation_markdown, ablation_table, statistics
    from ganaug.evaluation.classification import aggregate_seeds, decide, metrics

    rng = np.random.default_rng(5)
    y = (rng.random(50) < 0.3).astype(int)
    runs, aggs = {}, {}
    for arch in ("resnet50", "densenet121"):
        for cond in ("baseline", "gan_curated", "traditional_aug"):
            per_seed = []
            for seed in (1, 2):
                prob = np.clip(0.4 * y + rng.random(50) * 0.6, 0, 1)
                pred = pd.DataFrame({"image_id": [f"i{k}" for k in range(50)], "target": y, "prob": prob,
                                     "pred_argmax": decide(prob, 0.5), "pred_tuned": decide(prob, 0.45)})  # fmt: skip
                m = {"arch": arch, "condition": cond, "seed": seed, "composition": {}, "threshold": 0.45,
                     "argmax": metrics(y, prob, pred.pred_argmax), "tuned": metrics(y, prob, pred.pred_tuned)}  # fmt: skip
                runs[arch, cond, seed] = (pred, m)
                per_seed.append(m)
            aggs[arch, cond] = aggregate_seeds(per_seed)
    conds = ["baseline", "gan_curated", "traditional_aug"]
    t = statistics(runs, ["resnet50", "densenet121"], conds, [1, 2], "baseline", 200, 42)
    mc = t["mcnemar"]
    assert len(mc) == 2 * 2 * 2 and set(mc.condition) == {"gan_curated", "traditional_aug"}
    for _, part in mc.groupby("arch"):
        assert part.p_holm.tolist() == pytest.approx(holm(part.p.tolist()))
    assert len(t["bootstrap"]) == 2 * 3 * 2 * 4
    seeds_rows = t["wilcoxon"][t["wilcoxon"].seed == "all"]
    assert seeds_rows.p.isna().all() and seeds_rows.reason.str.contains("at least 6 seeds").all()
    table = ablation_table(aggs, {"resnet50": {"baseline": 0.61}})
    assert (
        table.loc[(table.arch == "resnet50") & (table.condition == "baseline"), "study_expected_f1"].item()
        == 0.61
    )
    f1s = [runs["resnet50", "baseline", s][1]["tuned"]["f1"] for s in (1, 2)]
    row = table[(table.arch == "resnet50") & (table.condition == "baseline")].iloc[0]
    assert row.f1_mean == pytest.approx(np.mean(f1s)) and row.f1_sd == pytest.approx(np.std(f1s, ddof=1))
    md = ablation_markdown(table, "note")
    assert "0.61 (the study's, not measured)" in md and md.count("\n| ") == 6
