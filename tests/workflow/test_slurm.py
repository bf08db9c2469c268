"""The workflow on a real single-node SLURM cluster, through `snakemake --profile profiles/slurm`.

.ci/run starts the cluster with tests/slurm/start-slurm.sh (and stops it afterwards) and sets
GANAUG_REQUIRE_SLURM=1, so there these tests must run; elsewhere they skip when no cluster
answers. The shipped profile is used as the README says, with only the partition and account
set (as a user edits them), plus a shorter wait before the first status check, which changes
nothing but how soon Snakemake looks, and the cores each job may use.

No assertion here depends on the machine's speed. The jobs get this xdist worker's share of the
cores (a SLURM job otherwise runs a rule's declared threads, 2, beside the other worker's
Snakemake run on the same 2 cores: torch's threads then wait for each other, and the GAN ran at
12.65 s an iteration in CI instead of a few per second). The timeouts only stop a hung run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.helpers import CORES_EACH, REPO, rule_threads, tool

DEMO = REPO / "config" / "demo.yaml"
HUNG = 1800  # seconds after which a run is called hung (a guard, not a speed requirement)


def cluster_up() -> bool:
    if shutil.which("scontrol") is None:
        return False
    try:
        out = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=10).stdout
    except (subprocess.SubprocessError, OSError):
        return False
    return "UP" in out


def edited_profile(workdir: Path) -> Path:
    """profiles/slurm as a user leaves it after README step 2: partition and account filled in."""
    dest = workdir / "profile"
    shutil.copytree(REPO / "profiles" / "slurm", dest)
    cfg = dest / "config.yaml"
    text = cfg.read_text()
    assert "EDIT-ME-partition" in text and "EDIT-ME-account" in text
    profile = yaml.safe_load(text.replace("EDIT-ME-partition", "debug").replace("EDIT-ME-account", "ci"))
    # this worker's share of the cores, for every job: --set-threads reaches the job inside
    # SLURM (the job step runs `snakemake --cores all` otherwise), cpus_per_task the allocation
    profile["set-threads"] = {r: min(t, CORES_EACH) for r, t in rule_threads().items()}
    profile["default-resources"]["cpus_per_task"] = CORES_EACH
    for res in profile["set-resources"].values():
        res["cpus_per_task"] = CORES_EACH
    cfg.write_text(yaml.safe_dump(profile, sort_keys=False))
    return dest


def profile_cmd(workdir: Path, configs: list[Path], target: str) -> list[str]:
    return [
        "timeout", str(HUNG), tool("snakemake"),
        "-s", str(REPO / "workflow" / "Snakefile"), "-d", str(workdir),
        "--profile", str(edited_profile(workdir)),
        "--configfile", *map(str, configs),
        # only how soon Snakemake first looks at a submitted job (the profile waits 20 s)
        "--slurm-init-seconds-before-status-checks", "2",
        "--", target,
    ]  # fmt: skip


def small_config(workdir: Path) -> Path:
    """The demo config, smaller: written whole (not merged over the demo's), so that its external
    test set can be left out (a merged empty mapping would keep the demo's): four more jobs of
    the data rules' kind, at about 8 s of Snakemake start-up each inside SLURM."""
    cfg = yaml.safe_load(DEMO.read_text())
    # random init: the demo's ImageNet weights for ResNet-50 would need a download
    cfg["classifier"].update(archs=["resnet50"], weights="random", max_epochs=1, patience=1)
    # long enough that the cancel lands mid-run (the first checkpoint comes at iteration 10)
    cfg["gan"].update(total_iterations=60, checkpoint_interval=10, sample_interval=30, n_samples=20)
    cfg["evaluation"]["external"] = {}
    path = workdir / "small.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def slurm_job_ids(workdir: Path, rule: str) -> list[str]:
    logs = workdir / ".snakemake" / "slurm_logs" / f"rule_{rule}"
    return sorted(p.stem for p in logs.rglob("*.log"))


pytestmark = [
    pytest.mark.slurm,
    pytest.mark.skipif(
        not cluster_up() and os.environ.get("GANAUG_REQUIRE_SLURM") != "1",
        reason="no SLURM cluster answers (tests/slurm/start-slurm.sh starts one)",
    ),
]


def test_data_rules_and_a_gpu_fit_run_through_sbatch(tmp_path):
    cmd = profile_cmd(tmp_path, [small_config(tmp_path)], "results/resnet50/baseline/metrics.json")
    res = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=HUNG + 60)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert (tmp_path / "results/resnet50/baseline/metrics.json").is_file()
    for rule in ("make_phantom", "ingest", "preprocess", "split", "fit_classifier", "aggregate_replicates"):
        assert slurm_job_ids(tmp_path, rule), f"no SLURM job log for {rule}"
    # SLURM's own record of the fit: a job that asked for one GPU (fit_classifier declares gpu=1)
    job = slurm_job_ids(tmp_path, "fit_classifier")[0]
    info = subprocess.run(["scontrol", "show", "job", job], capture_output=True, text=True).stdout
    assert re.search(r"TresPerJob=gres/?:?gpu:1", info), info
    assert "JobState=COMPLETED" in info


def test_cancelled_train_gan_is_resubmitted_and_resumes(tmp_path):
    cmd = profile_cmd(tmp_path, [small_config(tmp_path)], "results/repeat_0/gan/generator.pt")
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    checkpoint = tmp_path / "results/repeat_0/gan/checkpoints/last.pt"
    deadline = time.monotonic() + HUNG
    while not checkpoint.exists():
        assert proc.poll() is None, proc.stdout.read()[-3000:]
        assert time.monotonic() < deadline, "train_gan never wrote a checkpoint"
        time.sleep(0.5)
    jobs = subprocess.run(["squeue", "-h", "-o", "%i %k %T"], capture_output=True, text=True).stdout.split(
        "\n"
    )
    # the SLURM job name carries the rule and, since train_gan runs per repeat, its wildcards
    running = [
        f[0]
        for f in map(str.split, jobs)
        if len(f) == 3 and f[1].startswith("rule_train_gan") and f[2] == "RUNNING"
    ]
    assert running, jobs
    subprocess.run(["scancel", running[0]], check=True)
    out, _ = proc.communicate(timeout=HUNG + 60)
    assert proc.returncode == 0, out[-3000:]
    log = (tmp_path / "results/logs/train_gan/repeat_0.log").read_text()
    assert re.search(r"resumed from results/repeat_0/gan/checkpoints/last.pt at iteration [1-9]\d*", log), (
        log[-2000:]
    )
    assert len(slurm_job_ids(tmp_path, "train_gan")) == 2  # the cancelled job and its resubmission
    history = (tmp_path / "results/repeat_0/gan/history.csv").read_text().splitlines()
    assert len(history) == 1 + 60 // 10  # the whole run, before and after the cancel
