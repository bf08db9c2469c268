"""HAM10000: its dx column and lesion ids."""

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


def read_ham10000(
    ground_truth: str | Path, metadata: str | Path | None = None, inclusion: Inclusion | None = None
) -> pd.DataFrame:
    """HAM10000: ``lesion_id,image_id,dx,dx_type,age,sex,localization`` (no patient ids)."""
    gt = read_csv(ground_truth)
    require(gt, ground_truth, ["lesion_id", "image_id", "dx"])
    gt["label"] = labels_of(gt["dx"], gt["row"], ground_truth, "dx")
    gt["patient_id"] = ""
    return finish(gt, ground_truth, inclusion)
