"""What every rule script needs: logging into the rule's log file, and the device it runs on.

Devices. Snakemake knows a GPU only as a count (``--resources gpu=N``); it does not say which
GPU a job may use. So each GPU job claims a *slot* itself: an exclusive lock (``fcntl.flock``,
released by the kernel when the job ends, even on SIGKILL) on one of ``jobs_per_device`` slot
files of each visible device, on the device that holds the fewest jobs (an idle node fills
breadth-first: slot 0 of every device, then slot 1, ...).
Slot ``k`` of device ``d`` runs on ``cuda:d``: with ``--resources gpu=N`` on an N-GPU node, N jobs
run on N devices, and with ``gpu_jobs_per_device: J`` and ``gpu=N*J``, J small jobs share each
large GPU. The slot files are named by each device's UUID (the physical GPU; the ids in
``CUDA_VISIBLE_DEVICES`` where torch gives none), so jobs that SLURM gives one GPU each, each
seeing its own as ``cuda:0`` and often as id 0, never contend.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from ganaug.generators.config import precision_label

log = logging.getLogger("ganaug")

# how the rule scripts run on the device, from the config (configure_runtime): not rule params,
# since they do not change a CPU result (deterministic changes which GPU kernels run: recorded)
_RUNTIME: dict[str, Any] = {"jobs_per_device": 1, "deterministic": False}
_SLOT: dict[str, Any] = {}  # the held slot: its lock file's descriptor and name


def setup_logging(log_file: str | Path | None, level: int = logging.INFO) -> logging.Logger:
    """Send the package's log records (and uncaught errors) to the rule's ``log:`` file and stderr."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode="w", encoding="utf-8"))
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    logger = logging.getLogger("ganaug")

    def excepthook(kind, value, tb):
        logger.error("failed: %s", value, exc_info=(kind, value, tb))

    sys.excepthook = excepthook
    return logger


def configure_runtime(config: dict[str, Any]) -> None:
    """The config's gpu_jobs_per_device and deterministic keys, for select_device."""
    _RUNTIME["jobs_per_device"] = int(config.get("gpu_jobs_per_device", 1))
    _RUNTIME["deterministic"] = bool(config.get("deterministic", False))


def slot_dir() -> Path:
    """Where the slot locks live: node-local, one folder per user."""
    default = Path(tempfile.gettempdir()) / f"ganaug-gpu-slots-{os.getuid()}"
    return Path(os.environ.get("GANAUG_GPU_SLOT_DIR", default))


def _visible_ids(n: int) -> list[str]:
    visible = [v.strip() for v in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if v.strip()]
    return visible[:n] if len(visible) >= n else [str(k) for k in range(n)]


def claim_slot(
    n_devices: int, jobs_per_device: int, folder: Path | None = None, ids: list[str] | None = None
) -> tuple[int, int]:
    """Lock a free slot for the rest of this process: (device index, slot on it), on the device
    that holds the fewest jobs now (ties: the lowest slot, then the lowest device, so an idle node
    fills breadth-first). With every slot taken (more GPU jobs than ``--resources gpu`` should
    allow) it waits for one, logging once."""
    import time

    if _SLOT:
        return _SLOT["device"], _SLOT["slot"]
    folder = folder or slot_dir()
    folder.mkdir(parents=True, exist_ok=True)
    ids = ids or _visible_ids(n_devices)
    path = {
        (d, j): folder / f"gpu-{ids[d]}-slot{j}.lock"
        for d in range(n_devices)
        for j in range(jobs_per_device)
    }
    waited = False
    while True:
        # a count that may be stale by the time a slot is taken: only the order depends on it,
        # the taking itself is the exclusive lock
        busy = [sum(_held(path[d, j]) for j in range(jobs_per_device)) for d in range(n_devices)]
        for d, j in sorted(path, key=lambda dj: (busy[dj[0]], dj[1], dj[0])):
            fd = _try_lock(path[d, j])
            if fd is None:
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            _SLOT.update(fd=fd, path=path[d, j], device=d, slot=j)
            return d, j
        if not waited:
            log.warning("all %d GPU slots in %s are taken: waiting for one", len(path), folder)
            waited = True
        time.sleep(1.0)


def _try_lock(path: Path) -> int | None:
    """An exclusive lock on ``path`` without waiting: its descriptor, or None if another process
    holds it."""
    import fcntl

    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _held(path: Path) -> bool:
    """Whether another process holds the slot lock at ``path`` now (closing the descriptor of a
    lock this probe took releases it)."""
    fd = _try_lock(path)
    if fd is None:
        return True
    os.close(fd)
    return False


def _device_uuids(n: int) -> list[str] | None:
    """The physical GPUs' UUIDs (None where this torch does not report them)."""
    import torch

    try:
        return [f"uuid-{torch.cuda.get_device_properties(k).uuid}" for k in range(n)]
    except (AttributeError, RuntimeError):
        return None


def release_slot() -> None:
    """Give the slot back before the process ends (tests; the kernel does it at exit anyway)."""
    if _SLOT:
        with contextlib.suppress(OSError):
            os.close(_SLOT["fd"])
        _SLOT.clear()


def select_device(preference: str, tf32: bool = True) -> "torch.device":  # noqa: UP037 - torch is imported lazily
    """``auto``: CUDA when present, else CPU, except in a SLURM job that was given a GPU, which
    fails at once rather than train on the CPU until its time limit. ``cuda`` without a GPU is an
    error, not a fallback. A CUDA job runs on the device of the slot it claims (see the module's
    docstring), with TF32 matmuls and convolutions as the rule's ``tf32`` setting says."""
    import torch

    if preference == "auto":
        preference = "cuda" if torch.cuda.is_available() else _cpu_for_auto()
    if preference == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device: cuda was configured, but torch sees no CUDA device")
    set_determinism(_RUNTIME["deterministic"])
    if preference != "cuda":
        return torch.device(preference)
    n = torch.cuda.device_count()
    index, slot = claim_slot(n, _RUNTIME["jobs_per_device"], ids=_device_uuids(n))
    device = torch.device("cuda", index)
    torch.cuda.set_device(device)
    torch.cuda.reset_peak_memory_stats(device)
    name = torch.cuda.get_device_name(device)
    log.info("GPU slot %d of %s (%s), TF32 %s", slot, device, name, "on" if tf32 else "off")
    # TF32 matmuls/convolutions on Ampere and newer: several times fp32's throughput, at a 10-bit
    # mantissa in the products; each GPU rule's own setting, recorded in what it writes.
    # cudnn.benchmark picks the fastest kernels for fixed shapes, unless determinism is asked for
    set_tf32(tf32)
    torch.backends.cudnn.benchmark = not _RUNTIME["deterministic"]
    return device


def set_tf32(on: bool) -> None:
    """TF32 matmuls and convolutions on CUDA, or full fp32 (a no-op for the CPU's arithmetic)."""
    import torch

    torch.backends.cuda.matmul.allow_tf32 = on
    torch.backends.cudnn.allow_tf32 = on


# what SLURM sets in a job that was given GPUs (--gpus, --gres=gpu:N, --gpus-per-node ...): the
# GPUs' indices (where "0" is the first GPU), and counts (where "0" is none)
SLURM_GPU_IDS = ("SLURM_JOB_GPUS", "SLURM_STEP_GPUS")
SLURM_GPU_COUNTS = ("SLURM_GPUS_ON_NODE", "SLURM_GPUS", "SLURM_GPUS_PER_NODE", "SLURM_GPUS_PER_TASK")
SLURM_GPU_VARIABLES = SLURM_GPU_IDS + SLURM_GPU_COUNTS


def slurm_gpus() -> str | None:
    """The GPUs SLURM says this job was given (``NAME=value, ...``), or None outside such a job."""
    if not os.environ.get("SLURM_JOB_ID"):
        return None
    env = {k: os.environ.get(k, "").strip() for k in SLURM_GPU_VARIABLES}
    given = [f"{k}={v}" for k, v in env.items() if v and not (k in SLURM_GPU_COUNTS and v == "0")]
    return ", ".join(given) or None


def _cpu_for_auto() -> str:
    """device: auto on a machine where torch sees no GPU: the CPU, unless SLURM gave this job one
    (a node whose driver is broken, a CPU-only torch): then an error at once, naming both."""
    import torch

    gpus = slurm_gpus()
    if gpus:
        raise RuntimeError(
            f"SLURM job {os.environ['SLURM_JOB_ID']} was given a GPU ({gpus}), but torch "
            f"{torch.__version__} (CUDA build: {torch.version.cuda or 'none'}) sees no CUDA device "
            f"(CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')}): stopping now "
            "rather than training on the CPU until the time limit. Check the node's driver and that "
            "torch is a CUDA build; set device: cpu to run on the CPU on purpose"
        )
    log.warning("device: auto found no CUDA device: running on the CPU")
    return "cpu"


def to_device(t: "torch.Tensor", device: "torch.device") -> "torch.Tensor":  # noqa: UP037
    """``t`` on ``device``: from a page-locked copy that does not wait for the GPU on CUDA (a
    plain copy from pageable memory synchronises the stream), a plain copy elsewhere; ``t``
    itself where it is there already. Code that places data calls this rather than testing for
    CUDA, so the tests' meta device takes the GPU's path and a tensor left behind fails there."""
    if t.device == device:
        return t
    return t.pin_memory().to(device, non_blocking=True) if device.type == "cuda" else t.to(device)


def autocast(device: "torch.device", bf16: bool):  # noqa: UP037
    """bf16 autocast on ``device`` when ``bf16`` (the CPU's too, so the same dtype flow runs in the
    tests), else nothing: the flag decides, not the device type."""
    import contextlib

    import torch

    return torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def set_determinism(on: bool) -> None:
    """``deterministic: true``: deterministic kernels where torch has them (a warning, not an
    error, where it has none), cuDNN's deterministic algorithms and no autotuning. On the CPU the
    results are bit-identical either way; on a GPU this costs speed for run-to-run equality."""
    import torch

    if on:
        # cuBLAS needs a fixed workspace for deterministic matmuls; set before the first one
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(on, warn_only=True)
    torch.backends.cudnn.deterministic = on
    if on:
        torch.backends.cudnn.benchmark = False


def determinism_label() -> str:
    """What ``deterministic`` really did: ``off``; ``best_effort`` (torch's deterministic kernels
    with ``warn_only``: an op that has none, such as AdaptiveAvgPool2d's backward on CUDA, warns
    and runs anyway); or ``strict``."""
    import torch

    if not torch.are_deterministic_algorithms_enabled():
        return "off"
    return "best_effort" if torch.is_deterministic_algorithms_warn_only_enabled() else "strict"


def runtime_record(device: "torch.device", tf32: bool, bf16: bool = False) -> dict[str, Any]:  # noqa: UP037
    """What a metrics.json records of how its job ran: determinism, the TF32 setting and the
    arithmetic it gave (``ganaug.generators.config.precision_label``), the GPU slot, peak GPU memory."""
    import torch

    out: dict[str, Any] = {
        "deterministic": determinism_label(),
        "tf32": bool(tf32),
        "precision": precision_label(bf16, tf32, device.type),
    }
    if device.type == "cuda":
        out |= {
            "gpu_slot": _SLOT.get("slot"),
            "gpu_name": torch.cuda.get_device_name(device),
            "peak_gpu_memory_mb": round(torch.cuda.max_memory_allocated(device) / 2**20, 1),
        }
    else:
        out |= {"gpu_slot": None, "gpu_name": None, "peak_gpu_memory_mb": None}
    return out
