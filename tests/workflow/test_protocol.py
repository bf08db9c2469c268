"""The evaluation protocol end to end, at toy size (tests/fixtures/protocol.yaml): two repeated
splits, each with its own GAN, curation and fits; an out-of-distribution phantom set; every
condition and control; the blinded review. One run, many small checks."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from tests.helpers import REPO, every_score_is_possible, open_in_chromium, planned_jobs, snakemake

pytestmark = [pytest.mark.workflow]  # one file: one xdist worker (make test: --dist loadfile)
CONFIG = REPO / "tests" / "fixtures" / "protocol.yaml"
ARCH = "timm/tf_efficientnet_lite0"


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    wd = tmp_path_factory.mktemp("protocol")
    res = snakemake(
        wd,
        "results/final_results.json",
        "results/report.html",
        "--configfile",
        str(CONFIG),
        "--cores",
        "2",
        timeout=1500,
    )
    assert res.returncode == 0, res.stderr[-4000:]
    return wd / "results"


def read(path: Path) -> dict:
    return json.loads(path.read_text())


def train_df(results: Path, repeat: int) -> set[str]:
    meta = pd.read_csv(results / f"repeat_{repeat}/data/metadata.csv", dtype={"image_id": str})
    return set(meta.loc[(meta["split"] == "train") & (meta["target"] == 1), "image_id"])


def test_each_repeat_has_its_own_split_and_its_gan_learnt_only_from_it(run):
    a, b = train_df(run, 0), train_df(run, 1)
    assert a != b  # two different splits
    for r, ids in ((0, a), (1, b)):
        ckpt = torch.load(run / f"repeat_{r}/gan/checkpoints/last.pt", weights_only=False)
        assert set(ckpt["training_set"]["ids"]) == ids  # this repeat's train DF images, no other
        summary = read(run / f"repeat_{r}/data/summary.json")
        assert (summary["repeat"], summary["split_seed"]) == (r, 42)
        assert summary["test_fold"] == {"fold": r, "of": 6, "round": 0, "disjoint": True}


def test_the_repeats_test_sets_share_no_lesion(run):
    tests = []
    for r in (0, 1):
        meta = pd.read_csv(run / f"repeat_{r}/data/metadata.csv", dtype=str, keep_default_na=False)
        tests.append(set(meta.loc[meta["split"] == "test", "image_id"]))
    assert tests[0] and tests[1] and not tests[0] & tests[1]


def test_no_fit_or_curation_reads_another_repeats_images(run):
    for r in (0, 1):
        digest = read(run / f"repeat_{r}/synthetic/curation/summary.json")["generator_training_set"]
        manifest = pd.read_csv(run / f"repeat_{r}/synthetic/raw_manifest.csv")
        assert set(manifest["generator_training_set"]) == {digest}
        for cond in ("gan_curated", "gan_uncurated_matched", "gan_random"):
            m = read(run / f"repeat_{r}" / ARCH / cond / "seed_42/metrics.json")
            assert m["repeat"] == r and m["generator_training_set"] == digest
    assert read(run / "repeat_0/synthetic/curation/summary.json")["generator_training_set"] != digest


def test_the_aggregate_holds_every_replicate(run):
    agg = read(run / ARCH / "gan_curated/metrics.json")
    assert agg["replicates"] == ["repeat_0/seed_42", "repeat_1/seed_42"] and agg["n_replicates"] == 2
    assert (
        set(agg["external"]) == {"shifted"}
        and len(agg["external"]["shifted"]["tuned"]["f1"]["per_replicate"]) == 2
    )


def test_differences_have_in_distribution_and_external_rows_and_the_pairs(run):
    d = pd.read_csv(run / "stats/differences.csv")
    assert list(d.columns[:4]) == ["test_set", "arch", "condition", "reference"]
    assert set(d["test_set"]) == {"in_distribution", "shifted"}
    pairs = set(zip(d["condition"], d["reference"], strict=True))
    assert {
        ("gan_curated", "gan_random"),
        ("gan_curated", "gan_best"),
        ("gan_curated", "real_extra"),
        ("gan_curated", "real_oversampled"),
        ("gan_curated", "gan_uncurated_matched"),
    } <= pairs
    assert (d["n_repeats"] == 2).all()
    # two repeats: the primary rows get a verdict from the corrected t, and the external set's
    # lesion sampling enters its interval
    prim = d[d["family"] == "primary"]
    assert len(prim) == 4 and set(prim["verdict"]) <= {"better", "worse", "no evidence"}
    assert prim["interval"].str.startswith("corrected resampled t over 2 repeats").all()
    ext = d[(d["test_set"] == "shifted") & ~d["degenerate"]]
    assert ext["interval"].str.endswith("lesion sampling added").all()
    # a comparison of identical training sets (here every survivor of the review is among the
    # best-scored) is flagged, with no interval, not reported as a difference of 0
    assert d.loc[d["degenerate"], "ci_low"].isna().all()
    ext = d[d["test_set"] == "shifted"]
    assert (
        ext["n_test_lesions_minority"].iloc[0]
        == read(run / "external/shifted/summary.json")["lesion_groups"]["dermatofibroma"]
    )
    reps = pd.read_csv(run / "stats/replicates.csv")
    assert set(reps["repeat"]) == {0, 1} and set(reps["test_set"]) == {"in_distribution", "shifted"}
    w = pd.read_csv(run / "stats/wilcoxon.csv")
    assert {"hodges_lehmann", "direction", "p_min_attainable", "can_reach_alpha"} <= set(w.columns)
    # two repeats: 2 / 2^2 at best (1 where a repeat's difference is 0), never below 0.05
    assert (w["p_min_attainable"] >= 0.5).all() and not w["can_reach_alpha"].any()


def test_the_design_table_plans_the_next_run_from_this_one(run):
    """design.csv: one row per primary hypothesis, its components recomputed from replicates.csv,
    the power and the GPU-hours of this design; the report shows the section."""
    import numpy as np

    from ganaug.evaluation.planning import Cost

    design = pd.read_csv(run / "stats/design.csv")
    d = pd.read_csv(run / "stats/differences.csv")
    assert len(design) == (d["family"] == "primary").sum() == 4
    reps = pd.read_csv(run / "stats/replicates.csv")
    cost = Cost.of(read(run / "plan/cost.json"))
    for r in design.to_dict("records"):
        key = ["test_set", "arch", "condition", "reference", "metric", "decision"]
        part = reps[(reps[key] == pd.Series({k: r[k] for k in key})).all(axis=1)]
        assert len(part) == 2  # one fit per repeat
        means = part.groupby("repeat")["delta"].mean()
        # one seed: the whole spread between the two repeats' differences is between repeats
        assert r["var_between_repeats"] == pytest.approx(max(0.0, means.var(ddof=1)), abs=1e-12)
        assert np.isnan(r["var_between_seeds"]) and r["n_repeats"] == 2 and r["n_seeds"] == 1
        assert r["gpu_hours"] == pytest.approx(cost.hours(2, 1))
        assert 0 <= r["power"] <= 1 and r["effect_of_interest"] in (0.20, 0.23)
    html = (run / "report.html").read_text()
    assert "Planning the next run from this one" in html


def test_the_external_set_is_predicted_once_per_fit_and_shares_no_image(run):
    meta = pd.read_csv(run / "external/shifted/metadata.csv")
    assert set(meta["split"]) == {"external"} and meta["image_id"].str.startswith("PHX_").all()
    archive = set(pd.read_csv(run / "data/preprocessed.csv")["image_id"])
    assert not archive & set(meta["image_id"])
    pred = pd.read_csv(run / "repeat_1" / ARCH / "baseline/seed_42/external/shifted/predictions.csv")
    assert sorted(pred["image_id"]) == sorted(meta["image_id"])


def test_every_control_has_its_training_set(run):
    fit = run / "repeat_0" / ARCH
    curated = read(fit / "gan_curated/seed_42/metrics.json")["composition"]
    extra = read(fit / "real_extra/seed_42/metrics.json")["composition"]
    assert extra["extra_real_minority"] == curated["synthetic_minority"] and extra["synthetic_minority"] == 0
    assert read(fit / "gan_curated_25/seed_42/metrics.json")["composition"]["synthetic_minority"] == 6
    matched = read(fit / "gan_uncurated_matched/seed_42/metrics.json")["composition"]
    assert (
        matched["synthetic_minority"] == curated["synthetic_minority"]
        and matched["synthetic_source"] == "raw"
    )
    oversampled = read(fit / "real_oversampled/seed_42/metrics.json")["composition"]
    assert oversampled["traditional_augmentation"] is False  # like gan_curated: they differ in one thing
    sel = pd.read_csv(run / "repeat_0/synthetic/curation/selections.csv")
    assert sel["cluster"].sum() == sel["random"].sum() == sel["best"].sum()
    for name in ("curated_random", "curated_best"):
        assert len(list((run / f"repeat_0/synthetic/{name}").glob("*.png"))) == sel["cluster"].sum()


def test_the_long_tail_baselines_train_on_the_baselines_images_with_their_own_loss(run):
    """logit adjustment, the balanced softmax and the focal loss: the baseline's training set (no
    synthetic, no repeated images), their own loss and no class weights in it; compared with
    baseline and with gan_curated, and answered in the report's section 5.7."""
    for r in (0, 1):
        fit = run / f"repeat_{r}" / ARCH
        base = read(fit / "baseline/seed_42/metrics.json")
        assert base["loss"] == {"name": "weighted_ce", "class_weights_in_loss": True}
        counts = [base["composition"]["majority"], base["composition"]["real_minority"]]
        for cond, name in (("logit_adjusted", "logit_adjusted"), ("focal_loss", "focal")):
            m = read(fit / cond / "seed_42/metrics.json")
            assert m["training_set_sha256"] == base["training_set_sha256"]  # the same images
            assert m["loss"]["name"] == name and m["loss"]["class_weights_in_loss"] is False
            if name != "focal":
                assert m["loss"]["class_counts"] == counts
    assert read(run / "repeat_0" / ARCH / "focal_loss/seed_42/metrics.json")["loss"] == {
        "name": "focal", "class_weights_in_loss": False, "gamma": 2.0, "alpha": 0.25,
    }  # fmt: skip
    d = pd.read_csv(run / "stats/differences.csv")
    pairs = set(zip(d["condition"], d["reference"], strict=True))
    for cond in ("logit_adjusted", "focal_loss"):
        assert {(cond, "baseline"), ("gan_curated", cond)} <= pairs
    final = read(run / "final_results.json")
    assert final["classifier_results"][ARCH]["focal_loss"]["loss"] == "focal"
    text = open_in_chromium(run / "report.html")["text"]
    assert "5.7 Does it beat the long-tail losses that need no generator?" in text


def test_every_reported_score_is_possible_for_its_test_set(run):
    """mlscorecheck on every fit's metrics.json of both repeats, in distribution and external."""
    assert every_score_is_possible(run) == 2 * 2 * 2 * 11  # repeats x sets x decisions x conditions


def test_the_review_was_blinded_and_unblinded(run):
    """One page per repeat over every generator's LPIPS survivors and the real images, blinded;
    each generator's key (kept apart) says which of its part is which, and each generator's
    ingestion reads its own part."""
    syns = {"wgan_gp": "synthetic", "ddpm": "synthetic_ddpm"}
    keys = {
        g: pd.read_csv(run / f"repeat_0/{syn}/curation/review_key.csv", keep_default_na=False)
        for g, syn in syns.items()
    }
    key = pd.concat(keys.values()).drop_duplicates("blinded")
    assert (key["source"] == "real").sum() == 6 and key["blinded"].str.fullmatch(
        r"img_[0-9a-f]{12}\.png"
    ).all()
    assert set(key.loc[key["source"] == "real", "generator"]) == {""}
    for gen, syn in syns.items():
        lpips = pd.read_csv(run / f"repeat_0/{syn}/curation/lpips.csv")
        shown = keys[gen].loc[keys[gen]["source"] == "synthetic", "original"]
        assert set(keys[gen]["generator"]) == {gen, ""}
        assert sorted(shown) == sorted(lpips.loc[lpips["kept"], "image"])
        assert sorted(pd.read_csv(run / f"repeat_0/{syn}/curation/review.csv")["image"]) == sorted(shown)
    assert sorted(p.name for p in (run / "repeat_0/review/images").iterdir()) == sorted(key["blinded"])
    page = (run / "repeat_0/review/index.html").read_text()
    assert "generated_" not in page
    turing = read(run / "repeat_0/synthetic/curation/review_turing.json")
    assert turing["simulated"] and turing["n_real_images"] == 6 and len(turing["reviewers"]) == 3
    review = pd.read_csv(run / "repeat_0/synthetic/curation/review.csv")
    assert review["image"].str.startswith("generated_").all()  # real images are never candidates
    final = read(run / "final_results.json")
    assert len(final["review_turing"]) == 2 and set(final["external_sets"]) == {"shifted"}
    assert set(final["external_results"]) == {"shifted"}


def test_protocol_config_is_the_documented_shape():
    cfg = yaml.safe_load(CONFIG.read_text())
    assert cfg["data"]["split"]["repeats"] == 2 and set(cfg["evaluation"]["external"]) == {"shifted"}
    assert {"real_extra", "gan_random", "gan_best", "gan_curated_25", "focal_loss"} <= set(
        cfg["classifier"]["conditions"]
    )


def test_a_second_generator_runs_per_repeat_under_its_own_folders_and_its_fits_record_it(run):
    """generator: ddpm: the DDPM of each repeat learnt only that repeat's train DF images, its raw
    set went through the same curation into synthetic_ddpm/ with its own blinded review page and
    Turing test, and its fits record their generator and the training set both
    generators learnt from; the head-to-head pair is an exploratory row of differences.csv."""
    for r in (0, 1):
        ckpt = torch.load(run / f"repeat_{r}/ddpm/checkpoints/last.pt", weights_only=False)
        ids = "\n".join(sorted(train_df(run, r))).encode()
        assert (
            ckpt["family"] == "ddpm" and ckpt["training_set"]["ids_sha256"] == hashlib.sha256(ids).hexdigest()
        )
        syn = run / f"repeat_{r}/synthetic_ddpm"
        digest = read(syn / "curation/summary.json")["generator_training_set"]
        assert digest == ckpt["training_set"]["digest"]
        assert set(pd.read_csv(syn / "raw_manifest.csv")["generator_training_set"]) == {digest}
        assert not (run / f"repeat_{r}/review_ddpm").exists()  # one page for both generators
        turing = read(syn / "curation/review_turing.json")
        assert turing["n_synthetic_images"] == 80 and turing["review_mode"] == "simulate"
        for cond in ("ddpm_curated",):
            m = read(run / f"repeat_{r}" / ARCH / cond / "seed_42/metrics.json")
            assert m["generator"] == "ddpm" and m["generator_training_set"] == digest and m["repeat"] == r
        wgan = read(run / f"repeat_{r}" / ARCH / "gan_curated/seed_42/metrics.json")
        assert "generator" not in wgan and wgan["generator_training_set"] == digest  # the same images
    d = pd.read_csv(run / "stats/differences.csv")
    row = d[(d["condition"] == "gan_curated") & (d["reference"] == "ddpm_curated")]
    assert len(row) and set(row["family"]) == {"exploratory"}


def test_which_generator_reads_each_generators_own_files(run):
    """final_results' generators section: per generator and repeat, the KID against val of its
    own metrics.json (x 1000), the Turing test of its own review, the wall time of its own
    training job's benchmark file; the head-to-head pair; and the report's section, in Chromium,
    with each generator's closest-to-train pairs."""
    gens = read(run / "final_results.json")["generators"]
    assert gens["order"] == ["wgan_gp", "ddpm"] and ["gan_curated", "ddpm_curated"] in gens["head_to_head"]
    assert gens["each"]["ddpm"]["conditions"] == ["ddpm_curated"]
    for name, folder, syn, bench in (
        ("wgan_gp", "gan", "synthetic", "train_gan/repeat_{r}.tsv"),
        ("ddpm", "ddpm", "synthetic_ddpm", "train_generator/repeat_{r}_ddpm.tsv"),
    ):
        for r in (0, 1):
            got = gens["each"][name]["repeats"][str(r)]
            m = read(run / f"repeat_{r}/{folder}/metrics.json")["sets"]["curated"]
            assert got["sets"]["curated"]["kernel_distance_x1000_vs_val"] == pytest.approx(
                1000 * m["against"]["val"]["kernel_distance"]["mean"]
            )
            assert got["sets"]["curated"]["copying_z"] == m["copying"]["z"]
            # the curated folder describes itself: the thresholds its images passed
            passed = read(run / f"repeat_{r}/{syn}/curation/summary.json")["thresholds"]
            assert passed["blur"] == {"laplacian_var_above": 0.0, "rule": "fixed"}
            assert passed["lpips"]["min_lpips_above"] == 0.0
            turing = read(run / f"repeat_{r}/{syn}/curation/review_turing.json")
            accs = [x["accuracy"] for x in turing["reviewers"]]
            assert got["turing"]["accuracy"] == pytest.approx(sum(accs) / len(accs))
            b = pd.read_csv(run / "benchmarks" / bench.format(r=r), sep="\t")
            assert got["training"]["seconds"] == pytest.approx(float(b["s"].iloc[-1]))
    page = open_in_chromium(run / "report.html")
    assert page["problems"] == [] and page["broken"] == 0
    text = page["text"]
    assert "5.6 Which generator?" in text and "Head to head" in text
    assert "WGAN-GP: the memorisation audit" in text and "DDPM: the memorisation audit" in text
    assert (
        sum("closest to a training image" in a for a in page["alts"]) >= 3
    )  # section 2's and each generator's


TARGETS = ("results/final_results.json", "results/report.html")


def _reordered(value, free=False):
    """``value`` with the keys of every mapping reversed, but for the order of a free table's
    entries (``free``: the conditions, the external sets), which the reports show."""
    if isinstance(value, dict):
        keys = list(value) if free else list(reversed(value))
        return {k: _reordered(value[k], k in ("conditions", "external")) for k in keys}
    return value


def test_reordered_keys_rerun_nothing(run, tmp_path):
    """Snakemake compares params by their repr, in which a dict's key order counts; the
    validated config is in the schema's order, so a config that only reorders keys plans no job."""
    cfg = yaml.safe_load(CONFIG.read_text())
    conf = tmp_path / "reordered.yaml"
    conf.write_text(yaml.safe_dump(_reordered(cfg), sort_keys=False))
    assert list(yaml.safe_load(conf.read_text())) == list(reversed(cfg))
    res = snakemake(run.parent, "-n", *TARGETS, "--configfile", str(conf))
    assert res.returncode == 0, res.stderr[-3000:]
    assert planned_jobs(res.stdout) == [], res.stdout[-3000:]


def test_one_generators_curation_change_reruns_only_its_own_outputs(run, tmp_path):
    """A blur threshold for the DDPM alone reruns its curation, its part of the shared review page,
    its review, selection and fits, and the page itself; no job of the WGAN-GP's curation or fits."""
    cfg = yaml.safe_load(CONFIG.read_text())
    base = cfg["curation"]["blur_threshold"]
    # config.yaml's StyleGAN2-ADA conditions are not in the protocol's table: its threshold is unused
    cfg["curation"]["blur_threshold"] = {"wgan_gp": base, "ddpm": 1, "stylegan2_ada": base}
    conf = tmp_path / "ddpm_blur.yaml"
    conf.write_text(yaml.safe_dump(cfg, sort_keys=False))
    res = snakemake(run.parent, "-n", *TARGETS, "--configfile", str(conf))
    assert res.returncode == 0, res.stderr[-3000:]
    jobs = planned_jobs(res.stdout)
    outputs = [o for j in jobs for o in j["output"]]
    for r in (0, 1):
        for rule, out in (
            ("curate_blur", "blur.csv"),
            ("review_key", "review_key.csv"),
            ("ingest_reviews", "review.csv"),
            ("select_clusters", "summary.json"),
        ):
            assert f"results/repeat_{r}/synthetic_ddpm/curation/{out}" in outputs, rule
        assert f"results/repeat_{r}/review/index.html" in outputs
    assert not [
        o for o in outputs if any(f"/{d}/" in o for d in ("synthetic", "gan", "synthetic_stylegan2_ada"))
    ]
    fits = {j["wildcards"]["condition"] for j in jobs if j["rule"] == "fit_classifier"}
    assert fits == {"ddpm_curated"}  # the DDPM's raw set, and every WGAN-GP condition, as they were


def test_select_last_samples_the_final_weights_unscored(run):
    """snapshots.select: last (the study's): both generators sample their final weights, nothing
    scored, and the choice is on the manifest and in Which generator?."""
    gens = read(run / "final_results.json")["generators"]
    for name, folder, syn in (("wgan_gp", "gan", "synthetic"), ("ddpm", "ddpm", "synthetic_ddpm")):
        for r in (0, 1):
            rec = read(run / f"repeat_{r}/{folder}/snapshot.json")
            assert rec["method"] == "last" and len(rec["snapshots"]) == 2
            assert all(s["kid_x1000_vs_val"] is None for s in rec["snapshots"])
            assert rec["chosen"]["snapshot"] == 1 and rec["chosen"][rec["unit"]] == rec["of"]
            final = torch.load(run / f"repeat_{r}/{folder}/generator.pt", weights_only=True)["state_dict"]
            chosen = torch.load(run / f"repeat_{r}/{folder}/selected_generator.pt", weights_only=True)
            assert all(torch.equal(final[k], chosen["state_dict"][k]) for k in final)
            assert set(pd.read_csv(run / f"repeat_{r}/{syn}/raw_manifest.csv")["snapshot_select"]) == {"last"}
            assert gens["each"][name]["repeats"][str(r)]["snapshot"]["select"] == "last"
        assert gens["each"][name]["budget"]["set_by"] in ("gan.total_iterations", "ddpm.total_steps")
