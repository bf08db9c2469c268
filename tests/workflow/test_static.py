"""The workflow as users plan it: dry runs, lint and format, and config errors before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.helpers import REPO, planned_jobs, run, tool

SNAKEFILE = str(REPO / "workflow" / "Snakefile")

DEMO = str(REPO / "config" / "demo.yaml")


def snakemake(workdir: Path, *args: str, timeout: float = 600):
    return run([tool("snakemake"), "-s", SNAKEFILE, "-d", str(workdir), *args], cwd=workdir, timeout=timeout)


@pytest.mark.parametrize("configfile", ["config/config.yaml", "config/demo.yaml"])
def test_dry_run_plans(configfile):
    res = run([tool("snakemake"), "-n", "--configfile", configfile])
    assert res.returncode == 0, res.stderr[-3000:]


def test_lint_is_clean():
    res = run([tool("snakemake"), "--lint", "--configfile", "config/demo.yaml"])
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "Congratulations, your workflow is in a good condition!" in res.stdout + res.stderr


def test_snakefmt_is_clean():
    res = run([tool("snakefmt"), "--check", "workflow"])
    assert res.returncode == 0, res.stderr[-3000:]


def test_ruff_is_clean():
    res = run([tool("ruff"), "check", "."])
    assert res.returncode == 0, res.stdout[-3000:]
    res = run([tool("ruff"), "format", "--check", "."])
    assert res.returncode == 0, res.stdout[-3000:]


def test_bad_config_stops_before_anything_runs(tmp_path):
    bad = tmp_path / "bad.yaml"
    cfg = yaml.safe_load(Path(DEMO).read_text())
    cfg["data"]["format"] = "isic2018"
    cfg["data"]["imagesize"] = 3
    bad.write_text(yaml.safe_dump(cfg))
    res = snakemake(tmp_path, "-n", "--configfile", str(bad))
    assert res.returncode != 0
    out = res.stdout + res.stderr
    assert "config key 'data.format': 'isic2018' is not allowed" in out
    assert "unknown key(s) 'imagesize' under 'data'" in out


def test_missing_real_data_says_what_to_do(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        yaml.safe_dump({"data": {"images": "nope", "ground_truth": "nope.csv", "download": False}})
    )
    res = snakemake(tmp_path, "-n", "--configfile", str(cfg))
    assert res.returncode != 0
    assert "data.ground_truth: nope.csv" in res.stdout + res.stderr
    assert "data.download: true" in res.stdout + res.stderr


def test_repeats_plan_a_gan_each_and_no_job_reads_another_repeats_files(tmp_path):
    """With data.split.repeats: 2 the plan has two splits, two of each generator, their curations, and every
    job of repeat r reads only repeat r's files or the split-free ones (results/data/, the raw
    data, the weights); the aggregates and statistics read both."""
    cfg = yaml.safe_load(Path(DEMO).read_text())
    cfg["data"]["split"]["repeats"] = 2
    conf = tmp_path / "two.yaml"
    conf.write_text(yaml.safe_dump(cfg))
    res = snakemake(tmp_path, "-n", "--configfile", str(conf))
    assert res.returncode == 0, res.stderr[-3000:]
    jobs = planned_jobs(res.stdout)
    rules = ("split", "train_gan", "train_generator", "review_sheet", "select_clusters", "gan_metrics")
    count = {r: sum(j["rule"] == r for j in jobs) for r in rules}
    # the demo's three generators: the WGAN-GP, a DDPM and StyleGAN2-ADA, one review page and
    # three curations a repeat
    assert count == {"split": 2, "train_gan": 2, "train_generator": 4, "review_sheet": 2,
                     "select_clusters": 6, "gan_metrics": 2}  # fmt: skip
    per_repeat = [j for j in jobs if "repeat" in j["wildcards"]]
    assert {j["rule"] for j in per_repeat} >= {
        "split",
        "train_gan",
        "sample_gan",
        "curate_lpips",
        "fit_classifier",
    }
    for j in per_repeat:
        own = f"results/repeat_{j['wildcards']['repeat']}/"
        for path in j["input"]:
            # the external sets are split-free too, and only the fits read them
            shared = ("results/data/", "resources/") + (
                ("results/external/",) if j["rule"] == "fit_classifier" else ()
            )
            assert path.startswith((own, *shared)), (j["rule"], j["wildcards"], path)
        assert all(p.startswith((own, "results/logs", "results/benchmarks")) for p in j["output"]), j
    stats = next(j for j in jobs if j["rule"] == "significance")
    # each repeat's test lesions, the external sets, and the split-free same-lesion pairs
    assert {p.split("/")[1] for p in stats["input"]} == {"repeat_0", "repeat_1", "external", "data"}
    assert "results/data/same_lesion.csv" in stats["input"]


def test_a_target_may_name_an_architecture_the_config_leaves_out(tmp_path):
    """The design card's own single-target example, tried as a new user would, with the demo
    config (whose classifier.archs is EfficientNet-Lite0 only): it stopped with a bare
    MissingRuleException; now it is planned like the configured ones, each replicate's fit and
    the aggregate. A per-architecture weights table that leaves the architecture out says so."""
    res = snakemake(tmp_path, "-n", "results/resnet50/gan_curated/metrics.json", "--configfile", DEMO)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    jobs = planned_jobs(res.stdout)
    fits = [j for j in jobs if j["rule"] == "fit_classifier"]
    assert {(j["wildcards"]["arch"], j["wildcards"]["condition"]) for j in fits} == {
        ("resnet50", "gan_curated")
    }
    assert any(j["rule"] == "aggregate_replicates" for j in jobs)
    cfg = yaml.safe_load(Path(DEMO).read_text())
    cfg["classifier"]["weights"] = {"timm/tf_efficientnet_lite0": "imagenet"}
    conf = tmp_path / "table.yaml"
    conf.write_text(yaml.safe_dump(cfg))
    res = snakemake(tmp_path, "-n", "results/resnet50/gan_curated/metrics.json", "--configfile", str(conf))
    assert res.returncode != 0
    assert "classifier.weights gives no weights for 'resnet50'" in res.stdout + res.stderr
    assert "add resnet50: imagenet, random or the path of a state dict" in res.stdout + res.stderr


def test_a_condition_of_another_generator_plans_that_generator_and_its_own_curation(tmp_path):
    """generator: ddpm in a condition plans the DDPM's training and sampling (train_generator,
    sample_generator on ddpm/ and synthetic_ddpm/), the same curation rules on its raw set (the
    {sfx} wildcard: _ddpm) and metrics, its candidates on the repeat's one review page beside the
    WGAN-GP's; its fit reads synthetic_ddpm/ only.
    The study's generator keeps its rules and paths (rule all still builds it)."""
    cfg = yaml.safe_load(Path(DEMO).read_text())
    cond = {"synthetic": "curated", "n_synthetic": 100, "real_minority": True, "augment": False}
    cfg["classifier"]["conditions"]["ddpm_curated"] = {**cond, "generator": "ddpm"}
    cfg["ddpm"] = {"block_out_channels": [16, 32, 64], "norm_num_groups": 8}
    conf = tmp_path / "ddpm.yaml"
    conf.write_text(yaml.safe_dump(cfg))
    res = snakemake(tmp_path, "-n", "--configfile", str(conf))
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    jobs = planned_jobs(res.stdout)
    rules = [j["rule"] for j in jobs]
    # the demo's three generators: the study's WGAN-GP, the DDPM and StyleGAN2-ADA
    syn = ("synthetic", "synthetic_ddpm", "synthetic_stylegan2_ada")
    assert rules.count("train_gan") == 1 and rules.count("train_generator") == 2
    assert rules.count("curate_lpips") == rules.count("select_clusters") == 3
    assert rules.count("review_sheet") == 1  # one page for all
    assert rules.count("review_key") == rules.count("ingest_reviews") == 3  # each keyed and read alone
    assert rules.count("gan_metrics") == 1 and rules.count("generator_metrics") == 2
    gdirs = {j["wildcards"]["gdir"] for j in jobs if j["rule"] == "train_generator"}
    assert gdirs == {"ddpm", "stylegan2_ada"}
    blur = sorted(j["output"][0] for j in jobs if j["rule"] == "curate_blur")
    assert blur == [f"results/repeat_0/{s}/curation/blur.csv" for s in syn]
    page = next(j for j in jobs if j["rule"] == "review_sheet")
    assert page["output"] == ["results/repeat_0/review/index.html"]
    keys = {f"results/repeat_0/{s}/curation/review_key.csv" for s in syn}
    assert keys <= set(page["input"])
    for s in syn:
        ingest = next(j for j in jobs if j["rule"] == "ingest_reviews" and f"/{s}/" in j["output"][0])
        assert ingest["output"] == [
            f"results/repeat_0/{s}/curation/{f}" for f in ("review.csv", "review_turing.json")
        ]
        # its own key and curation tables, and nothing of the other generator's, nor the page
        assert f"results/repeat_0/{s}/curation/review_key.csv" in ingest["input"]
        others = [o for o in syn if o != s]
        assert not any(
            f"/{o}/" in i or i.endswith("review/index.html") for o in others for i in ingest["input"]
        )
    fit = next(
        j for j in jobs if j["rule"] == "fit_classifier" and j["wildcards"]["condition"] == "ddpm_curated"
    )
    assert "results/repeat_0/synthetic_ddpm/curated" in fit["input"]
    assert not any("/synthetic/" in i for i in fit["input"])
    res = snakemake(
        tmp_path, "-n", "results/repeat_0/synthetic_ddpm/curation/summary.json", "--configfile", str(conf)
    )
    assert res.returncode == 0, res.stderr[-3000:]
    planned = {j["rule"] for j in planned_jobs(res.stdout)}
    assert {
        "train_generator",
        "sample_generator",
        "review_key",
        "ingest_reviews",
        "select_clusters",
    } <= planned
    # each generator's part of the shared review page is keyed and ingested on its own, so the
    # DDPM's curated set waits for nothing of the WGAN-GP's, nor for the page itself
    assert not planned & {"train_gan", "sample_gan", "review_sheet", "gan_metrics"}


def test_a_condition_without_its_data_is_left_out_of_the_plan_not_out_of_the_config(tmp_path):
    """real_extra needs extra real minority images: without them (the phantom's n_extra_minority:
    0) no job of it is planned, and final_results says why."""
    cfg = yaml.safe_load(Path(DEMO).read_text())
    cfg["data"]["phantom"]["n_extra_minority"] = 0
    cfg["evaluation"]["pairs"] = [p for p in cfg["evaluation"]["pairs"] if "real_extra" not in p]
    conf = tmp_path / "no_extra.yaml"
    conf.write_text(yaml.safe_dump(cfg))
    res = snakemake(tmp_path, "-n", "--configfile", str(conf))
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    jobs = planned_jobs(res.stdout)
    conditions = {j["wildcards"].get("condition") for j in jobs if j["rule"] == "fit_classifier"}
    assert "real_extra" not in conditions and "real_oversampled" in conditions
    assert not [j for j in jobs if j["rule"] == "extra_minority" or "real_extra" in str(j["output"])]
