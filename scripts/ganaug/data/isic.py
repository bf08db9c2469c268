"""Readers for the ISIC label files, each returning one normalised table.

Every reader returns a DataFrame with :data:`LABEL_COLUMNS`: ``image_id``, the normalised
``label``, ``lesion_id`` and ``patient_id`` (empty string when unknown), ``row``, the 1-based
line of the source file (the header is line 1), so later errors can point at it, and
``problem`` / ``note`` (empty unless the reader found a reason to reject the row, or a remark
that belongs in the rejects list), and ``file``, the image's path under the images folder where
the archive does not name its files ``<image_id>.<ext>`` (Derm7pt), else empty. Duplicate rows
are kept here and settled by :func:`ganaug.data.screening.screen_rows`.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pandas as pd

from ganaug.data.inclusion import Inclusion, exclusions
from ganaug.data.labels import (
    ARCHIVE_NEVUS,
    ARCHIVE_NEVUS_SUBTYPES,
    DERM7PT_NEVUS_SUBTYPES,
    normalise_label,
)

log = logging.getLogger(__name__)

LABEL_COLUMNS = [
    "image_id",
    "label",
    "lesion_id",
    "patient_id",
    "row",
    "problem",
    "note",
    "file",
    "excluded",
    "license",
    "attribution",
]
# what ingest writes to labels.csv (the rows to use, one per id)
CLEAN_COLUMNS = ["image_id", "label", "lesion_id", "patient_id", "row", "file", "license", "attribution"]
ISIC2019_CLASSES = ["MEL", "NV", "BCC", "AK", "BKL", "DF", "VASC", "SCC", "UNK"]


class DataFormatError(ValueError):
    """A label or metadata file does not have the layout its format promises."""


def _read_csv(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found")
    # every cell as text: ids such as '0012' and empty lesion ids must survive unchanged
    # utf-8-sig: a spreadsheet's byte-order mark is not part of the first column's name; CRLF
    # line ends (isic-cli writes them, as Python's csv module does) are read as line ends
    df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[], encoding="utf-8-sig")
    df.columns = [c.strip() for c in df.columns]
    df["row"] = range(2, len(df) + 2)
    return df


def _require(df: pd.DataFrame, path: str | Path, columns: list[str]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataFormatError(
            f"{path}: missing column(s) {', '.join(missing)}; expected at least "
            f"{', '.join(columns)}, found {', '.join(c for c in df.columns if c != 'row')}"
        )


def _labels(values: pd.Series, rows: pd.Series, path: str | Path, column: str) -> list[str]:
    out = []
    for value, row in zip(values, rows, strict=True):
        try:
            out.append(normalise_label(value))
        except ValueError:
            raise DataFormatError(f"{path}, row {row}: empty {column}") from None
    return out


def _finish(
    df: pd.DataFrame, path: str | Path, inclusion: Inclusion | None = None, always: bool = False
) -> pd.DataFrame:
    """The reader columns of ``df``; ``excluded`` is why the inclusion rule leaves a row out
    (``always``: the format defines image_type and image_manipulation, so absent means blank)."""
    df["excluded"] = exclusions(df, inclusion or Inclusion(), always)
    # the Archive's own licence and attribution of each image (isic-cli's base fields)
    if "copyright_license" in df.columns:
        df["license"] = df["copyright_license"].str.strip()
    for col in ("problem", "note", "file", "license", "attribution"):
        if col not in df.columns:
            df[col] = ""
    df = df[LABEL_COLUMNS].copy()
    for col in ("image_id", "lesion_id", "patient_id"):
        df[col] = df[col].astype(str).str.strip()
    empty = df[df["image_id"] == ""]
    if len(empty):
        raise DataFormatError(f"{path}, row {int(empty['row'].iloc[0])}: empty image id")
    return df.reset_index(drop=True)


def read_isic2019(
    ground_truth: str | Path, metadata: str | Path | None = None, inclusion: Inclusion | None = None
) -> pd.DataFrame:
    """ISIC 2019: one-hot ``image,MEL,...,UNK`` plus ``image,...,lesion_id,...`` metadata."""
    gt = _read_csv(ground_truth)
    _require(gt, ground_truth, ["image", *ISIC2019_CLASSES])
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
    return _finish(gt, ground_truth, inclusion)


def _isic2019_metadata(
    metadata: str | Path,
) -> tuple[dict[str, tuple[str, str]], dict[str, str], dict[str, str]]:
    """Lesion and patient id per image, from ISIC 2019's metadata CSV.

    Returns (ids, problems, notes): a row repeated exactly is used once and noted; an image
    listed with two different lesion or patient ids gets a problem (its rows are rejected).
    """
    meta = _read_csv(metadata)
    _require(meta, metadata, ["image", "lesion_id"])
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


def read_isic2020(
    ground_truth: str | Path, metadata: str | Path | None = None, inclusion: Inclusion | None = None
) -> pd.DataFrame:
    """ISIC 2020: ``image_name,patient_id,[lesion_id,]...,diagnosis,benign_malignant,target``."""
    gt = _read_csv(ground_truth)
    _require(gt, ground_truth, ["image_name", "patient_id", "diagnosis"])
    gt["image_id"] = gt["image_name"]
    gt["label"] = _labels(gt["diagnosis"], gt["row"], ground_truth, "diagnosis")
    if "lesion_id" not in gt.columns:
        gt["lesion_id"] = ""
    return _finish(gt, ground_truth, inclusion)


def read_ham10000(
    ground_truth: str | Path, metadata: str | Path | None = None, inclusion: Inclusion | None = None
) -> pd.DataFrame:
    """HAM10000: ``lesion_id,image_id,dx,dx_type,age,sex,localization`` (no patient ids)."""
    gt = _read_csv(ground_truth)
    _require(gt, ground_truth, ["lesion_id", "image_id", "dx"])
    gt["label"] = _labels(gt["dx"], gt["row"], ground_truth, "dx")
    gt["patient_id"] = ""
    return _finish(gt, ground_truth, inclusion)


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
    gt = _read_csv(ground_truth)
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
    return _finish(gt, ground_truth, inclusion, always=True)


def read_derm7pt(
    ground_truth: str | Path,
    metadata: str | Path | None = None,
    inclusion: Inclusion | None = None,
    nevus_subtypes: tuple[str, ...] = DERM7PT_NEVUS_SUBTYPES,
) -> pd.DataFrame:
    """Derm7pt (Kawahara et al. 2018): ``meta/meta.csv`` with ``case_num``, ``diagnosis``, the
    seven-point criteria, and ``clinic`` / ``derm``, the paths of the clinical and dermoscopic
    photographs of the case under ``images/`` (``NEL/Nel026.jpg``). One row per case; the
    dermoscopic image is used (the clinical one is another modality). Its id is its path
    without the extension, ``/`` as ``_`` (``NEL_Nel026``: unique across folders), its lesion
    the case.

    ``diagnosis`` is free text: ``dermatofibroma``, ``melanoma (in situ)`` ... and nevus
    subtypes (``clark nevus``, ``blue nevus`` ...). The subtypes in ``nevus_subtypes`` become
    ``nevus``; the others keep their own names, so they are never selected as nevi.
    """
    gt = _read_csv(ground_truth)
    _require(gt, ground_truth, ["case_num", "diagnosis", "derm"])
    unknown = sorted(set(nevus_subtypes) - set(DERM7PT_NEVUS_SUBTYPES))
    if unknown:
        raise ValueError(
            f"nevus subtypes {', '.join(map(repr, unknown))} are not Derm7pt diagnoses; "
            f"choose from {', '.join(DERM7PT_NEVUS_SUBTYPES)}"
        )
    diagnosis = gt["diagnosis"].str.strip().str.lower()
    nevus = diagnosis.isin(nevus_subtypes)
    labels = _labels(gt["diagnosis"], gt["row"], ground_truth, "diagnosis")
    gt["label"] = ["nevus" if n else lab for n, lab in zip(nevus, labels, strict=True)]
    gt["file"] = gt["derm"].str.strip()
    empty = gt.loc[gt["file"] == "", "row"]
    if len(empty):
        raise DataFormatError(f"{ground_truth}, row {int(empty.iloc[0])}: empty derm (the dermoscopic image)")
    gt["image_id"] = [str(Path(f).with_suffix("")).replace("/", "_") for f in gt["file"]]
    gt["lesion_id"] = "derm7pt_case_" + gt["case_num"].str.strip()
    gt["patient_id"] = ""
    return _finish(gt, ground_truth, inclusion)
