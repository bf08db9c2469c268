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
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from ganaug.config import FORMATS_WITHOUT_DF, no_dermatofibroma_message
from ganaug.data.labels import normalise_label
from ganaug.data.screening import screen_rows

log = logging.getLogger(__name__)

LABEL_COLUMNS = ["image_id", "label", "lesion_id", "patient_id", "row", "problem", "note", "file"]
# what ingest writes to labels.csv (the rows to use, one per id)
CLEAN_COLUMNS = ["image_id", "label", "lesion_id", "patient_id", "row", "file"]
ISIC2019_CLASSES = ["MEL", "NV", "BCC", "AK", "BKL", "DF", "VASC", "SCC", "UNK"]


class DataFormatError(ValueError):
    """A label or metadata file does not have the layout its format promises."""


def _read_csv(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found")
    # every cell as text: ids such as '0012' and empty lesion ids must survive unchanged
    df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[])
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


def _finish(df: pd.DataFrame, path: str | Path) -> pd.DataFrame:
    for col in ("problem", "note", "file"):
        if col not in df.columns:
            df[col] = ""
    df = df[LABEL_COLUMNS].copy()
    for col in ("image_id", "lesion_id", "patient_id"):
        df[col] = df[col].astype(str).str.strip()
    empty = df[df["image_id"] == ""]
    if len(empty):
        raise DataFormatError(f"{path}, row {int(empty['row'].iloc[0])}: empty image id")
    return df.reset_index(drop=True)


def read_isic2019(ground_truth: str | Path, metadata: str | Path | None = None) -> pd.DataFrame:
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
    return _finish(gt, ground_truth)


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


def read_isic2020(ground_truth: str | Path, metadata: str | Path | None = None) -> pd.DataFrame:
    """ISIC 2020: ``image_name,patient_id,[lesion_id,]...,diagnosis,benign_malignant,target``."""
    gt = _read_csv(ground_truth)
    _require(gt, ground_truth, ["image_name", "patient_id", "diagnosis"])
    gt["image_id"] = gt["image_name"]
    gt["label"] = _labels(gt["diagnosis"], gt["row"], ground_truth, "diagnosis")
    if "lesion_id" not in gt.columns:
        gt["lesion_id"] = ""
    return _finish(gt, ground_truth)


def read_ham10000(ground_truth: str | Path, metadata: str | Path | None = None) -> pd.DataFrame:
    """HAM10000: ``lesion_id,image_id,dx,dx_type,age,sex,localization`` (no patient ids)."""
    gt = _read_csv(ground_truth)
    _require(gt, ground_truth, ["lesion_id", "image_id", "dx"])
    gt["label"] = _labels(gt["dx"], gt["row"], ground_truth, "dx")
    gt["patient_id"] = ""
    return _finish(gt, ground_truth)


def read_isic_archive(ground_truth: str | Path, metadata: str | Path | None = None) -> pd.DataFrame:
    """ISIC Archive export: ``isic_id``, ``diagnosis_1..3`` and/or legacy ``diagnosis``.

    The label is the most specific diagnosis given: ``diagnosis_3`` (e.g. ``Dermatofibroma``),
    else the legacy ``diagnosis``; a row with neither is labelled ``unknown`` (and counted in
    the ingest log), since ``diagnosis_1`` alone says only benign or malignant.
    """
    gt = _read_csv(ground_truth)
    _require(gt, ground_truth, ["isic_id"])
    if "diagnosis_3" not in gt.columns and "diagnosis" not in gt.columns:
        raise DataFormatError(f"{ground_truth}: needs a 'diagnosis_3' or a legacy 'diagnosis' column")
    specific = gt["diagnosis_3"] if "diagnosis_3" in gt.columns else pd.Series("", index=gt.index)
    legacy = gt["diagnosis"] if "diagnosis" in gt.columns else pd.Series("", index=gt.index)
    raw = specific.where(specific.str.strip() != "", legacy)
    gt["label"] = [normalise_label(v) if v.strip() else "unknown" for v in raw]
    gt["image_id"] = gt["isic_id"]
    for col in ("lesion_id", "patient_id"):
        if col not in gt.columns:
            gt[col] = ""
    return _finish(gt, ground_truth)


# Derm7pt's diagnoses that are melanocytic nevi, all counted as "nevus" by default (ISIC 2019's
# NV class holds these kinds too); data.nevus_subtypes narrows it (config/README.md)
DERM7PT_NEVUS_SUBTYPES = (
    "blue nevus",
    "clark nevus",
    "combined nevus",
    "congenital nevus",
    "dermal nevus",
    "recurrent nevus",
    "reed or spitz nevus",
)


def read_derm7pt(
    ground_truth: str | Path,
    metadata: str | Path | None = None,
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
    return _finish(gt, ground_truth)


READERS: dict[str, Callable[..., pd.DataFrame]] = {
    "isic2019": read_isic2019,
    "isic2020": read_isic2020,
    "ham10000": read_ham10000,
    "isic_archive": read_isic_archive,
    "derm7pt": read_derm7pt,
}


def read_labels(
    fmt: str, ground_truth: str | Path, metadata: str | Path | None = None, nevus_subtypes=None
) -> pd.DataFrame:
    """The reader of ``fmt``; ``nevus_subtypes`` (Derm7pt only; None: all of them)."""
    if fmt not in READERS:
        raise ValueError(f"data.format {fmt!r} is not one of {', '.join(READERS)}")
    if fmt == "derm7pt" and nevus_subtypes is not None:
        return read_derm7pt(ground_truth, metadata, tuple(nevus_subtypes))
    return READERS[fmt](ground_truth, metadata)


def select_classes(
    labels: pd.DataFrame, fmt: str, minority: str, majority: str, ground_truth: str | Path
) -> pd.DataFrame:
    """Keep the two study classes; fail when either is absent rather than train on nothing."""
    minority, majority = normalise_label(minority), normalise_label(majority)
    if fmt in FORMATS_WITHOUT_DF and "dermatofibroma" in (minority, majority):
        raise DataFormatError(no_dermatofibroma_message(fmt))
    counts = labels["label"].value_counts()
    log.info("labels in %s: %s", ground_truth, ", ".join(f"{k}={v}" for k, v in counts.items()))
    for name, cls in (("minority", minority), ("majority", majority)):
        if counts.get(cls, 0) == 0:
            raise DataFormatError(
                f"{ground_truth}: no image labelled {cls!r} (data.{name}); labels present: "
                f"{', '.join(sorted(counts.index))}"
            )
    kept = labels[labels["label"].isin([minority, majority])].copy()
    log.info(
        "selected %d %s + %d %s of %d images; %d images of other classes are not used",
        counts[minority],
        minority,
        counts[majority],
        majority,
        len(labels),
        len(labels) - len(kept),
    )
    return kept.reset_index(drop=True)


def ingest(
    fmt: str,
    ground_truth: str | Path,
    metadata: str | Path | None,
    minority: str,
    majority: str,
    nevus_subtypes=None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read, normalise, screen and select: (the rows preprocessing works through, one per id;
    the rejected rows of the two classes, ``image_id,reason``)."""
    if fmt in FORMATS_WITHOUT_DF and "dermatofibroma" in (
        normalise_label(minority),
        normalise_label(majority),
    ):
        raise DataFormatError(no_dermatofibroma_message(fmt))
    labels = read_labels(fmt, ground_truth, metadata, nevus_subtypes)
    # screen before selecting: an id labelled DF in one row and melanoma in another is a conflict
    kept, rejects = screen_rows(labels)
    selected = select_classes(kept, fmt, minority, majority, ground_truth)
    wanted = {normalise_label(minority), normalise_label(majority)}
    study_ids = set(labels.loc[labels["label"].isin(wanted), "image_id"])
    rejects = rejects[rejects["image_id"].isin(study_ids)].reset_index(drop=True)
    for row in rejects.itertuples():
        log.warning("label row of %s: %s", row.image_id, row.reason)
    return selected[CLEAN_COLUMNS], rejects


def ingest_files(
    ground_truth: str | Path,
    metadata: str | Path | None,
    labels_out: str | Path,
    rejects_out: str | Path,
    format: str,
    minority: str,
    majority: str,
    nevus_subtypes=None,
) -> None:
    """The rule ingest (and ingest_external): labels.csv (one row per id) and label_rejects.csv."""
    from ganaug.io import write_csv

    labels, rejects = ingest(format, ground_truth, metadata, minority, majority, nevus_subtypes)
    write_csv(rejects, rejects_out)
    write_csv(labels, labels_out)
