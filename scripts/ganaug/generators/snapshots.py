"""Which snapshot of a generator to sample: the rule select_snapshot.

Every family keeps its sampling weights at ``snapshots.count`` evenly spaced points of its
training (``ganaug.generators.loop.Snapshots``), the last the final weights. On a few hundred
images GANs often get worse late in a run (FID jumping to 300-600 in the reports of one
family's users), and the small-data literature keeps the best of its snapshots by a held-out
FID (config/README.md, ``snapshots``, cites them). So, with ``select: kid_val`` (the default), each
snapshot is scored and the latest one within one standard error of the best is sampled
(:func:`choose`); ``last`` is the study's (the final weights, no scoring).

The score: the unbiased KID (x 1000) between the validation-split DF images and as many images of
the snapshot, at equal size on both sides, over ``draws`` sets of different images; every
snapshot draws the same images (indices 0..n-1 of a seed derived for scoring,
:func:`scoring_seed`, so none is a raw-set image), so two snapshots differ by their weights, not
their noise. The images go through the family's own
sampling and a PNG file, exactly as the raw set will, and through the evaluation's feature
extractor (``evaluation.feature_extractor``). Never the test
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


def scoring_seed(seed: int) -> int:
    """The sampling seed of the images that score the snapshots: derived from the global seed, so
    they are none of the raw set's images (image i of the raw set comes from (seed, i)) and the
    KID of the curated set against val is not measured on the images that chose the snapshot."""
    return int(np.random.SeedSequence([seed, 0x5A4E5]).generate_state(1, dtype=np.uint64)[0] >> 33)


def kid_equal_size(real: np.ndarray, fake: np.ndarray) -> float:
    """The unbiased MMD^2 with KID's cubic kernel (x.y / d + 1)^3 between two equal-size sets of
    features (Binkowski et al. 2018): every image on both sides, no subsets."""
    from ganaug.evaluation.gan_metrics import _mmd2_unbiased, _poly_kernel

    x, y = np.asarray(fake, np.float64), np.asarray(real, np.float64)
    if len(x) != len(y) or len(x) < 2:
        raise ValueError(f"KID at equal size needs two sets of the same size >= 2, got {len(x)} and {len(y)}")
    return _mmd2_unbiased(_poly_kernel(x, x), _poly_kernel(x, y), _poly_kernel(y, y))


def choose(scores: list[dict | None], method: str) -> int:
    """The index of the snapshot to sample: the last; or, scored, the latest snapshot whose mean
    KID is within one standard error of the lowest mean (Breiman's one-standard-error rule: on a
    few dozen val images the scores are noisy, and among snapshots the noise cannot tell apart the
    one trained longest is taken, not an early one that a lucky draw favoured)."""
    if method not in METHODS:
        raise ValueError(f"snapshots.select must be one of {METHODS}, got {method!r}")
    if method == "last":
        return len(scores) - 1
    means = np.array([np.inf if s is None or not np.isfinite(s["mean"]) else s["mean"] for s in scores])
    if np.isinf(means).all():
        raise ValueError("no snapshot could be scored (every KID is missing or not finite)")
    best = int(np.argmin(means))
    se = scores[best]["se"]
    within = means <= means[best] + (se if se is not None and np.isfinite(se) else 0.0)
    return int(np.flatnonzero(within)[-1])


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
    draws: int = 1,
    progress: bool = True,
) -> list[dict]:
    """KID x 1000 of each snapshot against ``real_features``, at equal size: ``sample(path, folder,
    n)`` writes n = draws x len(real_features) images of one snapshot into folder (images 0..n-1:
    the same seeds for every snapshot), ``features(folder)`` reads them back as features in name
    order; each of ``draws`` consecutive groups of len(real_features) is one KID. Per snapshot:
    the mean over draws, its standard error (None for one draw) and every draw's."""
    from tqdm import tqdm

    m = len(real_features)
    out = []
    rows = tqdm(list(index["path"]), desc="snapshots", unit="snapshot", disable=not progress)
    for path in rows:
        with tempfile.TemporaryDirectory(prefix="snapshot_") as tmp:
            folder = Path(tmp) / "raw"
            sample(path, folder, draws * m)
            fake = features(folder)
        per = [1000.0 * kid_equal_size(real_features, fake[k * m : (k + 1) * m]) for k in range(draws)]
        se = float(np.std(per, ddof=1) / np.sqrt(draws)) if draws > 1 else None
        out.append({"mean": float(np.mean(per)), "se": se, "draws": per})
        rows.set_postfix({"kid_x1000": f"{out[-1]['mean']:.2f}"})
    return out


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
        means = [x["mean"] for x in scores]
        se = [x["se"] or 0.0 for x in scores]
        ax.errorbar(
            index[unit], means, yerr=se, fmt="o-", color="0.3", capsize=3, label="mean +- 1 SE over draws"
        )
        best = int(np.argmin(means))
        ax.axhline(means[best] + se[best], color="C0", lw=0.8, ls="--", label="lowest + 1 SE")
        ax.plot(
            index[unit].iloc[chosen], means[chosen], "o", ms=11, mfc="none", mec="C3", mew=2, label="sampled"
        )
        ax.set(xlabel=unit, ylabel="KID x 1000 vs val DF", title=f"{label}: which snapshot")
        ax.legend(frameon=False, fontsize=7)
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
    draws: int,
) -> tuple[list[dict], int]:
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

    def sample(path: str, folder: Path, n: int) -> None:
        params = {**sampling, "n_samples": n, "seed": scoring_seed(sampling["seed"])}
        family.sample(path, folder, folder.parent / "manifest.csv", params, device, threads)

    def features(folder: Path) -> np.ndarray:
        return extract(extractor, synthetic(folder).rgb, dev, batch)[0]

    return score_snapshots(index, real, sample, features, draws), n_val


def describe(
    index: pd.DataFrame, unit: str, scores: list, chosen: int, method: str, family: Any, extractor: str, n_val
) -> dict:
    """snapshot.json: the snapshot chosen, every snapshot's score (mean, standard error and each
    draw's), and how."""
    how = (
        f"unbiased KID x 1000 (cubic kernel) between the {n_val} val-split DF images and as many "
        f"images of each snapshot, on {extractor} features, over draws of different images (the "
        "same seeds for every snapshot); the latest snapshot within one standard error of the "
        "lowest mean is sampled"
        if method == "kid_val"
        else "the last snapshot (the final weights), as the study; no snapshot was scored"
    )

    def entry(i: int) -> dict:
        x = scores[i] or {}
        return {
            "snapshot": int(index["snapshot"].iloc[i]),
            unit: int(index[unit].iloc[i]),
            "kid_x1000_vs_val": x.get("mean"),
            "kid_x1000_se": x.get("se"),
            "kid_x1000_draws": x.get("draws"),
        }

    return {
        "generator": family.name,
        "method": method,
        "unit": unit,
        "chosen": entry(chosen),
        "of": int(index[unit].iloc[-1]),
        "snapshots": [entry(i) for i in range(len(index))],
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
    draws: int = 1,
) -> dict:
    """The rule select_snapshot: score the snapshots of ``index_path`` (kid_val) or not (last),
    copy the chosen one to ``out['generator']``, describe the choice in ``out['record']`` and
    draw it in ``out['figure']``."""
    torch.set_num_threads(threads)
    index = read_index(index_path)
    unit = next(c for c in index.columns if c not in ("snapshot", "path"))
    scores: list[dict | None] = [None] * len(index)
    n_val = None
    if method == "kid_val":
        scores, n_val = kid_val_scores(
            index, metadata, family, sampling, evaluation, cache_dir, seed, device, threads, draws
        )
    chosen = choose(scores, method)
    write_bytes(Path(index["path"].iloc[chosen]).read_bytes(), out["generator"])
    record = describe(index, unit, scores, chosen, method, family, evaluation["feature_extractor"], n_val)
    plot_scores(index, unit, scores, chosen, family.label, Path(out["figure"]))
    if method == "kid_val":
        c = record["chosen"]
        what = f"KID x 1000 vs val {c['kid_x1000_vs_val']:.3f} (SE {c['kid_x1000_se']})"
        log.info(
            "%s: snapshot %d (%s %d) sampled: %s, within one SE of the lowest",
            family.name,
            chosen,
            unit,
            c[unit],
            what,
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
