"""Leakage-safe repeated splits: grouped by lesion and patient, random within strata, with test
sets that no two repeats share.

Two images are in one group when they share a lesion id or a patient id (connected components,
so a patient's two lesions and each lesion's repeat photographs all stay together). Groups are
assigned whole, so no lesion spans two splits.

**Disjoint test folds.** Within each class, the groups are put in a seeded random order within
strata of their size (images per group, ascending), and a systematic sample of them (a random
start, then every 1/f-th place) is dealt, in turn, to ``M = floor(1 / test)`` test folds of share
``test`` each. Repeat ``r`` tests on fold ``r``: so each lesion is in at most one repeat's test
set. The folds depend only on the seed and the test share, not on the number of repeats, so
adding a repeat changes none of the existing splits.

**Rounds.** More repeats than folds come in whole rounds of ``M`` (Bouckaert & Frank's r x k
design: 12 or 18 at 15 %; the config check says so): repeat ``r`` tests on fold ``r mod M`` of
round ``r // M``, whose folds are dealt afresh from the seed and the round. Within a round the
test sets are disjoint; across rounds a lesion is tested once per round, and the statistics'
corrected t (over all ``r x k`` repeats) is the one Bouckaert and Frank give for it. Round 0 is
the folds above, unchanged. A systematic sample over a size-ordered list puts
into every fold the share ``test`` of the groups of every size, to within one group: big lesions
reach test as often as small ones (the old largest-first dealing sent every lesion of 3 or more
images to train, in every repeat).

**Validation and training.** Of the groups outside repeat ``r``'s test fold, a second systematic
sample in the same size strata, in an order seeded by (seed, r), is the validation split (share
``val`` of the whole class); the rest is training. Training sets of different repeats overlap
(about 0.7 x 0.7 of the archive plus what the folds leave), which is why the statistics correct
for it (``ganaug.evaluation.inference``).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from ganaug.data.groups import lesion_groups
from ganaug.data.inclusion import summarise_exclusions
from ganaug.data.screening import lost_fraction
from ganaug.io import write_csv, write_json

SPLITS = ("train", "val", "test")


def n_test_folds(test: float) -> int:
    """How many disjoint test folds of share ``test`` one archive holds: floor(1 / test)."""
    return int(np.floor(1.0 / test + 1e-9))


def systematic(n: int, share: float, rng: np.random.Generator) -> np.ndarray:
    """A systematic sample of ``share`` of ``n`` ordered places: a random start, then every
    1/share-th place. Any run of L consecutive places holds floor(L share) or ceil(L share)."""
    cuts = np.floor(rng.random() + share * np.arange(n + 1))
    return np.diff(cuts) > 0


def _by_size(keys: list[str], size: dict[str, int], rng: np.random.Generator) -> list[str]:
    """``keys`` in a seeded random order within strata of group size (ascending)."""
    shuffled = [keys[i] for i in rng.permutation(len(keys))]
    return sorted(shuffled, key=lambda g: size[g])  # stable: the random order within a size stays


def fold_of_groups(
    keys: list[str], size: dict[str, int], test: float, seed: int, stream: int = 0, round_: int = 0
) -> dict[str, int]:
    """Each group's test fold (0 .. M-1), or -1 for a group that is in no test fold. The draw
    depends on the seed, ``stream`` (one per class) and the round, never on the repeat."""
    m = n_test_folds(test)
    rng = np.random.default_rng([seed, 0, stream] + ([round_] if round_ else []))
    order = _by_size(keys, size, rng)
    tested = systematic(len(order), m * test, rng)
    start = int(rng.integers(m))
    fold = dict.fromkeys(keys, -1)
    for j, g in enumerate(g for g, t in zip(order, tested, strict=True) if t):
        fold[g] = (start + j) % m  # in turn: every fold gets its share of every size
    return fold


def _class_of_groups(df: pd.DataFrame, groups: pd.Series, minority: str) -> tuple[dict, dict]:
    """Each group's size, and its class for stratification: a group that holds any minority
    image is stratified with the minority class, the class whose split sizes matter most (a
    patient with a DF and a nevus, say); any other group takes its first row's label."""
    table = pd.DataFrame(
        {
            "group": groups.to_numpy(),
            "label": df["label"].to_numpy(),
            "is_min": (df["label"] == minority).to_numpy(),
        }
    )
    by = table.groupby("group", sort=False)
    size = by.size().to_dict()
    cls = by["label"].first().where(~by["is_min"].any(), minority)
    return size, cls.to_dict()


def assign_splits(
    df: pd.DataFrame,
    fractions: dict[str, float],
    seed: int,
    minority: str,
    repeat: int = 0,
    pairs: Iterable[tuple[str, str]] = (),
) -> pd.Series:
    """Split name per row of ``df`` (needs image_id, label, lesion_id, patient_id) in repeat
    ``repeat``: test is fold ``repeat mod M`` of round ``repeat // M``'s disjoint folds, val a
    size-stratified sample of the rest, train what remains. ``pairs``: same-lesion pairs joined
    to the lesion groups."""
    folds = n_test_folds(fractions["test"])
    if repeat < 0:
        raise ValueError(f"repeat {repeat}: repeats count from 0")
    round_, test_fold = divmod(repeat, folds)
    groups = lesion_groups(df, pairs)
    size, group_class = _class_of_groups(df, groups, minority)
    assignment: dict[str, str] = {}
    rng = np.random.default_rng([seed, 1, repeat])  # this repeat's validation draw
    for cls in sorted(set(group_class.values())):
        keys = sorted(g for g, c in group_class.items() if c == cls)
        fold = fold_of_groups(keys, size, fractions["test"], seed, zlib.crc32(cls.encode()), round_)
        rest = [g for g in keys if fold[g] != test_fold]
        assignment |= {g: "test" for g in keys if fold[g] == test_fold}
        order = _by_size(rest, size, rng)
        is_val = systematic(len(order), fractions["val"] / (1.0 - fractions["test"]), rng)
        assignment |= {g: "val" if v else "train" for g, v in zip(order, is_val, strict=True)}
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
    processed: pd.DataFrame,
    fractions: dict[str, float],
    seed: int,
    minority: str,
    source: str,
    repeat: int = 0,
    pairs: Iterable[tuple[str, str]] = (),
) -> pd.DataFrame:
    """The workflow's central table, sorted by image id so reruns are byte-identical."""
    df = processed.sort_values("image_id").reset_index(drop=True)
    df["split"] = assign_splits(df, fractions, seed, minority, repeat, pairs)
    df["target"] = (df["label"] == minority).astype(int)
    df["source"] = source
    df["synthetic"] = False
    return df[METADATA_COLUMNS]


def images_per_lesion(
    part: pd.DataFrame, labels: tuple[str, ...], pairs: Iterable[tuple[str, str]] = ()
) -> dict[str, dict[str, int]]:
    """Per class: how many lesion groups have 1, 2, 3, ... images (the sizes as strings), each
    group under the class the splitter stratified it with (minority where it holds any)."""
    if part.empty:
        return {c: {} for c in labels}
    part = part.reset_index(drop=True)
    size, group_class = _class_of_groups(part, lesion_groups(part, pairs), labels[0])
    out = {}
    for c in labels:
        counts = pd.Series([size[g] for g, k in group_class.items() if k == c], dtype=int).value_counts()
        out[c] = {str(int(k)): int(v) for k, v in counts.sort_index().items()}
    return out


def summarise(
    meta: pd.DataFrame,
    minority: str,
    majority: str,
    n_rejected: int,
    pairs: Iterable[tuple[str, str]] = (),
) -> dict:
    """Counts per split and class, the imbalance ratio (majority per minority image) and each
    split's distribution of images per lesion group (same-lesion ``pairs`` joined)."""
    pairs = list(pairs)
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
            "lesion_groups": (
                int(lesion_groups(part.reset_index(drop=True), pairs).nunique()) if len(part) else 0
            ),
            "images_per_lesion": images_per_lesion(part, (minority, majority), pairs),
        }
    out["rejected_images"] = int(n_rejected)
    out["crop_methods"] = {k: int(v) for k, v in sorted(meta["crop_method"].value_counts().items())}
    return out


def split_rule(
    table: str | Path,
    rejects: str | Path,
    same_lesion: str | Path,
    metadata_out: str | Path,
    summary_out: str | Path,
    split: dict,
    minority: str,
    majority: str,
    format: str,
    phantom: dict | None,
) -> dict:
    """The rule split: metadata.csv and summary.json from the preprocessed table, the same-lesion
    pairs joined to the lesion groups."""
    import logging

    from ganaug.data.same_lesion import as_pairs, pair_counts, read_pairs

    processed = pd.read_csv(table, dtype=str, keep_default_na=False)

    rejected = pd.read_csv(rejects, dtype=str, keep_default_na=False)
    # images lost (not rows: a repeated row kept once, or a left-out clinical photo, costs nothing)
    n_rejected = lost_fraction(processed["image_id"], rejected)[0]
    fractions = {k: split[k] for k in SPLITS}
    source = "phantom" if phantom is not None else format
    repeat = int(split.get("repeat", 0))
    found = read_pairs(same_lesion)
    pairs = as_pairs(found)
    meta = build_metadata(processed, fractions, split["seed"], minority, source, repeat, pairs)
    summary = summarise(meta, minority, majority, n_rejected, pairs)
    # the archive screened against itself and the lists (results/data/same_lesion.csv)
    summary["same_lesion"] = pair_counts(found)
    side = dict(zip(meta["image_id"], meta["split"], strict=True))
    across = [(a, b) for a, b in pairs if a in side and b in side and side[a] != side[b]]
    if across:  # cannot happen (the groups are assigned whole): a guard against a future change
        raise RuntimeError(f"same-lesion pairs across splits: {across[:5]}")
    # left out by the inclusion rule (image type, manipulation): never part of the study
    summary["excluded_images"] = summarise_exclusions(rejected)
    # which of the repeated splits this is: its test fold, of how many, and the seed of the folds
    summary["repeat"], summary["split_seed"] = repeat, int(split["seed"])
    round_, fold = divmod(repeat, n_test_folds(fractions["test"]))
    # disjoint: from every other repeat's test set of its round
    summary["test_fold"] = {
        "fold": fold,
        "of": n_test_folds(fractions["test"]),
        "round": round_,
        "disjoint": True,
    }
    write_csv(meta, metadata_out)
    write_json(summary, summary_out)
    logging.getLogger(__name__).info("splits: %s", summary["splits"])
    return summary
