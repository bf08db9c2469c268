"""Figures. Every function takes data and a path and writes one PNG atomically."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from ganaug.io import atomic_path


def _save(fig: plt.Figure, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight", format="png")
    plt.close(fig)


def plot_gan_curves(history: pd.DataFrame, path: str | Path) -> None:
    """Critic loss, generator loss and the Wasserstein estimate against generator iterations."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    panels = [
        ("loss_d", "critic loss (incl. λ·GP)"),
        ("loss_g", "generator loss"),
        ("wasserstein", "Wasserstein estimate E[D(real)] − E[D(fake)]"),
    ]
    for ax, (col, title) in zip(axes, panels, strict=True):
        ax.plot(history["iteration"], history[col], lw=1.2)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("generator iteration")
        ax.grid(alpha=0.3)
    if history.empty:
        for ax in axes:
            ax.text(0.5, 0.5, "no iterations logged", ha="center", va="center", transform=ax.transAxes)
    fig.tight_layout()
    _save(fig, path)


def scatter_clusters(syn_xy, clusters, chosen, real_xy, path: str | Path, title: str) -> None:
    """t-SNE of the synthetic candidates coloured by cluster (selected: filled), real images as x."""
    import numpy as np

    fig, ax = plt.subplots(figsize=(7, 6))
    cmap = plt.get_cmap("tab10")
    for c in np.unique(clusters):
        m = clusters == c
        ax.scatter(
            syn_xy[m & chosen, 0], syn_xy[m & chosen, 1], s=14, color=cmap(int(c) % 10), label=f"cluster {c}"
        )
        ax.scatter(
            syn_xy[m & ~chosen, 0],
            syn_xy[m & ~chosen, 1],
            s=14,
            facecolors="none",
            edgecolors=cmap(int(c) % 10),
            alpha=0.6,
        )
    if len(real_xy):
        ax.scatter(real_xy[:, 0], real_xy[:, 1], marker="x", s=22, color="black", label="real (train)")
    ax.set_title(title, fontsize=10)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(fontsize=7, loc="best", markerscale=1.2)
    fig.text(0.01, 0.01, "filled: selected; hollow: not selected", fontsize=8, color="0.4")
    _save(fig, path)
