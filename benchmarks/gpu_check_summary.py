"""Collects gpu_check.sh's steps into gpu_check.json and a short gpu_check.md; run after every
step (and on exit), so the summary always holds what was measured so far.

python benchmarks/gpu_check_summary.py OUTDIR SMOKE step=status:seconds:limit ...
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

GOAL_ITERATIONS_PER_SECOND = 50_000 / (30 * 60)  # 50,000 GAN iterations in 30 minutes


def load(out: Path, name: str) -> dict | None:
    path = out / f"{name}.json"
    try:
        return json.loads(path.read_text())["result"] if path.is_file() else None
    except (ValueError, KeyError):
        return None


def gan_lines(gan: dict) -> list[str]:
    lines = [
        "| precision | compile | it/s | previous step it/s | new / previous | TFLOP/s | min for 50k |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in gan["runs"]:
        lines.append(
            f"| {r['precision']} | {r['compile']} | {r['iterations_per_second']} | "
            f"{r['previous_step_iterations_per_second']} | {r['new_over_previous_speed']} | "
            f"{r['achieved_tflops']} | {r['minutes_for_50000_iterations']} |"
        )
    return lines


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def main() -> None:
    out, smoke = Path(sys.argv[1]), sys.argv[2] == "1"
    steps = {}
    for arg in sys.argv[3:]:
        name, rest = arg.split("=", 1)
        status, seconds, limit = rest.split(":")
        steps[name] = {"status": status, "seconds": int(seconds) if seconds else None, "limit_s": int(limit)}
    result = {"smoke": smoke, "steps": steps} | {name: load(out, name) for name in steps}
    _write(out / "gpu_check.json", json.dumps(result, indent=2) + "\n")
    device = (result.get("versions") or {}).get("name") or (result.get("versions") or {}).get("device", "?")
    md = [
        f"# GPU check{' (smoke, CPU, tiny sizes: no figure here is a GPU figure)' if smoke else ''}",
        f"\nDevice: {device}. Time so far: {sum(s['seconds'] or 0 for s in steps.values())} s "
        f"(limits: {sum(s['limit_s'] for s in steps.values())} s"
        f"{', six times the GPU budget in smoke mode' if smoke else ''}).\n",
        "| step | status | seconds | limit |",
        "|---|---|---|---|",
    ]
    md += [f"| {n} | {s['status']} | {s['seconds']} | {s['limit_s']} |" for n, s in steps.items()]
    gan = [r for k in ("gan_step", "gan_compiled") if result.get(k) for r in result[k]["runs"]]
    if gan:
        md += ["\n## GAN step", *gan_lines({"runs": gan})]
        best = max(gan, key=lambda r: r["iterations_per_second"])
        verdict = "meets" if best["iterations_per_second"] >= GOAL_ITERATIONS_PER_SECOND else "misses"
        md.append(
            f"\nFastest: {best['precision']}, compile {best['compile']}: {best['iterations_per_second']} "
            f"it/s, which {verdict} {GOAL_ITERATIONS_PER_SECOND:.1f} it/s (50,000 in 30 min)."
        )
    for name in ("precision", "resume", "diffaugment", "fit", "decode", "lpips"):
        if result.get(name):
            md += [f"\n## {name}", "```", json.dumps(result[name], indent=1)[:1500], "```"]
    proj = (result.get("projection") or {}).get("study_cost")
    if proj:
        md += [
            "\n## Projection",
            f"One GPU: {proj['one_gpu']['wall_hours']} h; {proj['slurm']['gpus']} GPUs "
            f"under SLURM: {proj['slurm']['wall_hours']} h.",
        ]
    _write(out / "gpu_check.md", "\n".join(md) + "\n")


if __name__ == "__main__":
    main()
