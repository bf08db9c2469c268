"""Derm7pt: its meta.csv, case numbers and the dermoscopic image of each case."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ganaug.data.inclusion import Inclusion
from ganaug.data.labels import DERM7PT_NEVUS_SUBTYPES
from ganaug.data.readers.common import (
    DataFormatError,
    finish,
    labels_of,
    read_csv,
    require,
)


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
    gt = read_csv(ground_truth)
    require(gt, ground_truth, ["case_num", "diagnosis", "derm"])
    unknown = sorted(set(nevus_subtypes) - set(DERM7PT_NEVUS_SUBTYPES))
    if unknown:
        raise ValueError(
            f"nevus subtypes {', '.join(map(repr, unknown))} are not Derm7pt diagnoses; "
            f"choose from {', '.join(DERM7PT_NEVUS_SUBTYPES)}"
        )
    diagnosis = gt["diagnosis"].str.strip().str.lower()
    nevus = diagnosis.isin(nevus_subtypes)
    labels = labels_of(gt["diagnosis"], gt["row"], ground_truth, "diagnosis")
    gt["label"] = ["nevus" if n else lab for n, lab in zip(nevus, labels, strict=True)]
    gt["file"] = gt["derm"].str.strip()
    empty = gt.loc[gt["file"] == "", "row"]
    if len(empty):
        raise DataFormatError(f"{ground_truth}, row {int(empty.iloc[0])}: empty derm (the dermoscopic image)")
    gt["image_id"] = [str(Path(f).with_suffix("")).replace("/", "_") for f in gt["file"]]
    gt["lesion_id"] = "derm7pt_case_" + gt["case_num"].str.strip()
    gt["patient_id"] = ""
    return finish(gt, ground_truth, inclusion)
