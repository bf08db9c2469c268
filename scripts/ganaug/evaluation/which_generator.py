"""Which generator? Every generator's figures side by side, for final_results.json and the report.

Per generator and repeat, from files its own rules wrote:

- KID of its raw and curated sets against the held-out validation DF images, at equal size on
  both sides (its metrics.json, ``ganaug.evaluation.equal_size``), and against the training images
  beside it, since a set much closer to train than to val copies; the kernel distance on DINOv2's
  features against the val images beside it;
- the data-copying test of each set (Meehan et al. 2020, ``ganaug.evaluation.copying``);
- the visual Turing test of its review: each reviewer's accuracy, balanced accuracy and realism
  AUC at telling its images from the blinded real ones, averaged over reviewers;
- its training job's wall time and peak memory (its Snakemake benchmark file);
- the snapshot its raw set was sampled from, and that snapshot's KID against val
  (``ganaug.generators.snapshots``).

Beside them, the conditions that use each generator, and which comparisons of differences.csv
put two generators head to head (a condition of one against a condition of another).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ganaug.io import read_benchmark

# The copying flag: z below this. z is N(0, 1) for a generator that samples the real distribution
# (tests/reference/test_copying.py measures it over 80 null worlds, the flag's rate with it); -3
# is a one-sided p of 0.0013, so across a handful of generators and repeats a false flag stays rare.
COPYING_Z = -3.0
SETS = ("raw", "curated")


def _x1000(against: dict, ref: str, kd: str, stat: str) -> float | None:
    v = against.get(ref, {}).get(kd, {}).get(stat)
    return None if v is None else 1000.0 * v


def mean_of(vals: list) -> float | None:
    """The mean of the values that were measured (None where none was): a figure over repeats."""
    vals = [v for v in vals if v is not None]
    return float(np.mean(vals)) if vals else None


def kid_key(figures: dict, against: str = "val") -> str:
    """The key of the kernel distance x 1000 against ``against`` among a set's figures, named
    after the extractor's own name for it (kid; kernel_distance for a non-Inception one)."""
    suffix = f"_x1000_vs_{against}"
    return next((k for k in figures if k.endswith(suffix)), f"kid{suffix}")


def kid_label(figures: dict) -> str:
    """How the report names that figure: KID, or the extractor's own name in words."""
    key = kid_key(figures)
    return "KID" if key.startswith("kid_") else key.removesuffix("_x1000_vs_val").replace("_", " ")


def each_generator(final: dict):
    """(its section, its repeats, their curated sets' figures) for each generator of
    final_results' generators section, in its order."""
    gens = final.get("generators") or {}
    for name in gens.get("order", []):
        g = gens["each"][name]
        reps = list(g["repeats"].values())
        yield g, reps, [r["sets"].get("curated", {}) for r in reps]


def set_figures(metrics: dict) -> dict:
    """KID (x 1000, as usually reported) against val and train, and the data-copying z, of each
    set of one metrics.json; None where a figure was not measured."""
    kd = metrics.get("names", {}).get("kd", "kid")
    out = {}
    for name in SETS:
        s = metrics.get("sets", {}).get(name)
        if s is None:
            continue
        against = s.get("against", {})
        copying = s.get("copying") or {}
        out[name] = {
            "n_images": s.get("n_synthetic"),
            "n_per_side": against.get("val", {}).get("n_per_side"),
            f"{kd}_x1000_vs_val": _x1000(against, "val", kd, "mean"),
            f"{kd}_x1000_sd_vs_val": _x1000(against, "val", kd, "sd"),
            f"{kd}_x1000_vs_train": _x1000(against, "train", kd, "mean"),
            # the same kernel distance on DINOv2's features (None without them); the key does not
            # end like kid_key's, which names the Inception-space figure
            "dinov2_kd_vs_val_x1000": _x1000(
                s.get("dinov2", {}).get("against", {}), "val", "kernel_distance", "mean"
            ),
            "copying_z": copying.get("z"),
            "copying_c_t": copying.get("c_t"),
            "copying_why": copying.get("why", ""),
        }
    return out


def turing_figures(turing: dict) -> dict:
    """The visual Turing test of one review page, averaged over its reviewers."""
    reviewers = turing.get("reviewers", [])

    def mean(key: str) -> float | None:
        return mean_of([r.get(key) for r in reviewers])

    return {
        "review_mode": turing.get("review_mode"),
        "simulated": bool(turing.get("simulated")),
        "n_reviewers": len(reviewers),
        "n_real_images": turing.get("n_real_images"),
        "n_synthetic_images": turing.get("n_synthetic_images"),
        "accuracy": mean("accuracy"),
        "balanced_accuracy": mean("balanced_accuracy"),
        "realism_auc": mean("realism_auc"),
    }


def training_cost(benchmark: str | Path) -> dict:
    """Wall seconds and peak RSS (MB) of a training job, from its Snakemake benchmark file."""
    b = read_benchmark(benchmark)
    return {"seconds": b["seconds"], "max_rss_mb": b["max_rss_mb"]}


def snapshot_figures(record: dict) -> dict:
    """The snapshot sampled (its unit count of the training's), how it was chosen, and its KID
    x 1000 against the val DF images (None where the last was taken unscored)."""
    chosen, unit = record["chosen"], record["unit"]
    return {
        "select": record["method"],
        "unit": unit,
        "at": chosen[unit],
        "of": record["of"],
        "n_snapshots": len(record["snapshots"]),
        "kid_x1000_vs_val": chosen["kid_x1000_vs_val"],
    }


def head_to_head(diffs: pd.DataFrame, generator_of: dict[str, str]) -> pd.DataFrame:
    """The rows of differences.csv that compare conditions of two different generators."""
    if diffs.empty:
        return diffs
    g_c, g_r = diffs["condition"].map(generator_of), diffs["reference"].map(generator_of)
    return diffs[g_c.notna() & g_r.notna() & (g_c != g_r)]


def per_repeat(files: dict[str, list]) -> dict[str, dict]:
    """One generator's figures per repeat, from its files (``summarise``'s ``each[name]``)."""
    keys = ("metrics", "turing", "train_benchmark", "snapshot")
    return {
        str(r): {
            "sets": set_figures(metrics),
            "turing": turing_figures(turing),
            "training": training_cost(bench),
            "snapshot": snapshot_figures(snap),
        }
        for r, (metrics, turing, bench, snap) in enumerate(zip(*(files[k] for k in keys), strict=True))
    }


def summarise(
    generators: list[dict],
    each: dict[str, dict[str, list]],
    generator_of: dict[str, str],
    diffs: pd.DataFrame,
) -> dict:
    """The "generators" section of final_results.json.

    ``generators``: name, label, conditions and blur threshold of each generator in use, in the
    registry's order;
    ``each[name]``: its per-repeat "metrics", "turing", "snapshot" (dicts) and "train_benchmark"
    (paths), and its "budget" (its entry of generator_budget.json);
    ``generator_of``: condition -> generator, for the conditions with synthetic images."""
    out = {}
    for g in generators:
        files = each[g["name"]]
        repeats = per_repeat(files)
        curated_z = {r: x["sets"].get("curated", {}).get("copying_z") for r, x in repeats.items()}
        flagged = sorted((r for r, z in curated_z.items() if z is not None and z < COPYING_Z), key=int)
        out[g["name"]] = {
            "label": g["label"],
            "conditions": g["conditions"],
            # its training length and what it projects to on one H100 (generator_budget.json)
            "budget": files.get("budget"),
            # curation.blur_threshold may be one per generator: then their sets are filtered unalike
            "blur_threshold": g.get("blur_threshold"),
            # or the one rule for every generator: a percentile of the real images' values
            "blur_percentile": g.get("blur_percentile"),
            "repeats": repeats,
            "copying_flag": {
                "repeats": flagged,
                "z_below": COPYING_Z,
                "rule": f"the curated set's data-copying z < {COPYING_Z:g} (closer to the training "
                "images than held-out real images are)",
            },
        }
    pairs = head_to_head(diffs, generator_of)
    h2h = sorted(
        {(c, r) for c, r in zip(pairs.get("condition", []), pairs.get("reference", []), strict=True)}
    )
    return {
        "order": [g["name"] for g in generators],
        "each": out,
        "generator_of": generator_of,
        "head_to_head": [list(p) for p in h2h],
        "how": "Per repeat: KID x 1000 of each set against the held-out val DF images (and the train "
        "ones) at equal size, mean over seeded draws; the data-copying z (about N(0, 1) without "
        "copying); the visual Turing test averaged over reviewers (0.5 balanced accuracy: the "
        "reviewers cannot tell its images from real ones); the training job's wall time and peak RSS "
        "from its benchmark file; the snapshot sampled (snapshots.select) and its KID x 1000 against "
        "the val DF images at equal size",
    }
