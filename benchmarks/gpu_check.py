"""One step of benchmarks/gpu_check.sh: ``python benchmarks/gpu_check.py STEP WORKDIR [--smoke]``.

Each step writes ``WORKDIR/STEP.json`` (atomically) after every figure it measures, so a step
stopped at its limit keeps what it had measured; gpu_check.sh runs each under its own timeout and
gpu_check_summary.py gathers them. ``--smoke`` runs the same code on the CPU at tiny sizes (the
test suite does, with only the GPU machine's packages importable, so the script a lent GPU runs
once is known to start there). The measuring steps are in gpu_check_steps.py.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import torch  # noqa: E402
from gpu_check_summary import load  # noqa: E402

# the order gpu_check.sh runs them in; each one's limit is there
STEPS = (
    "preflight",
    "gan_step",
    "precision",
    "resume",
    "agreement",
    "fit",
    "generators",
    "checkpoint",
    "lpips",
    "snakemake",
    "projection",
)

# what any step imports, checked before anything is measured: the GPU machine has its own torch
# and a list of packages; the rest travels as wheels (benchmarks/gpu_wheels.sh)
MODULES = (
    "numpy",
    "scipy",
    "pandas",
    "cv2",
    "PIL",
    "timm",
    "torchvision",
    "yaml",
    "jsonschema",
    "diffusers",
    "lpips",
    "pytorch_fid",
    "snakemake",
    "ganaug.generators.wgan_gp.training",
    "ganaug.training.fit_job",
    "ganaug.generators.ddpm.training",
    "ganaug.generators.stylegan2_ada.training",
    "ganaug.curation.lpips_fast",
    "ganaug.evaluation.features",
    "ganaug.cost.study",
    "ganaug.config",
)


class Record:
    """A step's figures, rewritten to ``WORKDIR/STEP.json`` whenever one is set."""

    def __init__(self, work: Path, step: str, smoke: bool):
        self.path, self.step, self.smoke = work / f"{step}.json", step, smoke
        self.data: dict = {}

    def __setitem__(self, key: str, value) -> None:
        self.data[key] = value
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_text(
            json.dumps({"step": self.step, "smoke": self.smoke, "result": self.data}, indent=1) + "\n"
        )
        os.replace(tmp, self.path)

    def __getitem__(self, key: str):
        return self.data[key]


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def lowest_torch() -> str:
    """The lowest torch the package supports, as pyproject.toml declares it."""
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ganaug"]["lowest-torch"]


def _version(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.split("+")[0].split(".")[:2])


def preflight(rec: Record, device: torch.device, smoke: bool) -> None:
    """Versions, the device, and every import the check needs, before anything is measured."""
    import torchvision

    rec["python"] = platform.python_version()
    rec["torch"], rec["torchvision"], rec["cuda"] = (
        torch.__version__,
        torchvision.__version__,
        torch.version.cuda,
    )
    rec["lowest_torch_supported"] = lowest_torch()
    rec["torch_supported"] = _version(torch.__version__) >= _version(lowest_torch())
    rec["device"] = str(device)
    if device.type == "cuda":
        p = torch.cuda.get_device_properties(device)
        rec["gpu"] = {
            "name": p.name,
            "capability": f"{p.major}.{p.minor}",
            "memory_gb": round(p.total_memory / 2**30, 1),
            "multiprocessors": p.multi_processor_count,
            "cudnn": torch.backends.cudnn.version(),
            "count": torch.cuda.device_count(),
        }
    imports = {}
    for name in MODULES:
        try:
            mod = importlib.import_module(name)
            imports[name] = getattr(mod, "__version__", "ok")
        except Exception as e:
            imports[name] = f"FAILED: {type(e).__name__}: {e}"
    rec["imports"] = imports
    bad = [n for n, v in imports.items() if str(v).startswith("FAILED")]
    if bad or not rec["torch_supported"]:
        sys.exit(
            f"preflight: cannot import {', '.join(bad) or 'nothing missing'}; torch {torch.__version__} "
            f"(lowest supported {lowest_torch()})"
        )


def projection(rec: Record, device: torch.device, smoke: bool, work: Path) -> None:
    """study_cost.py anchored, and again with the step times this check measured in place of the
    model's (the fits' training steps, the GAN iteration, the DDPM step, the StyleGAN2-ADA
    minibatch) and the measured dispatch cost a op. In smoke mode the 'measured' figures are the
    CPU's at tiny sizes: the code path runs, the figures mean nothing."""
    measured, fit, gan, gens = (
        {},
        load(work, "fit") or {},
        load(work, "gan_step") or {},
        load(work, "generators") or {},
    )
    ddpm, sg2 = gens.get("ddpm") or {}, gens.get("stylegan2_ada") or {}
    for arch, row in (fit.get("archs") or {}).items():
        measured[f"fit {arch}"] = row["seconds_per_step"]
    best = (
        gan.get("tf32_cuda_graph") if (gan.get("tf32_cuda_graph") or {}).get("captured") else gan.get("tf32")
    )
    if best:
        measured["train_gan"] = best["seconds_per_iteration"]
    if ddpm.get("tf32"):
        measured["train_ddpm"] = ddpm["tf32"]["seconds_per_step"]
    if sg2.get("tf32"):
        measured["train_stylegan2_ada"] = sg2["tf32"]["seconds_per_iteration"]
    rec["measured_seconds_per_step"] = measured
    (work / "measured.json").write_text(json.dumps(measured))
    cmd = [
        sys.executable,
        str(ROOT / "benchmarks/study_cost.py"),
        "--json",
        str(work / "study_cost.json"),
        "--measured",
        str(work / "measured.json"),
    ]
    if fit.get("dispatch_us"):
        cmd += ["--dispatch-us", str(fit["dispatch_us"])]
        rec["dispatch_us"] = fit["dispatch_us"]
    subprocess.run(cmd, check=True, cwd=ROOT)
    cost = json.loads((work / "study_cost.json").read_text())
    rec["anchored"] = cost["anchored"]["projection"]
    rec["measured"] = (cost.get("measured") or {}).get("projection")
    rec["measured_stages"] = (cost.get("measured") or {}).get("stages")
    rec["applied_to"] = (cost.get("measured") or {}).get("applied_to")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("step", choices=STEPS)
    ap.add_argument("work", type=Path)
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    device = torch.device("cpu" if args.smoke else "cuda")
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("gpu_check: torch sees no CUDA device (use --smoke for the CPU run)")
    if device.type == "cuda":  # as the workflow's GPU rules run (runtime.select_device)
        torch.backends.cudnn.benchmark = True
    rec = Record(args.work, args.step, args.smoke)
    t = time.perf_counter()
    if args.step in ("preflight", "projection"):
        fn = globals()[args.step]
        fn(rec, device, args.smoke, *([args.work] if args.step == "projection" else []))
    else:
        import gpu_check_steps

        getattr(gpu_check_steps, args.step)(rec, device, args.smoke)
    rec["seconds"] = round(time.perf_counter() - t, 2)


if __name__ == "__main__":
    main()
