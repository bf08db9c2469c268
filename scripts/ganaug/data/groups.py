"""Lesion groups: images that must stay in one split. Two images are in one group when they share
a lesion id or a patient id, or when a same-lesion pair joins them (``ganaug.data.same_lesion``):
the connected components, by union-find. ``ganaug.data.splits`` deals whole groups; the
statistics' lesion bootstrap resamples them."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd


def lesion_groups(df: pd.DataFrame, pairs: Iterable[tuple[str, str]] = ()) -> pd.Series:
    """Group key per row: the smallest image id of its connected component over lesion ids,
    patient ids and ``pairs`` (same-lesion pairs, ``ganaug.data.same_lesion``; a pair with an id
    outside ``df`` is skipped: the other split's or set's image)."""
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
    for a, b in pairs:
        if a in parent and b in parent:
            union(a, b)
    return pd.Series([find(i) for i in df["image_id"]], index=df.index, name="group")
