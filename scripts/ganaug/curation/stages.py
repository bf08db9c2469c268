"""The curation funnel: each stage scores the kept images of the stage before and says why each
image goes. Tables are ``image,<scores>,kept,reason`` under results/synthetic/curation/."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ganaug.curation.blur import laplacian_variance
from ganaug.curation.clusters import cluster, embed, extract, select, selection_table
from ganaug.curation.lpips_fast import FastLpips, min_lpips
from ganaug.curation.ssim import max_ssim
from ganaug.data.image_files import read_grey, read_images
from ganaug.data.metadata import train_minority
from ganaug.data.provenance import check_raw_set
from ganaug.models.registry import backbone_label

log = logging.getLogger(__name__)


class EmptyStage(RuntimeError):
    """A stage dropped every image: nothing would be left to train the GAN conditions on."""


def describe(values: pd.Series) -> str:
    q = values.quantile([0.0, 0.25, 0.5, 0.75, 1.0]).to_numpy()
    return (
        f"n={len(values)}, min={q[0]:.4g}, q25={q[1]:.4g}, median={q[2]:.4g}, q75={q[3]:.4g}, max={q[4]:.4g}"
    )


def check_not_empty(table: pd.DataFrame, stage: str, rule: str, score: str) -> None:
    log.info("%s: %s", stage, describe(table[score]))
    log.info("%s: kept %d of %d images (%s)", stage, int(table["kept"].sum()), len(table), rule)
    if not table["kept"].any():
        raise EmptyStage(
            f"curation stage '{stage}' dropped all {len(table)} images (keep if {rule}); "
            f"{score}: {describe(table[score])}. Adjust the threshold in the config's curation "
            "section, or train the GAN longer."
        )


def candidates(previous: str | Path | None, raw_dir: str | Path) -> list[str]:
    """The images this stage looks at: the kept rows of the previous table, or every raw image."""
    if previous is None:
        names = sorted(p.name for p in Path(raw_dir).glob("*.png"))
        if not names:
            raise EmptyStage(f"{raw_dir}: no synthetic images")
        return names
    prev = pd.read_csv(previous)
    return prev.loc[prev["kept"].astype(bool), "image"].tolist()


def real_reference(
    metadata: str | Path, grey: bool, size: int, manifest: str | Path
) -> tuple[list[str], np.ndarray]:
    """The real minority training images: the only real images curation may read. First checks
    that the raw synthetic set (its ``manifest``) comes from a GAN trained on this very split."""
    check_raw_set(manifest, metadata, size)
    rows = train_minority(metadata)
    paths = [Path(p) for p in rows["path"]]
    imgs = np.stack([read_images(p.parent, [p.name], grey)[0] for p in paths])
    if imgs.shape[-1] != size:
        raise ValueError(f"real images are {imgs.shape[-1]} px, synthetic ones {size} px")
    return rows["image_id"].tolist(), imgs


def blur_stage(raw_dir: str | Path, threshold: float) -> pd.DataFrame:
    """Variance of the Laplacian of each raw image; an image that cannot be decoded (a corrupt
    or truncated PNG), or whose size differs from the others', is a reject with its reason."""
    names = candidates(None, raw_dir)
    scores, problems, sizes = [], [], {}
    for name in names:
        grey = read_grey(Path(raw_dir) / name)
        if grey is None:
            scores.append(np.nan)
            problems.append("unreadable image: not a decodable PNG")
            continue
        sizes[name] = grey.shape
        scores.append(laplacian_variance(grey))
        problems.append("")
    common = pd.Series(list(sizes.values())).mode()
    for i, name in enumerate(names):
        if name in sizes and len(common) and sizes[name] != common.iloc[0]:
            problems[i] = f"wrong size: {sizes[name][1]}x{sizes[name][0]}, the others are " + (
                f"{common.iloc[0][1]}x{common.iloc[0][0]}"
            )
    t = pd.DataFrame({"image": names, "laplacian_var": scores})
    bad = np.array([p != "" for p in problems])
    t["kept"] = (t["laplacian_var"] > threshold) & ~bad
    t["reason"] = np.where(
        bad, problems, np.where(t["kept"], "", f"blurred: Laplacian variance <= {threshold:g}")
    )
    for name, why in zip(names, problems, strict=True):
        if why:
            log.warning("blur: %s rejected: %s", name, why)
    check_not_empty(t, "blur", f"Laplacian variance > {threshold:g}", "laplacian_var")
    return t


def ssim_stage(
    previous: str | Path,
    raw_dir: str | Path,
    metadata: str | Path,
    manifest: str | Path,
    lo: float,
    hi: float,
    chunk: int,
) -> pd.DataFrame:
    """Highest SSIM of each blur survivor over the real training images (the study's greyscale)."""
    names = candidates(previous, raw_dir)
    syn = read_images(raw_dir, names, grey=True)
    real_ids, real = real_reference(metadata, grey=True, size=syn.shape[-1], manifest=manifest)
    best, arg = max_ssim(torch.from_numpy(syn), torch.from_numpy(real), chunk=chunk, progress=True)
    t = pd.DataFrame({"image": names, "max_ssim": best.numpy(), "nearest_real": [real_ids[i] for i in arg]})
    t["kept"] = (t["max_ssim"] > lo) & (t["max_ssim"] < hi)
    t["reason"] = np.select(
        [t["max_ssim"] >= hi, t["max_ssim"] <= lo],
        [f"too close to a real image: max SSIM >= {hi:g}", f"unlike every real image: max SSIM <= {lo:g}"],
        "",
    )
    check_not_empty(t, "ssim", f"{lo:g} < max SSIM < {hi:g}", "max_ssim")
    return t


class LazyImages:
    """RGB uint8 images decoded a slice at a time: the LPIPS stage holds one block of candidates,
    not all of them (1,500 at 256 px are 280 MB beside its 2.6 GB of real features)."""

    def __init__(self, folder: str | Path, names: list[str]):
        self.folder, self.names = folder, names

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, rows: slice) -> torch.Tensor:
        return torch.from_numpy(read_images(self.folder, self.names[rows], grey=False))


def lpips_stage(
    previous: str | Path,
    raw_dir: str | Path,
    metadata: str | Path,
    manifest: str | Path,
    fast: FastLpips,
    backbone: str,
    threshold: float,
    chunk: int,
) -> pd.DataFrame:
    names = candidates(previous, raw_dir)
    syn = LazyImages(raw_dir, names)
    real_ids, real = real_reference(metadata, grey=False, size=syn[:1].shape[-1], manifest=manifest)
    best, arg = min_lpips(fast, syn, torch.from_numpy(real), chunk=chunk, progress=True)
    t = pd.DataFrame({"image": names, "min_lpips": best.numpy(), "nearest_real": [real_ids[i] for i in arg]})
    t["backbone"] = backbone_label("vgg16", backbone)
    t["kept"] = t["min_lpips"] > threshold
    t["reason"] = np.where(t["kept"], "", f"near-copy of a real image: min LPIPS <= {threshold:g}")
    check_not_empty(t, "lpips", f"min LPIPS > {threshold:g}", "min_lpips")
    return t


def cluster_stage(
    previous: str | Path,
    raw_dir: str | Path,
    metadata: str | Path,
    manifest: str | Path,
    extractor: torch.nn.Module,
    backbone: str,
    n_clusters: int,
    final_count: int,
    min_per_cluster: int,
    seed: int,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Selection table plus the t-SNE coordinates of the real images (for the plot)."""
    review = pd.read_csv(previous)
    review = review[review["kept"].astype(bool)].reset_index(drop=True)
    names = review["image"].tolist()
    syn = read_images(raw_dir, names, grey=False)
    _, real = real_reference(metadata, grey=False, size=syn.shape[-1], manifest=manifest)
    feats = extract(extractor, np.concatenate([syn, real]))
    xy = embed(feats, seed)
    syn_xy, real_xy = xy[: len(syn)], xy[len(syn) :]
    labels = cluster(syn_xy, n_clusters, seed)
    chosen, notes = select(labels, review["score"].to_numpy(dtype=float), final_count, min_per_cluster)
    for note in notes:
        log.warning("cluster selection: %s", note)
    t = selection_table(names, syn_xy, labels, review["score"].to_numpy(dtype=float), chosen)
    t["backbone"] = backbone_label("resnet50", backbone)
    t["review_mode"] = review["review_mode"].iloc[0] if len(review) else ""
    log.info("selected %d of %d images across %d clusters", int(chosen.sum()), len(t), len(np.unique(labels)))
    return t, syn_xy, real_xy


def funnel(tables: dict[str, str | Path]) -> list[dict[str, object]]:
    """How many images each stage kept, in the order given (the curation funnel)."""
    out = []
    for stage, path in tables.items():
        t = pd.read_csv(path)
        if stage == "raw":
            kept = len(t)
        else:
            kept = int(t["selected" if stage == "clusters" else "kept"].astype(bool).sum())
        out.append({"stage": stage, "kept": kept})
    return out
