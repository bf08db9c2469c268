"""What the whole study costs on a GPU, projected before it is spent (``ganaug.cost``).

Counts, on the CPU (on torch's ``meta`` device: shapes only, nothing is computed), every op one
step of each GPU stage dispatches, with its FLOPs and bytes, at the config's sizes; multiplies
the steps by the config's counts (repeats, iterations, conditions, architectures, seeds, epochs,
images); and turns them into hours with a roofline per kernel whose efficiency is calibrated to
published throughputs (``ganaug/cost/hardware.py`` names every assumption and its source), raced
against the host's dispatch of every op. Each figure is given at the optimistic, expected and
pessimistic assumptions, per stage:

* **one GPU, one job at a time** (the default profile): the jobs' times added up;
* **one GPU, J jobs sharing it** (``gpu_jobs_per_device: J``): max(its kernels' time, the jobs'
  time / J, the longest chain of dependent jobs);
* **N GPUs under SLURM** (one job a GPU): max(the jobs' time / N, the chain).

Every figure is a projection until a GPU measures it: ``benchmarks/gpu_check.sh`` feeds its
measured step times back in (``--measured``).

    python benchmarks/study_cost.py [--config config/config.yaml] [--json benchmarks/out/study_cost.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from ganaug.cost import hardware as hw  # noqa: E402
from ganaug.cost.model import Rates, efficiency  # noqa: E402
from ganaug.cost.study import (  # noqa: E402
    EVAL_BATCH,
    ISIC2019,
    apply_measured,
    classifier_precision,
    stages,
    summary,
)


def anchors_table(cfg: dict, rates_of) -> list[dict]:
    """Per architecture: its anchor, the calibrated E at each case, and the model's training
    throughput at the anchor's batch and size and at the config's (the resolution and batch
    scaling, stated)."""
    from ganaug.cost.model import step_seconds
    from ganaug.cost.steps import classifier_steps

    cls, size = cfg["classifier"], cfg["data"]["image_size"]
    prec = classifier_precision(cls)
    rows = []
    for arch in cls["archs"]:
        like = arch if arch in hw.ANCHORS else "resnet50"
        a = hw.ANCHORS[like]
        here = classifier_steps(arch, size, cls["batch_size"], EVAL_BATCH)["train_step"]
        r = rates_of("expected")
        e = efficiency(like, prec, r)
        rows.append(
            {
                "arch": arch,
                "anchor": f"{a.images_per_s[prec]:.0f} img/s {prec} on {a.gpu.name}, batch {a.batch}, "
                f"{a.size} px: {a.source}",
                "efficiency": {case: round(efficiency(like, prec, rates_of(case)), 4) for case in hw.CASES},
                "h100_images_per_s_at_anchor": round(a.images_per_s[prec] * hw.H100_OVER_A100.expected, 0),
                "h100_images_per_s_here": round(cls["batch_size"] / step_seconds(here, prec, e, r), 0),
                "here": f"batch {cls['batch_size']}, {size} px",
            }
        )
    return rows


def main() -> None:
    from ganaug.config import validate_config

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, default=ROOT / "config/config.yaml")
    ap.add_argument("--nv", type=int, default=ISIC2019["NV"])
    ap.add_argument("--df", type=int, default=ISIC2019["DF"])
    ap.add_argument("--epochs", default="typical", help="typical (10 + patience) | max | a number")
    ap.add_argument("--jobs-per-device", type=int, default=4, help="GPU jobs sharing the one H100")
    ap.add_argument("--slurm-gpus", type=int, default=8)
    ap.add_argument("--dispatch-us", type=float, help="a measured host cost an op (else the published span)")
    ap.add_argument("--measured", type=Path, help="JSON {stage kind: measured seconds a step} from gpu_check")
    ap.add_argument("--json", type=Path, default=ROOT / "benchmarks/out/study_cost.json")
    args = ap.parse_args()
    cfg = validate_config(yaml.safe_load(args.config.read_text()))
    cls = cfg["classifier"]
    epochs = {"typical": 10 + cls["patience"], "max": cls["max_epochs"]}.get(args.epochs) or int(args.epochs)
    epochs = min(epochs, cls["max_epochs"])

    def rates_of(case: str) -> Rates:
        return Rates(hw.H100, case, args.dispatch_us)

    st = stages(cfg, args.nv, args.df, epochs)
    report = {
        "config": str(args.config.relative_to(ROOT) if args.config.is_relative_to(ROOT) else args.config),
        "gpu": asdict(hw.H100),
        "epochs_per_fit": epochs,
        "epochs_assumption": "best epoch 10 + patience" if args.epochs == "typical" else args.epochs,
        "assumptions": {
            "h100_over_a100": asdict(hw.H100_OVER_A100),
            "dispatch_us": args.dispatch_us if args.dispatch_us is not None else asdict(hw.DISPATCH_US),
            "min_kernel_us": asdict(hw.MIN_KERNEL_US),
            "bandwidth_efficiency": asdict(hw.BANDWIDTH_EFFICIENCY),
            "decode_images_per_s": hw.DECODE_PER_S,
            "fit_host_s": hw.FIT_HOST_S,
            "curate_lpips_host_s": hw.LPIPS_HOST_S,
            "gan_metrics_host_s": hw.METRICS_HOST_S,
        },
        "anchors": anchors_table(cfg, rates_of),
        "anchored": summary(st, rates_of, args.slurm_gpus, args.jobs_per_device),
    }
    if args.measured:
        used = apply_measured(st, json.loads(args.measured.read_text()))
        report["measured"] = {"applied_to": used} | summary(
            st, rates_of, args.slurm_gpus, args.jobs_per_device
        )
    print_report(report, args.jobs_per_device)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")


def print_report(report: dict, j: int) -> None:
    print(
        f"{report['config']} on one {report['gpu']['name']}, {report['epochs_per_fit']} epochs a fit "
        f"({report['epochs_assumption']}); every figure a projection until a GPU measures it\n"
    )
    for a in report["anchors"]:
        print(
            f"{a['arch']}: anchor {a['anchor']}; E {a['efficiency']['expected']:.3f}; "
            f"{a['h100_images_per_s_at_anchor']:.0f} img/s on an H100 there, "
            f"{a['h100_images_per_s_here']:.0f} at {a['here']}"
        )
    for name in ("anchored", "measured"):
        part = report.get(name)
        if not part:
            continue
        title = (
            "anchored projection"
            if name == "anchored"
            else f"with measured steps ({', '.join(part['applied_to'])})"
        )
        print(f"\n{title}: hours (optimistic / expected / pessimistic)")
        print(f"{'stage':<30}{'jobs':>5}{'PFLOP':>9}{'Mops':>9}{'GPU h':>8}{'host h':>8}   job h")
        for row in part["stages"]:
            e = row["expected"]
            span = " / ".join(f"{row[c]['job_hours']:.2f}" for c in hw.CASES)
            print(
                f"{row['stage']:<30}{row['jobs']:>5}{row['pflop']:>9}{row['mega_ops']:>9}"
                f"{e['gpu_hours']:>8.2f}{e['host_hours']:>8.2f}   {span}"
            )
        p = part["projection"]
        for key, label in (
            ("one_gpu", "one H100, one job at a time (default profile)"),
            ("one_gpu_shared", f"one H100, {j} jobs sharing it"),
            ("slurm", f"{p['expected']['slurm']['gpus']} GPUs under SLURM"),
        ):
            span = " / ".join(f"{p[c][key]['wall_hours']:.1f}" for c in hw.CASES)
            print(f"{label}: {span} h")


if __name__ == "__main__":
    main()
