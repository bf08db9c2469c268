"""Frechet distance: the project's symmetric-eigenvalue form against pytorch-fid's
``calculate_frechet_distance`` (scipy ``sqrtm`` of the non-symmetric product), on the same
2048-d Gaussian statistics, in one run. Reports both times, their ratio and the difference.

    python benchmarks/bench_frechet.py             # N = 300 and 2000 images per set, D = 2048
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from ganaug.evaluation.gan_metrics import frechet_distance, gaussian_stats


def best_of(fn, repeats: int) -> tuple[float, float]:
    times, value = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t)
    return min(times), value


def main() -> None:
    from pytorch_fid.fid_score import calculate_frechet_distance

    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="300,2000")
    ap.add_argument("--dim", type=int, default=2048)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(Path(__file__).parent / "out" / "frechet.json"))
    args = ap.parse_args()
    rng = np.random.default_rng(42)
    rows = []
    for n in map(int, args.sizes.split(",")):
        mix = rng.normal(size=(args.dim, args.dim)) / np.sqrt(args.dim)
        a = np.maximum(rng.normal(size=(n, args.dim)) @ mix, 0)  # ReLU-like, as pool3 features
        b = np.maximum(rng.normal(0.1, 1.1, size=(n, args.dim)) @ mix, 0)
        stats = (*gaussian_stats(a), *gaussian_stats(b))
        t_mine, mine = best_of(lambda s=stats: frechet_distance(*s), args.repeats)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t_ref, ref = best_of(lambda s=stats: calculate_frechet_distance(*s), args.repeats)
        row = {"n": n, "dim": args.dim, "ours_s": t_mine, "pytorch_fid_s": t_ref,
               "speedup": t_ref / t_mine, "ours": mine, "pytorch_fid": float(ref),
               "abs_diff": abs(mine - float(ref))}  # fmt: skip
        rows.append(row)
        print(
            f"N={n:5d} D={args.dim}: ours {t_mine:6.2f} s, pytorch-fid {t_ref:6.2f} s "
            f"({row['speedup']:.1f}x); FID {mine:.6f} vs {float(ref):.6f} (|diff| {row['abs_diff']:.2e})"
        )
    Path(args.out).parent.mkdir(exist_ok=True)
    Path(args.out).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
