"""The review stage of the curation funnel: one blinded page per repeat that mixes every
generator's LPIPS survivors with real training images (each generator's part keyed on its own,
the keys kept in the results, never on the page), and the reviewers' scores (their exported
files, or a labelled simulation for the demo) turned into each generator's table."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ganaug.curation.blur import laplacian_variance
from ganaug.curation.review import CRITERIA, ReviewError, aggregate, read_review_files, simulate_scores
from ganaug.curation.ssim import ImageStats, ssim_pairs
from ganaug.curation.stages import candidates, check_not_empty
from ganaug.curation.turing import (
    KEY_COLUMNS,
    PAGE_NAME,
    blind,
    blinded_name,
    page_real,
    turing_summary,
    unblind,
)
from ganaug.data.image_files import read_grey, read_images
from ganaug.data.metadata import train_minority
from ganaug.data.provenance import check_raw_set

log = logging.getLogger(__name__)


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


def review_key(c: Candidates, metadata: str | Path, n_real: int, seed: int) -> pd.DataFrame:
    """One generator's part of a review page: the blinded key of its LPIPS survivors and of the
    page's real training images (the same ``n_real`` for every generator of the split), each under
    its :func:`~ganaug.curation.turing.blinded_name`, in the order of those names. Real rows also
    carry their blur and SSIM proxy (to the other real training images), which only the
    simulated review reads. Nothing here depends on another generator, so a change to one
    generator's candidates leaves the others' keys, and everything after them, as they were."""
    names = candidates(c.previous, c.raw_dir)
    if names:
        size = read_images(c.raw_dir, names[:1], grey=True).shape[-1]
        check_raw_set(c.manifest, metadata, size)
    real = train_minority(metadata)
    shown = page_real(real["image_id"].tolist(), n_real, seed)
    rows = [(blinded_name(seed, c.generator, n), "synthetic", c.generator, n) for n in names]
    rows += [(blinded_name(seed, "real", r), "real", "", r) for r in shown]
    key = pd.DataFrame(rows, columns=KEY_COLUMNS).sort_values("blinded", ignore_index=True)
    if not key["blinded"].is_unique:  # 48 bits of a hash: never seen, but never silent
        raise ValueError(f"two images of the {c.generator} review key share a blinded name")
    key["laplacian_var"], key["max_ssim"] = np.nan, np.nan
    is_real = key["source"] == "real"
    if is_real.any():
        # against every real training image, but only for the page's: each generator's key
        # computes these, so the rest would be work done once per generator for nothing
        grey = np.stack([read_grey(p) for p in real["path"]])
        position = {o: i for i, o in enumerate(real["image_id"])}
        idx = [position[o] for o in key.loc[is_real, "original"]]
        key.loc[is_real, "laplacian_var"] = [laplacian_variance(grey[i]) for i in idx]
        key.loc[is_real, "max_ssim"] = max_ssim_to_others(torch.from_numpy(grey), idx)
    return key


def review_page(
    keys: list[pd.DataFrame], raw_dirs: dict[str, str | Path], metadata: str | Path
) -> dict[str, Path]:
    """The files of one review page by shown name, over every generator's key (their real rows
    are one set), in the order of the shown names."""
    cols = ["blinded", "source", "generator", "original"]
    real_rows = [k.loc[k["source"] == "real", ["blinded", "original"]] for k in keys]
    reals = {tuple(sorted(map(tuple, r.to_numpy().tolist()))) for r in real_rows}
    key = pd.concat(keys, ignore_index=True).fillna({"generator": ""}).drop_duplicates(cols)
    if len(reals) > 1 or not key["blinded"].is_unique:
        raise ValueError(
            "the generators' review keys disagree on their real images (keys of another split or "
            "seed?): rebuild them (rule review_key)"
        )
    real = train_minority(metadata)
    path_of = dict(zip(real["image_id"], real["path"], strict=True))
    rows = key.sort_values("blinded")[cols]
    return {
        b: Path(path_of[o]) if src == "real" else Path(raw_dirs[g]) / o
        for b, src, g, o in rows.itertuples(index=False)
    }


def max_ssim_to_others(grey: torch.Tensor, rows: list[int] | None = None) -> np.ndarray:
    """Each real image's highest SSIM to the *other* real images (its own copy excluded); only
    for the images ``rows`` (None: all), each still against every image. Each image's window
    statistics are made once and every pair compared in one bulk call: rebuilding them for each
    image's 'others' took 177 s against 4.5 s for 167 images at 256 px
    (benchmarks/bench_curation.py --stages realssim). Each pair's SSIM is computed on its own, so
    a row is the same whichever other rows are asked for."""
    rows = list(range(len(grey))) if rows is None else list(rows)
    if len(grey) < 2:
        return np.full(len(rows), np.nan)
    sims = ssim_pairs(ImageStats(grey[rows]), ImageStats(grey)).numpy()
    sims[np.arange(len(rows)), rows] = -np.inf
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
    names = {c.generator: candidates(c.previous, raw_dir="") for c in sets}
    if key is None:
        # shown under their own names (with the generator's in front where several share a page:
        # every sampler names its images generated_NNNN.png)
        several = len(names) > 1
        key = pd.DataFrame(
            [(f"{g}/{n}" if several else n, "synthetic", g, n) for g, ns in names.items() for n in ns],
            columns=KEY_COLUMNS,
        )
        key["laplacian_var"], key["max_ssim"] = np.nan, np.nan  # as review_key's, no real rows
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

    # the page also shows other generators' images, whose scores are theirs to read
    return unblind(read_review_files(files, key["blinded"].tolist(), reviewers, others=PAGE_NAME), key)


def _simulated(c: Candidates, names: list[str], reviewers, noise, seed, key, metadata) -> pd.DataFrame:
    """Simulated scores of one generator's candidates and of the page's real images, the proxy
    standardised over that generator's candidates, so a generator's scores do not depend on
    which other generators share the page; nor does its Turing test (below)."""
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
