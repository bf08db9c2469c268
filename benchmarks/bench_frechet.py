"""Frechet distance: the project's symmetric-eigenvalue form against pytorch-fid's
``calculate_frechet_distance`` (scipy ``sqrtm`` of the non-symmetric product), on the same
2048-d Gaussian statistics, in one run. Reports both times, their ratio and the difference.
Then, for sets of fewer images than dimensions (the DF sets the GAN metrics compare at equal
size), the route in the samples' span (``frechet_distance_of_samples``) against both.

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

from ganaug.evaluation.gan_metrics import frechet_distance, frechet_distance_of_samples, gaussian_stats


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
    rows += few_images(rng, args.dim, args.repeats)
    Path(args.out).parent.mkdir(exist_ok=True)
    Path(args.out).write_text(json.dumps(rows, indent=2) + "\n")


def few_images(rng, dim: int, repeats: int) -> list[dict]:
    """Fewer images than dimensions: 36 a side (the equal-size GAN metrics' usual n) and 167
    against 36: the samples' span against the D x D routes, in one run."""
    from pytorch_fid.fid_score import calculate_frechet_distance

    rows = []
    for n1, n2 in ((36, 36), (167, 36)):
        mix = rng.normal(size=(dim, dim)) / np.sqrt(dim)
        a = np.maximum(rng.normal(size=(n1, dim)) @ mix, 0)
        b = np.maximum(rng.normal(0.1, 1.1, size=(n2, dim)) @ mix, 0)
        t_span, span = best_of(lambda a=a, b=b: frechet_distance_of_samples(a, b), repeats)
        stats = (*gaussian_stats(a), *gaussian_stats(b))
        t_eigh, _ = best_of(lambda s=stats: frechet_distance(*s), repeats)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t_ref, ref = best_of(lambda s=stats: calculate_frechet_distance(*s), repeats)
        row = {"n": [n1, n2], "dim": dim, "span_s": t_span, "eigh_s": t_eigh, "pytorch_fid_s": t_ref,
               "pytorch_fid_over_span": t_ref / t_span, "eigh_over_span": t_eigh / t_span,
               "rel_diff_vs_pytorch_fid": abs(span - float(ref)) / abs(float(ref))}  # fmt: skip
        rows.append(row)
        print(
            f"N={n1}x{n2} D={dim}: span {t_span * 1e3:.1f} ms, eigh {t_eigh:.2f} s, "
            f"pytorch-fid {t_ref:.2f} s "
            f"({row['pytorch_fid_over_span']:.0f}x, {row['eigh_over_span']:.0f}x); "
            f"rel diff {row['rel_diff_vs_pytorch_fid']:.1e}"
        )
    return rows


if __name__ == "__main__":
    main()
