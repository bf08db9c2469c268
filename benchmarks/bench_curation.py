"""Curation stages against the per-pair loops they replace, on the same images, in one run.

SSIM stage: the project's batched SSIM (each image decoded once, per-image window statistics
once, only the product term per pair) against ``skimage.metrics.structural_similarity`` called
pair by pair with both PNGs read from disk for every pair (the obvious loop).
LPIPS stage: the project's features-once, matrix-product LPIPS against the lpips package's
``LPIPS(net='vgg')`` called pair by pair (two VGG passes per pair).
Real-SSIM stage (``realssim``): the review page's SSIM of each real image to the other real ones,
from statistics made once, against the loop it replaced (the others' statistics rebuilt for each).
Batch stage (``batches``): the batch sizes the code uses for VGG16 (LPIPS) and the cluster
features, against larger ones, timed in alternation.

Both stages scale linearly in the number of synthetic images once the real set is prepared,
and the reference loops linearly in pairs, so both are timed on a part of the study size and
scaled to it (1,353 x 210 for SSIM, 1,264 x 210 for LPIPS, 256 px). Which numbers are
measured and which are scaled is printed. The VGG trunk is random-init (offline): its cost is
the same as the ImageNet one's.

    python benchmarks/bench_curation.py                # ~10 minutes on 2 cores
    python benchmarks/bench_curation.py --syn-lpips 1264 --syn-ssim 1353   # the full size
    python benchmarks/bench_curation.py --stages realssim,batches          # ~3 minutes
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from ganaug.curation.lpips_fast import VGG_BATCH, FastLpips, build_lpips, features_in_chunks
from ganaug.curation.ssim import max_ssim


def images(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """Smooth colour fields with noise: realistic SSIM/LPIPS work, no special cases."""
    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        coarse = rng.uniform(0, 255, (size // 16 + 1, size // 16 + 1, 3)).astype(np.float32)
        img = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC) + rng.normal(
            0, 10, (size, size, 3)
        )
        out[i] = np.clip(img, 0, 255)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--real", type=int, default=210)
    ap.add_argument("--syn-ssim", type=int, default=256, help="synthetic images timed in the SSIM stage")
    ap.add_argument("--syn-lpips", type=int, default=64, help="synthetic images timed in the LPIPS stage")
    ap.add_argument("--full-ssim", type=int, default=1353)
    ap.add_argument("--full-lpips", type=int, default=1264)
    ap.add_argument("--ref-pairs-ssim", type=int, default=200)
    ap.add_argument("--ref-pairs-lpips", type=int, default=6)
    ap.add_argument("--real-ssim", type=int, default=60, help="real images in the realssim stage")
    ap.add_argument("--stages", default="ssim,lpips,realssim,batches")
    ap.add_argument("--json", type=Path, default=Path("benchmarks/out/curation.json"))
    args = ap.parse_args()
    torch.set_num_threads(2)
    rng = np.random.default_rng(42)
    n_syn = max(args.syn_ssim, args.syn_lpips)
    syn, real = images(rng, n_syn, args.size), images(rng, args.real, args.size)
    report: dict = {"size": args.size, "real": args.real, "threads": torch.get_num_threads()}

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for i, img in enumerate(syn):
            cv2.imwrite(str(tmp / f"s{i}.png"), img)
        for i, img in enumerate(real):
            cv2.imwrite(str(tmp / f"r{i}.png"), img)

        stages = args.stages.split(",")
        if "ssim" in stages:
            report["ssim"] = bench_ssim(args, tmp)
            print(json.dumps({"ssim": report["ssim"]}), flush=True)
        if "lpips" in stages:
            report["lpips"] = bench_lpips(args, tmp, syn, real)
            print(json.dumps({"lpips": report["lpips"]}), flush=True)
        if "realssim" in stages:
            report["realssim"] = bench_real_ssim(args, real)
            print(json.dumps({"realssim": report["realssim"]}), flush=True)
        if "batches" in stages:
            report["batches"] = bench_batches(args, tmp, real)
            print(json.dumps({"batches": report["batches"]}), flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")


def bench_ssim(args: argparse.Namespace, tmp: Path) -> dict:
    """The stage reads every image once, then works in memory; the loop reads both per pair.

    The stage is timed twice in the same run: as it is (the study's greyscale,
    ``cv2.imread(p, cv2.IMREAD_GRAYSCALE)``) and as it was before (colour decode, then
    ``cv2.cvtColor(..., COLOR_BGR2GRAY)``), so the cost of the exact definition is measured.
    """
    from skimage.metrics import structural_similarity

    from ganaug.data.image_files import read_grey

    def stage(grey) -> float:
        t = time.perf_counter()
        s_grey = np.stack([grey(tmp / f"s{i}.png") for i in range(args.syn_ssim)])
        r_grey = np.stack([grey(tmp / f"r{j}.png") for j in range(args.real)])
        max_ssim(torch.from_numpy(s_grey), torch.from_numpy(r_grey), chunk=16)
        return time.perf_counter() - t

    before = lambda p: cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2GRAY)  # noqa: E731
    stage(read_grey)  # numba compiles (or loads its cache) on the first call: not timed
    t_before = stage(before)
    t_ssim = stage(read_grey)
    pairs = [(i % args.syn_ssim, (7 * i) % args.real) for i in range(args.ref_pairs_ssim)]
    t = time.perf_counter()
    for i, j in pairs:  # the study's code, verbatim
        structural_similarity(
            cv2.imread(str(tmp / f"s{i}.png"), cv2.IMREAD_GRAYSCALE),
            cv2.imread(str(tmp / f"r{j}.png"), cv2.IMREAD_GRAYSCALE),
        )
    per_pair = (time.perf_counter() - t) / len(pairs)
    ref_full = per_pair * args.full_ssim * args.real
    ours_full = t_ssim * args.full_ssim / args.syn_ssim
    return {
        "measured_stage_seconds": round(t_ssim, 2),
        "measured_stage_seconds_before_grey_change": round(t_before, 2),
        "after_over_before": round(t_ssim / t_before, 3),
        "measured_on": f"{args.syn_ssim} x {args.real}",
        "reference_ms_per_pair": round(per_pair * 1000, 3),
        "reference_pairs_timed": len(pairs),
        "stage_seconds_at_full_size": round(ours_full, 1),
        "reference_seconds_at_full_size": round(ref_full, 1),
        "full_size": f"{args.full_ssim} x {args.real}",
        "speedup": round(ref_full / ours_full, 1),
    }


def bench_lpips(args: argparse.Namespace, tmp: Path, syn: np.ndarray, real: np.ndarray) -> dict:
    """Features once per image and matrix products, against two VGG passes per pair."""
    model = build_lpips("random", tmp, seed=42)
    fast = FastLpips(model, torch.device("cpu"))
    to_t = lambda a: torch.from_numpy(np.ascontiguousarray(a[..., ::-1].transpose(0, 3, 1, 2)))  # noqa: E731
    # the stage's two phases, timed apart: the real set's features once, then per synthetic chunk
    # its features, into one block store, and the distance matrix (what min_lpips does)
    t = time.perf_counter()
    real_feats = features_in_chunks(fast, to_t(real), VGG_BATCH)
    t_real = time.perf_counter() - t
    t = time.perf_counter()
    syn_t = to_t(syn[: args.syn_lpips])
    block = fast.empty(16, args.size)
    for s in range(0, len(syn_t), 16):
        part = syn_t[s : s + 16]
        features_in_chunks(fast, part, VGG_BATCH, out=block)
        fast.distances(block.rows(0, len(part)), real_feats).min(dim=1)
    t_syn = time.perf_counter() - t
    t_stage = t_real + t_syn
    ours_full = t_real + t_syn * args.full_lpips / args.syn_lpips
    t = time.perf_counter()
    with torch.no_grad():
        for k in range(args.ref_pairs_lpips):
            a = torch.from_numpy(syn[k][..., ::-1].transpose(2, 0, 1).copy())[None].float() / 127.5 - 1
            b = torch.from_numpy(real[k][..., ::-1].transpose(2, 0, 1).copy())[None].float() / 127.5 - 1
            model(a, b)
    per_pair = (time.perf_counter() - t) / args.ref_pairs_lpips
    ref_full = per_pair * args.full_lpips * args.real
    return {
        "measured_stage_seconds": round(t_stage, 1),
        "measured_on": f"{args.syn_lpips} x {args.real}",
        "real_features_seconds": round(t_real, 1),
        "synthetic_seconds": round(t_syn, 1),
        "reference_seconds_per_pair": round(per_pair, 3),
        "reference_pairs_timed": args.ref_pairs_lpips,
        "stage_seconds_at_full_size": round(ours_full, 1),
        "reference_hours_at_full_size": round(ref_full / 3600, 1),
        "full_size": f"{args.full_lpips} x {args.real}",
        "speedup": round(ref_full / ours_full, 1),
    }


def bench_real_ssim(args: argparse.Namespace, real: np.ndarray) -> dict:
    """Each real image's highest SSIM to the others (the review page's proxy for real images)."""
    from ganaug.curation.review_stage import max_ssim_to_others

    grey = torch.from_numpy(np.stack([cv2.cvtColor(im, cv2.COLOR_BGR2GRAY) for im in real[: args.real_ssim]]))
    max_ssim_to_others(grey[:2])  # numba's compile (or cache load) is not the stage's time
    t = time.perf_counter()
    ours = max_ssim_to_others(grey)
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    loop = []
    for i in range(len(grey)):  # the replaced code: every image against the rest, rebuilt each time
        others = torch.cat([grey[:i], grey[i + 1 :]])
        loop.append(float(max_ssim(grey[i : i + 1], others)[0][0]))
    t_loop = time.perf_counter() - t
    return {
        "images": len(grey),
        "seconds": round(t_ours, 2),
        "loop_seconds": round(t_loop, 2),
        "identical": bool(np.array_equal(ours, np.asarray(loop))),
        "speedup": round(t_loop / t_ours, 1),
    }


def bench_batches(args: argparse.Namespace, tmp: Path, real: np.ndarray, rounds: int = 3) -> dict:
    """Seconds an image for each batch size, the fastest of ``rounds`` rounds run in alternation
    (so that a slow spell of a shared machine hits every size alike)."""
    from ganaug.curation.clusters import build_feature_extractor, extract

    rgb = np.ascontiguousarray(real[:64, ..., ::-1].transpose(0, 3, 1, 2))  # 64: two batches of 32
    fast = FastLpips(build_lpips("random", tmp, seed=42), torch.device("cpu"))
    images = torch.from_numpy(rgb[:16])  # VGG16 passes are slow: 16 images, in 8, 4 or 2 passes
    store = fast.empty(len(images), args.size)
    runs = {f"vgg16_lpips_batch_{b}": lambda b=b: features_in_chunks(fast, images, b, out=store)
            for b in (VGG_BATCH, 4, 8)}  # fmt: skip
    for backbone in ("efficientnet_lite0", "random"):
        model = build_feature_extractor(backbone, tmp)
        for b in (4, 32):
            runs[f"cluster_{backbone}_batch_{b}"] = lambda m=model, b=b: extract(m, rgb, batch=b)
    times: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            t = time.perf_counter()
            run()
            times[name].append(
                (time.perf_counter() - t) / (len(images) if name.startswith("vgg") else len(rgb))
            )
    best = {k: min(v) for k, v in times.items()}
    out = {k: round(v, 4) for k, v in best.items()}
    out["vgg16_batch_4_over_code"] = round(
        best["vgg16_lpips_batch_4"] / best[f"vgg16_lpips_batch_{VGG_BATCH}"], 2
    )
    for backbone in ("efficientnet_lite0", "random"):
        ratio = best[f"cluster_{backbone}_batch_32"] / best[f"cluster_{backbone}_batch_4"]
        out[f"cluster_{backbone}_batch_32_over_4"] = round(ratio, 2)
    return out


if __name__ == "__main__":
    main()
