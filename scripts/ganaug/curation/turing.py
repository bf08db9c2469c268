"""The review as a visual Turing test: real training images mixed in, blinded, then unblinded.

GAN papers in medical imaging report whether experts can tell the synthetic images from real
ones, and how far the experts agree. The review page therefore shows the LPIPS survivors mixed
with a seeded sample of real train-split DF images, every image under a neutral name
(``img_<hash>.png``, :func:`blinded_name`) in a seeded order, so neither the file name nor the
position gives it away.
The key (blinded name -> real or synthetic, original name) stays in the results folder; the
page never holds it. Ingestion unblinds the scores and reports

- per reviewer, how well the realism score tells real from synthetic: the accuracy and balanced
  accuracy of calling an image real when its realism score is at least ``REAL_AT`` (4), and the
  AUC of the realism score (0.5: the reviewer cannot tell them apart);
- per criterion, how far the reviewers agree on the synthetic images: Krippendorff's alpha at
  the interval level (1: perfect agreement, 0: no better than chance).

Real images are never curation candidates: only the synthetic images' scores go on.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pandas as pd

REAL_AT = 4  # a realism score of 4 or 5 calls the image real
KEY_COLUMNS = ["blinded", "source", "generator", "original"]  # generator: "" for real images


# the shown name of an image on a review page (blinded_name), and only that
PAGE_NAME = re.compile(r"img_[0-9a-f]{12}\.png")


def blinded_name(seed: int, source: str, original: str) -> str:
    """The neutral name an image is shown under: ``img_<12 hex digits>.png`` from a hash of the
    seed, its source (``real`` or its generator) and its own name. The name says nothing of the
    source, and it depends on nothing else: one generator's new candidates leave every other
    image's name (and the reviewers' scores of it) as it was, so each generator's part of the
    page is keyed, and its review ingested, on its own. The page shows the images in the order of
    these names, a seeded shuffle in which no source keeps a place."""
    digest = hashlib.sha256(f"{seed}\0{source}\0{original}".encode()).hexdigest()
    return f"img_{digest[:12]}.png"


def _real_sample(rng: np.random.Generator, real_ids: list[str], n_real: int) -> list[str]:
    n_real = min(n_real, len(real_ids))
    return sorted(np.asarray(real_ids)[rng.choice(len(real_ids), n_real, replace=False)]) if n_real else []


def page_real(real_ids: list[str], n_real: int, seed: int) -> list[str]:
    """The real images a review page shows: the seeded sample of ``real_ids`` that :func:`blind`
    draws, sorted."""
    return [str(r) for r in _real_sample(np.random.default_rng([seed, 7]), real_ids, n_real)]


def blind(candidates: list[str], real_ids: list[str], n_real: int, seed: int) -> pd.DataFrame:
    """The candidates and ``n_real`` real images (a seeded sample of ``real_ids``) in a seeded
    shuffle under the names img_0001.png ...: the order in which a simulated review of one
    generator alone meets the real images (ganaug.curation.review_stage)."""
    rng = np.random.default_rng([seed, 7])
    real = _real_sample(rng, real_ids, n_real)
    rows = [("synthetic", c) for c in candidates] + [("real", r) for r in real]
    order = rng.permutation(len(rows))
    width = max(4, len(str(len(rows))))
    return pd.DataFrame(
        [(f"img_{k + 1:0{width}d}.png", *rows[j]) for k, j in enumerate(order)],
        columns=["blinded", "source", "original"],
    )


def unblind(scores: pd.DataFrame, key: pd.DataFrame) -> pd.DataFrame:
    """Scores under their original names, with their source (real or synthetic)."""
    k = key.set_index("blinded")
    out = scores.copy()
    out["source"] = out["image"].map(k["source"])
    if "generator" in k.columns:
        out["generator"] = out["image"].map(k["generator"].fillna(""))
    out["image"] = out["image"].map(k["original"])
    if out["source"].isna().any():
        raise ValueError("scores of images that are not on the review page")
    return out


def reviewer_discrimination(scores: pd.DataFrame) -> pd.DataFrame:
    """Per reviewer: how well the realism score tells the real images from the synthetic ones."""
    # here, not at the top: every curation rule imports this module, and scikit-learn costs each
    # of those processes about a second of start-up that only this function needs
    from sklearn.metrics import roc_auc_score

    rows = []
    for reviewer, s in scores.groupby("reviewer", sort=True):
        is_real = (s["source"] == "real").to_numpy()
        says_real = (s["realism"] >= REAL_AT).to_numpy()
        row = {"reviewer": reviewer, "n_real": int(is_real.sum()), "n_synthetic": int((~is_real).sum())}
        row["accuracy"] = float((is_real == says_real).mean())
        both = is_real.any() and (~is_real).any()
        sens = says_real[is_real].mean() if is_real.any() else np.nan
        spec = (~says_real[~is_real]).mean() if (~is_real).any() else np.nan
        row["balanced_accuracy"] = float((sens + spec) / 2) if both else None
        row["realism_auc"] = float(roc_auc_score(is_real, s["realism"])) if both else None
        rows.append(row)
    return pd.DataFrame(rows)


def krippendorff_alpha_interval(ratings: np.ndarray) -> float | None:
    """Krippendorff's alpha, interval metric, for a (raters x units) array with NaN where a rater
    did not rate a unit. Units with fewer than two ratings carry no information and are left out.

    alpha = 1 - D_o / D_e: D_o the mean squared difference between two ratings of the same unit,
    D_e the same between any two ratings (Krippendorff 2011, "Computing Krippendorff's alpha")."""
    values = []
    for unit in np.asarray(ratings, dtype=float).T:
        v = unit[~np.isnan(unit)]
        if len(v) >= 2:
            values.append(v)
    n = sum(len(v) for v in values)
    if n < 2:
        return None
    # observed: within-unit pairs, each unit weighted by 1 / (m_u - 1)
    d_o = sum(((v[:, None] - v[None, :]) ** 2).sum() / (len(v) - 1) for v in values) / n
    pooled = np.concatenate(values)
    d_e = ((pooled[:, None] - pooled[None, :]) ** 2).sum() / (n * (n - 1))
    return None if d_e == 0 else float(1 - d_o / d_e)


def agreement(scores: pd.DataFrame, criteria: list[str]) -> dict[str, float | None]:
    """Krippendorff's alpha per criterion over the synthetic images (the ones curation keeps or
    drops)."""
    syn = scores[scores["source"] == "synthetic"]
    out = {}
    for c in criteria:
        table = syn.pivot_table(index="reviewer", columns="image", values=c, aggfunc="first")
        out[c] = krippendorff_alpha_interval(table.to_numpy(dtype=float))
    return out


def turing_summary(scores: pd.DataFrame, criteria: list[str], mode: str) -> dict:
    """What review_turing.json holds: per-reviewer discrimination, per-criterion agreement."""
    disc = reviewer_discrimination(scores)
    return {
        "review_mode": mode,
        "simulated": mode == "simulate",
        "real_at": REAL_AT,
        "n_real_images": int(scores.loc[scores["source"] == "real", "image"].nunique()),
        "n_synthetic_images": int(scores.loc[scores["source"] == "synthetic", "image"].nunique()),
        "reviewers": disc.to_dict("records"),
        "krippendorff_alpha_interval": agreement(scores, criteria),
        "how": f"a reviewer calls an image real when its realism score is >= {REAL_AT}; the AUC "
        "is that of the realism score for real against synthetic (0.5: cannot tell them apart); "
        "alpha is Krippendorff's, interval level, over the synthetic images",
    }
