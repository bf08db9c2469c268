"""What every reader shares: the columns of the table it returns, its errors, and reading a
label file with its line numbers."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ganaug.data.inclusion import Inclusion, exclusions
from ganaug.data.labels import normalise_label

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


class DataFormatError(ValueError):
    """A label or metadata file does not have the layout its format promises."""


def read_csv(path: str | Path) -> pd.DataFrame:
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


def require(df: pd.DataFrame, path: str | Path, columns: list[str]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataFormatError(
            f"{path}: missing column(s) {', '.join(missing)}; expected at least "
            f"{', '.join(columns)}, found {', '.join(c for c in df.columns if c != 'row')}"
        )


def labels_of(values: pd.Series, rows: pd.Series, path: str | Path, column: str) -> list[str]:
    out = []
    for value, row in zip(values, rows, strict=True):
        try:
            out.append(normalise_label(value))
        except ValueError:
            raise DataFormatError(f"{path}, row {row}: empty {column}") from None
    return out


def finish(
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
