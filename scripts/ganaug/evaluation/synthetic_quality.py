"""The GAN metrics of the synthetic sets, like against like, on held-out images too.

- **Equal sizes.** FID and KID estimates depend on the number of images (FID's bias grows as the
  sets shrink), so every set is compared at the same size: the raw set is subsampled, seeded,
  to the curated set's size, and the names drawn are recorded.
- **Two references.** The train-split DF images are what the GAN learnt from and what curation
  selected against, so closeness to them can be memorisation. The validation-split DF images
  were seen by neither: closeness to them is generalisation. Every figure is given against both.
  Nothing downstream selects on the validation figures; the test split is never read.
- **The headline.** Under 2,048 images per set (every DF set here), FID's bias dominates and KID,
  unbiased, with its sd over subsets, is the figure to read (Binkowski et al. 2018).

Every figure carries its set sizes and the feature extractor's label (a random-init stand-in is
marked not comparable), and is recomputable from features.npz and per_image.csv.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ganaug.curation.lpips_fast import FastLpips, features_in_chunks, min_lpips
from ganaug.curation.ssim import max_ssim
from ganaug.evaluation.features import INCEPTION_NAMES, InceptionFeatures, extract
from ganaug.evaluation.gan_metrics import (
    fid_from_features,
    inception_score,
    kernel_inception_distance,
    precision_recall,
)

log = logging.getLogger(__name__)

KID_HEADLINE_BELOW = 2048  # images per set under which KID, not FID, is the figure to read
REFERENCES = {
    "train": "real train-split minority images (what the GAN learnt from and curation selected "
    "against: closeness here can be memorisation)",
    "val": "real validation-split minority images (seen by neither the GAN nor curation: "
    "closeness here is generalisation)",
}


@dataclass
class Settings:
    batch_size: int = 50
    is_splits: int = 10
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    pr_k: int = 3
    lpips_diversity_images: int = 100
    lpips_chunk: int = 32
    seed: int = 42


@dataclass
class Images:
    """One set of images, decoded once: names, RGB (N, 3, H, W) and the study's greyscale."""

    names: list[str]
    rgb: np.ndarray
    grey: np.ndarray

    def __post_init__(self) -> None:
        if not (len(self.names) == len(self.rgb) == len(self.grey)):
            raise ValueError(f"{len(self.names)} names for {len(self.rgb)} images")

    def subset(self, idx: np.ndarray) -> Images:
        return Images([self.names[i] for i in idx], self.rgb[idx], self.grey[idx])


@dataclass
class Reference:
    """A real reference set with its Inception features and logits."""

    name: str  # train | val
    images: Images
    pool: np.ndarray
    logits: np.ndarray


def reference(name: str, images: Images, extractor: InceptionFeatures, device: torch.device, s: Settings):
    pool, logits = extract(extractor, images.rgb, device, s.batch_size, desc=f"real {name}")
    return Reference(name, images, pool, logits)


def equal_size(raw: Images, n: int, seed: int) -> Images:
    """A seeded subsample of ``raw`` of ``n`` images, in name order (all of it if smaller)."""
    if len(raw.names) <= n:
        return raw
    idx = np.sort(np.random.default_rng(seed).choice(len(raw.names), n, replace=False))
    return raw.subset(idx)


def feature_metrics(real_pool: np.ndarray, pool: np.ndarray, s: Settings, names: dict | None = None) -> dict:
    """FID, KID and precision/recall of a set against one reference, from features: what
    results/gan/features.npz recomputes. ``names``: what the figures are called on this
    extractor's features (FID and KID only on Inception; neutral names otherwise)."""
    names = names or INCEPTION_NAMES
    return {
        names["fd"]: fid_from_features(real_pool, pool),
        names["kd"]: kernel_inception_distance(real_pool, pool, s.kid_subsets, s.kid_subset_size, s.seed),
        **precision_recall(real_pool, pool, s.pr_k),
    }


def headline(n_synthetic: int, n_real: int, names: dict | None = None) -> dict[str, str]:
    names = names or INCEPTION_NAMES
    if min(n_synthetic, n_real) < KID_HEADLINE_BELOW:
        return {
            "metric": names["kd"],
            "why": f"{n_synthetic} synthetic and {n_real} real images: under {KID_HEADLINE_BELOW}, FID's "
            "bias (which grows as the sets shrink) dominates; KID is unbiased and comes with its sd",
        }
    return {"metric": names["fd"], "why": f"at least {KID_HEADLINE_BELOW} images on each side"}


def mean_sd(x) -> dict[str, float]:
    x = np.asarray(x, dtype=np.float64)
    return {"mean": float(x.mean()), "sd": float(x.std(ddof=1)) if len(x) > 1 else None}


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
        **mean_sd(d[iu]),
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


def _against(images: Images, pool: np.ndarray, ref: Reference, fast: FastLpips, s: Settings, names: dict):
    """Every figure of one set against one reference, and the per-image matches behind them."""
    near, near_i = min_lpips(
        fast,
        torch.from_numpy(images.rgb),
        torch.from_numpy(ref.images.rgb),
        chunk=s.lpips_chunk,
        progress=True,
    )
    best_ssim, ssim_i = max_ssim(
        torch.from_numpy(images.grey), torch.from_numpy(ref.images.grey), progress=True
    )
    per_image = pd.DataFrame(
        {
            "reference": ref.name,
            "image": images.names,
            "lpips_to_nearest_real": near.double().numpy(),
            "nearest_real_lpips": [ref.images.names[i] for i in near_i],
            "ssim_best_match": best_ssim.double().numpy(),
            "nearest_real_ssim": [ref.images.names[i] for i in ssim_i],
        }
    )
    summary = {
        "n_real": len(ref.images.names),
        **feature_metrics(ref.pool, pool, s, names),
        "lpips_to_nearest_real": mean_sd(per_image["lpips_to_nearest_real"]),
        "ssim_best_match": mean_sd(per_image["ssim_best_match"]),
        "headline": headline(len(images.names), len(ref.images.names), names),
    }
    return summary, per_image


def evaluate_set(
    images: Images,
    refs: list[Reference],
    extractor: InceptionFeatures,
    fast: FastLpips,
    lpips_label: str,
    device: torch.device,
    s: Settings,
    desc: str,
) -> SetResult:
    """All metrics of one synthetic set against each reference."""
    for ref in refs:
        if images.rgb.shape[1:] != ref.images.rgb.shape[1:]:
            raise ValueError(
                f"{desc}: synthetic images are {images.rgb.shape[1:]}, real ones {ref.images.rgb.shape[1:]}"
            )
    pool, logits = extract(extractor, images.rgb, device, s.batch_size, desc=desc)
    against, tables = {}, []
    for ref in refs:
        log.info("%s: %d synthetic images against %d real (%s)", desc, len(pool), len(ref.pool), ref.name)
        against[ref.name], table = _against(images, pool, ref, fast, s, extractor.names)
        tables.append(table)
    summary = {
        "n_synthetic": len(images.names),
        extractor.names["score"]: inception_score(logits, min(s.is_splits, len(logits)), s.seed),
        "lpips_diversity": lpips_diversity(fast, images, s.lpips_diversity_images, s.lpips_chunk, s.seed),
        "lpips_backbone": lpips_label,
        "against": against,
    }
    return SetResult(summary, pd.concat(tables, ignore_index=True), pool, logits)


def load_images(paths: list[Path], names: list[str]) -> Images:
    """Decode each image once: RGB for the networks, the study's greyscale for SSIM."""
    from ganaug.curation.stages import read_grey, read_images

    rgb = np.stack([read_images(p.parent, [p.name], grey=False)[0] for p in paths])
    grey = np.stack([read_grey(p) for p in paths])
    return Images(names, rgb, grey)


def real_minority(metadata: str | Path, split: str) -> Images:
    """The real minority images of ``split`` (train or val; never test), by image id."""
    from ganaug.data.metadata import split_minority

    rows = split_minority(metadata, split)
    return load_images([Path(p) for p in rows["path"]], rows["image_id"].tolist())


def synthetic(folder: str | Path) -> Images:
    names = sorted(f.name for f in Path(folder).glob("*.png"))
    if not names:
        raise RuntimeError(f"no PNG images in {folder}")
    return load_images([Path(folder) / n for n in names], names)


@dataclass(frozen=True)
class GanMetricsOutputs:
    metrics: Path  # metrics.json
    features: Path  # features.npz: every Inception feature and logit the figures come from
    per_image: Path  # per_image.csv: each image's nearest real image by LPIPS and SSIM, per reference
    figure: Path  # real beside curated synthetic images


def _real_beside_curated(real: np.ndarray, curated: np.ndarray, n: int, seed: int, path: Path) -> None:
    from ganaug.viz import real_beside_synthetic

    rng = np.random.default_rng(seed)

    def pick(x: np.ndarray) -> np.ndarray:
        return x[np.sort(rng.choice(len(x), min(n, len(x)), replace=False))]

    show_real, show_syn = pick(real), pick(curated)
    title = f"{len(show_real)} real training images beside {len(show_syn)} curated synthetic images"
    real_beside_synthetic(show_real, show_syn, path, title)


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
) -> dict:
    """The rule gan_metrics: every figure, written with what it is recomputed from."""
    from ganaug.io import atomic_path, write_csv, write_json

    refs = [reference(name, real_minority(metadata, name), extractor, device, s) for name in REFERENCES]
    curated = synthetic(curated_dir)
    raw_all = synthetic(raw_dir)
    sets = {"raw": equal_size(raw_all, len(curated.names), s.seed), "curated": curated}
    summaries, tables = {}, []
    features = {f"real_{r.name}_ids": np.array(r.images.names) for r in refs}
    features |= {f"real_{r.name}_pool": r.pool for r in refs}
    for name, images in sets.items():
        result = evaluate_set(images, refs, extractor, fast, lpips_label, device, s, name)
        summaries[name] = result.summary
        tables.append(result.per_image.assign(set=name))
        features |= {
            f"{name}_images": np.array(images.names),
            f"{name}_pool": result.pool,
            f"{name}_logits": result.logits,
        }
    summaries["raw"]["subsample"] = {
        "of": len(raw_all.names),
        "drawn": len(sets["raw"].names),
        "why": "the raw set at the curated set's size (seeded), since FID and KID depend on set size",
    }
    _real_beside_curated(refs[0].images.rgb, curated.rgb, n_show, s.seed, out.figure)
    with atomic_path(out.features) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **features)
    table = pd.concat(tables, ignore_index=True)
    write_csv(table[["set", *(c for c in table.columns if c != "set")]], out.per_image)
    result = {
        "references": {r.name: {"set": REFERENCES[r.name], "n": len(r.images.names)} for r in refs},
        "note": "every set is compared at the same size; FID and KID on a few hundred images are "
        "biased upward, so read KID (with its sd) first, and compare only equal set sizes",
        "feature_extractor": {"name": extractor.label, "comparable": extractor.comparable},
        f"{extractor.names['score']}_real": {
            r.name: inception_score(r.logits, min(s.is_splits, len(r.logits)), s.seed) for r in refs
        },
        "names": extractor.names,
        "sets": summaries,
    }
    write_json(result, out.metrics)
    return result


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
    from ganaug.curation.lpips_fast import FastLpips, build_lpips
    from ganaug.data.provenance import check_raw_set
    from ganaug.evaluation.features import build_extractor
    from ganaug.models.registry import backbone_label
    from ganaug.runtime import select_device

    torch.set_num_threads(threads)
    dev = select_device(device)
    extractor = build_extractor(evaluation["feature_extractor"], cache_dir, seed)
    if not extractor.comparable:
        log.warning("GAN metrics on %s: not comparable to any published FID/IS", extractor.label)
    check_raw_set(inputs["manifest"], inputs["metadata"], image_size)
    keys = ("batch_size", "is_splits", "kid_subsets", "kid_subset_size", "pr_k", "lpips_diversity_images")
    settings = Settings(**{k: evaluation[k] for k in keys}, seed=seed)
    fast = FastLpips(build_lpips(lpips_backbone, cache_dir, seed), dev)
    out = GanMetricsOutputs(*(Path(outputs[k]) for k in ("metrics", "features", "per_image", "figure")))
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
    )
