"""The report's figures. Each plot function returns a matplotlib figure; :func:`html` turns a
figure (or a PNG the workflow wrote) into a self-contained ``<figure>`` with alt text and a
caption, so a screen reader and a reader of the printed report both know what it shows."""

from __future__ import annotations

import base64
import html as _html
import io
from pathlib import Path

import numpy as np
import pandas as pd

from ganaug.reporting import IN_DISTRIBUTION, METRIC_LABELS, for_set, order, select, set_names

VERDICT_COLOURS = {"better": "#15803d", "worse": "#b91c1c", "no evidence": "#1d4ed8"}
EXPLORATORY_COLOUR = "#9ca3af"
NO_VERDICT_COLOUR = "#111827"


def html(figure, alt: str, caption: str, width: int | None = None) -> str:
    """A figure (matplotlib, or the path of a PNG) as an inline ``<figure>`` with alt text and
    a caption. A matplotlib figure is closed once drawn."""
    if isinstance(figure, str | Path):
        data = Path(figure).read_bytes()
    else:
        import matplotlib.pyplot as plt

        buf = io.BytesIO()
        figure.savefig(buf, format="png", dpi=110, bbox_inches="tight")
        plt.close(figure)
        data = buf.getvalue()
    src = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
    style = f' style="max-width:{width}px"' if width else ' style="max-width:100%"'
    return (
        f'<figure><img src="{src}" alt="{_html.escape(alt, quote=True)}"{style}>'
        f"<figcaption>{_html.escape(caption)}</figcaption></figure>"
    )


def plot_funnel(final: dict, ax=None):
    import matplotlib.pyplot as plt

    f = pd.DataFrame(final["curation"]["funnel"])
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 3))
    ax.bar(f["stage"], f["kept"], color="C0")
    for i, v in enumerate(f["kept"]):
        ax.text(i, v, str(v), ha="center", va="bottom", fontsize=9)
    ax.set_ylabel("images kept")
    ax.set_title("curation funnel: images kept after each stage", fontsize=10)
    return ax.figure


def plot_f1_by_condition(final: dict, intervals: pd.DataFrame, ax=None):
    """Mean F1 per architecture and condition, with each condition's own lesion-bootstrap 95 %
    interval. Descriptive only: whether two conditions differ is read from the differences,
    never from overlapping bars."""
    import matplotlib.pyplot as plt

    res = final["classifier_results"]
    archs, conds = order(final)
    if ax is None:
        _, ax = plt.subplots(figsize=(max(6, 1.6 * len(archs) * len(conds) / 3), 3.6))
    width = 0.8 / len(conds)
    for j, c in enumerate(conds):
        means, lo, hi = [], [], []
        for a in archs:
            mean = res[a][c]["f1"]["mean"]
            means.append(mean)
            b = select(
                for_set(intervals, IN_DISTRIBUTION), arch=a, condition=c, metric="f1", decision="tuned"
            )
            lo.append(mean - b["ci_low"].iloc[0] if len(b) else 0)
            hi.append(b["ci_high"].iloc[0] - mean if len(b) else 0)
        x = np.arange(len(archs)) + (j - (len(conds) - 1) / 2) * width
        ax.bar(x, means, width, yerr=[lo, hi], capsize=2, label=c)
    ax.set_xticks(np.arange(len(archs)), archs)
    ax.set_ylabel("F1 (test, tuned threshold)")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=8, ncol=min(5, len(conds)), loc="upper center", bbox_to_anchor=(0.5, -0.12))
    ax.grid(axis="y", alpha=0.3)
    return ax.figure


def _panel_label(metric: str, decision: str) -> str:
    return METRIC_LABELS[metric] + ("" if decision == "none" else f" ({decision})")


FOREST_PANELS = (("pr_auc", "none"), ("sensitivity", "tuned"), ("specificity", "tuned"))


def _forest_style(r) -> tuple[str, float, float, str, float]:
    """(colour, low, high, marker, line width) of one row of the forest plot."""
    if r["family"] != "primary":
        return EXPLORATORY_COLOUR, r["ci_low"], r["ci_high"], "o", 1.2
    if pd.notna(r.get("ci_adj_low")):
        return VERDICT_COLOURS.get(r["verdict"], "k"), r["ci_adj_low"], r["ci_adj_high"], "s", 2.4
    return NO_VERDICT_COLOUR, r["ci_low"], r["ci_high"], "s", 2.4  # one split: conditional, no verdict


def plot_forest(diff: pd.DataFrame, panels: tuple[tuple[str, str], ...] = FOREST_PANELS):
    """Forest plot of the differences: one panel per (metric, decision), a row per comparison,
    the primary rows first and apart. Primary rows: their adjusted interval (Bonferroni's
    1 - alpha/m, the Holm family's), coloured by the verdict, or with one split their interval
    conditional on the fits, in black; exploratory rows: their unadjusted 95 % interval, in grey.
    Degenerate comparisons (identical training sets) are left out and listed in the tables."""
    import matplotlib.pyplot as plt

    keep = [(m, x) in panels for m, x in zip(diff["metric"], diff["decision"], strict=True)]
    d = diff[np.array(keep, bool) & ~diff["degenerate"].astype(bool)].copy()
    d["row"] = d["arch"] + " / " + d["condition"] + " vs " + d["reference"]
    if len(set_names(d)) > 1:  # in distribution and external sets: say which on every row
        d["row"] = d["row"] + " [" + d["test_set"] + "]"
    d = d.sort_values("family", key=lambda f: f != "primary", kind="stable")
    rows = list(dict.fromkeys(d["row"]))
    n_primary = len(dict.fromkeys(d.loc[d["family"] == "primary", "row"]))
    shown = [p for p in panels if ((d["metric"] == p[0]) & (d["decision"] == p[1])).any()]
    height = 0.26 * len(rows) + 2.6  # inches: the rows, the titles and the legend below
    fig, axes = plt.subplots(
        1, max(1, len(shown)), figsize=(3.3 * len(shown) + 4.5, height), sharey=True, squeeze=False
    )
    for ax, (metric, decision) in zip(axes[0], shown, strict=False):
        for _, r in d[(d["metric"] == metric) & (d["decision"] == decision)].iterrows():
            y = rows.index(r["row"])
            colour, lo, hi, marker, lw = _forest_style(r)
            if pd.notna(lo):
                ax.plot([lo, hi], [y, y], color=colour, lw=lw)
            ax.plot(r["delta"], y, marker, color=colour, ms=5 if marker == "s" else 3.5)
        ax.axvline(0, color="k", lw=0.8)
        if 0 < n_primary < len(rows):
            ax.axhline(n_primary - 0.5, color="k", lw=0.6, ls="--")
        ax.set_title(_panel_label(metric, decision), fontsize=9)
        ax.set_xlabel("Δ = condition − reference", fontsize=8)
        ax.grid(axis="x", alpha=0.3)
    axes[0][0].set_yticks(range(len(rows)), rows, fontsize=7)
    axes[0][0].set_ylim(len(rows) - 0.5, -0.5)
    _forest_legend(fig)
    fig.suptitle(
        "condition − reference: the primary hypotheses above the dashed line, exploratory comparisons below",
        fontsize=9,
    )
    fig.tight_layout(rect=(0, 0.9 / height, 1, 1 - 0.35 / height))
    return fig


def _forest_legend(fig) -> None:
    import matplotlib.pyplot as plt

    handles = [
        plt.Line2D([], [], color=c, marker="s", lw=2.4, label=f"primary: {k} (adjusted interval)")
        for k, c in VERDICT_COLOURS.items()
    ]
    one_split = "primary, one split: no verdict (interval conditional on the fits)"
    handles.append(plt.Line2D([], [], color=NO_VERDICT_COLOUR, marker="s", lw=2.4, label=one_split))
    exploratory = "exploratory (unadjusted 95 % interval, no verdict)"
    handles.append(plt.Line2D([], [], color=EXPLORATORY_COLOUR, marker="o", lw=1.2, label=exploratory))
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=7, frameon=False)


def plot_ratio_curve(points: pd.DataFrame, label: str = "PR-AUC"):
    """Does more synthetic help? Δ from baseline with its unadjusted interval, against the count."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.4))
    for arch, p in points.groupby("arch", sort=False):
        err = [p["delta"] - p["ci_low"], p["ci_high"] - p["delta"]]
        ax.errorbar(p["synthetic"], p["delta"], yerr=err, marker="o", capsize=3, label=arch)
        for _, r in p.iterrows():
            ax.annotate(
                r["condition"],
                (r["synthetic"], r["delta"]),
                fontsize=7,
                xytext=(3, 3),
                textcoords="offset points",
            )
    ax.axhline(0, color="k", lw=0.8)
    ax.set_xlabel("curated synthetic DF images added (nested subsets)")
    ax.set_ylabel(f"Δ {label} vs baseline")
    ax.set_title("does more synthetic help? (in distribution, exploratory: unadjusted intervals)", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
