"""benchmarks/gpu_check.sh --smoke: the GPU check's every step, on the CPU at tiny sizes, so the
script a lent GPU runs once is known to run (its figures here are CPU figures and not checked)."""

from __future__ import annotations

import json
import sys

import pytest

from tests.helpers import REPO, run

pytestmark = pytest.mark.workflow


def test_gpu_check_smoke_runs_every_step_and_summarises(tmp_path):
    script = str(REPO / "benchmarks/gpu_check.sh")
    res = run(
        ["env", f"PYTHON={sys.executable}", "bash", script, "--smoke", str(tmp_path / "out")], timeout=900
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    result = json.loads((tmp_path / "out/gpu_check.json").read_text())
    assert result["smoke"] is True
    assert {k: v["status"] for k, v in result["steps"].items()} == dict.fromkeys(
        ("gan_step", "classifier", "gan_metrics", "demo"), "passed"
    )
    gan = result["gan_step"]["runs"][0]
    assert gan["iterations_per_second"] > 0 and gan["previous_step_iterations_per_second"] > 0
    assert gan["new_over_previous_speed"] == pytest.approx(
        gan["iterations_per_second"] / gan["previous_step_iterations_per_second"], rel=0.02
    )
    assert [r["arch"] for r in result["classifier"]["runs"]] == ["resnet50", "timm/tf_efficientnet_lite0"]
    assert result["gan_metrics"]["sets"] == ["curated", "raw"]
    md = (tmp_path / "out/gpu_check.md").read_text()
    assert "smoke" in md and "| demo | passed |" in md


def test_gpu_check_refuses_a_missing_outdir_argument():
    res = run(["bash", str(REPO / "benchmarks/gpu_check.sh")], cwd=REPO, timeout=60)
    assert res.returncode == 2 and "usage" in res.stderr
