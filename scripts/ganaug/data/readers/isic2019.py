"""ISIC 2019: the one-hot ground truth and the lesion-id metadata (the study's archive)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ganaug.data.inclusion import Inclusion
from ganaug.data.labels import normalise_label
from ganaug.data.readers.common import (
    DataFormatError,
    finish,
    read_csv,
    require,
)

ISIC2019_CLASSES = ["MEL", "NV", "BCC", "AK", "BKL", "DF", "VASC", "SCC", "UNK"]


def read_isic2019(
    ground_truth: str | Path, metadata: str | Path | None = None, inclusion: Inclusion | None = None
) -> pd.DataFrame:
    """ISIC 2019: one-hot ``image,MEL,...,UNK`` plus ``image,...,lesion_id,...`` metadata."""
    gt = read_csv(ground_truth)
    require(gt, ground_truth, ["image", *ISIC2019_CLASSES])
    try:
        onehot = gt[ISIC2019_CLASSES].astype(float)
    except ValueError as err:
        raise DataFormatError(f"{ground_truth}: class columns must be 0/1 numbers ({err})") from None
    hot = (onehot == 1.0).sum(axis=1)
    bad = gt.loc[(hot != 1) | ~onehot.isin([0.0, 1.0]).all(axis=1), "row"]
    if len(bad):
        raise DataFormatError(
            f"{ground_truth}, row {int(bad.iloc[0])}: expected exactly one class column set to "
            f"1.0 ({len(bad)} such rows)"
        )
    gt["label"] = [normalise_label(ISIC2019_CLASSES[i]) for i in onehot.to_numpy().argmax(axis=1)]
    gt["image_id"] = gt["image"]
    gt["lesion_id"] = ""
    gt["patient_id"] = ""
    if metadata is not None:
        ids, problems, notes = _isic2019_metadata(metadata)
        gt["lesion_id"] = [ids.get(i, ("", ""))[0] for i in gt["image_id"]]
        gt["patient_id"] = [ids.get(i, ("", ""))[1] for i in gt["image_id"]]
        gt["problem"] = [problems.get(i, "") for i in gt["image_id"]]
        gt["note"] = [notes.get(i, "") for i in gt["image_id"]]
    return finish(gt, ground_truth, inclusion)


def _isic2019_metadata(
    metadata: str | Path,
) -> tuple[dict[str, tuple[str, str]], dict[str, str], dict[str, str]]:
    """Lesion and patient id per image, from ISIC 2019's metadata CSV.

    Returns (ids, problems, notes): a row repeated exactly is used once and noted; an image
    listed with two different lesion or patient ids gets a problem (its rows are rejected).
    """
    meta = read_csv(metadata)
    require(meta, metadata, ["image", "lesion_id"])
    if "patient_id" not in meta.columns:
        meta["patient_id"] = ""
    meta["image"] = meta["image"].str.strip()
    ids: dict[str, tuple[str, str]] = {}
    problems: dict[str, str] = {}
    notes: dict[str, str] = {}
    content = [c for c in meta.columns if c != "row"]
    for image, group in meta.groupby("image", sort=False):
        first = group.iloc[0]
        ids[image] = (first["lesion_id"].strip(), first["patient_id"].strip())
        if len(group) == 1:
            continue
        rows = ", ".join(str(r) for r in group["row"])
        if (group[content] == first[content]).all(axis=None):
            notes[image] = f"{metadata}: rows {rows} list this image identically: kept once"
        elif group["lesion_id"].str.strip().nunique() > 1 or group["patient_id"].str.strip().nunique() > 1:
            problems[image] = f"{metadata}: rows {rows} give this image different lesion or patient ids"
        else:
            notes[image] = f"{metadata}: rows {rows} list this image with the same ids: first row used"
    return ids, problems, notes
