"""benchmarks/gpu_check.sh --smoke: the GPU check's every step, on the CPU at tiny sizes, so the
script a lent GPU runs once is known to run (its figures here are CPU figures and not checked);
and its full mode's time limit, which holds by construction."""

from __future__ import annotations

import json
import re
import sys

import pytest

from tests.helpers import REPO, run

pytestmark = pytest.mark.workflow
STEPS = ["versions", "gan_step", "gan_compiled", "precision", "resume", "diffaugment", "fit", "decode",
         "lpips", "projection"]  # fmt: skip


def test_gpu_check_smoke_runs_every_step_and_summarises(tmp_path):
    script = str(REPO / "benchmarks/gpu_check.sh")
    res = run(
        ["env", f"PYTHON={sys.executable}", "bash", script, "--smoke", str(tmp_path / "out")], timeout=900
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    result = json.loads((tmp_path / "out/gpu_check.json").read_text())
    assert result["smoke"] is True
    assert list(result["steps"]) == STEPS
    assert {k: v["status"] for k, v in result["steps"].items()} == dict.fromkeys(STEPS, "passed")
    gan = result["gan_step"]["runs"][0]
    assert gan["iterations_per_second"] > 0 and gan["previous_step_iterations_per_second"] > 0
    assert gan["new_over_previous_speed"] == pytest.approx(
        gan["iterations_per_second"] / gan["previous_step_iterations_per_second"], rel=0.02
    )
    # the kill-and-resume step: SIGTERM (exit 1 from Preempted) and a bit-identical end on the CPU
    assert result["resume"]["bit_identical"] is True and result["resume"]["sigterm_exit_code"] != 0
    assert 0 < result["resume"]["stopped_at"] < result["resume"]["iterations"]
    assert result["diffaugment"]["finite"] is True
    assert result["decode"]["identical_pixels"] is True
    assert set(result["fit"]) >= {"tf32", "bf16", "two_at_once_bf16"}
    assert result["projection"]["study_cost"]["one_gpu"]["wall_hours"] > 0
    md = (tmp_path / "out/gpu_check.md").read_text()
    assert "smoke" in md and "| projection | passed |" in md


def test_the_full_check_stops_within_eight_minutes_by_construction():
    """Every step has its own timeout; with the grace before each KILL they add up to at most
    480 s, and every step is one of the check's."""
    text = (REPO / "benchmarks/gpu_check.sh").read_text()
    limits = dict(re.findall(r"\[(\w+)\]=(\d+)", re.search(r"declare -A LIMIT=\(([^)]*)\)", text).group(1)))
    grace = int(re.search(r"timeout --kill-after=(\d+)", text).group(1))
    assert list(limits) == STEPS
    assert sum(map(int, limits.values())) + grace * len(limits) <= 480
    assert "trap summarise EXIT" in text  # a killed check keeps its summary


def test_a_killed_check_keeps_what_it_measured(tmp_path):
    """The summary is rewritten after each step: a check stopped after its first step leaves a
    gpu_check.json with that step passed and the rest not run."""
    out = tmp_path / "out"
    out.mkdir()
    res = run(
        [sys.executable, str(REPO / "benchmarks/gpu_check.py"), "versions", str(out), "--smoke"], timeout=120
    )
    assert res.returncode == 0, res.stderr
    args = [
        f"{s}={'passed' if s == 'versions' else 'not_run'}:{1 if s == 'versions' else ''}:10" for s in STEPS
    ]
    res = run(
        [sys.executable, str(REPO / "benchmarks/gpu_check_summary.py"), str(out), "1", *args], timeout=60
    )
    assert res.returncode == 0, res.stderr
    result = json.loads((out / "gpu_check.json").read_text())
    assert (
        result["versions"]["torch"]
        and result["steps"]["fit"]["status"] == "not_run"
        and result["fit"] is None
    )


def test_gpu_check_refuses_a_missing_outdir_argument():
    res = run(["bash", str(REPO / "benchmarks/gpu_check.sh")], cwd=REPO, timeout=60)
    assert res.returncode == 2 and "usage" in res.stderr
