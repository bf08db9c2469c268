"""Cluster-balanced selection: keep variety, not just the best-scored look-alikes.

Penultimate ResNet-50 features (2048-d), t-SNE to 2-D (seed 42), K-means (8 clusters, seed 42)
on the synthetic images' embedding, then ``final_count`` images with at least
``min_per_cluster`` from every cluster that has that many (a smaller cluster gives all it has,
and the rest is filled from the others), highest review score first.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ganaug.models.classifiers import create_classifier, imagenet_normalise
from ganaug.models.registry import CLUSTER_RESNET50, RANDOM
from ganaug.weights import load_cached_state_dict

# imagenet: ResNet-50 (the study's); efficientnet_lite0: the packaged ImageNet EfficientNet-Lite0
# (offline, no cache); random: a seeded random ResNet-50, labelled not comparable
CLUSTER_BACKBONES = ("imagenet", "efficientnet_lite0", RANDOM)

log = logging.getLogger(__name__)


def build_feature_extractor(backbone: str, cache_dir: str | Path, seed: int = 42) -> torch.nn.Module:
    """Pooled features (2048-d for ResNet-50, 1280-d for EfficientNet-Lite0) of ImageNet-normalised
    images, for the t-SNE and the clusters."""
    if backbone not in CLUSTER_BACKBONES:
        raise ValueError(f"backbone must be one of {CLUSTER_BACKBONES}, got {backbone!r}")
    torch.manual_seed(seed)
    if backbone == "efficientnet_lite0":
        model = create_classifier("timm/tf_efficientnet_lite0", "imagenet", 1000, cache_dir)
        model.reset_classifier(0)  # the pooled features
        return model.eval()
    from torchvision.models import resnet50

    model = resnet50(weights=None)
    if backbone == "imagenet":
        model.load_state_dict(load_cached_state_dict(CLUSTER_RESNET50, cache_dir))
    model.fc = torch.nn.Identity()  # the 2048-d pooled features
    return model.eval()


@torch.no_grad()
def extract(model: torch.nn.Module, images_u8: np.ndarray, batch: int = 4) -> np.ndarray:
    # channels_last: EfficientNet-Lite0's depthwise convolutions run 1.8x faster on the CPU
    # (measured: 100 -> 56 ms an image at 256 px), the features equal to 1e-5. Batches of 4 keep
    # more of the activations in cache: at 256 px on 2 cores, Lite0 25 against 47 ms an image at
    # 32 (1.8x), ResNet-50 106 against 146 (1.4x) (benchmarks/bench_curation.py --stages batches),
    # with the same features
    model = model.to(memory_format=torch.channels_last)
    out = []
    for s in range(0, len(images_u8), batch):
        x = torch.from_numpy(images_u8[s : s + batch]).float() / 255.0
        out.append(model(imagenet_normalise(x).contiguous(memory_format=torch.channels_last)).numpy())
    return np.concatenate(out).astype(np.float64)


def embed(features: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.manifold import TSNE

    n = len(features)
    perplexity = float(min(30.0, max(2.0, (n - 1) / 3)))  # t-SNE needs perplexity < n
    return TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(features)


def cluster(points: np.ndarray, k: int, seed: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    k = min(k, len(points))
    return KMeans(k, random_state=seed, n_init=10).fit_predict(points)


def select(
    clusters: np.ndarray, scores: np.ndarray, final_count: int, min_per_cluster: int
) -> tuple[np.ndarray, list[str]]:
    """Boolean mask of the chosen images, and log lines for every shortfall.

    Ties in score are broken by position (image order), so the choice is deterministic.
    """
    n = len(clusters)
    order = np.lexsort((np.arange(n), -np.nan_to_num(scores, nan=-np.inf)))  # best first
    chosen = np.zeros(n, dtype=bool)
    notes = []
    target = min(final_count, n)
    if n < final_count:
        notes.append(f"only {n} candidates for final_count {final_count}: all are taken")
    for c in np.unique(clusters):
        members = [i for i in order if clusters[i] == c]
        take = members[: min(min_per_cluster, len(members), target - int(chosen.sum()))]
        chosen[take] = True
        if len(members) < min_per_cluster:
            notes.append(
                f"cluster {c} has {len(members)} images, fewer than min_per_cluster "
                f"{min_per_cluster}: all taken"
            )
    for i in order:  # fill the rest by score, from any cluster
        if chosen.sum() >= target:
            break
        chosen[i] = True
    return chosen, notes


def selection_table(
    names: list[str], xy: np.ndarray, clusters: np.ndarray, scores: np.ndarray, chosen: np.ndarray
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "image": names,
            "tsne_x": xy[:, 0],
            "tsne_y": xy[:, 1],
            "cluster": clusters,
            "score": scores,
            "selected": chosen,
        }
    )


SELECTIONS = ("cluster", "random", "best")  # the curated set's strategies (the study's: cluster)


def alternative_selections(review: pd.DataFrame, count: int, seed: int) -> dict[str, list[str]]:
    """The two controls of the cluster-balanced selection, each drawing ``count`` images (the
    cluster selection's own count) from the same review survivors: ``random`` (a seeded draw)
    and ``best`` (the highest review scores; ties by image name)."""
    kept = review[review["kept"].astype(bool)].sort_values("image").reset_index(drop=True)
    count = min(count, len(kept))
    rng = np.random.default_rng(seed)
    random = sorted(kept["image"].iloc[rng.choice(len(kept), size=count, replace=False)])
    scores = kept["score"].to_numpy(dtype=float)
    order = np.lexsort((kept["image"].to_numpy(), -np.nan_to_num(scores, nan=-np.inf)))
    best = sorted(kept["image"].iloc[order[:count]])
    return {"random": random, "best": best}
