"""The same lesion under two lesion ids inside one archive: found before the split, and kept in
one lesion group so it never spans two splits.

Public archives merge sources and re-save images: ISIC 2019 holds HAM10000 and BCN_20000, and
Abhishek, Jain & Hamarneh (Sci Data 12:196, 2025) confirmed 18 HAM10000 pairs that show one
lesion under two ``lesion_id``s. Grouping by lesion and patient ids (``ganaug.data.splits``)
cannot see such a pair, so one copy can train a model that is then tested on the other: the
leakage the grouped split exists to prevent. Two routes find the pairs:

- **the perceptual hash**: the archive screened against itself with the hashes, variants and
  threshold of the near-duplicate screen (``ganaug.data.near_duplicates``), so a re-encoded,
  resized or slightly re-cropped copy is found as it is found in an external set;
- **lists**: the published confirmed pairs shipped in ``published/`` and any list of the user's
  (``data.same_lesion``), each pair joined when both its ids are in the archive.

Every pair is written to ``same_lesion.csv`` with its hash distance and kind, including pairs
that already share a lesion or patient id (``grouped_by_ids``: a repeat photograph, say), so the
table shows what the screen sees; the split joins them all (a union-find over lesion ids, patient
ids and these pairs).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ganaug.data.groups import lesion_groups
from ganaug.data.near_duplicates import MAX_DISTANCE, distances, load_hashes, spread
from ganaug.data.preprocess import IMAGE_SUFFIXES
from ganaug.io import write_csv

PUBLISHED = Path(__file__).parent / "published"
# the published confirmed pairs (data.same_lesion.published): Abhishek, Jain & Hamarneh 2025
PUBLISHED_LISTS = (PUBLISHED / "ham10000_confirmed_duplicates.csv",)
PAIR_COLUMNS = ["image_id_a", "image_id_b", "kind", "distance", "grouped_by_ids"]
HASH_KIND = "perceptual hash"
BLOCK = 512  # query images per block of the self-screen: the block's distances stay a few MB


def _strip_suffix(image_id: str) -> str:
    for suffix in IMAGE_SUFFIXES:
        if image_id.endswith(suffix):
            return image_id[: -len(suffix)]
    return image_id


def read_pair_list(path: str | Path) -> pd.DataFrame:
    """A list of same-lesion pairs: a CSV with ``image_id_a`` and ``image_id_b`` (other columns
    are ignored); an image file suffix on an id (``ISIC_0024437.jpg``) is taken off. A row with
    an empty id, or an image paired with itself, is an error that names the file and row."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the same-lesion list is missing (data.same_lesion.lists)")
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = {"image_id_a", "image_id_b"} - set(df.columns)
    if missing:
        raise ValueError(
            f"{path}: a same-lesion list needs the columns image_id_a and image_id_b; "
            f"missing {sorted(missing)} (found {list(df.columns)})"
        )
    a = df["image_id_a"].str.strip().map(_strip_suffix)
    b = df["image_id_b"].str.strip().map(_strip_suffix)
    for row, (x, y) in enumerate(zip(a, b, strict=True), start=2):  # row 1 is the header
        if not x or not y:
            raise ValueError(f"{path}, row {row}: an empty image id (image_id_a {x!r}, image_id_b {y!r})")
        if x == y:
            raise ValueError(f"{path}, row {row}: image {x!r} is paired with itself")
    return pd.DataFrame({"image_id_a": a, "image_id_b": b})


def self_pairs(
    hashes: Mapping[str, np.ndarray], max_distance: int = MAX_DISTANCE, workers: int = 1
) -> tuple[list[tuple[str, str, int]], np.ndarray]:
    """Every pair of images within ``max_distance`` bits of each other, as (id, id, distance)
    with the smaller id first, and each image's nearest distance to any other (for the log).

    Only the upper triangle is computed (the distance is symmetric): each block of queries
    against itself and the images after it, half the work of the full matrix."""
    ids = sorted(hashes)
    n = len(ids)
    nearest = np.full(n, np.iinfo(np.uint16).max, dtype=np.uint16)
    pairs: list[tuple[str, str, int]] = []
    if n < 2:
        return pairs, nearest
    stack = np.stack([hashes[i] for i in ids])
    for s in range(0, n, BLOCK):
        d = distances(stack[s : s + BLOCK], stack[s:], workers=workers)  # (b, n - s)
        upper = np.triu(np.ones(d.shape, dtype=bool), k=1)  # column j > row i, globally too
        d = np.where(upper, d, np.iinfo(np.uint16).max).astype(np.uint16)
        nearest[s : s + len(d)] = np.minimum(nearest[s : s + len(d)], d.min(axis=1))
        nearest[s:] = np.minimum(nearest[s:], d.min(axis=0))
        for i, j in zip(*np.nonzero(d <= max_distance), strict=True):
            pairs.append((ids[s + i], ids[s + j], int(d[i, j])))
    return pairs, nearest


def _key(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


def pair_table(
    table: pd.DataFrame,
    hashes: Mapping[str, np.ndarray] | None,
    lists: Iterable[tuple[str, pd.DataFrame]],
    max_distance: int = MAX_DISTANCE,
    workers: int = 1,
) -> tuple[pd.DataFrame, dict]:
    """The same-lesion pairs of a preprocessed table (image_id, lesion_id, patient_id): those the
    hash screen finds (``hashes``; None: no screen) and those ``lists`` name, as (name, pairs),
    where both ids are in the table. One row per pair; its kinds joined by '; '. Also the counts
    for the data summary."""
    ids = set(table["image_id"])
    kinds: dict[tuple[str, str], list[str]] = {}
    dist: dict[tuple[str, str], int] = {}
    counts: dict = {"screened": hashes is not None, "max_distance": int(max_distance), "lists": {}}
    if hashes is not None:
        absent = ids - set(hashes)
        if absent:
            raise ValueError(
                f"the perceptual hashes lack {len(absent)} archive image(s), e.g. {sorted(absent)[:3]}"
            )
        found, nearest = self_pairs({i: hashes[i] for i in ids}, max_distance, workers)
        for a, b, d in found:
            kinds[(a, b)] = [HASH_KIND]
            dist[(a, b)] = d
        logging.getLogger(__name__).info(
            "same-lesion screen: %d pair(s) within %d bits among %d images; nearest distance of the "
            "others: min %s, 1st percentile %s, median %s (of 256)",
            len(found),
            max_distance,
            len(ids),
            *spread(nearest[nearest > max_distance]),
        )
    for name, listed in lists:
        inside = listed["image_id_a"].isin(ids) & listed["image_id_b"].isin(ids)
        counts["lists"][name] = {"listed": len(listed), "in_archive": int(inside.sum())}
        for a, b in zip(listed.loc[inside, "image_id_a"], listed.loc[inside, "image_id_b"], strict=True):
            kinds.setdefault(_key(a, b), []).append(f"listed in {name}")
    if hashes is not None:  # a listed pair's own hash distance, so the table shows how alike it is
        for key in kinds.keys() - dist.keys():
            dist[key] = int(distances(hashes[key[0]][None], hashes[key[1]][None])[0, 0])
    groups = dict(zip(table["image_id"], lesion_groups(table.reset_index(drop=True)), strict=True))
    rows = [
        (a, b, "; ".join(kinds[(a, b)]), dist.get((a, b), pd.NA), groups[a] == groups[b])
        for a, b in sorted(kinds)
    ]
    out = pd.DataFrame(rows, columns=PAIR_COLUMNS).astype({"distance": "Int64", "grouped_by_ids": bool})
    return out, counts | pair_counts(out)


def pair_counts(pairs: pd.DataFrame) -> dict[str, int]:
    """What the data summary and the report count, from a same_lesion.csv table: the pairs, those
    the hash found, those a list named, and those that join two groups the ids kept apart."""
    kind = pairs["kind"].astype(str)
    grouped = pairs["grouped_by_ids"].astype(str).str.lower() == "true"
    return {
        "pairs": len(pairs),
        "by_hash": int(kind.str.contains(HASH_KIND, regex=False).sum()),
        "by_list": int(kind.str.contains("listed in", regex=False).sum()),
        "new_joins": int((~grouped).sum()),
    }


def read_pairs(path: str | Path) -> pd.DataFrame:
    """A same_lesion.csv, ids as strings (the split and the statistics join its pairs)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def as_pairs(table: pd.DataFrame) -> list[tuple[str, str]]:
    return list(zip(table["image_id_a"], table["image_id_b"], strict=True))


def same_lesion_rule(
    table: str | Path,
    hashes: str | Path | None,
    out: str | Path,
    published: bool,
    lists: list[str],
    workers: int = 1,
) -> dict:
    """The rule same_lesion: same_lesion.csv of the archive, before any split."""
    df = pd.read_csv(table, dtype=str, keep_default_na=False)
    named = [(f"published/{p.name}", read_pair_list(p)) for p in PUBLISHED_LISTS] if published else []
    named += [(str(p), read_pair_list(p)) for p in lists]
    pairs, counts = pair_table(df, load_hashes(hashes) if hashes else None, named, workers=workers)
    write_csv(pairs, out)
    logging.getLogger(__name__).info(
        "same-lesion pairs: %d (%d by hash, %d listed), %d joining two lesion groups; lists: %s",
        counts["pairs"],
        counts["by_hash"],
        counts["by_list"],
        counts["new_joins"],
        counts["lists"],
    )
    return counts
