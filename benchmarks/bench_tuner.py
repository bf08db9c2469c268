"""The F1 threshold tuner: the shipped, vectorised ``tune_threshold`` (every candidate's counts
from cumulative sums) against the loop over candidates it replaced, on validation splits shaped
like ISIC 2019's (about 36 DF and 1,931 NV images), in the same run. Checks that both choose the
same threshold, and reports the time of each and the ratio. The calibration simulation tunes
one threshold per simulated fit, thousands per table.

    python benchmarks/bench_tuner.py [--sizes 1967,500] [--rounds 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from ganaug.evaluation.classification import decide, metrics, tune_threshold


def loop_tuner(y: np.ndarray, p: np.ndarray) -> float:
    """The tuner as it was: every candidate in turn, F1 from the full metrics, ties to the larger."""
    u = np.unique(p)
    cands = np.concatenate([[u[0] - 1e-6], (u[:-1] + u[1:]) / 2]) if len(u) > 1 else np.array([u[0] - 1e-6])
    best_t, best_f1 = 0.5, -1.0
    for t in cands:
        f1 = metrics(y, p, decide(p, t))["f1"]
        if f1 >= best_f1:
            best_t, best_f1 = float(t), f1
    return best_t


def best_of(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="1967,500", help="validation images (DF share 239 / 13,114)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    rng = np.random.default_rng(42)
    rows = []
    for n in (int(x) for x in args.sizes.split(",")):
        y = (rng.random(n) < 239 / 13114).astype(int)
        y[0] = 1
        p = 1 / (1 + np.exp(-(rng.normal(0, 1.4, n) + 2.8 * y)))
        same = tune_threshold(y, p) == loop_tuner(y, p)
        fast = best_of(lambda y=y, p=p: tune_threshold(y, p), args.rounds)
        slow = best_of(lambda y=y, p=p: loop_tuner(y, p), max(1, args.rounds // 2))
        rows.append(
            {"images": n, "same_threshold": same, "vectorised_s": fast, "loop_s": slow, "ratio": slow / fast}
        )
        print(
            f"{n} images: vectorised {fast * 1e3:.2f} ms, loop {slow * 1e3:.1f} ms, "
            f"{slow / fast:.0f}x; same threshold: {same}"
        )
        if not same:
            raise SystemExit("the two tuners chose different thresholds")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
