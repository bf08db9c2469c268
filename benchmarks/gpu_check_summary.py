"""Gathers gpu_check.sh's steps into OUTDIR/gpu_check.json and a short OUTDIR/gpu_check.md; run
after every step (and on exit), so the summary always holds what was measured so far.

    python benchmarks/gpu_check_summary.py OUTDIR WORKDIR SMOKE step=status:seconds:limit ...

gpu_check.json: the run (smoke or not, the device, the carried wheels), then per step its status,
seconds, limit, figures (what the step had written when it ended, however it ended) and the last
lines of its log.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

GOAL_ITERATIONS_PER_SECOND = 50_000 / (30 * 60)  # 50,000 GAN iterations in 30 minutes
LOG_LINES = 15


def load(work: Path, name: str) -> dict | None:
    path = work / f"{name}.json"
    try:
        return json.loads(path.read_text())["result"] if path.is_file() else None
    except (ValueError, KeyError):
        return None


def tail(path: Path, n: int = LOG_LINES) -> list[str]:
    return path.read_text(errors="replace").splitlines()[-n:] if path.is_file() else []


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def gather(work: Path, smoke: bool, args: list[str]) -> dict:
    steps = {}
    for arg in args:
        name, rest = arg.split("=", 1)
        status, seconds, limit = rest.split(":")
        steps[name] = {
            "status": status,
            "seconds": int(seconds) if seconds else None,
            "limit_s": int(limit),
            "result": load(work, name),
            "log_tail": tail(work / f"{name}.log"),
        }
    pre = (steps.get("preflight") or {}).get("result") or {}
    return {
        "smoke": smoke,
        "device": (pre.get("gpu") or {}).get("name") or pre.get("device"),
        "torch": pre.get("torch"),
        "wheels": tail(work / "wheels.log", 5),
        "steps": steps,
    }


def markdown(result: dict) -> str:
    steps = result["steps"]
    smoke = " (smoke: the CPU at tiny sizes; no figure here is a GPU figure)" if result["smoke"] else ""
    md = [
        f"# GPU check{smoke}",
        f"\nDevice: {result['device'] or '?'}; torch {result['torch'] or '?'}. Time so far: "
        f"{sum(s['seconds'] or 0 for s in steps.values())} s (limits: "
        f"{sum(s['limit_s'] for s in steps.values())} s"
        f"{', six times the GPU budget in smoke mode' if result['smoke'] else ''}). Wheels: "
        f"{(result['wheels'] or ['none'])[-1]}\n",
        "| step | status | seconds | limit |",
        "|---|---|---|---|",
    ]
    md += [f"| {n} | {s['status']} | {s['seconds']} | {s['limit_s']} |" for n, s in steps.items()]
    gan = (steps.get("gan_step") or {}).get("result") or {}
    runs = {k: v for k, v in gan.items() if isinstance(v, dict) and "iterations_per_second" in v}
    if runs:
        md += [
            "\n## GAN step (256 px, batch 16)",
            "| variant | it/s | TFLOP/s | min for 50k | captured |",
            "|---|---|---|---|---|",
        ]
        md += [
            f"| {k} | {v['iterations_per_second']} | {v['achieved_tflops']} | {v['minutes_for_50000']} | "
            f"{v['captured']} |"
            for k, v in runs.items()
        ]
        best = max(runs.values(), key=lambda r: r["iterations_per_second"])["iterations_per_second"]
        verdict = "meets" if best >= GOAL_ITERATIONS_PER_SECOND else "misses"
        md.append(
            f"\nFastest {best} it/s, which {verdict} {GOAL_ITERATIONS_PER_SECOND:.1f} it/s "
            "(50,000 in 30 min)."
        )
    for name in ("precision", "resume", "agreement", "fit", "generators", "checkpoint", "lpips", "snakemake"):
        r = (steps.get(name) or {}).get("result")
        if r:
            md += [f"\n## {name}", "```", json.dumps(r, indent=1)[:2500], "```"]
    proj = (steps.get("projection") or {}).get("result") or {}
    if proj.get("anchored"):
        md += ["\n## Projection of config/config.yaml (hours: optimistic / expected / pessimistic)"]
        for label, part in (
            ("anchored", proj["anchored"]),
            ("with the measured steps", proj.get("measured")),
        ):
            if not part:
                continue
            for key, what in (("one_gpu", "one GPU, one job at a time"), ("slurm", "8 GPUs under SLURM")):
                span = " / ".join(
                    str(part[c][key]["wall_hours"]) for c in ("optimistic", "expected", "pessimistic")
                )
                md.append(f"- {label}, {what}: {span}")
    return "\n".join(md) + "\n"


def main() -> None:
    out, work, smoke = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "1"
    result = gather(work, smoke, sys.argv[4:])
    _write(out / "gpu_check.json", json.dumps(result, indent=1) + "\n")
    _write(out / "gpu_check.md", markdown(result))


if __name__ == "__main__":
    main()
