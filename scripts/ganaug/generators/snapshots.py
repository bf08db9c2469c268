"""Which snapshot of a generator to sample: the rule select_snapshot.

Every family keeps its sampling weights at ``snapshots.count`` evenly spaced points of its
training (``ganaug.generators.loop.Snapshots``), the last the final weights. On a few hundred
images GANs often get worse late in a run (FID jumping to 300-600 in the reports of one
family's users), and the small-data literature keeps the best of its snapshots by a held-out
FID (config/README.md, ``snapshots``, cites them). So, with ``select: kid_val`` (the default),
each snapshot is scored and the best is sampled; ``last`` is the study's (the final weights, no
scoring).

The score: the unbiased KID (x 1000) between the validation-split DF images and as many images of
the snapshot, at equal size on both sides. Each snapshot draws the same images (indices 0..n-1
of the family's own sampling seeds), so two snapshots differ by their weights, not their noise.
The images go through the family's own sampling and a PNG file, exactly as the raw set will, and
through the evaluation's feature extractor (``evaluation.feature_extractor``). Never the test
split: the val images already chose each classifier's epoch, and what they choose here is a
generator's weights, which the test split then judges as it judges everything else.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from ganaug.io import atomic_path, write_bytes, write_json

log = logging.getLogger(__name__)

METHODS = ("kid_val", "last")


def kid_equal_size(real: np.ndarray, fake: np.ndarray) -> float:
    """The unbiased MMD^2 with KID's cubic kernel (x.y / d + 1)^3 between two equal-size sets of
    features (Binkowski et al. 2018): every image on both sides, no subsets."""
    from ganaug.evaluation.gan_metrics import _mmd2_unbiased, _poly_kernel

    x, y = np.asarray(fake, np.float64), np.asarray(real, np.float64)
    if len(x) != len(y) or len(x) < 2:
        raise ValueError(f"KID at equal size needs two sets of the same size >= 2, got {len(x)} and {len(y)}")
    return _mmd2_unbiased(_poly_kernel(x, x), _poly_kernel(x, y), _poly_kernel(y, y))


def choose(scores: list[float | None], method: str) -> int:
    """The index of the snapshot to sample: the last, or the lowest score (the later on a tie:
    more training for the same distance)."""
    if method not in METHODS:
        raise ValueError(f"snapshots.select must be one of {METHODS}, got {method!r}")
    if method == "last":
        return len(scores) - 1
    vals = np.array([np.inf if s is None or not np.isfinite(s) else s for s in scores])
    if np.isinf(vals).all():
        raise ValueError("no snapshot could be scored (every KID is missing or not finite)")
    return int(np.flatnonzero(vals == vals.min())[-1])


def read_index(path: str | Path) -> pd.DataFrame:
    table = pd.read_csv(path)
    expected = {"snapshot", "path"}
    if not expected <= set(table.columns) or len(table.columns) != 3 or table.empty:
        raise ValueError(
            f"{path}: expected a snapshot index as training writes it (snapshot, <unit>, path; one "
            f"row a snapshot), found columns {list(table.columns)} and {len(table)} rows"
        )
    return table


def score_snapshots(
    index: pd.DataFrame,
    real_features: np.ndarray,
    sample: Any,
    features: Any,
    progress: bool = True,
) -> list[float]:
    """KID x 1000 of each snapshot against ``real_features``: ``sample(path, folder)`` writes
    len(real_features) images of one snapshot as PNGs into folder, ``features(folder)`` reads
    them back as features."""
    from tqdm import tqdm

    scores = []
    rows = tqdm(list(index["path"]), desc="snapshots", unit="snapshot", disable=not progress)
    for path in rows:
        with tempfile.TemporaryDirectory(prefix="snapshot_") as tmp:
            folder = Path(tmp) / "raw"
            sample(path, folder)
            fake = features(folder)
        scores.append(1000.0 * kid_equal_size(real_features, fake))
        rows.set_postfix({"kid_x1000": f"{scores[-1]:.2f}"})
    return scores


def plot_scores(index: pd.DataFrame, unit: str, scores: list, chosen: int, label: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    if all(s is None for s in scores):  # select: last, nothing scored: say so rather than plot
        ax.set_axis_off()
        ax.text(
            0.5,
            0.5,
            f"{label}: the last snapshot ({unit} {index[unit].iloc[chosen]}) is sampled\n"
            "(snapshots.select: last); no snapshot was scored",
            ha="center",
            va="center",
            wrap=True,
        )
    else:
        ax.plot(index[unit], scores, "o-", color="0.3")
        ax.plot(
            index[unit].iloc[chosen], scores[chosen], "o", ms=11, mfc="none", mec="C3", mew=2, label="sampled"
        )
        ax.set(xlabel=unit, ylabel="KID x 1000 vs val DF", title=f"{label}: which snapshot")
        ax.legend(frameon=False)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def kid_val_scores(
    index: pd.DataFrame,
    metadata: str | Path,
    family: Any,
    sampling: dict[str, Any],
    evaluation: dict[str, Any],
    cache_dir: str | Path,
    seed: int,
    device: str,
    threads: int,
) -> tuple[list[float], int]:
    """Each snapshot's KID x 1000 against the val-split DF images of ``metadata`` (as many images
    of it as there are val images), and how many val images there are."""
    from ganaug.data.image_files import real_minority, synthetic
    from ganaug.evaluation.features import build_extractor, extract
    from ganaug.runtime import select_device

    dev = select_device(device, evaluation["tf32"])
    extractor = build_extractor(evaluation["feature_extractor"], cache_dir, seed)
    val = real_minority(metadata, "val")
    n_val = len(val.names)
    if n_val < 2:
        raise ValueError(f"{metadata}: {n_val} validation DF image(s); scoring a snapshot needs at least 2")
    batch = evaluation["batch_size"]
    real = extract(extractor, val.rgb, dev, batch, desc="real val")[0]
    params = {**sampling, "n_samples": n_val}

    def sample(path: str, folder: Path) -> None:
        family.sample(path, folder, folder.parent / "manifest.csv", params, device, threads)

    def features(folder: Path) -> np.ndarray:
        return extract(extractor, synthetic(folder).rgb, dev, batch)[0]

    return score_snapshots(index, real, sample, features), n_val


def describe(
    index: pd.DataFrame, unit: str, scores: list, chosen: int, method: str, family: Any, extractor: str, n_val
) -> dict:
    """snapshot.json: the snapshot chosen, every snapshot's score, and how."""
    row = index.iloc[chosen]
    how = (
        "unbiased KID x 1000 (cubic kernel, every image on both sides) between the val-split DF images "
        f"and as many images of each snapshot, on {extractor} features; the lowest is sampled"
        if method == "kid_val"
        else "the last snapshot (the final weights), as the study; no snapshot was scored"
    )
    return {
        "generator": family.name,
        "method": method,
        "unit": unit,
        "chosen": {
            "snapshot": int(row["snapshot"]),
            unit: int(row[unit]),
            "kid_x1000_vs_val": scores[chosen],
        },
        "of": int(index[unit].iloc[-1]),
        "snapshots": [
            {"snapshot": int(s), unit: int(u), "kid_x1000_vs_val": k}
            for s, u, k in zip(index["snapshot"], index[unit], scores, strict=True)
        ],
        "n_val_images": n_val,
        "how": how,
    }


def select_rule(
    index_path: str | Path,
    metadata: str | Path,
    family: Any,
    sampling: dict[str, Any],
    method: str,
    evaluation: dict[str, Any],
    cache_dir: str | Path,
    seed: int,
    device: str,
    threads: int,
    out: dict[str, str],
) -> dict:
    """The rule select_snapshot: score the snapshots of ``index_path`` (kid_val) or not (last),
    copy the chosen one to ``out['generator']``, describe the choice in ``out['record']`` and
    draw it in ``out['figure']``."""
    torch.set_num_threads(threads)
    index = read_index(index_path)
    unit = next(c for c in index.columns if c not in ("snapshot", "path"))
    scores: list[float | None] = [None] * len(index)
    n_val = None
    if method == "kid_val":
        scores, n_val = kid_val_scores(
            index, metadata, family, sampling, evaluation, cache_dir, seed, device, threads
        )
    chosen = choose(scores, method)
    write_bytes(Path(index["path"].iloc[chosen]).read_bytes(), out["generator"])
    record = describe(index, unit, scores, chosen, method, family, evaluation["feature_extractor"], n_val)
    plot_scores(index, unit, scores, chosen, family.label, Path(out["figure"]))
    if method == "kid_val":
        at = record["chosen"][unit]
        log.info(
            "%s: snapshot %d (%s %d) has the lowest KID x 1000 vs val, %.3f",
            family.name,
            chosen,
            unit,
            at,
            scores[chosen],
        )
    write_json(record, out["record"])
    return record


def stamp_manifest(manifest: str | Path, record_path: str | Path) -> pd.DataFrame:
    """Add the snapshot the raw set was sampled from (snapshot.json) to its manifest, so every
    image names the weights it came from."""
    import json

    from ganaug.io import write_csv

    record = json.loads(Path(record_path).read_text())
    table = pd.read_csv(manifest)
    chosen, unit = record["chosen"], record["unit"]
    table = table.assign(
        snapshot=chosen["snapshot"],
        snapshot_at=chosen[unit],
        snapshot_unit=unit,
        snapshot_select=record["method"],
    )
    write_csv(table, manifest)
    return table


def of_manifest(manifest: str | Path) -> dict | None:
    """The snapshot a raw set's manifest names (None for one sampled before snapshots existed)."""
    table = pd.read_csv(manifest, nrows=1)
    if "snapshot" not in table.columns:
        return None
    row = table.iloc[0]
    return {
        "snapshot": int(row["snapshot"]),
        "at": int(row["snapshot_at"]),
        "unit": str(row["snapshot_unit"]),
        "select": str(row["snapshot_select"]),
    }
