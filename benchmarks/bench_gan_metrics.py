"""The gan_metrics stage at the study's size: 1,500 raw and 600 curated synthetic 256 px images
against the real training (167) and validation (36) DF images, as ISIC 2019's 239 DF images
split 70/15/15 give. Every figure of the rule is computed (FID, IS, KID, precision/recall, LPIPS
to the nearest real image and diversity, SSIM), with the random-init Inception and VGG16 (the
speed does not depend on the weights), from textured random images.

The same run times FID, KID and precision/recall on the curated set's pooled features against
torch-fidelity's implementations, the reference this code is tested against (tests/reference),
and quotes the ratio.

    python benchmarks/bench_gan_metrics.py                 # CPU, the full size: about 30 min
    python benchmarks/bench_gan_metrics.py --device cuda   # one GPU
    python benchmarks/bench_gan_metrics.py --smoke         # tiny, CPU, seconds
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
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from ganaug.curation.lpips_fast import FastLpips, build_lpips
from ganaug.evaluation.features import build_extractor
from ganaug.evaluation.synthetic_quality import GanMetricsOutputs, Settings, gan_metrics

FULL = {"size": 256, "train": 167, "val": 36, "raw": 1500, "curated": 600}
SMOKE = {"size": 64, "train": 12, "val": 6, "raw": 24, "curated": 10}


def textured(rng: np.random.Generator, size: int) -> np.ndarray:
    """Smooth random colour fields: closer to photographs than white noise for SSIM and LPIPS."""
    small = rng.integers(0, 256, (max(4, size // 16), max(4, size // 16), 3), dtype=np.uint8)
    return cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)


def workspace(root: Path, shape: dict, seed: int = 42) -> tuple[Path, Path, Path]:
    rng = np.random.default_rng(seed)
    rows = []
    for split in ("train", "val"):
        for i in range(shape[split]):
            p = root / "real" / f"{split}_{i:04d}.png"
            p.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(p), textured(rng, shape["size"]))
            rows.append({"image_id": p.stem, "path": str(p), "split": split, "target": 1, "synthetic": False})
    meta = root / "metadata.csv"
    pd.DataFrame(rows).to_csv(meta, index=False)
    for name in ("raw", "curated"):
        (root / name).mkdir()
        for i in range(shape[name]):
            cv2.imwrite(str(root / name / f"generated_{i:04d}.png"), textured(rng, shape["size"]))
    return meta, root / "raw", root / "curated"


def reference_seconds(real: np.ndarray, syn: np.ndarray, s: Settings) -> float:
    """torch-fidelity's FID, KID and precision/recall on the same pooled features."""
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
    from torch_fidelity.metric_kid import kid_features_to_metric
    from torch_fidelity.metric_prc import prc_features_to_metric

    a, b = torch.from_numpy(syn), torch.from_numpy(real)
    t = time.perf_counter()
    fid_statistics_to_metric(fid_features_to_statistics(a), fid_features_to_statistics(b), False)
    size = min(s.kid_subset_size, len(a), len(b))
    kid_features_to_metric(a, b, kid_subsets=s.kid_subsets, kid_subset_size=size,
                           kid_kernel="poly", kid_kernel_poly_degree=3, kid_kernel_poly_gamma=None,
                           kid_kernel_poly_coef0=1, rng_seed=s.seed, verbose=False)  # fmt: skip
    prc_features_to_metric(
        a, b, prc_neighborhood=s.pr_k, prc_batch_size=10000, save_cpu_ram=False, verbose=False
    )
    return time.perf_counter() - t


def ours_seconds(real: np.ndarray, syn: np.ndarray, s: Settings) -> float:
    from ganaug.evaluation.gan_metrics import fid_from_features, kernel_inception_distance, precision_recall

    t = time.perf_counter()
    fid_from_features(real, syn)
    kernel_inception_distance(real, syn, s.kid_subsets, s.kid_subset_size, s.seed)
    precision_recall(real, syn, k=s.pr_k)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, for the test suite")
    ap.add_argument("--json", type=Path, default=Path("benchmarks/out/gan_metrics.json"))
    args = ap.parse_args()
    shape = SMOKE if args.smoke else FULL
    device = torch.device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        meta, raw, curated = workspace(root, shape)
        s = Settings(kid_subsets=100, lpips_diversity_images=min(100, shape["curated"]))
        t = time.perf_counter()
        extractor = build_extractor("random", root / "weights", 42)
        fast = FastLpips(build_lpips("random", root / "weights", 42), device)
        out = GanMetricsOutputs(
            root / "m.json",
            root / "f.npz",
            root / "p.csv",
            root / "fig.png",
            root / "near.png",
            root / "gallery.png",
        )
        result = gan_metrics(meta, raw, curated, extractor, fast, "random vgg16", device, s, 10, out)
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - t
        feats = np.load(out.features)
        pools = (feats["real_train_pool"].astype(np.float64), feats["curated_pool"].astype(np.float64))
        ours = ours_seconds(*pools, s)
        ref = reference_seconds(*pools, s)
    report = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "threads": torch.get_num_threads(),
        "shape": shape,
        "gan_metrics_seconds": round(seconds, 1),
        "sets": sorted(result["sets"]),
        "fid_kid_pr_seconds_ours": round(ours, 3),
        "fid_kid_pr_seconds_torch_fidelity": round(ref, 3),
        "torch_fidelity_over_ours": round(ref / ours, 2),
    }
    print(json.dumps(report), flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
