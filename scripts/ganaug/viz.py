"""Figures. Every function takes data and a path and writes one PNG atomically."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from ganaug.io import atomic_path
from ganaug.reporting.figures import plot_forest


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


def plot_curves(history: pd.DataFrame, panels: list[tuple[str, str]], xlabel: str, path: str | Path) -> None:
    """One panel a (column, title) of ``history`` against its iterations."""
    fig, axes = plt.subplots(1, len(panels), figsize=(3.3 * len(panels), 3.4), squeeze=False)
    for ax, (col, title) in zip(axes[0], panels, strict=True):
        ax.plot(history["iteration"], history[col], lw=1.2)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
        if history.empty:
            ax.text(0.5, 0.5, "nothing logged", ha="center", va="center", transform=ax.transAxes)
    fig.tight_layout()
    _save(fig, path)


def plot_diffusion_curves(history: pd.DataFrame, path: str | Path) -> None:
    """The denoising loss (log scale) and the learning rate against optimiser steps."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, (col, title) in zip(
        axes, [("loss", "denoising loss (MSE)"), ("lr", "learning rate")], strict=True
    ):
        ax.plot(history["iteration"], history[col], lw=1.2)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("optimiser step")
        ax.grid(alpha=0.3)
    if not history.empty and (history["loss"] > 0).all():
        axes[0].set_yscale("log")
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


def plot_classifier_curves(history: pd.DataFrame, best_epoch: int, path: str | Path, title: str) -> None:
    """Loss and F1 per epoch, train against validation; the kept (best) epoch marked."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for ax, metric in zip(axes, ("loss", "f1"), strict=True):
        ax.plot(history["epoch"], history[f"train_{metric}"], marker="o", ms=3, label="train")
        ax.plot(history["epoch"], history[f"val_{metric}"], marker="o", ms=3, label="validation")
        ax.axvline(best_epoch, color="0.5", ls="--", lw=1, label=f"best epoch ({best_epoch})")
        ax.set_xlabel("epoch")
        ax.set_title(metric if metric == "loss" else "F1 (argmax)", fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)


def plot_confusion(cm_argmax, cm_tuned, threshold: float, path: str | Path) -> None:
    """Test confusion matrices at the argmax decision and at the validation-tuned threshold."""
    import numpy as np
    import seaborn as sns

    fig, axes = plt.subplots(1, 2, figsize=(8, 3.6))
    titles = ("argmax (p > 0.5)", f"tuned on validation (p > {threshold:.3f})")
    labels = ["majority", "minority"]
    for ax, cm, title in zip(axes, (cm_argmax, cm_tuned), titles, strict=True):
        sns.heatmap(
            np.asarray(cm),
            annot=True,
            fmt="d",
            cmap="Blues",
            cbar=False,
            square=True,
            ax=ax,
            xticklabels=labels,
            yticklabels=labels,
        )
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)


def plot_score_distributions(
    tables: dict[str, tuple[pd.DataFrame, str, list[float]]], path: str | Path
) -> None:
    """One panel per curation stage: the distribution of its score with the thresholds drawn, so
    a reader sees how much each filter cut and where (``tables``: stage -> (table, score
    column, thresholds))."""
    import seaborn as sns

    fig, axes = plt.subplots(1, len(tables), figsize=(4 * len(tables), 3.2), squeeze=False)
    for ax, (stage, (table, column, thresholds)) in zip(axes[0], tables.items(), strict=True):
        data = table.assign(kept=table["kept"].map({True: "kept", False: "dropped"}))
        sns.histplot(
            data,
            x=column,
            hue="kept",
            hue_order=["kept", "dropped"],
            multiple="stack",
            ax=ax,
            palette={"kept": "#2563eb", "dropped": "#d1d5db"},
            bins=30,
        )
        for t in thresholds:
            ax.axvline(t, color="#b91c1c", lw=1.2, ls="--")
        ax.set_title(f"{stage}: {int(table['kept'].sum())} of {len(table)} kept", fontsize=10)
    fig.tight_layout()
    _save(fig, path)


def plot_pr_curve(target, prob, threshold: float, path: str | Path, title: str) -> None:
    """Test precision-recall curve with its average precision, and the tuned operating point."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    fig, ax = plt.subplots(figsize=(4.8, 4.2))
    if len(set(target)) == 2:
        precision, recall, _ = precision_recall_curve(target, prob)
        ap = average_precision_score(target, prob)
        ax.step(recall, precision, where="post", label=f"AP = {ap:.3f}")
        pred = prob > threshold
        tp = int((pred & (target == 1)).sum())
        p_at = tp / max(1, int(pred.sum()))
        r_at = tp / max(1, int((target == 1).sum()))
        ax.scatter([r_at], [p_at], color="C3", zorder=3, label=f"threshold {threshold:.3f}")
        ax.axhline(target.mean(), color="0.6", ls=":", lw=1, label="chance")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(alpha=0.3)
    _save(fig, path)


def _image_rows(rows: list[tuple], width: float, height: float, label_size: int):
    """A figure of image rows, each (uint8 (N, 3, H, W) RGB images, row label); empty cells off."""
    n = max(1, *(len(imgs) for imgs, _ in rows))
    fig, axes = plt.subplots(len(rows), n, figsize=(width * n, height), squeeze=False)
    for row, (imgs, label) in enumerate(rows):
        for col in range(n):
            ax = axes[row][col]
            ax.set_xticks([])
            ax.set_yticks([])
            if col < len(imgs):
                ax.imshow(imgs[col].transpose(1, 2, 0))
            else:
                ax.axis("off")
        axes[row][0].set_ylabel(label, fontsize=label_size)
    return fig, axes


def real_beside_synthetic(real_u8, synthetic_u8, path: str | Path, title: str) -> None:
    """Two rows: real images on top, synthetic below; uint8 (N, 3, H, W) RGB each."""
    fig, _ = _image_rows([(real_u8, "real (train)"), (synthetic_u8, "synthetic")], 1.4, 3.3, 10)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    _save(fig, path)


def closest_pairs(synthetic_u8, real_u8, captions: list[str], path: str | Path, title: str) -> None:
    """Each synthetic image (top) above its nearest real image (bottom), a caption under each
    pair; uint8 (N, 3, H, W) RGB each."""
    rows = [(synthetic_u8, "synthetic"), (real_u8, "nearest training image")]
    fig, axes = _image_rows(rows, 1.9, 4.4, 9)
    for col, caption in enumerate(captions[: axes.shape[1]]):
        axes[1][col].set_xlabel(caption, fontsize=6)
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    _save(fig, path)


def table_figure(table: pd.DataFrame, path: str | Path, title: str) -> None:
    """A table of strings drawn as a figure (the ablation table for the report)."""
    fig_h = 0.8 + 0.32 * (len(table) + 1)
    fig, ax = plt.subplots(figsize=(min(2.0 + 1.45 * len(table.columns), 24), fig_h))
    ax.axis("off")
    if table.empty:
        ax.text(0.5, 0.5, "no rows", ha="center", va="center")
    else:
        t = ax.table(
            cellText=table.astype(str).values, colLabels=list(table.columns), loc="center", cellLoc="center"
        )
        t.auto_set_font_size(False)
        t.set_fontsize(8)
        t.scale(1, 1.3)
        for (r, _), cell in t.get_celld().items():
            if r == 0:
                cell.set_text_props(weight="bold")
                cell.set_facecolor("#e8eef5")
    ax.set_title(title, fontsize=10)
    _save(fig, path)


def save_forest(differences: pd.DataFrame, path: str | Path) -> None:
    """The forest plot of differences (ganaug.reporting.figures.plot_forest), or a note when empty."""
    if differences.empty:
        fig, ax = plt.subplots(figsize=(5, 1))
        ax.text(0.5, 0.5, "no comparison configured (evaluation.references)", ha="center", va="center")
        ax.axis("off")
    else:
        fig = plot_forest(differences)
    _save(fig, path)


def montage(images: list[Path], titles: list[str], path: str | Path, per_row: int = 4) -> None:
    """Images side by side with a title each (the GAN's sample grids over training)."""
    import math

    n = max(1, len(images))
    rows = math.ceil(n / per_row)
    fig, axes = plt.subplots(
        rows, min(n, per_row), figsize=(3.2 * min(n, per_row), 3.4 * rows), squeeze=False
    )
    for ax in axes.flat:
        ax.axis("off")
    for ax, img, title in zip(axes.flat, images, titles, strict=False):
        ax.imshow(plt.imread(img))
        ax.set_title(title, fontsize=9)
    if not images:
        axes[0][0].text(0.5, 0.5, "no grid saved (gan.sample_interval > total_iterations)", ha="center")
    _save(fig, path)


def real_beside_curated(real, curated, n: int, seed: int, path: str | Path) -> None:
    """``n`` real training images beside ``n`` curated synthetic ones, each drawn at random."""
    import numpy as np

    rng = np.random.default_rng(seed)

    def pick(x):
        return x[np.sort(rng.choice(len(x), min(n, len(x)), replace=False))]

    show_real, show_syn = pick(real), pick(curated)
    title = f"{len(show_real)} real training images beside {len(show_syn)} curated synthetic images"
    real_beside_synthetic(show_real, show_syn, path, title)


def closest_to_train(curated, train, lp, held_out, n: int, path: str | Path) -> None:
    """The ``n`` curated images nearest (LPIPS ``lp``, curated x train) to a training image,
    beside that image, with the held-out images' own median distance to the training set for
    scale. ``curated`` and ``train`` have ``names`` and ``rgb``."""
    import numpy as np

    near = lp.min(axis=1)
    order = np.argsort(near, kind="stable")[:n]
    partner = lp[order].argmin(axis=1)
    captions = [
        f"{curated.names[i]}\nLPIPS {near[i]:.3f} to {train.names[j]}"
        for i, j in zip(order, partner, strict=True)
    ]
    title = (
        f"the {len(order)} curated images closest to a training image (LPIPS); held-out real images' "
        f"median distance to their nearest training image: {float(np.median(held_out)):.3f}"
    )
    closest_pairs(curated.rgb[order], train.rgb[partner], captions, path, title)


def nearest_gallery(curated, train, lp, path: str | Path, per_row: int = 8, limit: int = 96) -> None:
    """Every curated image (up to ``limit``, nearest first) beside its nearest training image by
    LPIPS (``lp``, curated x train), sorted by that distance: pairs of rows, synthetic above its
    match, a caption with the distance under each. ``curated`` and ``train`` have ``names`` and
    ``rgb``."""
    import math

    import numpy as np

    near = lp.min(axis=1)
    order = np.argsort(near, kind="stable")[:limit]
    partner = lp[order].argmin(axis=1)
    bands = max(1, math.ceil(len(order) / per_row))
    fig, axes = plt.subplots(2 * bands, per_row, figsize=(1.3 * per_row, 2.9 * bands), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for k, (i, j) in enumerate(zip(order, partner, strict=True)):
        top, bottom = axes[2 * (k // per_row)][k % per_row], axes[2 * (k // per_row) + 1][k % per_row]
        top.imshow(curated.rgb[i].transpose(1, 2, 0))
        bottom.imshow(train.rgb[j].transpose(1, 2, 0))
        bottom.set_title(f"{near[i]:.3f}", fontsize=6, y=-0.22)
    shown = f"all {len(order)}" if len(order) == len(near) else f"the nearest {len(order)} of {len(near)}"
    fig.suptitle(
        f"{shown} curated images (upper rows), each above its nearest training image (lower rows), "
        "sorted by LPIPS distance (under each pair)",
        fontsize=8,
    )
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.25 / (2.9 * bands)))  # room for the title
    _save(fig, path)
