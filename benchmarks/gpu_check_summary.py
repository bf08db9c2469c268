"""Collects gpu_check.sh's steps into gpu_check.json and a short gpu_check.md.

python benchmarks/gpu_check_summary.py OUTDIR SMOKE step=status:seconds ...
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

GOAL_ITERATIONS_PER_SECOND = 50_000 / (30 * 60)  # 50,000 GAN iterations in 30 minutes


def load(out: Path, name: str) -> dict | None:
    path = out / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def gan_lines(gan: dict) -> list[str]:
    lines = ["| precision | compile | it/s | previous step it/s | new / previous | TFLOP/s | min for 50k |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for r in gan["runs"]:
        lines.append(f"| {r['precision']} | {r['compile']} | {r['iterations_per_second']} | "
                     f"{r['previous_step_iterations_per_second']} | {r['new_over_previous_speed']} | "
                     f"{r['achieved_tflops']} | {r['minutes_for_50000_iterations']} |")  # fmt: skip
    best = max(gan["runs"], key=lambda r: r["iterations_per_second"])
    verdict = "meets" if best["iterations_per_second"] >= GOAL_ITERATIONS_PER_SECOND else "misses"
    lines.append(
        f"\nFastest: {best['precision']}, compile {best['compile']}: {best['iterations_per_second']} it/s, "
        f"which {verdict} the goal of {GOAL_ITERATIONS_PER_SECOND:.1f} it/s (50,000 iterations in 30 min)."
    )
    return lines


def classifier_lines(cls: dict) -> list[str]:
    lines = ["| arch | px | fp32 img/s | bf16 + channels_last img/s | ratio |", "|---|---|---|---|---|"]
    for r in cls["runs"]:
        fast = r.get("cache_bf16_channels_last_images_per_second", "-")
        lines.append(f"| {r['arch']} | {r['size']} | {r['cache_images_per_second']} | {fast} | "
                     f"{r.get('bf16_vs_fp32', '-')} |")  # fmt: skip
    return lines


def main() -> None:
    out, smoke = Path(sys.argv[1]), sys.argv[2] == "1"
    steps = {}
    for arg in sys.argv[3:]:
        name, rest = arg.split("=", 1)
        status, seconds = rest.split(":")
        steps[name] = {"status": status, "seconds": int(seconds) if seconds else None}
    result = {"smoke": smoke, "steps": steps}
    for name in ("gan_step", "classifier", "gan_metrics"):
        result[name] = load(out, name)
    (out / "gpu_check.json").write_text(json.dumps(result, indent=2) + "\n")
    device = next((r["device"] for r in (result["gan_step"], result["gan_metrics"]) if r), "unknown")
    md = [f"# GPU check{' (smoke, CPU, tiny sizes: no figure here is a GPU figure)' if smoke else ''}",
          f"\nDevice: {device}. Total: {sum(s['seconds'] or 0 for s in steps.values())} s.\n",
          "| step | status | seconds |", "|---|---|---|"]  # fmt: skip
    md += [f"| {n} | {s['status']} | {s['seconds']} |" for n, s in steps.items()]
    if result["gan_step"]:
        md += ["\n## GAN step", *gan_lines(result["gan_step"])]
    if result["classifier"]:
        md += ["\n## Classifier training", *classifier_lines(result["classifier"])]
    if result["gan_metrics"]:
        g = result["gan_metrics"]
        md += ["\n## gan_metrics", f"{g['shape']}: {g['gan_metrics_seconds']} s."]
    (out / "gpu_check.md").write_text("\n".join(md) + "\n")
    print((out / "gpu_check.md").read_text())


if __name__ == "__main__":
    main()
