"""The report's tables of the synthetic sets: each generator's metrics against the real images,
memorisation and data copying, the curation funnel, the visual Turing test and the generators side
by side, from final_results.json and the generators' metrics files."""

from __future__ import annotations

import pandas as pd

from ganaug.evaluation.which_generator import each_generator, kid_key, kid_label, mean_of

# per set: the set's own figures
SET_ROWS = [
    ("n_synthetic", "synthetic images"),
    ("inception_score", "Inception Score (the set alone)"),
    ("lpips_diversity", "LPIPS between synthetic images (diversity)"),
]


# per set and reference, at equal sizes
AGAINST_ROWS = [
    ("n_per_side", "images a side (equal sizes)"),
    ("draws", "seeded draws"),
    ("kid", "KID (x 1000; the headline at these sizes)"),
    ("fid", "FID (biased upward at these sizes)"),
    ("precision", "precision (k-NN, fidelity)"),
    ("recall", "recall (k-NN, coverage)"),
    ("density", "density (Naeem et al.; about 1 when the sets match)"),
    ("coverage", "coverage (Naeem et al.; real neighbourhoods with a synthetic image)"),
    ("alpha_precision", "integrated alpha-precision (Alaa et al.; fidelity)"),
    ("beta_recall", "integrated beta-recall (Alaa et al.; diversity)"),
    ("authenticity", "authenticity (Alaa et al.; share not copied)"),
    ("lpips_to_nearest_real", "LPIPS to the nearest real image"),
    ("ssim_best_match", "SSIM of the best real match"),
]


# per set and reference, on DINOv2's features over the same draws (metrics.json "dinov2")
DINOV2_ROWS = [
    ("kernel_distance", "DINOv2: kernel distance x 1000"),
    ("frechet_distance", "DINOv2: Frechet distance (FD_DINOv2)"),
    ("precision", "DINOv2: precision"),
    ("recall", "DINOv2: recall"),
    ("density", "DINOv2: density"),
    ("coverage", "DINOv2: coverage"),
]


def _fmt(key: str, v) -> str:
    if isinstance(v, dict):
        mean, sd = v.get("mean"), v.get("sd")
        if mean is None:
            return "n/a" + (f" ({v['why']})" if v.get("why") else "")
        if key in ("kid", "kernel_distance"):
            mean, sd = 1000 * mean, None if sd is None else 1000 * sd
        return f"{mean:.4g}" + ("" if sd is None else f" ± {sd:.2g}")
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _named(rows: list[tuple[str, str]], names: dict) -> list[tuple[str, str]]:
    """The GAN-metric rows under the names this run's extractor gives them (FID, KID and IS
    only on Inception; Frechet distance, kernel distance and classifier score otherwise)."""
    rename = {"fid": names["fd"], "kid": names["kd"], "inception_score": names["score"]}
    labels = {
        "frechet_distance": "Frechet distance (not FID: not Inception features)",
        "kernel_distance": "kernel distance x 1000 (not KID)",
        "classifier_score": "classifier score (not IS)",
    }
    return [(rename.get(k, k), labels.get(rename.get(k, k), label)) for k, label in rows]


def gan_metrics_table(gan: dict) -> pd.DataFrame:
    """Rows: metrics; columns: (set, reference), every figure at equal sizes (mean ± sd over the
    draws). KID is shown x 1000, as usually reported."""
    names = gan.get("names", {"fd": "fid", "kd": "kid", "score": "inception_score"})
    set_rows, against_rows = _named(SET_ROWS, names), _named(AGAINST_ROWS, names)
    sets = [k for k in ("raw", "curated") if k in gan["sets"]] + [
        k for k in gan["sets"] if k not in ("raw", "curated")
    ]
    refs = list(gan["references"])
    dino_rows = DINOV2_ROWS if gan.get("dinov2") else []
    cols = {}
    for name in sets:
        s = gan["sets"][name]
        for ref in refs:
            a = s["against"][ref]
            own = [_fmt(k, s[k]) if ref == refs[0] else "" for k, _ in set_rows]
            d = s.get("dinov2", {}).get("against", {}).get(ref, {})
            cols[f"{name} vs {ref}"] = (
                own
                + [_fmt(k, a.get(k, "n/a")) for k, _ in against_rows]
                + [_fmt(k, d.get(k, "n/a")) for k, _ in dino_rows]
            )
    return pd.DataFrame(cols, index=[label for _, label in set_rows + against_rows + dino_rows])


def memorisation_table(gan: dict) -> pd.DataFrame:
    """Closeness to the images the generator learnt from beside closeness to held-out ones, at
    the same size on both sides: a set much closer to train than to val copies its training
    images rather than generalising."""
    rows = []
    kd = gan.get("names", {}).get("kd", "kid")
    for name, s in gan["sets"].items():
        a = s["against"]
        if not {"train", "val"} <= set(a):
            continue
        for key, label in (
            (kd, f"{kd} x 1000"),
            ("lpips_to_nearest_real", "LPIPS to nearest"),
            ("ssim_best_match", "best SSIM"),
        ):
            t, v = a["train"][key]["mean"], a["val"][key]["mean"]
            if t is None or v is None:
                continue
            scale = 1000 if key == kd else 1
            rows.append(
                {
                    "set": name,
                    "figure": label,
                    "images a side": a["train"]["n_per_side"],
                    "vs train": scale * t,
                    "vs val (held out)": scale * v,
                    "train - val": scale * (t - v),
                }
            )
    return pd.DataFrame(rows).set_index(["set", "figure"]) if rows else pd.DataFrame()


def copying_table(gan: dict) -> pd.DataFrame:
    """The data-copying test per set: C_T (about N(0, 1) for no copying; well below 0: copying)."""
    rows = []
    for name, s in gan["sets"].items():
        c = s.get("copying")
        if not c:
            continue
        rows.append(
            {
                "set": name,
                "C_T": c["c_t"],
                "cells used": f"{c['cells_used']} of {c['cells_asked']}",
                "cells counted": sum(x["counted"] for x in c["cells"]),
                "generated": c["n_generated"],
                "held out": c["n_held_out"],
                "train": c["n_train"],
                "note": c.get("why", ""),
            }
        )
    return pd.DataFrame(rows).set_index("set") if rows else pd.DataFrame()


def funnel_table(final: dict) -> pd.DataFrame:
    f = pd.DataFrame(final["curation"]["funnel"])
    if f.empty:
        return f
    f["kept of previous (%)"] = (100 * f["kept"] / f["kept"].shift(1)).round(1)
    f["kept of raw (%)"] = (100 * f["kept"] / f["kept"].iloc[0]).round(1)
    return f.set_index("stage")


def turing_table(turing: dict) -> pd.DataFrame:
    """Per reviewer: can they tell real from synthetic (the visual Turing test)?"""
    t = pd.DataFrame(turing.get("reviewers", []))
    return t.set_index("reviewer") if not t.empty else t


def generator_table(final: dict) -> pd.DataFrame:
    """ "Which generator?": one row per generator, each figure the mean over repeats (final_results'
    generators section; per repeat in final_results.json). KID x 1000 at equal size against the
    held-out val images (and the train ones), the curated set's data-copying z, the visual Turing
    test averaged over reviewers, the training's length, its job's time and peak memory, and the
    snapshot sampled with its KID against val."""
    rows = []
    for g, reps, cur in each_generator(final):
        raw = [r["sets"].get("raw", {}) for r in reps]
        turing = [r["turing"] for r in reps]
        snaps = [r["snapshot"] for r in reps]
        kd, kd_train, label = kid_key(cur[0]), kid_key(cur[0], "train"), kid_label(cur[0])
        rows.append(
            {
                "generator": g["label"],
                "repeats": len(reps),
                "images a side": mean_of([c.get("n_per_side") for c in cur]),
                f"curated: {label} x 1000 vs val": mean_of([c.get(kd) for c in cur]),
                f"curated: {label} x 1000 vs train": mean_of([c.get(kd_train) for c in cur]),
                f"raw: {label} x 1000 vs val": mean_of([c.get(kd) for c in raw]),
                "curated: DINOv2 kernel distance x 1000 vs val": mean_of(
                    [c.get("dinov2_kd_vs_val_x1000") for c in cur]
                ),
                "curated: data-copying z": mean_of([c.get("copying_z") for c in cur]),
                "Turing: accuracy": mean_of([t["accuracy"] for t in turing]),
                "Turing: balanced accuracy": mean_of([t["balanced_accuracy"] for t in turing]),
                "Turing: realism AUC": mean_of([t["realism_auc"] for t in turing]),
                "training length": ", ".join(sorted({f"{s['of']:,} {s['unit']}s" for s in snaps})),
                "training: projected H100 (min)": None
                if not g.get("budget")
                else g["budget"]["projected_h100_seconds"] / 60,
                "training length set by": (g.get("budget") or {}).get("set_by"),
                "training (min)": mean_of([r["training"]["seconds"] / 60 for r in reps]),
                "training peak RSS (MB)": mean_of([r["training"]["max_rss_mb"] for r in reps]),
                # which weights were sampled (by repeat), and how they scored against val
                "snapshot sampled": f"{snaps[0]['select']}: "
                + ", ".join(f"{s['at']:,}" for s in snaps)
                + f" (of {snaps[0]['n_snapshots']})",
                "snapshot: KID x 1000 vs val": mean_of([s["kid_x1000_vs_val"] for s in snaps]),
                "blur threshold": g.get("blur_threshold")
                if g.get("blur_percentile") is None
                else f"percentile {g['blur_percentile']:g} of the real train DF images",
            }
        )
    return pd.DataFrame(rows).set_index("generator") if rows else pd.DataFrame()
