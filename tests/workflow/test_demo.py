"""The demo workflow, run once for the session, and many small tests that each check one thing.

The run: first a single target, as users target one output
(``results/timm/tf_efficientnet_lite0/gan_curated/metrics.json``), then everything on the demo
config narrowed to one architecture and three conditions (the full demo runs in ``make demo``;
tests/workflow/test_protocol.py runs every condition), then ``snakemake --report``. Every test
here reads that run; they are kept on one xdist worker.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from tests.helpers import DEMO, every_score_is_possible, open_in_chromium, snakemake

pytestmark = [pytest.mark.workflow]  # one file: one xdist worker (make test: --dist loadfile)
CONDITIONS = ("baseline", "gan_curated", "real_oversampled")
R0 = Path("repeat_0")  # the demo runs one split, repeat 0
AGG = Path("resnet50/gan_curated")  # results/<arch>/<condition>: every replicate aggregated
FIT = R0 / AGG / "seed_42"  # one fit


@pytest.fixture(scope="session")
def demo_config() -> dict:
    return yaml.safe_load(Path(DEMO).read_text())


# benchmarks/gpu_check.sh runs these tests on a GPU with GANAUG_TEST_DEVICE=cuda
DEVICE = os.environ.get("GANAUG_TEST_DEVICE", "cpu")


@pytest.fixture(scope="session")
def demo(tmp_path_factory, demo_config) -> Path:
    """The results folder of the session's demo run."""
    wd = tmp_path_factory.mktemp("demo")
    # the demo's WGAN-GP conditions (its DDPM's run in test_protocol.py and in make demo: here
    # they would train and curate the DDPM too, minutes more); Snakemake compares dict params by
    # their key order, which the validated config fixes (the schema's), so the narrow run below
    # reruns none of this run's jobs whatever order the files give (test_protocol.py tests that)
    cls = demo_config["classifier"]
    wgan = {c: v for c, v in cls["conditions"].items() if v.get("generator", "wgan_gp") == "wgan_gp"}
    pairs = [p for p in demo_config["evaluation"]["pairs"] if set(p) <= set(wgan)]
    single = dict(demo_config, device=DEVICE, classifier={**cls, "conditions": wgan})
    single["evaluation"] = {**demo_config["evaluation"], "pairs": pairs}
    (wd / "single.yaml").write_text(yaml.safe_dump(single, sort_keys=False))
    # the demo's own network, as a user targets one output
    target = "results/timm/tf_efficientnet_lite0/gan_curated/metrics.json"
    res = snakemake(wd, target, "--configfile", str(wd / "single.yaml"), "--cores", "2", timeout=1800)
    assert res.returncode == 0, res.stderr[-4000:]
    (wd / "single_target.txt").write_text(res.stderr)
    narrow = dict(demo_config, device=DEVICE)
    narrow["classifier"] = {
        **demo_config["classifier"],
        "archs": ["resnet50"],
        "weights": "random",
        "conditions": {c: demo_config["classifier"]["conditions"][c] for c in CONDITIONS},
    }
    # the pairs name controls the narrow run leaves out (the protocol test runs them all)
    narrow["evaluation"] = {**demo_config["evaluation"], "pairs": []}
    (wd / "narrow.yaml").write_text(yaml.safe_dump(narrow, sort_keys=False))
    res = snakemake(wd, "--configfile", str(wd / "narrow.yaml"), "--cores", "2", timeout=1800)
    assert res.returncode == 0, res.stderr[-4000:]
    res = snakemake(wd, "--configfile", str(wd / "narrow.yaml"), "--report", "results/report.zip")
    assert res.returncode == 0, res.stderr[-4000:]
    return wd / "results"


def read(path: Path) -> dict:
    return json.loads(path.read_text())


# ---------------------------------------------------------------- one target, the GAN, curation


def test_a_single_target_runs_only_its_own_fit(demo):
    log = (demo.parent / "single_target.txt").read_text()
    assert "fit_classifier" in log and log.count("rule fit_classifier") <= 1
    assert "rule gan_metrics" not in log and "rule report" not in log


def test_the_raw_set_holds_every_image(demo, demo_config):
    raw = sorted(p.name for p in (demo / R0 / "synthetic/raw").glob("*.png"))
    assert raw == [f"generated_{i:04d}.png" for i in range(demo_config["gan"]["n_samples"])]


def test_the_gan_logged_every_window_and_saved_its_grids(demo):
    assert len((demo / R0 / "gan/history.csv").read_text().splitlines()) == 1 + 400 // 10
    grids = sorted(p.name for p in (demo / R0 / "gan/grids").iterdir())
    assert grids == [f"iter_{i:06d}.png" for i in (100, 200, 300, 400)]
    assert any((demo / R0 / "gan/tensorboard").iterdir())
    assert (demo / R0 / "gan/progress_grids.png").stat().st_size > 0


def test_the_gan_trained_on_the_train_split_dermatofibroma_only(demo):
    log = (demo / "logs/train_gan/repeat_0.log").read_text()
    assert "training from scratch on 32 minority images" in log


def test_the_curation_funnel_only_narrows(demo):
    summary = read(demo / R0 / "synthetic/curation/summary.json")
    assert [s["stage"] for s in summary["funnel"]] == ["raw", "blur", "ssim", "lpips", "review", "clusters"]
    kept = [s["kept"] for s in summary["funnel"]]
    assert kept == sorted(kept, reverse=True) and kept[-1] > 0


def test_the_curated_set_is_what_selection_kept(demo, demo_config):
    kept = [s["kept"] for s in read(demo / R0 / "synthetic/curation/summary.json")["funnel"]]
    curated = list((demo / R0 / "synthetic/curated").glob("*.png"))
    assert len(curated) == kept[-1] == min(demo_config["curation"]["final_count"], kept[-2])


def test_a_simulated_review_is_labelled(demo):
    summary = read(demo / R0 / "synthetic/curation/summary.json")
    assert summary["simulated_review"] is True and summary["review_mode"] == "simulate"
    assert read(demo / FIT / "metrics.json")["simulated_review"] is True


def test_backbones_are_labelled(demo):
    clusters = pd.read_csv(demo / R0 / "synthetic/curation/clusters.csv")
    assert set(clusters["backbone"]) == {"EfficientNet-Lite0 ImageNet"}
    assert "RANDOM-INIT VGG16" in (demo / "logs/curate_lpips/repeat_0.log").read_text()
    assert (demo / R0 / "synthetic/curation/scores.png").stat().st_size > 0


# ---------------------------------------------------------------- the fits


def test_a_fit_writes_every_output(demo):
    for name in ("model.pt", "history.csv", "training_curves.png", "confusion_matrix.png", "pr_curve.png"):
        assert (demo / FIT / name).stat().st_size > 0
    header = (demo / FIT / "predictions.csv").read_text().splitlines()[0]
    assert header == "image_id,target,prob,pred_argmax,pred_tuned"


def test_the_aggregate_is_the_replicate_it_aggregates(demo):
    run, agg = read(demo / FIT / "metrics.json"), read(demo / AGG / "metrics.json")
    assert agg["replicates"] == ["repeat_0/seed_42"] and agg["tuned"]["f1"]["per_replicate"] == [
        run["tuned"]["f1"]
    ]
    assert run["repeat"] == 0 and agg["repeats"] == [0] and agg["seeds"] == [42]


def test_every_reported_score_is_possible_for_its_test_set(demo):
    """mlscorecheck on every fit's metrics.json: in distribution and on the external set, both
    decisions (the narrow run's three fits and the single-target run's)."""
    assert every_score_is_possible(demo) >= 2 * 2 * 4


def test_random_init_is_spelt_random(demo):
    assert read(demo / FIT / "metrics.json")["weights"] == "random"


def test_every_fit_has_balanced_class_weights(demo):
    for c in CONDITIONS:
        m = read(demo / R0 / "resnet50" / c / "seed_42/metrics.json")
        assert m["class_weight_mode"] == "balanced"
        assert m["weighted_mass"]["minority"] == pytest.approx(m["weighted_mass"]["majority"])


def test_the_epoch_is_chosen_by_validation_pr_auc(demo):
    m = read(demo / FIT / "metrics.json")
    history = pd.read_csv(demo / FIT / "history.csv").set_index("epoch")
    assert m["epoch_criterion"] == "validation PR-AUC"
    assert m["best_val_score"] == history.loc[m["best_epoch"], "val_pr_auc"] == history["val_pr_auc"].max()


def test_real_oversampled_matches_gan_curated_count(demo):
    over = read(demo / R0 / "resnet50/real_oversampled/seed_42/metrics.json")["composition"]
    cur = read(demo / FIT / "metrics.json")["composition"]
    assert over["minority_total"] == cur["minority_total"] and over["synthetic_minority"] == 0
    assert over["oversampled_repeats"] == cur["synthetic_minority"]


# ---------------------------------------------------------------- GAN metrics


def test_gan_metrics_compare_equal_sizes_against_train_and_val(demo, demo_config):
    gan = read(demo / R0 / "gan/metrics.json")
    assert {k: v["n"] for k, v in gan["references"].items()} == {"train": 32, "val": 7}
    n = len(list((demo / R0 / "synthetic/curated").glob("*.png")))
    assert gan["sets"]["raw"]["n_synthetic"] == gan["sets"]["curated"]["n_synthetic"] == n
    assert gan["sets"]["raw"]["subsample"]["of"] == demo_config["gan"]["n_samples"]
    # every set against every reference at the smallest set's size, stated in the file
    assert gan["equal_size"]["n_per_side"] == 7 and gan["equal_size"]["draws"] == 10
    for s in gan["sets"].values():
        for ref, k in (("train", 32), ("val", 7)):
            a = s["against"][ref]
            assert a["n_real"] == k and a["n_per_side"] == 7 and a["headline"]["metric"] == "kid"
            assert a["kid_subset_size"] <= 7 and len(a["kid"]["per_draw"]) == a["draws"]
        assert "z" in s["copying"] and s["copying"]["n_held_out"] == 7
    assert (demo / R0 / "gan/closest_to_train.png").stat().st_size > 0
    assert (demo / R0 / "gan/nearest_gallery.png").stat().st_size > 0
    # the sample-level metrics beside precision and recall, against each reference
    a = gan["sets"]["curated"]["against"]["val"]
    assert 0 <= a["coverage"]["mean"] <= 1 and a["density"]["mean"] >= 0
    assert 0 <= a["authenticity"]["mean"] <= 1 and a["alpha_precision"]["mean"] <= 1


def test_gan_metrics_are_labelled_not_comparable(demo):
    gan = read(demo / R0 / "gan/metrics.json")
    assert gan["feature_extractor"]["comparable"] is False
    assert "not comparable" in gan["feature_extractor"]["name"]


def test_every_gan_figure_is_recomputed_from_the_stored_features(demo, demo_config):
    """Each draw's FID (pytorch-fid), KID, precision/recall, density and coverage (prdc), alpha-
    precision, beta-recall, authenticity and nearest-neighbour figures from
    features.npz: the pool features, the draws' indices and the distance matrices stored there."""
    import contextlib
    import io

    import prdc
    from pytorch_fid.fid_score import calculate_frechet_distance

    from ganaug.evaluation.gan_metrics import (
        fid_from_features,
        gaussian_stats,
        kernel_inception_distance,
        precision_recall,
    )
    from ganaug.evaluation.sample_metrics import alpha_beta_authenticity

    gan = read(demo / R0 / "gan/metrics.json")
    feats = np.load(demo / R0 / "gan/features.npz")
    per_image = pd.read_csv(demo / R0 / "gan/per_image.csv")
    ev = demo_config["evaluation"]
    for name, s in gan["sets"].items():
        for ref in ("train", "val"):
            a = s["against"][ref]
            real, syn = feats[f"real_{ref}_pool"], feats[f"{name}_pool"]
            draws = zip(feats[f"{name}_{ref}_draw_set"], feats[f"{name}_{ref}_draw_real"], strict=True)
            for k, (i, j) in enumerate(draws):
                # by the route the reference tests tie to pytorch-fid; pytorch-fid itself once below
                assert a["fid"]["per_draw"][k] == pytest.approx(fid_from_features(real[j], syn[i]), rel=1e-9)
                kid = kernel_inception_distance(real[j], syn[i], a["kid_subsets"], a["kid_subset_size"], 42)
                assert a["kid"]["per_draw"][k] == pytest.approx(kid["mean"], rel=1e-6, abs=1e-12)
                pr = precision_recall(real[j], syn[i], ev["pr_k"])
                assert (a["precision"]["per_draw"][k], a["recall"]["per_draw"][k]) == (
                    pr["precision"],
                    pr["recall"],
                )
                # density and coverage by the authors' prdc package; alpha/beta/authenticity by ours
                with contextlib.redirect_stdout(io.StringIO()):
                    dc = prdc.compute_prdc(real[j], syn[i], nearest_k=ev["pr_k"])
                assert a["density"]["per_draw"][k] == pytest.approx(dc["density"], rel=1e-9)
                assert a["coverage"]["per_draw"][k] == pytest.approx(dc["coverage"], rel=1e-9)
                ab = alpha_beta_authenticity(real[j], syn[i])
                assert [a[m]["per_draw"][k] for m in ("alpha_precision", "beta_recall", "authenticity")] == [
                    ab["alpha_precision"], ab["beta_recall"], ab["authenticity"]
                ]  # fmt: skip
                lp, ss = feats[f"{name}_{ref}_lpips"], feats[f"{name}_{ref}_ssim"]
                assert a["lpips_to_nearest_real"]["per_draw"][k] == pytest.approx(
                    lp[np.ix_(i, j)].min(1).mean()
                )
                assert a["ssim_best_match"]["per_draw"][k] == pytest.approx(ss[np.ix_(i, j)].max(1).mean())
            if (name, ref) == ("curated", "val"):
                i, j = feats["curated_val_draw_set"][0], feats["curated_val_draw_real"][0]
                fid = calculate_frechet_distance(*gaussian_stats(real[j]), *gaussian_stats(syn[i]))
                # 7 images in 2,048 dimensions: sqrtm of a singular product is itself off by ~1e-5
                assert a["fid"]["per_draw"][0] == pytest.approx(fid, rel=1e-4)
            rows = per_image[(per_image["set"] == name) & (per_image["reference"] == ref)]
            assert rows["image"].tolist() == feats[f"{name}_images"].tolist()
            assert rows["lpips_to_nearest_real"].to_numpy() == pytest.approx(
                feats[f"{name}_{ref}_lpips"].min(1)
            )


def test_dinov2_figures_sit_beside_inceptions_and_are_recomputed_from_the_features(demo):
    """The GAN's metrics.json holds the DINOv2 block (random init, labelled): each draw's
    Frechet distance (pytorch-fid once), kernel distance, precision/recall and density/coverage
    (prdc) from features.npz, on the same draws as the Inception figures."""
    import contextlib
    import io

    import prdc
    from pytorch_fid.fid_score import calculate_frechet_distance

    from ganaug.evaluation.gan_metrics import (
        fid_from_features,
        gaussian_stats,
        kernel_inception_distance,
        precision_recall,
    )

    for folder in ("gan",):  # the session's demo runs the WGAN-GP's conditions only
        gan = read(demo / R0 / folder / "metrics.json")
        assert gan["dinov2"]["comparable"] is False and "not comparable" in gan["dinov2"]["name"]
        assert gan["dinov2"]["image_size"] == 112
        feats = np.load(demo / R0 / folder / "features.npz")
        for name, s in gan["sets"].items():
            for ref in ("train", "val"):
                a = s["dinov2"]["against"][ref]
                assert a["draws"] == s["against"][ref]["draws"] and "fid" not in a
                real, syn = feats[f"real_{ref}_dinov2"], feats[f"{name}_dinov2"]
                assert real.shape[1] == syn.shape[1] == 384
                draws = zip(feats[f"{name}_{ref}_draw_set"], feats[f"{name}_{ref}_draw_real"], strict=True)
                for k, (i, j) in enumerate(draws):
                    fd = fid_from_features(real[j], syn[i])
                    assert a["frechet_distance"]["per_draw"][k] == pytest.approx(fd, rel=1e-9)
                    kd = kernel_inception_distance(
                        real[j], syn[i], a["kid_subsets"], a["kid_subset_size"], 42
                    )
                    assert a["kernel_distance"]["per_draw"][k] == pytest.approx(
                        kd["mean"], rel=1e-6, abs=1e-12
                    )
                    pr = precision_recall(real[j], syn[i], a["pr_k"])
                    assert a["precision"]["per_draw"][k] == pr["precision"]
                    assert a["recall"]["per_draw"][k] == pr["recall"]
                    with contextlib.redirect_stdout(io.StringIO()):
                        dc = prdc.compute_prdc(real[j], syn[i], nearest_k=a["pr_k"])
                    assert a["density"]["per_draw"][k] == pytest.approx(dc["density"], rel=1e-9)
                    assert a["coverage"]["per_draw"][k] == pytest.approx(dc["coverage"], rel=1e-9)
                if (name, ref) == ("curated", "val"):  # by pytorch-fid itself once
                    i, j = feats[f"{name}_{ref}_draw_set"][0], feats[f"{name}_{ref}_draw_real"][0]
                    fd = calculate_frechet_distance(*gaussian_stats(real[j]), *gaussian_stats(syn[i]))
                    assert a["frechet_distance"]["per_draw"][0] == pytest.approx(fd, rel=1e-4)


def test_the_shared_blur_rule_is_the_real_images_percentile(demo, demo_config):
    """curation.blur_percentile: the threshold is numpy's percentile of the study's Laplacian
    variance of the split's real train DF images, recorded in blur.csv and summary.json."""
    import cv2

    q = demo_config["curation"]["blur_percentile"]
    meta = pd.read_csv(demo / R0 / "data/metadata.csv")
    rows = meta[(meta["split"] == "train") & (meta["target"] == 1)]
    grey = [cv2.imread(str(demo.parent / p), cv2.IMREAD_GRAYSCALE) for p in rows["path"]]  # relative paths
    real = [cv2.Laplacian(g, cv2.CV_64F).var() for g in grey]
    blur = pd.read_csv(demo / R0 / "synthetic/curation/blur.csv")
    assert blur["threshold"].iloc[0] == pytest.approx(np.percentile(real, q), rel=1e-9)
    assert (blur["kept"] == (blur["laplacian_var"] > blur["threshold"])).all()
    passed = read(demo / R0 / "synthetic/curation/summary.json")["thresholds"]
    assert passed["blur"] == {
        "laplacian_var_above": blur["threshold"].iloc[0],
        "rule": f"real_percentile_{q:g}",
    }


def test_the_sampled_snapshot_is_within_one_se_of_the_lowest_kid_and_the_score_recomputes(
    demo, demo_config, tmp_path
):
    """snapshots.select kid_val: every snapshot scored over its draws, the latest within one
    standard error of the lowest mean sampled (its file byte for byte), the choice on the raw
    manifest and the curated summary; the chosen score recomputed from its snapshot's images and
    the val DF images (the same seeds, the same extractor)."""
    from ganaug.evaluation.features import build_extractor, extract
    from ganaug.generators import family
    from ganaug.generators.snapshots import kid_equal_size, scoring_seed

    rec = read(demo / R0 / "gan/snapshot.json")
    index = pd.read_csv(demo / R0 / "gan/snapshots.csv")
    snaps, draws = rec["snapshots"], demo_config["snapshots"]["draws"]
    means = np.array([x["kid_x1000_vs_val"] for x in snaps])
    assert rec["method"] == "kid_val" and len(snaps) == len(index) == demo_config["snapshots"]["count"]
    assert np.isfinite(means).all() and all(len(x["kid_x1000_draws"]) == draws for x in snaps)
    best = int(np.argmin(means))
    within = np.flatnonzero(means <= means[best] + snaps[best]["kid_x1000_se"])
    assert rec["chosen"]["snapshot"] == within[-1]
    assert index["iteration"].iloc[-1] == rec["of"] == demo_config["gan"]["total_iterations"]
    chosen = demo.parent / index["path"].iloc[rec["chosen"]["snapshot"]]  # paths relative to the run
    assert (demo / R0 / "gan/selected_generator.pt").read_bytes() == chosen.read_bytes()
    manifest = pd.read_csv(demo / R0 / "synthetic/raw_manifest.csv")
    assert set(manifest["snapshot"]) == {rec["chosen"]["snapshot"]}
    assert read(demo / R0 / "synthetic/curation/summary.json")["snapshot"] == {
        "snapshot": rec["chosen"]["snapshot"],
        "at": rec["chosen"]["iteration"],
        "unit": "iteration",
        "select": "kid_val",
    }
    meta = pd.read_csv(demo / R0 / "data/metadata.csv")
    val = meta[(meta["split"] == "val") & (meta["target"] == 1)]
    n = len(val)
    assert rec["n_val_images"] == n
    fam = family("wgan_gp")
    sampling = fam.settings(demo_config).sampling_params()
    params = {**sampling, "n_samples": n * draws, "seed": scoring_seed(sampling["seed"])}
    fam.sample(chosen, tmp_path / "raw", tmp_path / "m.csv", params, "cpu", 2)
    net = build_extractor(demo_config["evaluation"]["feature_extractor"], "unused", 42)
    rgb = [cv2.imread(str(demo.parent / p))[..., ::-1].transpose(2, 0, 1) for p in val["path"]]
    fake = [
        cv2.imread(str(f))[..., ::-1].transpose(2, 0, 1) for f in sorted((tmp_path / "raw").glob("*.png"))
    ]
    real_f = extract(net, np.stack(rgb), torch.device("cpu"))[0]
    fake_f = extract(net, np.stack(fake), torch.device("cpu"))[0]
    per = [1000 * kid_equal_size(real_f, fake_f[i * n : (i + 1) * n]) for i in range(draws)]
    # the job's thread count may round a pixel of its images the other way: a last-digit tolerance
    assert per == pytest.approx(rec["chosen"]["kid_x1000_draws"], rel=1e-3, abs=1e-3)
    assert np.mean(per) == pytest.approx(rec["chosen"]["kid_x1000_vs_val"], rel=1e-3, abs=1e-3)


# ---------------------------------------------------------------- the comparisons


def score(pred: pd.DataFrame, metric: str, column: str) -> float:
    from sklearn.metrics import average_precision_score, balanced_accuracy_score, f1_score, recall_score

    y, d = pred["target"], pred[column]
    return {
        "sensitivity": recall_score(y, d, zero_division=0),
        "specificity": recall_score(1 - y, 1 - d, zero_division=0),
        "f1": f1_score(y, d, zero_division=0),
        "pr_auc": average_precision_score(y, pred["prob"]),
        "balanced_accuracy": balanced_accuracy_score(y, d),
    }[metric]


def test_differences_have_their_columns_families_and_no_verdict_with_one_split(demo):
    d = pd.read_csv(demo / "stats/differences.csv")
    assert list(d.columns[:7]) == [
        "test_set",
        "arch",
        "condition",
        "reference",
        "metric",
        "decision",
        "family",
    ]
    # in distribution and on the external set: 2 comparisons x (PR-AUC once + 4 metrics x 2 decisions)
    assert d["test_set"].value_counts().to_dict() == {"in_distribution": 18, "phantom_shift": 18}
    assert (d.loc[d["metric"] == "pr_auc", "decision"] == "none").all()
    prim = d[d["family"] == "primary"]
    assert len(prim) == 4 and set(prim["condition"]) == {"gan_curated"}
    assert set(zip(prim["metric"], prim["decision"], strict=True)) == {
        ("pr_auc", "none"),
        ("sensitivity", "tuned"),
    }
    # one split: no verdict at all, the intervals conditional on these fits
    assert (
        set(prim["verdict"]) == {"no verdict: one split"}
        and d.loc[d["family"] == "exploratory", "verdict"].isna().all()
    )
    assert d["interval"].str.contains("conditional on these fits").all() and prim["mde_80"].notna().all()
    assert (d.loc[d["decision"] != "none", ["tp", "fn", "fp", "tn"]].sum(axis=1) > 0).all()


def test_the_design_table_says_one_split_cannot_plan(demo):
    design = pd.read_csv(demo / "stats/design.csv")
    d = pd.read_csv(demo / "stats/differences.csv")
    assert len(design) == (d["family"] == "primary").sum() == 4
    assert (design["n_repeats"] == 1).all() and design["power"].isna().all()
    assert design["note"].str.contains("one repeat").all()
    assert "Planning the next run from this one" in (demo / "report.html").read_text()


def test_every_delta_is_the_two_fits_predictions_recomputed(demo):
    for r in pd.read_csv(demo / "stats/differences.csv").itertuples():
        sub = "" if r.test_set == "in_distribution" else f"external/{r.test_set}/"
        a = pd.read_csv(demo / R0 / r.arch / r.condition / f"seed_42/{sub}predictions.csv")
        b = pd.read_csv(demo / R0 / r.arch / r.reference / f"seed_42/{sub}predictions.csv")
        col = "pred_argmax" if r.decision == "argmax" else "pred_tuned"
        assert r.delta == pytest.approx(score(a, r.metric, col) - score(b, r.metric, col), abs=1e-9)


def test_every_interval_contains_its_estimate(demo):
    d = pd.read_csv(demo / "stats/differences.csv")
    assert ((d["ci_low"] <= d["delta"]) & (d["delta"] <= d["ci_high"])).all()
    i = pd.read_csv(demo / "stats/intervals.csv")
    assert ((i["ci_low"] <= i["estimate"]) & (i["estimate"] <= i["ci_high"])).all()


def test_mcnemar_is_by_class_clustered_by_lesion_and_wilcoxon_says_its_test_set(demo):
    m = pd.read_csv(demo / "stats/mcnemar.csv")
    assert {"arch", "condition", "class", "lesions", "b", "c", "more_often_right", "method", "p"} <= set(
        m.columns
    )
    assert sorted(set(m["class"])) == ["dermatofibroma", "nevus"] and len(m) == 2 * 2 * 2  # x 2 test sets
    assert m["method"].str.startswith("clustered by lesion").all() and (m["family"] == "exploratory").all()
    w = pd.read_csv(demo / "stats/wilcoxon.csv")
    assert set(w["test_set"]) == {"in_distribution", "phantom_shift"} and (w["p_min_attainable"] == 1.0).all()


def test_final_results_carry_the_same_differences(demo):
    from ganaug.evaluation.final_results import clean

    final = read(demo / "final_results.json")
    d = pd.read_csv(demo / "stats/differences.csv")
    assert final["comparisons"]["differences"] == [clean(r) for r in d.to_dict("records")]
    d_in = d[d["test_set"] == "in_distribution"]
    row = d_in[
        (d_in["metric"] == "f1") & (d_in["decision"] == "tuned") & (d_in["condition"] == "gan_curated")
    ].iloc[0]
    change = final["improvement_percentages"]["by_arch"]["resnet50"]["baseline"]["gan_curated"]["f1"]
    assert change["absolute"] == pytest.approx(row["delta"])


def test_final_results_provenance(demo):
    final = read(demo / "final_results.json")
    assert (
        final["provenance"]["phantom_demo_data"] is True and final["provenance"]["simulated_review"] is True
    )
    assert final["order"] == {"archs": ["resnet50"], "conditions": list(CONDITIONS)}


def test_attribution_lists_every_image_with_the_phantoms_own_licence(demo):
    read_csv = {"dtype": str, "keep_default_na": False}
    att = pd.read_csv(demo / "data/attribution.csv", **read_csv)
    by_set = {k: set(g["image_id"]) for k, g in att.groupby("set")}
    assert by_set["archive"] == set(pd.read_csv(demo / "data/preprocessed.csv", **read_csv)["image_id"])
    ext = set(pd.read_csv(demo / "external/phantom_shift/metadata.csv", **read_csv)["image_id"])
    assert by_set["external:phantom_shift"] == ext
    assert by_set["extra"] == set(pd.read_csv(demo / "data/extra/metadata.csv", **read_csv)["image_id"])
    assert set(att["license"]) == {"MIT"} and (att["non_commercial"] == "False").all()
    assert att["attribution"].str.contains("not a photograph").all()
    lic = read(demo / "final_results.json")["licences"]
    assert lic["images"] == len(att) and lic["by_licence"] == {"MIT": len(att)} and lic["non_commercial"] == 0
    # the external set and the pool were screened for near-duplicates (the distance column)
    assert "distance" in pd.read_csv(demo / "external/phantom_shift/overlap.csv").columns
    assert "Licences of the" in (demo / "report.html").read_text()


# ---------------------------------------------------------------- notebooks and the report


@pytest.mark.parametrize(
    "name",
    ["report", "01_data_exploration", "02_gan_training", "03_classifier_training", "04_results_analysis"],
)
def test_every_notebook_ran_without_an_error(demo, name):
    import nbformat

    nb = nbformat.read(str(demo / f"notebooks/{name}.ipynb"), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.execution_count for c in code)
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]


def test_the_report_opens_offline_without_code(demo):
    html = (demo / "report.html").read_text()
    assert "https://cdn" not in html and "<script src=" not in html
    assert "def " not in html and "import " not in html


def test_the_report_answers_with_differences_not_significance(demo):
    html = (demo / "report.html").read_text()
    for heading in (
        "The answer",
        "1. Data",
        "2. The GAN",
        "3. Curation",
        "4. Classifiers",
        "5. The questions (exploratory)",
        "5.1 Does GAN augmentation help in distribution?",
        "5.2 Out of distribution (phantom_shift)?",
        "5.3 How much of the gap",
        "5.4 Does curation beat random selection",
        "5.5 Does more synthetic help?",
        "5.6 Which generator?",
        "6. Every comparison",
        "7. The study",
        "8. Time and memory",
    ):
        assert heading in html
    assert html.index("The answer") < html.index("1. Data")  # the answer first
    assert "no verdict: one split" in html and "nothing can be said about the training procedure" in html
    assert "conditional on these fits" in html and "exploratory" in html
    assert "significant at 0.05" not in html
    assert "PHANTOM demo data" in html and "SIMULATED" in html
    assert "job time summed over the jobs" in html and "min of wall time" not in html


def test_the_report_loads_in_chromium_with_every_figure(demo):
    """No script error, no failed request, every image decoded (the forest plot among them)."""
    page = open_in_chromium(demo / "report.html")
    assert page["problems"] == [] and page["n_images"] >= 8 and page["broken"] == 0
    assert all(len(a) > 20 for a in page["alts"])  # every figure says what it shows
    assert page["captions"] >= 8
    assert "Synthetic dermatofibroma" in page["text"]
    assert "Δ vs reference" not in page["text"]  # the forest plot is an image


def test_snakemake_report_packs_every_figure(demo):
    with zipfile.ZipFile(demo / "report.zip") as z:
        names = {Path(n).name for n in z.namelist()}
    assert {
        "report.html",
        "ablation.png",
        "real_vs_synthetic.png",
        "samples_grid.png",
        "tsne.png",
        "forest.png",
        "closest_to_train.png",
        "nearest_gallery.png",
    } <= names
    assert {"training_curves.png", "confusion_matrix.png", "pr_curve.png", "scores.png"} <= names


# ---------------------------------------------------------------- reruns


def test_the_data_rules_are_byte_identical_across_runs(demo, tmp_path):
    """snakemake results/repeat_0/data/metadata.csv on the demo config in a fresh folder: every
    file it writes equals the session's demo run's (the same data config, another folder and
    another run), so one fresh run checks what two once did."""

    import hashlib

    def digest(p: Path) -> str | None:
        return hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None

    wd = tmp_path / "fresh"
    wd.mkdir()
    res = snakemake(wd, "results/repeat_0/data/metadata.csv", "--configfile", DEMO, "--cores", "2")
    assert res.returncode == 0, res.stderr[-4000:]
    meta = (wd / "results/repeat_0/data/metadata.csv").read_text().splitlines()
    assert meta[0] == "image_id,path,label,target,split,lesion_id,patient_id,source,crop_method,synthetic"
    assert (wd / "results/data/rejects.csv").read_text() == "image_id,reason\n"
    # the archive screened against itself: the pairs, and the summary's count of them
    pairs = (wd / "results/data/same_lesion.csv").read_text().splitlines()
    assert pairs[0] == "image_id_a,image_id_b,kind,distance,grouped_by_ids"
    assert read(wd / "results/repeat_0/data/summary.json")["same_lesion"]["pairs"] == len(pairs) - 1
    # logs and benchmark records carry times; everything else must be byte-identical (the demo
    # run's files hashed only where the fresh run wrote one)
    fresh = {str(p.relative_to(wd)): digest(p)
             for top in ("results", "resources") for p in sorted((wd / top).rglob("*")) if p.is_file()
             if not str(p.relative_to(wd)).startswith(("results/logs/", "results/benchmarks/"))}  # fmt: skip
    assert "results/repeat_0/data/metadata.csv" in fresh and len(fresh) > 20
    assert {k: digest(demo.parent / k) for k in fresh} == fresh
