"""The full-scale rehearsal: config/scale.yaml through the data stages and curation, with each
rule's wall time and peak memory from Snakemake's own benchmark files.

The phantom set is shaped like ISIC 2019 (12,875 NV and 239 DF images from 113 lesions, at the
archive's image sizes); ingest, preprocess and split run at 256 px; then 1,500 synthetic 256 px
images go through blur, SSIM, LPIPS (random-init VGG16), the simulated review and the
cluster-balanced selection of 600. The targets (issue 13) are checked and printed:
the data stages in at most 5 minutes, curation in at most 15, no rule above 4 GB RSS.

``--lpips-memory`` then measures the LPIPS stage's memory against its earlier float32 feature
store in the same run (each in a fresh process, on this run's training DF images and the first
``--lpips-synthetic`` synthetic images), and the largest difference between the two.

    python benchmarks/bench_scale.py --fresh         # about 24 minutes on 2 cores, 14 of them curation
    python benchmarks/bench_scale.py --lpips-memory  # and the LPIPS memory comparison

The JSON goes to benchmarks/out/scale.json; the workdir (default benchmarks/out/scale_run) is
kept, so a second run reuses the phantom set and the finished rules (use --fresh to redo all).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from ganaug.reporting.data_tables import benchmark_table  # noqa: E402

TARGET = "results/repeat_0/synthetic/curation/summary.json"
STAGES = {
    # the same-lesion screen (perceptual hashes of every image, the archive against itself) runs
    # before the split, so it is a data stage
    "data": ["ingest", "preprocess", "perceptual_hashes", "same_lesion", "split"],
    "curation": [
        "curate_blur",
        "curate_ssim",
        "curate_lpips",
        "review_sheet",  # the blinded page, with its key (review_key, its simulated twin)
        "review_key",
        "ingest_reviews",
        "select_clusters",
    ],
    "setting up": ["make_phantom", "train_gan", "select_snapshot", "sample_gan"],
}
LIMITS = {"data_seconds": 300, "curation_seconds": 900, "max_rss_mb": 4096}


def run_workflow(workdir: Path, cores: int) -> float:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "workflow/Snakefile"), "-d", str(workdir),
           "--configfile", str(REPO / "config/scale.yaml"), "--cores", str(cores), TARGET]  # fmt: skip
    t = time.perf_counter()
    subprocess.run(cmd, check=True)
    return time.perf_counter() - t


def summarise(workdir: Path) -> dict:
    files = sorted(str(p) for p in (workdir / "results/benchmarks").rglob("*.tsv"))
    table = benchmark_table(files)
    stages = {}
    for stage, rules in STAGES.items():
        part = table[table["rule"].isin(rules)]
        stages[stage] = {"seconds": round(float(part["seconds"].sum()), 1),
                         "max_rss_mb": round(float(part["max RSS (MB)"].max()), 1)}  # fmt: skip
    rules = {r.rule: {"seconds": round(r.seconds, 1), "max_rss_mb": round(float(r[4]), 1)}
             for r in table.itertuples()}  # fmt: skip
    # a rule in no stage would leave a stage's total short without a word (the same-lesion rules
    # did, when they were added after this table)
    unstaged = sorted(set(table["rule"]) - {r for rs in STAGES.values() for r in rs})
    if unstaged:
        raise SystemExit(f"bench_scale: rules in no stage of STAGES: {', '.join(unstaged)}; add each to one")
    counts = json.loads((workdir / TARGET).read_text())
    return {"rules": rules, "stages": stages, "curation_summary": counts}


def check(result: dict) -> dict:
    s = result["stages"]
    worst = max(v["max_rss_mb"] for v in result["rules"].values())
    return {
        "data_seconds": {"measured": s["data"]["seconds"], "limit": LIMITS["data_seconds"]},
        "curation_seconds": {"measured": s["curation"]["seconds"], "limit": LIMITS["curation_seconds"]},
        "max_rss_mb": {"measured": worst, "limit": LIMITS["max_rss_mb"]},
    }


LPIPS_CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {scripts!r})
import numpy as np, torch
import ganaug.curation.lpips_fast as lf
from ganaug.data.image_files import read_images
from ganaug.curation.stages import real_reference
torch.set_num_threads(2)
storage = getattr(torch, {storage!r})
raw = {raw!r}
names = sorted(p.name for p in __import__("pathlib").Path(raw).glob("*.png"))[: {n_syn}]
syn = torch.from_numpy(read_images(raw, names, grey=False))
_, real = real_reference({metadata!r}, grey=False, size=syn.shape[-1], manifest={manifest!r})
fast = lf.FastLpips(lf.build_lpips("random", {tmp!r}, 42), torch.device("cpu"))
t = time.perf_counter()
stored = lf.features_in_chunks(fast, torch.from_numpy(real), 16, storage=storage)
d = torch.cat([fast.distances(fast.features(syn[s : s + 16]), stored) for s in range(0, len(syn), 16)])
np.save({out!r}, d.numpy())
print(json.dumps({{"seconds": time.perf_counter() - t, "n_real": len(real),
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def lpips_memory(workdir: Path, n_syn: int) -> dict:
    """float16 store (the code) against float32 store (before), each in its own process."""
    out = {}
    tmp = workdir / "lpips_memory"
    tmp.mkdir(exist_ok=True)
    for storage in ("float32", "float16"):
        code = LPIPS_CHILD.format(scripts=str(REPO / "scripts"), storage=storage, n_syn=n_syn,
                                  raw=str(workdir / "results/repeat_0/synthetic/raw"), tmp=str(tmp),
                                  metadata=str(workdir / "results/repeat_0/data/metadata.csv"),
                                  manifest=str(workdir / "results/repeat_0/synthetic/raw_manifest.csv"),
                                  out=str(tmp / f"{storage}.npy"))  # fmt: skip
        cmd = [sys.executable, "-c", code]
        res = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=workdir)
        out[storage] = json.loads(res.stdout.strip().splitlines()[-1])
    import numpy as np

    a, b = np.load(tmp / "float32.npy"), np.load(tmp / "float16.npy")
    out["max_abs_difference"] = float(np.abs(a - b).max())
    out["float16_over_float32_rss"] = round(out["float16"]["max_rss_mb"] / out["float32"]["max_rss_mb"], 3)
    out["synthetic_images"] = n_syn
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", type=Path, default=REPO / "benchmarks/out/scale_run")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--fresh", action="store_true", help="delete the workdir first")
    ap.add_argument("--lpips-memory", action="store_true")
    ap.add_argument("--lpips-synthetic", type=int, default=64)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks/out/scale.json")
    args = ap.parse_args()
    if args.fresh and args.workdir.exists():
        shutil.rmtree(args.workdir)
    args.workdir.mkdir(parents=True, exist_ok=True)
    wall = run_workflow(args.workdir, args.cores)
    result = summarise(args.workdir)
    result["snakemake_wall_seconds_this_run"] = round(wall, 1)
    result["targets"] = check(result)
    if args.lpips_memory:
        result["lpips_memory"] = lpips_memory(args.workdir, args.lpips_synthetic)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{'rule':<18}{'seconds':>10}{'max RSS MB':>12}")
    for rule, v in result["rules"].items():
        print(f"{rule:<18}{v['seconds']:>10.1f}{v['max_rss_mb']:>12.1f}")
    for name, v in result["targets"].items():
        verdict = "ok" if v["measured"] <= v["limit"] else "OVER"
        print(f"{name}: {v['measured']} (limit {v['limit']}) {verdict}")
    if args.lpips_memory:
        print(json.dumps(result["lpips_memory"], indent=2))
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
