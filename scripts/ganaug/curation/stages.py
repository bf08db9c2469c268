"""The curation funnel: each stage scores the kept images of the stage before and says why each
image goes. Tables are ``image,<scores>,kept,reason`` under results/synthetic/curation/."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch

from ganaug.curation.blur import laplacian_variance
from ganaug.curation.lpips_fast import FastLpips, min_lpips
from ganaug.curation.ssim import ImageStats, max_ssim, ssim_pairs
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


def read_grey(path: str | Path) -> np.ndarray | None:
    """The study's greyscale image: ``cv2.imread(path, cv2.IMREAD_GRAYSCALE)``, exactly.

    For a PNG this is libpng's own RGB-to-grey conversion, which differs in the last bit from
    ``cv2.cvtColor(..., COLOR_BGR2GRAY)`` on some pixels; the blur and SSIM filters are defined
    on this one. None when the file cannot be decoded.
    """
    return cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)


def read_images(folder: str | Path, names: list[str], grey: bool) -> np.ndarray:
    """uint8 (N, H, W) greyscale (the study's decoding) or (N, 3, H, W) RGB, decoded once."""
    out = []
    for name in names:
        path = Path(folder) / name
        img = read_grey(path) if grey else cv2.imread(str(path), cv2.IMREAD_COLOR)
        if img is None:
            raise FileNotFoundError(f"cannot read image {path}")
        out.append(img if grey else img[..., ::-1].transpose(2, 0, 1))
    return np.ascontiguousarray(np.stack(out))


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


@dataclass(frozen=True)
class Candidates:
    """One generator's images on a review page: its LPIPS survivors (``previous``), with its raw
    set, its manifest and (for ingestion) its blur and SSIM tables, which the simulated review reads."""

    generator: str
    previous: str | Path
    raw_dir: str | Path = ""
    manifest: str | Path = ""
    blur: str | Path = ""
    ssim: str | Path = ""


def review_page_key(
    sets: list[Candidates], metadata: str | Path, n_real: int, seed: int
) -> tuple[pd.DataFrame, dict[str, Path]]:
    """The blinded key of one review page over every generator's candidates (ganaug.curation.turing)
    and its files by shown name. Real rows also carry their blur and SSIM proxy (to the other
    real training images), which only the simulated review reads.

    The candidates of all generators are blinded together, in the order of ``sets``; the seeded
    shuffle depends only on how many there are, so a page of one generator is the page it was."""
    from ganaug.curation.turing import blind

    per = [(c, candidates(c.previous, c.raw_dir)) for c in sets]
    for c, names in per:
        if names:
            size = read_images(c.raw_dir, names[:1], grey=True).shape[-1]
            check_raw_set(c.manifest, metadata, size)
    labels = [f"{c.generator}/{n}" for c, names in per for n in names]
    real = train_minority(metadata)
    key = blind(labels, real["image_id"].tolist(), n_real, seed)
    synthetic = key["source"] == "synthetic"
    gen_of = key["original"].str.split("/", n=1).str[0]
    key.insert(2, "generator", np.where(synthetic, gen_of, ""))
    key.loc[synthetic, "original"] = key.loc[synthetic, "original"].str.split("/", n=1).str[1]
    path_of = dict(zip(real["image_id"], real["path"], strict=True))
    raw_of = {c.generator: Path(c.raw_dir) for c in sets}
    rows = key[["blinded", "source", "generator", "original"]].itertuples(index=False)
    files = {b: Path(path_of[o]) if src == "real" else raw_of[g] / o for b, src, g, o in rows}
    key["laplacian_var"], key["max_ssim"] = np.nan, np.nan
    shown = key["source"] == "real"
    if shown.any():
        grey = np.stack([read_grey(p) for p in real["path"]])
        sims = max_ssim_to_others(torch.from_numpy(grey))
        idx = [real["image_id"].tolist().index(o) for o in key.loc[shown, "original"]]
        key.loc[shown, "laplacian_var"] = [laplacian_variance(grey[i]) for i in idx]
        key.loc[shown, "max_ssim"] = sims[idx]
    return key, files


def max_ssim_to_others(grey: torch.Tensor) -> np.ndarray:
    """Each real image's highest SSIM to the *other* real images (its own copy excluded). Each
    image's window statistics are made once and every pair compared in one bulk call: rebuilding
    them for each image's 'others' took 177 s against 4.5 s for 167 images at 256 px
    (benchmarks/bench_curation.py --stages realssim)."""
    if len(grey) < 2:
        return np.full(len(grey), np.nan)
    stats = ImageStats(grey)
    sims = ssim_pairs(stats, stats).numpy()
    np.fill_diagonal(sims, -np.inf)
    return sims.max(axis=1)


def review_stage(
    sets: list[Candidates],
    mode: str,
    files: list[str | Path],
    reviewers: int,
    threshold: float,
    noise: float,
    seed: int,
    review_dir: str | Path = "resources/reviews",
    key: pd.DataFrame | None = None,
    metadata: str | Path | None = None,
) -> dict[str, tuple[pd.DataFrame, dict]]:
    """Per generator: the scores of its LPIPS survivors, from the reviewers' files of the one page,
    simulated, or skipped, and its visual Turing test (its images against the page's real ones).
    ``key``: the page's blinded names; None: the page showed the candidates under their own names.
    ``metadata``: the split's metadata.csv, which a simulated review of real images needs."""
    from ganaug.curation.review import CRITERIA, aggregate
    from ganaug.curation.turing import KEY_COLUMNS, turing_summary

    names = {c.generator: candidates(c.previous, raw_dir="") for c in sets}
    if key is None:
        # shown under their own names (with the generator's in front where several share a page:
        # every sampler names its images generated_NNNN.png)
        several = len(names) > 1
        key = pd.DataFrame(
            [(f"{g}/{n}" if several else n, "synthetic", g, n) for g, ns in names.items() for n in ns],
            columns=KEY_COLUMNS,
        )
        key["laplacian_var"], key["max_ssim"] = np.nan, np.nan  # as review_page_key's, no real rows
    key = key.assign(generator=key["generator"].fillna(""))
    if mode == "skip":
        out = {}
        for g, ns in names.items():
            t = pd.DataFrame({"image": ns, "score": np.nan, "n_reviewers": 0})
            t["kept"], t["reason"], t["review_mode"] = True, "", "skip"
            log.warning("review skipped: all %d %s candidates pass unscored", len(t), g)
            out[g] = (t, {"review_mode": "skip", "simulated": False, "reviewers": []})
        return out
    if mode == "files":
        every = _read_files(files, reviewers, review_dir, key)
    out = {}
    for c in sets:
        g = c.generator
        if mode == "files":
            scores = every[(every["source"] == "real") | (every["generator"] == g)].drop(columns="generator")
        else:
            scores = _simulated(c, names[g], reviewers, noise, seed, key, metadata)
        t = aggregate(
            scores[scores["source"] == "synthetic"].drop(columns="source"), names[g], threshold, mode
        )
        check_not_empty(
            t,
            "review" if g == sets[0].generator else f"review ({g})",
            f"mean review score >= {threshold:g}",
            "score",
        )
        out[g] = (t, turing_summary(scores, list(CRITERIA), mode))
    return out


def _read_files(files, reviewers, review_dir, key) -> pd.DataFrame:
    """Every score of the page's exports, under the images' own names, with source and generator."""
    from ganaug.curation.review import ReviewError, read_review_files
    from ganaug.curation.turing import unblind

    if not files:
        # each repeated split has its own page, results/repeat_<r>/review/, and its own exports
        # folder, <dir>/repeat_<r>
        m = re.fullmatch(r"repeat_\d+", Path(review_dir).name)
        page = f"{Path(review_dir).name}/review" if m else "repeat_<r>/review"
        raise ReviewError(
            f"curation.review.mode is 'files' but {review_dir} holds no review CSVs. Build the "
            f"review page (snakemake results/{page}/index.html), have the reviewers score it "
            f"in a browser and put their exports in {review_dir}/, or set curation.review.mode: "
            "simulate (labelled as simulated in every output) or skip"
        )
    return unblind(read_review_files(files, key["blinded"].tolist(), reviewers), key)


def _simulated(c: Candidates, names: list[str], reviewers, noise, seed, key, metadata) -> pd.DataFrame:
    """Simulated scores of one generator's candidates and of the page's real images, the proxy
    standardised over that generator's candidates, so a generator's scores do not depend on
    which other generators share the page; nor does its Turing test (below)."""
    from ganaug.curation.review import simulate_scores
    from ganaug.curation.turing import blind

    proxy = pd.DataFrame({"image": names})
    proxy = proxy.merge(pd.read_csv(c.blur)[["image", "laplacian_var"]], on="image")
    proxy = proxy.merge(pd.read_csv(c.ssim)[["image", "max_ssim"]], on="image")
    real = key[key["source"] == "real"].rename(columns={"original": "image"})
    if len(real):
        # a simulated reviewer's noise is drawn row by row, so the real images go in the order a
        # page of this generator alone shows them (blind's seeded shuffle), not the shared page's,
        # which every generator's images change: its Turing test is the one it gets on its own
        if metadata is None:
            raise ValueError("a simulated review of the page's real images needs the split's metadata.csv")
        alone = blind(names, train_minority(metadata)["image_id"].tolist(), len(real), seed)
        order = alone.loc[alone["source"] == "real", "original"].tolist()
        if sorted(order) != sorted(real["image"]):
            raise ValueError(
                "the review key's real images are not the ones this split's metadata.csv gives the "
                "page: rebuild the page (rule review_sheet)"
            )
        real = real.set_index("image").loc[order].reset_index()
    scores = simulate_scores(proxy, reviewers, noise, seed, real[["image", "laplacian_var", "max_ssim"]])
    log.warning(
        "review of %s SIMULATED from blur and SSIM scores (demo only): not human judgement", c.generator
    )
    return scores.assign(source=np.where(scores["image"].isin(set(real["image"])), "real", "synthetic"))


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
    from ganaug.curation.clusters import cluster, embed, extract, select, selection_table

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
