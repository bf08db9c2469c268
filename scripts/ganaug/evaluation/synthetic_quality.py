"""The GAN metrics of the synthetic sets, like against like, on held-out images too.

- **Equal sizes.** FID, KID, precision/recall and the nearest-neighbour figures depend on the
  number of images on each side, so every synthetic set and every real reference is compared at
  one size, n per side (the smallest of them, usually the validation reference): both sides are
  subsampled, seeded, ``size_draws`` times, and each figure is the mean and sd over the draws
  (``ganaug.evaluation.equal_size``). The raw set is first subsampled to the curated set's size
  for the figures of a set alone (Inception Score, LPIPS diversity, the copying test).
- **Memorisation.** The data-copying test (``ganaug.evaluation.copying``, Meehan et al. 2020)
  compares each set's distances to the training images with the held-out images' distances to
  them; the images closest to a training image are shown beside it.
- **Two references.** The train-split DF images are what the GAN learnt from and what curation
  selected against, so closeness to them can be memorisation. The validation-split DF images
  were trained on by neither: closeness to them is generalisation (with ``snapshots.select:
  kid_val`` they chose the snapshot sampled, on images of their own, which slightly favours it).
  Every figure is given against both. Nothing downstream selects on these validation figures;
  the test split is never read.
- **The headline.** Under 2,048 images per set (every DF set here), FID's bias dominates and KID,
  unbiased, with its sd over subsets, is the figure to read (Binkowski et al. 2018).

Every figure carries its set sizes and the feature extractor's label (a random-init stand-in is
marked not comparable), and is recomputable from features.npz and per_image.csv.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ganaug.curation.lpips_fast import FastLpips, build_lpips, features_in_chunks, lpips_matrix
from ganaug.curation.ssim import ssim_matrix
from ganaug.data.image_files import Images, real_minority, synthetic
from ganaug.data.provenance import check_raw_set
from ganaug.dataclass_io import from_dict
from ganaug.evaluation import equal_size
from ganaug.evaluation.copying import c_t
from ganaug.evaluation.dinov2 import DinoFeatures, build_dinov2, dino_features, dino_record
from ganaug.evaluation.features import INCEPTION_NAMES, InceptionFeatures, build_extractor, extract
from ganaug.io import atomic_path, write_csv, write_json
from ganaug.models.registry import backbone_label
from ganaug.runtime import runtime_record, select_device
from ganaug.settings import EvaluationConfig as _E
from ganaug.viz import closest_to_train, nearest_gallery, real_beside_curated

log = logging.getLogger(__name__)

KID_HEADLINE_BELOW = 2048  # images per set under which KID, not FID, is the figure to read
REFERENCES = {
    "train": "real train-split minority images (what the GAN learnt from and curation selected "
    "against: closeness here can be memorisation)",
    "val": "real validation-split minority images (never trained on; with snapshots.select: "
    "kid_val they chose which snapshot was sampled, on images of their own: closeness here is "
    "generalisation, slightly favoured by that choice)",
}


@dataclass(frozen=True)
class Settings:
    """The evaluation section's keys the GAN metrics read: their defaults (and meanings) are
    EvaluationConfig's, the schema's."""

    batch_size: int = _E.batch_size
    is_splits: int = _E.is_splits
    kid_subsets: int = _E.kid_subsets
    kid_subset_size: int = _E.kid_subset_size
    pr_k: int = _E.pr_k
    lpips_diversity_images: int = _E.lpips_diversity_images
    lpips_chunk: int = 32  # images per LPIPS batch (memory only; not a config key)
    seed: int = 42  # the global seed
    size_draws: int = _E.size_draws
    copying_cells: int = _E.copying_cells


@dataclass
class Reference:
    """A real reference set with its Inception features and logits (and DINOv2 features)."""

    name: str  # train | val
    images: Images
    pool: np.ndarray
    logits: np.ndarray
    dino: np.ndarray | None = None


def reference(
    name: str,
    images: Images,
    extractor: InceptionFeatures,
    device: torch.device,
    s: Settings,
    dino: DinoFeatures | None = None,
):
    pool, logits = extract(extractor, images.rgb, device, s.batch_size, desc=f"real {name}")
    return Reference(
        name, images, pool, logits, dino_features(dino, images.rgb, device, s.batch_size, f"real {name}")
    )


def subsample(raw: Images, n: int, seed: int) -> Images:
    """A seeded subsample of ``raw`` of ``n`` images, in name order (all of it if smaller)."""
    if len(raw.names) <= n:
        return raw
    idx = np.sort(np.random.default_rng(seed).choice(len(raw.names), n, replace=False))
    return raw.subset(idx)


def headline(n_synthetic: int, n_real: int, names: dict | None = None) -> dict[str, str]:
    names = names or INCEPTION_NAMES
    if min(n_synthetic, n_real) < KID_HEADLINE_BELOW:
        return {
            "metric": names["kd"],
            "why": f"{n_synthetic} synthetic and {n_real} real images: under {KID_HEADLINE_BELOW}, FID's "
            "bias (which grows as the sets shrink) dominates; KID is unbiased and comes with its sd",
        }
    return {"metric": names["fd"], "why": f"at least {KID_HEADLINE_BELOW} images on each side"}


def lpips_diversity(fast: FastLpips, images: Images, n: int, chunk: int, seed: int) -> dict[str, object]:
    """Mean LPIPS over all pairs of a seeded sample of at most ``n`` images of one set.

    All pairs of a sample, not of the whole set: features are kept in memory (float16, about 16 MB
    an image at 256 px), so the sample bounds memory; the sample size is recorded.
    """
    idx = np.sort(np.random.default_rng(seed).choice(len(images.rgb), min(n, len(images.rgb)), replace=False))
    feats = features_in_chunks(fast, torch.from_numpy(np.ascontiguousarray(images.rgb[idx])), chunk)
    # query rows a chunk at a time; distances converts both float16 sides slice by slice
    d = torch.cat([fast.distances(feats.rows(s, s + chunk), feats) for s in range(0, len(idx), chunk)])
    d = d.double().numpy()
    iu = np.triu_indices(len(idx), k=1)
    return {
        **equal_size.mean_sd(d[iu]),
        "n_images": len(idx),
        "n_pairs": len(iu[0]),
        "images": [images.names[i] for i in idx],
    }


@dataclass
class SetResult:
    """One set's summary, the per-image figures its means come from, and its features."""

    summary: dict
    per_image: pd.DataFrame
    pool: np.ndarray
    logits: np.ndarray
    pairwise: dict  # reference name -> Pairwise
    dino: np.ndarray | None = None  # DINOv2 features (None: evaluation.dinov2 is none)


def _per_image(images: Images, ref: Reference, lp: np.ndarray, ss: np.ndarray) -> pd.DataFrame:
    """Each synthetic image's nearest image of the whole reference, by LPIPS and by SSIM."""
    near, best = lp.argmin(axis=1), ss.argmax(axis=1)
    return pd.DataFrame(
        {
            "reference": ref.name,
            "image": images.names,
            "lpips_to_nearest_real": lp[np.arange(len(near)), near],
            "nearest_real_lpips": [ref.images.names[i] for i in near],
            "ssim_best_match": ss[np.arange(len(best)), best],
            "nearest_real_ssim": [ref.images.names[i] for i in best],
        }
    )


@dataclass
class Pairwise:
    """One set against one reference: the full distance matrices and the equal-size draws."""

    lpips: np.ndarray  # (set, reference) LPIPS
    ssim: np.ndarray  # (set, reference) SSIM
    index: list  # per draw: (set rows, reference rows)


def _pairwise(images: Images, ref: Reference, fast: FastLpips, s: Settings, n: int, seeds) -> Pairwise:
    lp = lpips_matrix(
        fast, torch.from_numpy(images.rgb), torch.from_numpy(ref.images.rgb), s.lpips_chunk, True
    )
    ss = ssim_matrix(torch.from_numpy(images.grey), torch.from_numpy(ref.images.grey), progress=True)
    index = equal_size.draws(len(images.names), len(ref.images.names), n, s.size_draws, *seeds)
    return Pairwise(lp.double().numpy(), ss.double().numpy(), index)


def evaluate_set(
    images: Images,
    refs: list[Reference],
    extractor: InceptionFeatures,
    fast: FastLpips,
    lpips_label: str,
    device: torch.device,
    s: Settings,
    desc: str,
    n: int,
    stream: int = 0,
    dino: DinoFeatures | None = None,
) -> SetResult:
    """All metrics of one synthetic set against each reference, at ``n`` images a side; on
    DINOv2's features too (``dino``), over the same draws."""
    for ref in refs:
        if images.rgb.shape[1:] != ref.images.rgb.shape[1:]:
            raise ValueError(
                f"{desc}: synthetic images are {images.rgb.shape[1:]}, real ones {ref.images.rgb.shape[1:]}"
            )
    pool, logits = extract(extractor, images.rgb, device, s.batch_size, desc=desc)
    dino_pool = dino_features(dino, images.rgb, device, s.batch_size, desc)
    against, tables, pairwise = {}, [], {}
    for k, ref in enumerate(refs):
        log.info(
            "%s: %d synthetic images against %d real (%s), %d a side",
            desc,
            len(pool),
            len(ref.pool),
            ref.name,
            n,
        )
        # the set's draws from its own stream, the reference's shared by every set
        pw = pairwise[ref.name] = _pairwise(images, ref, fast, s, n, ([s.seed, stream, k], [s.seed, 99, k]))
        knobs = equal_size.Knobs(extractor.names, s.kid_subsets, s.kid_subset_size, s.pr_k, s.seed)
        against[ref.name] = equal_size.against(pool, ref.pool, pw.lpips, pw.ssim, n, pw.index, knobs)
        against[ref.name]["headline"] = headline(n, n, extractor.names)
        tables.append(_per_image(images, ref, pw.lpips, pw.ssim))
    train, held_out = (next(r for r in refs if r.name == name) for name in ("train", "val"))
    summary = {
        "n_synthetic": len(images.names),
        extractor.names["score"]: equal_size.score_at(logits, n, s.size_draws, s.is_splits, s.seed),
        "lpips_diversity": lpips_diversity(fast, images, s.lpips_diversity_images, s.lpips_chunk, s.seed),
        "lpips_backbone": lpips_label,
        "against": against,
        "copying": c_t(train.pool, held_out.pool, pool, s.copying_cells, s.seed),
    }
    if dino is not None:
        dk = equal_size.Knobs(dino.names, s.kid_subsets, s.kid_subset_size, s.pr_k, s.seed)
        summary["dinov2"] = {
            "against": {
                r.name: equal_size.against_features(dino_pool, r.dino, n, pairwise[r.name].index, dk)
                for r in refs
            }
        }
    return SetResult(summary, pd.concat(tables, ignore_index=True), pool, logits, pairwise, dino_pool)


@dataclass(frozen=True)
class GanMetricsOutputs:
    metrics: Path  # metrics.json
    # features.npz: every Inception feature and logit, every LPIPS and SSIM distance and every
    # equal-size draw the figures come from
    features: Path
    per_image: Path  # per_image.csv: each image's nearest real image by LPIPS and SSIM, per reference
    figure: Path  # real beside curated synthetic images
    closest: Path  # the curated images closest to a training image, beside that image
    gallery: Path  # every curated image beside its nearest training image, nearest first


def _set_features(name: str, images: Images, result: SetResult) -> dict[str, np.ndarray]:
    """What features.npz holds of one set: its names, pool features and logits, and per reference
    its pairwise LPIPS and SSIM with the draws they were measured on."""
    out = {
        f"{name}_images": np.array(images.names),
        f"{name}_pool": result.pool,
        f"{name}_logits": result.logits,
    }
    if result.dino is not None:
        out[f"{name}_dinov2"] = result.dino
    for ref, pw in result.pairwise.items():
        out |= {
            f"{name}_{ref}_lpips": pw.lpips,
            f"{name}_{ref}_ssim": pw.ssim,
            f"{name}_{ref}_draw_set": np.stack([i for i, _ in pw.index]),
            f"{name}_{ref}_draw_real": np.stack([j for _, j in pw.index]),
        }
    return out


def gan_metrics(
    metadata: str | Path,
    raw_dir: str | Path,
    curated_dir: str | Path,
    extractor: InceptionFeatures,
    fast: FastLpips,
    lpips_label: str,
    device: torch.device,
    s: Settings,
    n_show: int,
    out: GanMetricsOutputs,
    tf32: bool = True,
    dino: DinoFeatures | None = None,
) -> dict:
    """The rule gan_metrics: every figure, written with what it is recomputed from, and how the
    job ran (``runtime``: TF32, the arithmetic, determinism)."""
    refs = [reference(r, real_minority(metadata, r), extractor, device, s, dino) for r in REFERENCES]
    curated = synthetic(curated_dir)
    raw_all = synthetic(raw_dir)
    sets = {"raw": subsample(raw_all, len(curated.names), s.seed), "curated": curated}
    n = min(len(x.names) for x in (*sets.values(), *(r.images for r in refs)))
    if n < 2:
        raise ValueError(f"GAN metrics need at least 2 images on each side; the smallest set has {n}")
    summaries, tables = {}, []
    features = {f"real_{r.name}_ids": np.array(r.images.names) for r in refs}
    features |= {f"real_{r.name}_pool": r.pool for r in refs}
    features |= {f"real_{r.name}_dinov2": r.dino for r in refs if r.dino is not None}
    for k, (name, images) in enumerate(sets.items()):
        result = evaluate_set(images, refs, extractor, fast, lpips_label, device, s, name, n, k, dino)
        summaries[name] = result.summary
        tables.append(result.per_image.assign(set=name))
        features |= _set_features(name, images, result)
    summaries["raw"]["subsample"] = {
        "of": len(raw_all.names),
        "drawn": len(sets["raw"].names),
        "why": "the raw set at the curated set's size (seeded), for the figures of a set alone",
    }
    train, val = refs
    held_out = lpips_matrix(
        fast, torch.from_numpy(val.images.rgb), torch.from_numpy(train.images.rgb), s.lpips_chunk
    )
    held_out = held_out.double().numpy().min(axis=1)
    features["real_val_lpips_to_train"] = held_out
    real_beside_curated(train.images.rgb, curated.rgb, n_show, s.seed, out.figure)
    closest_to_train(curated, train.images, features["curated_train_lpips"], held_out, 8, out.closest)
    nearest_gallery(curated, train.images, features["curated_train_lpips"], out.gallery)
    with atomic_path(out.features) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **features)
    table = pd.concat(tables, ignore_index=True)
    write_csv(table[["set", *(c for c in table.columns if c != "set")]], out.per_image)
    result = _summary(refs, summaries, extractor, s, n) | {"runtime": runtime_record(device, tf32)}
    result["dinov2"] = None if dino is None else dino_record(dino)
    write_json(result, out.metrics)
    return result


def _summary(
    refs: list[Reference], summaries: dict, extractor: InceptionFeatures, s: Settings, n: int
) -> dict:
    """metrics.json: the references, the equal size, the extractor and every set's figures."""
    return {
        "references": {r.name: {"set": REFERENCES[r.name], "n": len(r.images.names)} for r in refs},
        "equal_size": {
            "n_per_side": n,
            # one where both sides already have n images (every draw would be the same)
            "draws": max(a["draws"] for x in summaries.values() for a in x["against"].values()),
            "why": "FID, KID, precision/recall and nearest-neighbour figures depend on both sides' sizes, so "
            "every set is compared with every reference at the smallest set's size, over seeded draws",
        },
        "note": "every set is compared with every reference at the same size on both sides (mean and sd over "
        "seeded draws); FID and KID on so few images are biased upward, so read KID first, and compare only "
        "figures of equal sizes",
        "feature_extractor": {"name": extractor.label, "comparable": extractor.comparable},
        f"{extractor.names['score']}_real": {
            r.name: equal_size.score_at(r.logits, n, s.size_draws, s.is_splits, s.seed) for r in refs
        },
        "names": extractor.names,
        "sets": summaries,
    }


def gan_metrics_rule(
    inputs: dict[str, str],
    outputs: dict[str, str],
    evaluation: dict,
    lpips_backbone: str,
    cache_dir: str,
    image_size: int,
    seed: int,
    device: str,
    threads: int = 1,
) -> dict:
    """The rule gan_metrics, from its declared inputs and the evaluation keys it depends on."""
    torch.set_num_threads(threads)
    dev = select_device(device, evaluation["tf32"])
    extractor = build_extractor(evaluation["feature_extractor"], cache_dir, seed)
    dino = build_dinov2(evaluation["dinov2"], cache_dir, evaluation["dinov2_size"], seed)
    for ex in (extractor, dino):
        if ex is not None and not ex.comparable:
            log.warning("GAN metrics on %s: not comparable to any published figure", ex.label)
    check_raw_set(inputs["manifest"], inputs["metadata"], image_size)
    keys = {f.name for f in dataclasses.fields(Settings)} - {"lpips_chunk", "seed"}
    settings = from_dict(Settings, {**{k: evaluation[k] for k in keys}, "seed": seed}, "evaluation")
    fast = FastLpips(build_lpips(lpips_backbone, cache_dir, seed), dev)
    out = GanMetricsOutputs(
        *(Path(outputs[k]) for k in ("metrics", "features", "per_image", "figure", "closest", "gallery"))
    )
    return gan_metrics(
        inputs["metadata"],
        inputs["raw"],
        inputs["curated"],
        extractor,
        fast,
        backbone_label("vgg16", lpips_backbone),
        dev,
        settings,
        evaluation["real_vs_synthetic"],
        out,
        evaluation["tf32"],
        dino,
    )
