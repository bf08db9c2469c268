"""Leakage-safe splits: stratified by class, grouped by lesion and patient.

Two images are in one group when they share a lesion id or a patient id (connected components,
so a patient's two lesions and each lesion's repeat photographs all stay together). Groups are
assigned whole, so no lesion spans two splits. Stratification: the groups of each class are
visited in a seeded random order, largest first, and each goes to the split furthest below its
target count for that class. With groups of size at most g, every split of every class ends
within g images of its exact share (tested).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd

SPLITS = ("train", "val", "test")


def lesion_groups(df: pd.DataFrame) -> pd.Series:
    """Group key per row: the smallest image id of its lesion/patient connected component."""
    parent = {iid: iid for iid in df["image_id"]}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            lo, hi = sorted((ra, rb))
            parent[hi] = lo

    for col in ("lesion_id", "patient_id"):
        first: dict[str, str] = {}
        for iid, key in zip(df["image_id"], df[col], strict=True):
            if pd.isna(key) or key == "":  # unknown (empty, or NaN from read_csv): its own lesion
                continue
            if key in first:
                union(first[key], iid)
            else:
                first[key] = iid
    return pd.Series([find(i) for i in df["image_id"]], index=df.index, name="group")


def assign_splits(df: pd.DataFrame, fractions: dict[str, float], seed: int, minority: str) -> pd.Series:
    """Split name per row of ``df`` (needs image_id, label, lesion_id, patient_id)."""
    groups = lesion_groups(df)
    # a group that holds any minority image is stratified with the minority class, which is
    # the class whose split sizes matter most (a patient with a DF and a nevus, say)
    members: dict[str, list[int]] = defaultdict(list)
    for idx, g in groups.items():
        members[g].append(idx)
    group_class = {
        g: minority if (df.loc[idx, "label"] == minority).any() else df.loc[idx[0], "label"]
        for g, idx in members.items()
    }
    rng = np.random.default_rng(seed)
    assignment: dict[str, str] = {}
    for cls in sorted(set(group_class.values())):
        keys = sorted(g for g, c in group_class.items() if c == cls)
        order = rng.permutation(len(keys))
        # largest groups first (stable, so the seeded order breaks ties): big pieces early,
        # small ones fill the gaps, which keeps every split within one group of its target
        ordered = sorted((keys[i] for i in order), key=lambda g: -len(members[g]))
        n_total = sum(len(members[g]) for g in keys)
        counts = dict.fromkeys(SPLITS, 0)
        for g in ordered:
            deficits = [fractions[s] * n_total - counts[s] for s in SPLITS]
            best = SPLITS[int(np.argmax(deficits))]  # ties go to the earlier split
            assignment[g] = best
            counts[best] += len(members[g])
    return pd.Series([assignment[g] for g in groups], index=df.index, name="split")


METADATA_COLUMNS = [
    "image_id",
    "path",
    "label",
    "target",
    "split",
    "lesion_id",
    "patient_id",
    "source",
    "crop_method",
    "synthetic",
]


def build_metadata(
    processed: pd.DataFrame, fractions: dict[str, float], seed: int, minority: str, source: str
) -> pd.DataFrame:
    """The workflow's central table, sorted by image id so reruns are byte-identical."""
    df = processed.sort_values("image_id").reset_index(drop=True)
    df["split"] = assign_splits(df, fractions, seed, minority)
    df["target"] = (df["label"] == minority).astype(int)
    df["source"] = source
    df["synthetic"] = False
    return df[METADATA_COLUMNS]


def summarise(meta: pd.DataFrame, minority: str, majority: str, n_rejected: int) -> dict:
    """Counts per split and class, and the imbalance ratio (majority per minority image)."""
    out: dict = {"classes": {"minority": minority, "majority": majority}, "splits": {}}
    for split in (*SPLITS, "all"):
        part = meta if split == "all" else meta[meta["split"] == split]
        n_min = int((part["label"] == minority).sum())
        n_maj = int((part["label"] == majority).sum())
        out["splits"][split] = {
            minority: n_min,
            majority: n_maj,
            "total": n_min + n_maj,
            "imbalance_ratio": round(n_maj / n_min, 4) if n_min else None,
            "lesion_groups": int(lesion_groups(part.reset_index(drop=True)).nunique()) if len(part) else 0,
        }
    out["rejected_images"] = int(n_rejected)
    out["crop_methods"] = {k: int(v) for k, v in sorted(meta["crop_method"].value_counts().items())}
    return out


def split_files(
    table: str | Path,
    rejects: str | Path,
    metadata_out: str | Path,
    summary_out: str | Path,
    split: dict,
    minority: str,
    majority: str,
    format: str,
    phantom: dict | None,
) -> dict:
    """The rule split: metadata.csv and summary.json from the preprocessed table."""
    import logging

    from ganaug.io import write_csv, write_json

    processed = pd.read_csv(table, dtype=str, keep_default_na=False)
    n_rejected = len(pd.read_csv(rejects, dtype=str, keep_default_na=False))
    fractions = {k: split[k] for k in SPLITS}
    source = "phantom" if phantom is not None else format
    meta = build_metadata(processed, fractions, split["seed"], minority, source)
    summary = summarise(meta, minority, majority, n_rejected)
    # which of the repeated splits this is, and the seed that dealt it
    summary["repeat"], summary["split_seed"] = int(split.get("repeat", 0)), int(split["seed"])
    write_csv(meta, metadata_out)
    write_json(summary, summary_out)
    logging.getLogger(__name__).info("splits: %s", summary["splits"])
    return summary
