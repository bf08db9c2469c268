"""ISIC 2020 (SIIM-ISIC): a diagnosis column and patient ids; it holds no dermatofibroma."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ganaug.data.inclusion import Inclusion
from ganaug.data.readers.common import (
    finish,
    labels_of,
    read_csv,
    require,
)


def read_isic2020(
    ground_truth: str | Path, metadata: str | Path | None = None, inclusion: Inclusion | None = None
) -> pd.DataFrame:
    """ISIC 2020: ``image_name,patient_id,[lesion_id,]...,diagnosis,benign_malignant,target``."""
    gt = read_csv(ground_truth)
    require(gt, ground_truth, ["image_name", "patient_id", "diagnosis"])
    gt["image_id"] = gt["image_name"]
    gt["label"] = labels_of(gt["diagnosis"], gt["row"], ground_truth, "diagnosis")
    if "lesion_id" not in gt.columns:
        gt["lesion_id"] = ""
    return finish(gt, ground_truth, inclusion)
