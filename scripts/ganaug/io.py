"""Atomic writes: a partial output never looks complete.

Everything is written to a temporary file in the destination folder and moved into place with
``os.replace``, which is atomic on POSIX within one file system.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_path(dest: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; move it onto ``dest`` only if the block succeeds."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=suffix or dest.suffix)
    os.close(fd)
    tmp_path = Path(tmp)
    # mkstemp creates 0600; give the result the permissions a plain open() would (umask applies)
    os.chmod(tmp_path, 0o666 & ~_umask())
    try:
        yield tmp_path
        os.replace(tmp_path, dest)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


# a spreadsheet runs a cell that starts with one of these as a formula (CSV injection)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula, with a leading ' so it shows as text."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) else value


def write_csv(df: pd.DataFrame, dest: str | Path, for_spreadsheets: bool = False) -> None:
    """Atomic CSV. ``for_spreadsheets``: a table people open rather than one the workflow reads
    back; its text cells are neutralised (:func:`spreadsheet_safe`)."""
    if for_spreadsheets:
        df = df.copy()
        for col in df.columns:
            if not pd.api.types.is_numeric_dtype(df[col]):  # text, or text mixed with numbers
                df[col] = df[col].map(spreadsheet_safe)
    # fixed line endings; floats at full precision (the shortest text that reads back as the
    # same double), so reruns give byte-identical files and nothing is rounded away
    with atomic_path(dest) as tmp:
        df.to_csv(tmp, index=False, lineterminator="\n")


def write_json(obj: Any, dest: str | Path) -> None:
    with atomic_path(dest) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def write_bytes(data: bytes, dest: str | Path) -> None:
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)


def read_benchmark(path: str | Path) -> dict[str, float | None]:
    """A Snakemake benchmark file's last row: wall seconds, peak RSS in MB (None where the
    platform could not measure it) and CPU seconds."""
    b = pd.read_csv(path, sep="\t")
    rss = pd.to_numeric(b["max_rss"].iloc[-1], errors="coerce")
    return {
        "seconds": float(b["s"].iloc[-1]),
        "max_rss_mb": None if pd.isna(rss) else float(rss),
        "cpu_seconds": float(b["cpu_time"].iloc[-1]),
    }


def clear_event_files(folder: str | Path) -> int:
    """Remove the TensorBoard event files of an earlier run from ``folder`` (a folder the
    workflow owns), so a fresh run's curves are not drawn over the old ones; return how many.
    A resumed GAN keeps its own (it appends, and purges the steps it redoes)."""
    import logging

    old = sorted(Path(folder).glob("events.out.tfevents.*")) if Path(folder).is_dir() else []
    for f in old:
        f.unlink()
    if old:
        logging.getLogger(__name__).info(
            "removed %d TensorBoard event file(s) of an earlier run from %s", len(old), folder
        )
    return len(old)
