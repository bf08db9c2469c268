"""Which device a GPU job runs on, and the determinism option: slots are claimed with locks that
other processes see (they run in subprocesses here, as Snakemake's jobs do)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from ganaug import runtime
from tests.helpers import REPO

CLAIM = """
import json, sys, time
from pathlib import Path
sys.path.insert(0, {scripts!r})
from ganaug.runtime import claim_slot
print(json.dumps(claim_slot({n}, {per}, Path({folder!r}))), flush=True)
sys.stdin.read()  # hold the slot until the test closes stdin
"""


def claim(folder, n_devices, per_device, visible=None):
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    if visible is not None:
        env["CUDA_VISIBLE_DEVICES"] = visible
    code = CLAIM.format(scripts=str(REPO / "scripts"), n=n_devices, per=per_device, folder=str(folder))
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env=env)  # fmt: skip
    line = proc.stdout.readline()
    assert line, "the claiming process ended without a slot"
    return proc, tuple(json.loads(line))


def release(*procs):
    for p in procs:
        p.stdin.close()
        p.wait(timeout=30)


def test_gpu_jobs_on_a_multi_gpu_node_get_one_device_each(tmp_path):
    """--resources gpu=2 on a 2-GPU node: two jobs, cuda:0 and cuda:1 (select_device sent every
    job to cuda:0 before); a third job after one ended takes the freed device."""
    a, slot_a = claim(tmp_path, 2, 1)
    b, slot_b = claim(tmp_path, 2, 1)
    assert {slot_a, slot_b} == {(0, 0), (1, 0)}
    release(a)  # the kernel drops the lock with the process, however it ends
    c, slot_c = claim(tmp_path, 2, 1)
    assert slot_c == slot_a
    release(b, c)


def test_small_jobs_share_a_large_gpu_filling_devices_breadth_first(tmp_path):
    """gpu_jobs_per_device: 2 on 2 GPUs (gpu=4): devices 0, 1, 0, 1, each slot held once."""
    procs, slots = zip(*(claim(tmp_path, 2, 2) for _ in range(4)), strict=True)
    assert [d for d, _ in slots] == [0, 1, 0, 1] and len(set(slots)) == 4
    release(*procs)


def test_a_job_goes_to_the_device_with_the_fewest_jobs(tmp_path):
    """gpu_jobs_per_device: 3 on 2 GPUs, with slots 1 and 2 of device 0 held and device 1 idle:
    the next job takes device 1, not the free slot 0 of the busy device."""
    import fcntl

    held = []
    for j in (1, 2):
        fd = os.open(tmp_path / f"gpu-0-slot{j}.lock", os.O_RDWR | os.O_CREAT, 0o666)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.append(fd)
    proc, slot = claim(tmp_path, 2, 3)
    assert slot[0] == 1
    release(proc)
    for fd in held:
        os.close(fd)


def test_jobs_that_slurm_gives_one_gpu_each_never_contend(tmp_path):
    """Under SLURM each job sees only its own GPU, as cuda:0: the slot files are named by the
    visible device ids, so two jobs on one node both get slot 0 of their own device."""
    a, slot_a = claim(tmp_path, 1, 1, visible="3")
    b, slot_b = claim(tmp_path, 1, 1, visible="5")
    assert slot_a == slot_b == (0, 0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gpu-3-slot0.lock", "gpu-5-slot0.lock"]
    release(a, b)


def test_a_cpu_job_claims_no_slot_and_the_record_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("GANAUG_GPU_SLOT_DIR", str(tmp_path / "slots"))
    runtime.configure_runtime({})
    assert runtime.select_device("cpu") == torch.device("cpu")
    assert not (tmp_path / "slots").exists()
    record = runtime.runtime_record(torch.device("cpu"), tf32=True)
    assert record == {"deterministic": "off", "tf32": True, "precision": "fp32", "gpu_slot": None,
                      "gpu_name": None, "peak_gpu_memory_mb": None}  # fmt: skip
    # bf16 autocast runs on the CPU when asked for: the record says so (TF32 exists on CUDA only)
    assert runtime.runtime_record(torch.device("cpu"), tf32=True, bf16=True)["precision"] == "bf16+fp32"


def test_the_deterministic_option_sets_torch_and_cudnn_and_is_recorded():
    try:
        runtime.configure_runtime({"deterministic": True, "gpu_jobs_per_device": 2})
        runtime.select_device("cpu")
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.is_deterministic_algorithms_warn_only_enabled()
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
        # warn_only: an op without a deterministic kernel runs anyway, so it is best effort, said so
        assert runtime.runtime_record(torch.device("cpu"), tf32=True)["deterministic"] == "best_effort"
        torch.use_deterministic_algorithms(True)
        assert runtime.determinism_label() == "strict"
    finally:
        runtime.configure_runtime({})
        runtime.set_determinism(False)
    assert not torch.are_deterministic_algorithms_enabled() and not torch.backends.cudnn.deterministic


SLURM_GPU_JOB = {"SLURM_JOB_ID": "4711", "SLURM_GPUS_ON_NODE": "1", "CUDA_VISIBLE_DEVICES": "0"}


@pytest.mark.parametrize("var", ["SLURM_GPUS_ON_NODE", "SLURM_JOB_GPUS", "SLURM_STEP_GPUS"])
def test_auto_in_a_slurm_job_given_a_gpu_that_torch_cannot_see_fails_at_once(monkeypatch, var):
    """A GPU job that lands on a node whose GPU torch cannot see must not train on the CPU until
    its time limit (and its retry then move the checkpoint aside as another device's)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for k in runtime.SLURM_GPU_VARIABLES:
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("SLURM_JOB_ID", "4711")
    monkeypatch.setenv(var, "0" if var == "SLURM_JOB_GPUS" else "1")
    with pytest.raises(RuntimeError, match=rf"SLURM job 4711 was given a GPU \({var}=\w+\), but torch") as e:
        runtime.select_device("auto")
    assert "set device: cpu to run on the CPU on purpose" in str(e.value)


def test_auto_falls_back_to_the_cpu_outside_a_gpu_job_and_says_so(monkeypatch, caplog):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for k in ("SLURM_JOB_ID", *runtime.SLURM_GPU_VARIABLES):
        monkeypatch.delenv(k, raising=False)
    with caplog.at_level("WARNING", logger="ganaug"):
        assert runtime.select_device("auto") == torch.device("cpu")
    assert "device: auto found no CUDA device: running on the CPU" in caplog.text
    # a SLURM job without GPUs (SLURM_GPUS_ON_NODE=0) runs on the CPU too
    monkeypatch.setenv("SLURM_JOB_ID", "12")
    monkeypatch.setenv("SLURM_GPUS_ON_NODE", "0")
    assert runtime.select_device("auto") == torch.device("cpu")
    # device: cpu is the user's choice, even in a GPU job
    for k, v in SLURM_GPU_JOB.items():
        monkeypatch.setenv(k, v)
    assert runtime.select_device("cpu") == torch.device("cpu")


def test_cuda_without_a_gpu_is_an_error():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(RuntimeError, match="device: cuda was configured, but torch sees no CUDA device"):
        runtime.select_device("cuda")
