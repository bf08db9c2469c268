"""Preprocessing throughput: 1024x1024 JPEGs to 256 px PNGs, against a plain OpenCV loop.

Both sides read every JPEG, produce a 256 px image and write it as PNG. The plain loop is
``cv2.imread`` + ``cv2.resize`` (INTER_AREA) + ``cv2.imwrite`` of the whole frame, one image
after another. The pipeline also locates the lesion and crops around it, and decodes through
libjpeg's DCT scaling (PIL draft mode). Run: ``python benchmarks/bench_preprocess.py [--n 80]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import cv2
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from ganaug.data.phantom import write_phantom
from ganaug.data.preprocess import preprocess_all
from ganaug.settings import PhantomConfig


def plain_loop(paths: list[Path], out: Path, size: int) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for p in paths:
        img = cv2.imread(str(p))
        small = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(out / f"{p.stem}.png"), small)


def timed(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=80, help="number of 1024x1024 JPEGs")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--repeats", type=int, default=3, help="best of this many runs")
    ap.add_argument("--json", type=Path, default=Path("benchmarks/out/preprocess.json"))
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        half = max(1, args.n // 2)
        cfg = PhantomConfig(
            n_minority_lesions=half,
            n_majority_lesions=args.n - half,
            repeat_fraction=0.0,
            mask_fraction=0.0,
            width=1024,
            height=1024,
            jpeg_quality=92,
            seed=42,
        )
        gt = write_phantom(cfg, tmp / "in", tmp / "gt.csv", tmp / "meta.csv", None, workers=2)
        labels = pd.DataFrame(
            {
                "image_id": gt["image"],
                "label": "nevus",
                "lesion_id": "",
                "patient_id": "",
                "row": range(len(gt)),
            }
        )
        paths = sorted((tmp / "in").glob("*.jpg"))
        n = len(paths)

        def pipeline(workers: int, draft: bool):
            return lambda: preprocess_all(
                labels, tmp / "in", None, tmp / "out", args.size, draft, 0.0, workers=workers, progress=False
            )

        results = {
            "plain_loop_1_process": timed(lambda: plain_loop(paths, tmp / "plain", args.size), args.repeats),
            "pipeline_1_worker_draft": timed(pipeline(1, True), args.repeats),
            "pipeline_1_worker_no_draft": timed(pipeline(1, False), args.repeats),
            "pipeline_2_workers_draft": timed(pipeline(2, True), args.repeats),
        }
    base = results["plain_loop_1_process"]
    report = {
        "images": n,
        "input": "1024x1024 JPEG (phantom, quality 92)",
        "output_px": args.size,
        "seconds": {k: round(v, 4) for k, v in results.items()},
        "images_per_second": {k: round(n / v, 1) for k, v in results.items()},
        "speedup_vs_plain_loop": {k: round(base / v, 2) for k, v in results.items()},
    }
    print(json.dumps(report, indent=2))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
