"""The ISIC Archive's metadata export (isic-cli): its diagnosis hierarchy, nevus subtypes and the
inclusion rule on image type and manipulation."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from ganaug.data.inclusion import Inclusion
from ganaug.data.labels import ARCHIVE_NEVUS, ARCHIVE_NEVUS_SUBTYPES, normalise_label
from ganaug.data.readers.common import (
    DataFormatError,
    finish,
    read_csv,
)


def _column(gt: pd.DataFrame, name: str) -> pd.Series:
    """An export's column, stripped, or blanks where the export left it out (no image has it)."""
    return gt[name].str.strip() if name in gt.columns else pd.Series("", index=gt.index)


def _archive_nevus(gt: pd.DataFrame, subtypes: tuple[str, ...] | None) -> pd.Series:
    """True for the rows that count as nevus: every nevus (``subtypes`` None), or those whose
    level 4 or 5 is one of ``subtypes`` ("Nevus": a nevus with no subtype given)."""
    nevus = _column(gt, "diagnosis_3").str.lower() == ARCHIVE_NEVUS.lower()
    if subtypes is None:
        return nevus
    wanted = {t.lower() for t in subtypes}
    levels = [_column(gt, "diagnosis_4"), _column(gt, "diagnosis_5")]
    named = levels[0].str.lower().isin(wanted) | levels[1].str.lower().isin(wanted)
    unnamed = (levels[0] == "") & (levels[1] == "") & (ARCHIVE_NEVUS.lower() in wanted)
    return nevus & (named | unnamed)


def _subtype_label(subtype: str) -> str:
    """A left-out nevus subtype's own label: ``Nevus, Spitz`` -> ``nevus_spitz``, ``Blue nevus,
    Common`` -> ``blue_nevus_common``, none given -> ``nevus_unspecified``."""
    slug = re.sub(r"[^a-z0-9]+", "_", subtype.lower()).strip("_")
    return slug if slug not in ("", "nevus") and "nevus" in slug else f"nevus_{slug or 'unspecified'}"


def read_isic_archive(
    ground_truth: str | Path,
    metadata: str | Path | None = None,
    inclusion: Inclusion | None = None,
    nevus_subtypes: tuple[str, ...] | None = None,
) -> pd.DataFrame:
    """ISIC Archive export, as isic-cli 12.x writes it: ``isic_id``, ``attribution``,
    ``copyright_license``, then the fields any image has (sorted; a field no image has is left
    out): ``diagnosis_1..5``, ``image_type``, ``image_manipulation``, ``lesion_id``,
    ``patient_id`` ... A legacy ``diagnosis`` column is read too.

    The label is the most specific diagnosis of level 3 (``Dermatofibroma``, ``Nevus``: their
    subtypes at levels 4 and 5 are the same lesion kind), else the legacy ``diagnosis``; a row
    with neither is labelled ``unknown`` (and counted in the ingest log), since level 1 alone
    says only benign or malignant. Look-alikes keep their own names (``Epidermal nevus``,
    ``Dermatofibrosarcoma protuberans``), so they are never selected. ``nevus_subtypes``
    narrows the nevi (:data:`ARCHIVE_NEVUS_SUBTYPES`); the others keep their subtype's name.
    The image type and manipulation go through the inclusion rule (:mod:`ganaug.data.inclusion`).
    """
    gt = read_csv(ground_truth)
    found = ", ".join(c for c in gt.columns if c != "row") or "none"
    if "isic_id" not in gt.columns:
        raise DataFormatError(
            f"{ground_truth}: missing column isic_id; an ISIC Archive export (isic-cli's metadata.csv) "
            f"has isic_id, attribution, copyright_license, diagnosis_1 ... diagnosis_5, image_type, "
            f"lesion_id ...; found: {found}"
        )
    if "diagnosis_3" not in gt.columns and "diagnosis" not in gt.columns:
        raise DataFormatError(
            f"{ground_truth}: no diagnosis column; expected 'diagnosis_3' (the Archive's level-3 "
            f"diagnosis, as isic-cli 12.x writes it) or a legacy 'diagnosis'; found: {found}. "
            "isic-cli leaves out a column that no image has: an export without diagnosis_3 holds "
            "no image diagnosed at level 3"
        )
    if nevus_subtypes is not None:
        unknown = sorted({t.lower() for t in nevus_subtypes} - {t.lower() for t in ARCHIVE_NEVUS_SUBTYPES})
        if unknown:
            raise ValueError(
                f"nevus subtypes {', '.join(map(repr, unknown))} are not ISIC Archive nevus "
                f"diagnoses (levels 4-5); choose from {', '.join(map(repr, ARCHIVE_NEVUS_SUBTYPES))}"
            )
    specific = gt["diagnosis_3"] if "diagnosis_3" in gt.columns else pd.Series("", index=gt.index)
    legacy = gt["diagnosis"] if "diagnosis" in gt.columns else pd.Series("", index=gt.index)
    raw = specific.where(specific.str.strip() != "", legacy)
    labels = [normalise_label(v) if v.strip() else "unknown" for v in raw]
    nevus = _archive_nevus(gt, None)
    kept = _archive_nevus(gt, nevus_subtypes)
    level5, level4 = _column(gt, "diagnosis_5"), _column(gt, "diagnosis_4")
    subtype = level5.where(level5 != "", level4)
    # a nevus the narrowing leaves out keeps its subtype's name (never "nevus", never selected)
    gt["label"] = [
        _subtype_label(st) if n and not k else lab
        for lab, n, k, st in zip(labels, nevus, kept, subtype, strict=True)
    ]
    gt["image_id"] = gt["isic_id"]
    for col in ("lesion_id", "patient_id"):
        if col not in gt.columns:
            gt[col] = ""
    return finish(gt, ground_truth, inclusion, always=True)
