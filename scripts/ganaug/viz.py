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
