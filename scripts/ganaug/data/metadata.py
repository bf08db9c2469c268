"""Reading a repeat's data/metadata.csv, and the one selection every GAN-side stage may make.

GAN training and curation may read only the real minority images of the training split. This
is the single place that selects them, *before* any image is opened, so validation and test
images are never read (tested with rows that point at files that do not exist).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

REQUIRED = ("image_id", "path", "split", "target", "synthetic")


def read_metadata(path: str | Path) -> pd.DataFrame:
    meta = pd.read_csv(
        path, dtype={"image_id": str, "lesion_id": str, "patient_id": str}, keep_default_na=False
    )
    missing = [c for c in REQUIRED if c not in meta.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(missing)}")
    meta["synthetic"] = meta["synthetic"].astype(str).str.lower().isin(["true", "1"])
    meta["target"] = meta["target"].astype(int)
    return meta


def split_minority(path: str | Path, split: str) -> pd.DataFrame:
    """Rows of the real minority images of one split, sorted by image id. The GAN and curation
    ask only for "train"; the GAN metrics' held-out reference for "val"; nothing for "test"."""
    if split == "test":
        raise ValueError("the test split is read only by the classifiers' final prediction")
    meta = read_metadata(path)
    sel = meta[(meta["split"] == split) & (meta["target"] == 1) & ~meta["synthetic"]]
    if sel.empty:
        raise ValueError(f"{path}: no real minority images in the {split} split")
    return sel.sort_values("image_id").reset_index(drop=True)


def split_majority(path: str | Path, split: str) -> pd.DataFrame:
    """Rows of the real majority images of one split, sorted by image id: only a class-conditional
    generator asks, and only for "train"."""
    if split != "train":
        raise ValueError("only the train split's majority images are read by a generator")
    meta = read_metadata(path)
    sel = meta[(meta["split"] == split) & (meta["target"] == 0) & ~meta["synthetic"]]
    if sel.empty:
        raise ValueError(f"{path}: no real majority images in the {split} split")
    return sel.sort_values("image_id").reset_index(drop=True)


def train_minority(path: str | Path) -> pd.DataFrame:
    """Rows of the real minority images in the training split, sorted by image id."""
    return split_minority(path, "train")
