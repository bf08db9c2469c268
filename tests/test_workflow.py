"""The workflow as users run it: planning, linting, and the data rules on the demo config."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import shutil
import threading
import zipfile
from pathlib import Path

import pytest
import yaml

from ganaug.config import PhantomConfig
from ganaug.data.phantom import write_phantom

from .conftest import REPO, run, tool

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


def _hash_tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.mark.workflow
def test_demo_data_rules_are_byte_identical_across_runs(tmp_path):
    """snakemake results/data/metadata.csv on the demo config, twice, in two folders."""
    trees = []
    for name in ("a", "b"):
        wd = tmp_path / name
        wd.mkdir()
        res = snakemake(wd, "results/data/metadata.csv", "--configfile", DEMO, "--cores", "2")
        assert res.returncode == 0, res.stderr[-4000:]
        trees.append({**_hash_tree(wd / "results" / "data"), **_hash_tree(wd / "resources")})
        meta = (wd / "results/data/metadata.csv").read_text().splitlines()
        assert meta[0] == "image_id,path,label,target,split,lesion_id,patient_id,source,crop_method,synthetic"
        assert (wd / "results/data/summary.json").is_file()
        assert (wd / "results/data/rejects.csv").read_text() == "image_id,reason\n"
    assert trees[0] == trees[1]
    assert "metadata.csv" in trees[0] and "summary.json" in trees[0]


@pytest.mark.workflow
def test_demo_chain_to_a_classifier_target(tmp_path):
    """snakemake results/resnet50/gan_curated/metrics.json on the demo config: the data rules,
    GAN, sampling, every curation stage (demo thresholds, simulated review, random-init
    backbones), one classifier fit and the seed aggregation."""
    res = snakemake(
        tmp_path, "results/resnet50/gan_curated/metrics.json", "--configfile", DEMO, "--cores", "2"
    )
    assert res.returncode == 0, res.stderr[-4000:]
    demo = yaml.safe_load(Path(DEMO).read_text())
    raw = sorted(p.name for p in (tmp_path / "results/synthetic/raw").glob("*.png"))
    assert raw == [f"generated_{i:04d}.png" for i in range(demo["gan"]["n_samples"])]
    gan = tmp_path / "results/gan"
    assert len((gan / "history.csv").read_text().splitlines()) == 1 + 400 // 10
    assert sorted(p.name for p in (gan / "grids").iterdir()) == [
        f"iter_{i:06d}.png" for i in (100, 200, 300, 400)
    ]
    assert any((gan / "tensorboard").iterdir())
    assert (
        "training from scratch on 32 minority images" in (tmp_path / "results/logs/train_gan.log").read_text()
    )
    cur = tmp_path / "results/synthetic/curation"
    summary = json.loads((cur / "summary.json").read_text())
    kept = [s["kept"] for s in summary["funnel"]]
    assert [s["stage"] for s in summary["funnel"]] == ["raw", "blur", "ssim", "lpips", "review", "clusters"]
    assert kept == sorted(kept, reverse=True) and kept[-1] > 0
    assert summary["simulated_review"] is True and summary["review_mode"] == "simulate"
    curated = sorted(p.name for p in (tmp_path / "results/synthetic/curated").glob("*.png"))
    assert len(curated) == kept[-1] == min(demo["curation"]["final_count"], kept[-2])
    clusters = (cur / "clusters.csv").read_text()
    assert "resnet50-random-init (not comparable)" in clusters
    assert "RANDOM-INIT VGG16" in (tmp_path / "results/logs/curate_lpips.log").read_text()

    fit_dir = tmp_path / "results/resnet50/gan_curated/seed_42"
    run = json.loads((fit_dir / "metrics.json").read_text())
    assert run["simulated_review"] is True and run["weights"] == "none"
    assert run["composition"]["synthetic_minority"] == min(
        demo["classifier"]["conditions"]["gan_curated"]["n_synthetic"], len(curated)
    )
    agg = json.loads((tmp_path / "results/resnet50/gan_curated/metrics.json").read_text())
    assert agg["seeds"] == [42] and agg["tuned"]["f1"]["per_seed"] == [run["tuned"]["f1"]]
    assert agg["simulated_review"] is True
    lines = (fit_dir / "predictions.csv").read_text().splitlines()
    assert lines[0] == "image_id,target,prob,pred_argmax,pred_tuned"
    for name in ("model.pt", "history.csv", "training_curves.png", "confusion_matrix.png", "pr_curve.png"):
        assert (fit_dir / name).stat().st_size > 0

    # ---- then the evaluation and the report, on the same outputs: the demo config narrowed to
    # one architecture and two conditions (the full 15 fits run in the README's demo command)
    narrow = dict(demo)
    narrow["classifier"] = {
        **demo["classifier"],
        "archs": ["resnet50"],
        "conditions": {c: demo["classifier"]["conditions"][c] for c in ("baseline", "gan_curated")},
    }
    conf = tmp_path / "narrow.yaml"
    conf.write_text(yaml.safe_dump(narrow))
    res = snakemake(tmp_path, "--configfile", str(conf), "--cores", "2")
    assert res.returncode == 0, res.stderr[-4000:]
    check_evaluation_outputs(tmp_path / "results", demo, curated_count=len(curated))
    # snakemake --report: every report() figure with its caption, browsable offline
    res = snakemake(tmp_path, "--configfile", str(conf), "--report", "results/report.zip")
    assert res.returncode == 0, res.stderr[-4000:]
    with zipfile.ZipFile(tmp_path / "results/report.zip") as z:
        names = {Path(n).name for n in z.namelist()}
    assert {"report.html", "ablation.png", "real_vs_synthetic.png", "samples_grid.png", "tsne.png"} <= names
    assert {"training_curves.png", "confusion_matrix.png", "pr_curve.png"} <= names


def check_evaluation_outputs(results: Path, demo: dict, curated_count: int) -> None:
    import nbformat

    gan = json.loads((results / "gan/metrics.json").read_text())
    assert gan["feature_extractor"]["comparable"] is False
    assert "not comparable" in gan["feature_extractor"]["name"]
    # two references: the train-split DF images and the held-out validation DF images
    assert {k: v["n"] for k, v in gan["references"].items()} == {"train": 32, "val": 7}
    # every set at the same size: the raw set subsampled to the curated set's
    assert gan["sets"]["raw"]["n_synthetic"] == gan["sets"]["curated"]["n_synthetic"] == curated_count
    assert gan["sets"]["raw"]["subsample"]["of"] == demo["gan"]["n_samples"]
    for s in gan["sets"].values():
        assert s["inception_score"]["splits"] == 10
        for ref, n in (("train", 32), ("val", 7)):
            a = s["against"][ref]
            assert a["n_real"] == n and a["kid"]["subset_size"] == n and a["k"] == 3 and a["fid"] > 0
            assert a["headline"]["metric"] == "kid"
    assert (results / "gan/real_vs_synthetic.png").stat().st_size > 0
    # every GAN figure recomputed from the features and per-image values stored beside it
    import numpy as np
    import pandas as pd

    from ganaug.evaluation.synthetic_quality import Settings, feature_metrics

    feats = np.load(results / "gan/features.npz")
    per_image = pd.read_csv(results / "gan/per_image.csv")
    ev = demo["evaluation"]
    settings = Settings(**{k: ev[k] for k in ("is_splits", "kid_subsets", "kid_subset_size", "pr_k")})
    for name, s in gan["sets"].items():
        for ref in ("train", "val"):
            a = s["against"][ref]
            again = feature_metrics(feats[f"real_{ref}_pool"], feats[f"{name}_pool"], settings)
            assert again["fid"] == pytest.approx(a["fid"], rel=1e-9)
            assert again["kid"] == pytest.approx(a["kid"], rel=1e-9)
            assert (again["precision"], again["recall"]) == (a["precision"], a["recall"])
            rows = per_image[(per_image["set"] == name) & (per_image["reference"] == ref)]
            assert rows["image"].tolist() == feats[f"{name}_images"].tolist()
            assert rows["lpips_to_nearest_real"].mean() == pytest.approx(
                a["lpips_to_nearest_real"]["mean"], rel=1e-9
            )
            assert rows["ssim_best_match"].mean() == pytest.approx(a["ssim_best_match"]["mean"], rel=1e-9)
    check_comparisons(results)
    assert (results / "ablation.png").stat().st_size > 0

    final = json.loads((results / "final_results.json").read_text())
    assert final["provenance"]["phantom_demo_data"] is True
    assert final["provenance"]["simulated_review"] is True
    assert final["order"] == {"archs": ["resnet50"], "conditions": ["baseline", "gan_curated"]}
    assert final["gan_metrics"] == gan
    for cond in ("baseline", "gan_curated"):
        run = json.loads((results / f"resnet50/{cond}/seed_42/metrics.json").read_text())
        assert final["classifier_results"]["resnet50"][cond]["f1"]["per_seed"] == [run["tuned"]["f1"]]
    base = final["classifier_results"]["resnet50"]["baseline"]["f1"]["mean"]
    new = final["classifier_results"]["resnet50"]["gan_curated"]["f1"]["mean"]
    change = final["improvement_percentages"]["by_arch"]["resnet50"]["baseline"]["gan_curated"]["f1"]
    assert change["absolute"] == pytest.approx(new - base)
    assert change["relative_pct"] == (None if base == 0 else pytest.approx(100 * (new - base) / base))
    diffs = pd.read_csv(results / "stats/differences.csv")
    from ganaug.evaluation.final_results import clean

    assert final["comparisons"]["differences"] == [clean(r) for r in diffs.to_dict("records")]
    change = final["improvement_percentages"]["by_arch"]["resnet50"]["baseline"]["gan_curated"]["f1"]
    row = diffs[(diffs["metric"] == "f1") & (diffs["decision"] == "tuned")].iloc[0]
    assert change["absolute"] == pytest.approx(row["delta"])

    # the notebooks ran, every code cell, without an error output
    for name in (
        "report",
        "01_data_exploration",
        "02_gan_training",
        "03_classifier_training",
        "04_results_analysis",
    ):
        nb = nbformat.read(str(results / f"notebooks/{name}.ipynb"), as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert code and all(c.execution_count for c in code), name
        assert not [o for c in code for o in c.outputs if o.output_type == "error"], name

    html = (results / "report.html").read_text()
    assert "https://cdn" not in html and "<script src=" not in html  # opens offline
    assert "def " not in html and "import " not in html  # code hidden
    for heading in (
        "1. Data",
        "2. The GAN",
        "3. Curation",
        "4. Classifiers",
        "5. Does it help?",
        "6. The study",
    ):
        assert heading in html
    # the answer is given as differences with direction words, never as "significant: yes/no"
    assert "no evidence" in html or "better" in html or "worse" in html
    assert "significant at 0.05" not in html
    assert "every row of <code>results/stats/differences.csv</code>" in html
    assert "PHANTOM" in html and "SIMULATED" in html
    open_in_chromium(results / "report.html")


def check_comparisons(results: Path) -> None:
    """differences.csv and mcnemar.csv: their columns, every delta recomputed from the two fits'
    predictions.csv, every interval containing its estimate, balanced weights in every fit."""
    import numpy as np
    import pandas as pd
    from sklearn.metrics import average_precision_score, balanced_accuracy_score, f1_score, recall_score

    diffs = pd.read_csv(results / "stats/differences.csv")
    assert list(diffs.columns[:13]) == ["arch", "condition", "reference", "metric", "decision", "value",
                                        "reference_value", "delta", "ci_low", "ci_high", "p", "p_holm",
                                        "direction"]  # fmt: skip
    assert set(diffs["direction"]) <= {"better", "worse", "no evidence"} and len(diffs) > 0
    assert ((diffs["ci_low"] <= diffs["delta"]) & (diffs["delta"] <= diffs["ci_high"])).all()

    def score(pred: pd.DataFrame, metric: str, column: str) -> float:
        y, d = pred["target"], pred[column]
        return {
            "sensitivity": recall_score(y, d, zero_division=0),
            "specificity": recall_score(1 - y, 1 - d, zero_division=0),
            "f1": f1_score(y, d, zero_division=0),
            "pr_auc": average_precision_score(y, pred["prob"]),
            "balanced_accuracy": balanced_accuracy_score(y, d),
        }[metric]

    for r in diffs.itertuples():
        col = f"pred_{r.decision}"
        a = pd.read_csv(results / r.arch / r.condition / "seed_42/predictions.csv")
        b = pd.read_csv(results / r.arch / r.reference / "seed_42/predictions.csv")
        assert r.delta == pytest.approx(score(a, r.metric, col) - score(b, r.metric, col), abs=1e-9)
    mc = pd.read_csv(results / "stats/mcnemar.csv")
    assert {"arch", "condition", "class", "b", "c", "winner", "method", "p", "p_holm"} <= set(mc.columns)
    assert sorted(set(mc["class"])) == ["dermatofibroma", "nevus"]
    for fit in results.glob("*/*/seed_42/metrics.json"):
        m = json.loads(fit.read_text())
        assert m["class_weight_mode"] == "balanced"
        assert m["weighted_mass"]["minority"] == pytest.approx(m["weighted_mass"]["majority"])
        assert np.isfinite(m["best_val_score"]) and m["epoch_criterion"] == "validation PR-AUC"
    assert (results / "stats/forest.png").stat().st_size > 0


def open_in_chromium(page: Path) -> None:
    """Load the page in headless Chromium: no script error, no failed request, every image decoded."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        if os.environ.get("GANAUG_REQUIRE_BROWSER") == "1":
            raise AssertionError("chromium is required (GANAUG_REQUIRE_BROWSER=1) but not installed")
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium, args=["--no-sandbox", "--disable-gpu"], headless=True
        )
        try:
            tab = browser.new_page()
            problems: list[str] = []
            tab.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            tab.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
            tab.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
            tab.goto(page.resolve().as_uri(), wait_until="load")
            n_images = tab.evaluate("document.images.length")
            broken = tab.evaluate(
                "Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).length"
            )
            assert problems == []
            assert n_images >= 6 and broken == 0
            assert "Synthetic dermatofibroma" in tab.inner_text("body")
        finally:
            browser.close()


class _Static(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.mark.workflow
def test_download_rule_against_loopback(tmp_path):
    """data.download: true fetches, verifies and unpacks the archive, then the data rules run."""
    serve = tmp_path / "serve"
    src = tmp_path / "src"
    cfg = PhantomConfig(6, 20, 0.2, 0.0, 160, 120, 90, 3)
    write_phantom(
        cfg,
        src / "ISIC_2019_Training_Input",
        serve / "ISIC_2019_Training_GroundTruth.csv",
        serve / "ISIC_2019_Training_Metadata.csv",
        None,
    )
    with zipfile.ZipFile(serve / "ISIC_2019_Training_Input.zip", "w") as zf:
        for p in sorted((src / "ISIC_2019_Training_Input").iterdir()):
            zf.write(p, f"ISIC_2019_Training_Input/{p.name}")
    sha = hashlib.sha256((serve / "ISIC_2019_Training_GroundTruth.csv").read_bytes()).hexdigest()

    requests: list[str] = []

    class Counting(_Static):
        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

    def handler(*a, **kw):
        return Counting(*a, directory=str(serve), **kw)

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        wd = tmp_path / "wd"
        wd.mkdir()
        conf = wd / "c.yaml"
        conf.write_text(
            yaml.safe_dump(
                {
                    "data": {
                        "image_size": 32,
                        "download": True,
                        "download_url": f"http://127.0.0.1:{httpd.server_address[1]}/",
                        "download_sha256": {"ISIC_2019_Training_GroundTruth.csv": sha},
                        "phantom": None,
                    }
                }
            )
        )
        res = snakemake(wd, "results/data/metadata.csv", "--configfile", str(conf), "--cores", "2")
        assert res.returncode == 0, res.stderr[-4000:]
        # into the workflow's own folder, never the configured (missing) resources/isic2019/
        owned = wd / "resources/downloads/isic2019"
        images = sorted(p.name for p in (owned / "ISIC_2019_Training_Input").glob("*.jpg"))
        assert images == sorted(p.name for p in (src / "ISIC_2019_Training_Input").iterdir())
        assert not (wd / "resources/isic2019").exists()
        n_rows = len((wd / "results/data/metadata.csv").read_text().splitlines()) - 1
        assert n_rows == len(images)
        # a completed download is protected and never an output again: -F reruns the data rules
        # from it without fetching anything
        assert not os.access(owned / "ISIC_2019_Training_GroundTruth.csv", os.W_OK) or os.geteuid() == 0
        assert (owned / "ISIC_2019_Training_GroundTruth.csv").stat().st_mode & 0o222 == 0
        before = _hash_tree(owned)
        served = len(requests)
        res = snakemake(wd, "results/data/metadata.csv", "--configfile", str(conf), "--cores", "2", "-F")
        assert res.returncode == 0, res.stderr[-4000:]
        assert _hash_tree(owned) == before and len(requests) == served
    finally:
        httpd.shutdown()
        httpd.server_close()
    shutil.rmtree(wd / "resources")
