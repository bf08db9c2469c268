"""The curation rules' entry points: read the declared inputs, run one stage, write its outputs.

Each takes the files a rule declares and the config keys of its own stage (what
``ganaug.settings.curation_params`` gives the rule), so a rule script is one call.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pandas as pd
import torch

from ganaug.curation.blur import real_percentile
from ganaug.curation.clusters import alternative_selections, build_feature_extractor
from ganaug.curation.lpips_fast import FastLpips, build_lpips
from ganaug.curation.review import write_review_sheet
from ganaug.curation.review_stage import Candidates, review_key, review_page, review_stage
from ganaug.curation.stages import blur_stage, cluster_stage, funnel, lpips_stage, ssim_stage
from ganaug.data.provenance import TRAINING_SET_KEY, manifest_digest
from ganaug.generators.snapshots import of_manifest as snapshot_of_manifest
from ganaug.io import write_csv, write_json
from ganaug.models.registry import RANDOM
from ganaug.runtime import determinism_label, select_device

log = logging.getLogger(__name__)


def blur_rule(
    raw: str | Path,
    out: str | Path,
    blur_threshold: float | None,
    blur_percentile: float | None = None,
    metadata: str | Path | None = None,
) -> None:
    """The blur stage at the fixed threshold, or (``blur_percentile``) at that percentile of the
    real train-split minority images' values; blur.csv records the threshold and its rule."""
    if blur_percentile is not None:
        threshold, rule = real_percentile(metadata, blur_percentile), f"real_percentile_{blur_percentile:g}"
        log.info(
            "blur threshold %.1f: percentile %g of the real train-split minority images",
            threshold,
            blur_percentile,
        )
    else:
        threshold, rule = blur_threshold, "fixed"
    write_csv(blur_stage(raw, threshold).assign(threshold=threshold, threshold_rule=rule), out)


def ssim_rule(
    previous,
    raw,
    metadata,
    manifest,
    out,
    ssim_min: float,
    ssim_max: float,
    chunk_size: int,
    threads: int = 1,
) -> None:
    torch.set_num_threads(threads)
    write_csv(ssim_stage(previous, raw, metadata, manifest, ssim_min, ssim_max, chunk_size), out)


def lpips_rule(
    previous,
    raw,
    metadata,
    manifest,
    out,
    lpips_min: float,
    lpips_backbone: str,
    chunk_size: int,
    cache_dir: str,
    seed: int,
    device: str,
    threads: int = 1,
    tf32: bool = True,
) -> None:
    torch.set_num_threads(threads)
    if lpips_backbone == RANDOM:
        log.warning(
            "LPIPS with a RANDOM-INIT VGG16 trunk (offline demo): distances are not comparable to LPIPS"
        )
    dev = select_device(device, tf32)
    log.info("LPIPS on %s, TF32 %s, deterministic %s", dev, tf32 and dev.type == "cuda", determinism_label())
    fast = FastLpips(build_lpips(lpips_backbone, cache_dir, seed), dev)
    write_csv(
        lpips_stage(previous, raw, metadata, manifest, fast, lpips_backbone, lpips_min, chunk_size), out
    )


def review_key_rule(c: Candidates, metadata, key_out: str | Path, review: dict, seed: int) -> None:
    """The rule review_key: one generator's part of its repeat's review page (its LPIPS survivors
    and ``review["real_images"]`` real training images under blinded names), kept in the
    results, never on the page."""
    write_csv(review_key(c, metadata, review["real_images"], seed), key_out)


def review_sheet_rule(
    keys: dict[str, str | Path], raw_dirs: dict[str, str | Path], metadata, out: str | Path, page_id: str
) -> None:
    """The rule review_sheet: one page per repeat, every generator's part (``keys`` and
    ``raw_dirs`` by generator) under its blinded names. Nothing reads the page but the reviewers,
    so rebuilding it for one generator reruns no other generator's review."""
    files = review_page([pd.read_csv(keys[g]) for g in keys], raw_dirs, metadata)
    write_review_sheet(files, Path(out).parent, page_id)


def ingest_reviews_rule(
    c: Candidates, key, metadata, reviews: list, table_out, turing_out, review: dict, seed: int
) -> None:
    """One generator's review: the scores of its LPIPS survivors (``review``: the curation.review
    section) and its visual Turing test."""
    ((table, turing),) = review_stage(
        [c],
        review["mode"],
        list(reviews),
        review["reviewers"],
        review["threshold"],
        review["simulate_noise"],
        seed,
        review["dir"],
        pd.read_csv(key),
        metadata,
    ).values()
    write_csv(table, table_out)
    write_json(turing, turing_out)


def clusters_rule(
    inputs: dict[str, str],
    outputs: dict[str, str],
    cluster_backbone: str,
    n_clusters: int,
    final_count: int,
    min_per_cluster: int,
    lpips_backbone: str,
    review: dict,
    blur_threshold: float | None,
    blur_percentile: float | None,
    ssim_min: float,
    ssim_max: float,
    lpips_min: float,
    cache_dir: str,
    seed: int,
    threads: int = 1,
) -> None:
    """The cluster-balanced selection: the curated folder, the table, the t-SNE plot and the
    curation summary (the funnel, the review mode, the backbones, the GAN's training set)."""
    # here, not at the top: only this rule plots, and matplotlib costs every curation rule's
    # process about half a second of start-up
    from ganaug.viz import plot_score_distributions, scatter_clusters

    torch.set_num_threads(threads)
    if cluster_backbone == RANDOM:
        log.warning("cluster features from a RANDOM-INIT ResNet-50 (offline demo): not comparable")
    extractor = build_feature_extractor(cluster_backbone, cache_dir, seed)
    table, syn_xy, real_xy = cluster_stage(
        inputs["previous"],
        inputs["raw"],
        inputs["metadata"],
        inputs["manifest"],
        extractor,
        cluster_backbone,
        n_clusters,
        final_count,
        min_per_cluster,
        seed,
    )
    out = Path(outputs["curated"])
    out.mkdir(parents=True, exist_ok=True)
    for name in table.loc[table["selected"], "image"]:
        shutil.copyfile(Path(inputs["raw"]) / name, out / name)
    write_csv(table, outputs["clusters"])
    title = f"t-SNE of {len(table)} review survivors ({table['backbone'].iloc[0]} features)"
    scatter_clusters(
        syn_xy, table["cluster"].to_numpy(), table["selected"].to_numpy(), real_xy, outputs["tsne"], title
    )
    passed = thresholds_passed(inputs["blur"], ssim_min, ssim_max, lpips_min, lpips_backbone)
    write_summary(inputs, outputs, review["mode"], lpips_backbone, cluster_backbone, passed)
    thresholds = {
        "blur": ("laplacian_var", [passed["blur"]["laplacian_var_above"]]),
        "ssim": ("max_ssim", [ssim_min, ssim_max]),
        "lpips": ("min_lpips", [lpips_min]),
    }
    plot_score_distributions(
        {k: (pd.read_csv(inputs[k]), *v) for k, v in thresholds.items()}, outputs["scores"]
    )


def thresholds_passed(
    blur_csv, ssim_min: float, ssim_max: float, lpips_min: float, lpips_backbone: str
) -> dict:
    """What every curated image passed: the blur threshold the blur stage applied (blur.csv
    records it and its rule), the SSIM window and the LPIPS floor."""
    blur = pd.read_csv(blur_csv)
    return {
        "blur": {
            "laplacian_var_above": float(blur["threshold"].iloc[0]),
            "rule": blur["threshold_rule"].iloc[0],
        },
        "ssim": {"max_ssim_above": ssim_min, "max_ssim_below": ssim_max},
        "lpips": {"min_lpips_above": lpips_min, "backbone": lpips_backbone},
    }


def write_summary(
    inputs: dict,
    outputs: dict,
    review_mode: str,
    lpips_backbone: str,
    cluster_backbone: str,
    thresholds: dict | None = None,
) -> None:
    """summary.json of the curated set: the funnel, the thresholds its images passed, the review
    mode, the backbones, the training set of the GAN the images come from (checked by
    cluster_stage) and its snapshot: a curated folder describes itself."""
    stages = {"raw": inputs["manifest"], **{k: inputs[k] for k in ("blur", "ssim", "lpips", "review")}}
    stages["clusters"] = outputs["clusters"]
    summary = {
        "funnel": funnel(stages),
        "thresholds": thresholds or {},
        "review_mode": review_mode,
        "lpips_backbone": lpips_backbone,
        "cluster_backbone": cluster_backbone,
        "simulated_review": review_mode == "simulate",
        TRAINING_SET_KEY: manifest_digest(inputs["manifest"]),
        # the generator's weights the images come from (rule select_snapshot)
        "snapshot": snapshot_of_manifest(inputs["manifest"]),
    }
    write_json(summary, outputs["summary"])


def alternatives_rule(
    review: str | Path, clusters: str | Path, raw: str | Path, outputs: dict[str, str], seed: int
) -> None:
    """The rule select_alternatives: curated_random/ and curated_best/, as many images as the
    cluster selection chose, from the same review survivors, and selections.csv listing all three."""
    chosen = pd.read_csv(clusters)
    cluster = sorted(chosen.loc[chosen["selected"].astype(bool), "image"])
    picks = {"cluster": cluster, **alternative_selections(pd.read_csv(review), len(cluster), seed)}
    for name in ("random", "best"):
        out = Path(outputs[name])
        out.mkdir(parents=True, exist_ok=True)
        for image in picks[name]:
            shutil.copyfile(Path(raw) / image, out / image)
    survivors = sorted(set(chosen["image"]))
    table = pd.DataFrame({"image": survivors})
    for name, images in picks.items():
        table[name] = table["image"].isin(images)
    write_csv(table, outputs["table"])
    overlap = {n: len(set(picks[n]) & set(cluster)) for n in ("random", "best")}
    log.info(
        "selections of %d from %d survivors; shared with the cluster selection: %s",
        len(cluster),
        len(survivors),
        overlap,
    )
