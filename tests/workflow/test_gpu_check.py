"""benchmarks/gpu_check.sh --smoke: the GPU check's every step, on the CPU at tiny sizes, so the
script a lent GPU runs once is known to run (its figures here are CPU figures and not checked);
and its full mode's time limit, which holds by construction."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from tests.helpers import REPO, run

pytestmark = pytest.mark.workflow
STEPS = ["versions", "gan_step", "gan_compiled", "precision", "resume", "diffaugment", "fit", "decode",
         "lpips", "projection"]  # fmt: skip


def test_gpu_check_smoke_runs_every_step_and_summarises(tmp_path):
    script = str(REPO / "benchmarks/gpu_check.sh")
    res = run(
        ["env", f"PYTHON={sys.executable}", "bash", script, "--smoke", str(tmp_path / "out")], timeout=3000
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


def test_a_killed_check_stops_at_once_and_keeps_what_it_measured(tmp_path):
    """SIGTERM to the check mid-step: the step is stopped with it, and gpu_check.json holds the
    steps done so far, the interrupted one named, the rest not run."""
    out = tmp_path / "out"
    cmd = ["bash", str(REPO / "benchmarks/gpu_check.sh"), "--smoke", str(out)]
    env = {**os.environ, "PYTHON": sys.executable}
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    t0 = time.monotonic()
    while not (out / "gan_step.log").exists():  # versions done, gan_step running
        assert proc.poll() is None and time.monotonic() - t0 < 120, proc.stderr.read()
        time.sleep(0.05)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 143
    result = json.loads((out / "gpu_check.json").read_text())
    status = {k: v["status"] for k, v in result["steps"].items()}
    assert status["versions"] == "passed" and status["gan_step"] == "interrupted"
    assert set(list(status.values())[2:]) == {"not_run"} and result["versions"]["torch"]


def test_gpu_check_refuses_a_missing_outdir_argument():
    res = run(["bash", str(REPO / "benchmarks/gpu_check.sh")], cwd=REPO, timeout=60)
    assert res.returncode == 2 and "usage" in res.stderr
