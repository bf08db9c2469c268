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

from ganaug.models.classifiers import imagenet_normalise
from ganaug.weights import BACKBONES, load_torchvision_state_dict

log = logging.getLogger(__name__)


def build_feature_extractor(backbone: str, cache_dir: str | Path, seed: int = 42) -> torch.nn.Module:
    from torchvision.models import ResNet50_Weights, resnet50

    if backbone not in BACKBONES:
        raise ValueError(f"backbone must be one of {BACKBONES}, got {backbone!r}")
    torch.manual_seed(seed)
    model = resnet50(weights=None)
    if backbone == "imagenet":
        model.load_state_dict(load_torchvision_state_dict(ResNet50_Weights.IMAGENET1K_V2, cache_dir))
    model.fc = torch.nn.Identity()  # the 2048-d pooled features
    return model.eval()


@torch.no_grad()
def extract(model: torch.nn.Module, images_u8: np.ndarray, batch: int = 32) -> np.ndarray:
    out = []
    for s in range(0, len(images_u8), batch):
        x = torch.from_numpy(images_u8[s : s + batch]).float() / 255.0
        out.append(model(imagenet_normalise(x)).numpy())
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
