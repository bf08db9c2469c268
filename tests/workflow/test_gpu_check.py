"""benchmarks/gpu_check.sh: every step of the GPU check, on the CPU at tiny sizes (--smoke), in a
virtual environment holding only the GPU machine's packages and the carried wheels, so a step
that imports what that machine lacks fails here, not on the GPU (its figures here are CPU
figures and not checked); its time limit, which holds by construction; what comes back (two
files, each step's figures kept however it ended); and the carried wheels' list."""

from __future__ import annotations

import importlib.metadata
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
sys.path.insert(0, str(REPO / "benchmarks" / "gpu_machine"))
sys.path.insert(0, str(REPO / "benchmarks"))
import gpu_check  # noqa: E402
import make_env as gpu_env  # noqa: E402 - benchmarks/gpu_machine/make_env.py

STEPS = list(gpu_check.STEPS)


@pytest.fixture(scope="module")
def gpu_python(tmp_path_factory):
    """The GPU machine's packages and the carried wheels, nothing else (torch 2.14.1 standing in)."""
    dest = tmp_path_factory.mktemp("gpu_machine") / "venv"
    gpu_env.build(dest)
    return dest / "bin" / "python"


def test_the_gpu_machines_environment_lacks_what_the_machine_lacks(gpu_python):
    names = ("imagehash", "papermill", "snakemake", "torch")
    code = f"import importlib.util as u; print([m for m in {names!r} if u.find_spec(m)])"
    out = subprocess.run([str(gpu_python), "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['snakemake', 'torch']"


def test_gpu_check_smoke_runs_every_step_there_and_brings_back_two_files(gpu_python, tmp_path):
    out = tmp_path / "out"
    res = run(
        ["env", f"PYTHON={gpu_python}", "bash", str(REPO / "benchmarks/gpu_check.sh"), "--smoke", str(out)],
        timeout=3000,
    )
    result = json.loads((out / "gpu_check.json").read_text())
    status = {k: v["status"] for k, v in result["steps"].items()}
    failed = {k: result["steps"][k]["log_tail"][-6:] for k, v in status.items() if v != "passed"}
    assert res.returncode == 0 and not failed, failed or res.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == ["gpu_check.json", "gpu_check.md"]  # a call brings back 8
    assert result["smoke"] is True and list(result["steps"]) == STEPS
    r = {k: v["result"] for k, v in result["steps"].items()}
    assert all(not str(v).startswith("FAILED") for v in r["preflight"]["imports"].values())
    assert r["preflight"]["torch_supported"] is True and r["preflight"]["lowest_torch_supported"] == "2.11"
    for variant in ("tf32", "bf16", "tf32_cuda_graph"):
        assert r["gan_step"][variant]["iterations_per_second"] > 0
    assert r["gan_step"]["cuda_graph_vs_eager"]["iterations"] > 0 and r["gan_step"]["diffaugment_finite"]
    # the kill-and-resume step: SIGTERM (exit 1 from Preempted) and a bit-identical end on the CPU
    assert r["resume"]["bit_identical"] is True and r["resume"]["sigterm_exit_code"] != 0
    assert 0 < r["resume"]["stopped_at"] < r["resume"]["iterations"]
    # CPU against CPU here: every difference is 0 and nothing flips
    assert r["agreement"]["classifier_probabilities"]["fp32"]["max_abs_diff"] == 0.0
    assert r["agreement"]["lpips"]["fp32"]["flips_at_lpips_min"] == 0
    assert (
        set(r["fit"]["archs"]) == {"resnet50", "densenet121", "efficientnet_b0"}
        and r["fit"]["dispatch_us"] > 0
    )
    gens = r["generators"]
    assert gens["ddpm"]["tf32"]["loss_finite"] and gens["ddpm"]["ddim"]["finite"]
    for variant in ("tf32", "bf16"):
        sg2 = gens["stylegan2_ada"][variant]
        assert sg2["losses_finite"] and sg2["seconds_per_iteration"] > 0 and 0 <= sg2["ada_p"] <= 1
    assert (
        r["checkpoint"]["checkpoint"]["tensors_on_cpu"]
        and r["checkpoint"]["samples_cpu_vs_device"]["max_abs_diff_grey_levels"] == 0
    )
    assert r["snakemake"]["returncode"] == 0 and r["snakemake"]["generator_written"]
    assert r["projection"]["anchored"]["expected"]["one_gpu"]["wall_hours"] > 0
    assert set(r["projection"]["applied_to"]) >= {
        "fit resnet50",
        "train_gan",
        "train_ddpm",
        "train_stylegan2_ada",
    }
    md = (out / "gpu_check.md").read_text()
    assert "smoke" in md and "| projection | passed |" in md


def test_the_full_check_stops_within_eight_minutes_by_construction():
    """Every step has its own timeout, cut to what is left of a 470-s budget that the wheels'
    installation also spends; with the grace before each KILL the limits add up to at most
    480 s, and every step is one of the check's."""
    text = (REPO / "benchmarks/gpu_check.sh").read_text()
    limits = dict(re.findall(r"\[(\w+)\]=(\d+)", re.search(r"declare -A LIMIT=\(([^)]*)\)", text).group(1)))
    grace = int(re.search(r"timeout --kill-after=(\d+)", text).group(1))
    assert list(limits) == STEPS
    assert sum(map(int, limits.values())) + grace * len(limits) <= 480
    assert int(re.search(r"BUDGET=\$\{GANAUG_GPU_CHECK_SECONDS:-(\d+)\}", text).group(1)) <= 480 - 10
    assert "trap summarise EXIT" in text  # a killed check keeps its summary


def test_the_budget_cuts_the_last_steps_short_and_says_so(tmp_path):
    """With 25 s for everything the check stops within them: the steps it reaches keep their
    figures, the others are recorded as no_time (a GPU run's 470 s work the same way)."""
    out = tmp_path / "out"
    t0 = time.monotonic()
    res = run(
        [
            "env",
            f"PYTHON={sys.executable}",
            "GANAUG_GPU_CHECK_SECONDS=25",
            "bash",
            str(REPO / "benchmarks/gpu_check.sh"),
            "--smoke",
            str(out),
        ],
        timeout=600,
    )
    took = time.monotonic() - t0
    status = {k: v["status"] for k, v in json.loads((out / "gpu_check.json").read_text())["steps"].items()}
    assert res.returncode == 1 and status["preflight"] == "passed" and status["projection"] == "no_time"
    assert took < 25 + 20, took  # the budget, plus starting and summarising


def test_a_killed_check_stops_at_once_and_keeps_what_it_measured(tmp_path):
    """SIGTERM to the check mid-step: the step is stopped with it, and gpu_check.json holds the
    steps done so far, the interrupted one named, the rest not run."""
    out = tmp_path / "out"
    cmd = ["bash", str(REPO / "benchmarks/gpu_check.sh"), "--smoke", str(out)]
    proc = subprocess.Popen(
        cmd, env={**os.environ, "PYTHON": sys.executable}, stderr=subprocess.PIPE, text=True
    )
    t0 = time.monotonic()
    while not (out / "gpu_check.json").exists():  # preflight done, gan_step running
        assert proc.poll() is None and time.monotonic() - t0 < 300, proc.stderr.read()
        time.sleep(0.05)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 143
    result = json.loads((out / "gpu_check.json").read_text())
    status = {k: v["status"] for k, v in result["steps"].items()}
    assert status["preflight"] == "passed" and status["gan_step"] == "interrupted"
    assert set(list(status.values())[2:]) == {"not_run"} and result["torch"]


def test_a_step_that_times_out_keeps_the_figures_it_had_written(tmp_path):
    """Each figure is written when it is measured (Record), and the summary shows a timed-out
    step's figures beside its status and the end of its log."""
    from gpu_check import Record

    work, out = tmp_path / "work", tmp_path / "out"
    work.mkdir()
    out.mkdir()
    rec = Record(work, "fit", smoke=False)
    rec["archs"] = {"resnet50": {"images_per_second": 3000.0}}  # then the step was killed
    (work / "fit.log").write_text("line\n" * 30 + "killed\n")
    args = ["fit=timeout:90:90", "generators=not_run::50"]
    subprocess.run(
        [sys.executable, str(REPO / "benchmarks/gpu_check_summary.py"), str(out), str(work), "0", *args],
        check=True,
    )
    fit = json.loads((out / "gpu_check.json").read_text())["steps"]["fit"]
    assert fit["status"] == "timeout" and fit["result"]["archs"]["resnet50"]["images_per_second"] == 3000.0
    assert fit["log_tail"][-1] == "killed" and len(fit["log_tail"]) == 15


def test_the_carried_wheels_accept_the_gpu_machines_own_versions():
    """Every requirement of a carried package on a package the GPU machine has, at the version
    its image records, is met there (diffusers 0.42 wants huggingface-hub >= 1.32: it has 1.33)."""
    from packaging.requirements import Requirement

    machine = gpu_env.allowed((REPO / "benchmarks/gpu_machine/packages.txt",))
    carried = gpu_env.allowed((REPO / "benchmarks/gpu_machine/wheels.txt",))
    conflicts = []
    for name in carried:
        for spec in importlib.metadata.distribution(name).requires or []:
            req = Requirement(spec)
            if req.marker and not req.marker.evaluate({"python_version": "3.12", "extra": ""}):
                continue
            have = machine.get(gpu_env.norm(req.name))
            if have and not req.specifier.contains(have, prereleases=True):
                conflicts.append(f"{name} needs {spec}, the machine has {have}")
    assert conflicts == []


def test_gpu_check_refuses_a_missing_outdir_argument():
    res = run(["bash", str(REPO / "benchmarks/gpu_check.sh")], cwd=REPO, timeout=60)
    assert res.returncode == 2 and "usage" in res.stderr


def _requires(name: str) -> list[str]:
    reqs = importlib.metadata.distribution(name).requires or []
    return [re.split(r"[ ;<>=!~\[(]", r, maxsplit=1)[0] for r in reqs if "extra ==" not in r]


def test_the_carried_wheels_are_exactly_what_the_machine_lacks_at_the_pinned_versions():
    """wheels.txt holds the check's packages the GPU machine lacks and every package they need
    that it lacks too (the closure, from the installed metadata), pinned as requirements.txt
    pins them; gpu_wheels.sh --list fetches exactly those."""
    machine = gpu_env.allowed((REPO / "benchmarks/gpu_machine/packages.txt",))
    carried = gpu_env.allowed((REPO / "benchmarks/gpu_machine/wheels.txt",))
    need, todo = set(), ["jsonschema", "diffusers", "lpips", "pytorch-fid", "snakemake"]
    while todo:
        name = gpu_env.norm(todo.pop())
        if name in need:
            continue
        try:
            todo += _requires(name)
        except importlib.metadata.PackageNotFoundError:
            continue  # an optional platform dependency not installed here (colorama on Windows)
        need.add(name)
    assert set(carried) == {n for n in need if n not in machine}
    pins = {
        gpu_env.norm(line.split("==")[0]): line.split("==")[1].strip()
        for line in (REPO / "requirements.txt").read_text().splitlines()
        if "==" in line
    }
    assert carried == {n: pins[n] for n in carried}
    listed = run(["bash", str(REPO / "benchmarks/gpu_wheels.sh"), "--list"], timeout=60).stdout.split()
    assert {gpu_env.norm(p.split("==")[0]) for p in listed} == set(carried)


def test_the_training_modules_import_no_package_they_do_not_use():
    """The GAN, fit, DDPM, LPIPS and feature modules load neither jsonschema nor snakemake (the
    workflow's), nor diffusers, lpips or pytorch-fid until a step uses them."""
    code = (
        "import sys; sys.path.insert(0, 'scripts')\n"
        "import ganaug.generators.wgan_gp.training, ganaug.generators.ddpm.training\n"
        "import ganaug.training.fit_job\n"
        "import ganaug.curation.lpips_fast, ganaug.evaluation.features, ganaug.generators.wgan_gp.sampling\n"
        "names = ('jsonschema', 'snakemake', 'diffusers', 'lpips', 'pytorch_fid')\n"
        "print(sorted(m for m in names if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
