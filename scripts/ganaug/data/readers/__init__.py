"""The readers of the label files, one module a source (as timm's ``data/readers/``), and the
registry of formats.

Every reader returns a DataFrame with :data:`LABEL_COLUMNS`: ``image_id``, the normalised
``label``, ``lesion_id`` and ``patient_id`` (empty string when unknown), ``row``, the 1-based
line of the source file (the header is line 1), so later errors can point at it, and
``problem`` / ``note`` (empty unless the reader found a reason to reject the row, or a remark
that belongs in the rejects list), and ``file``, the image's path under the images folder where
the archive does not name its files ``<image_id>.<ext>`` (Derm7pt), else empty. Duplicate rows
are kept here and settled by :func:`ganaug.data.screening.screen_rows`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from ganaug.data.inclusion import Inclusion
from ganaug.data.readers.derm7pt import read_derm7pt
from ganaug.data.readers.ham10000 import read_ham10000
from ganaug.data.readers.isic2019 import read_isic2019
from ganaug.data.readers.isic2020 import read_isic2020
from ganaug.data.readers.isic_archive import read_isic_archive

FORMATS_WITH_NEVUS_SUBTYPES = ("derm7pt", "isic_archive")


READERS: dict[str, Callable[..., pd.DataFrame]] = {
    "isic2019": read_isic2019,
    "isic2020": read_isic2020,
    "ham10000": read_ham10000,
    "isic_archive": read_isic_archive,
    "derm7pt": read_derm7pt,
}


def read_labels(
    fmt: str,
    ground_truth: str | Path,
    metadata: str | Path | None = None,
    nevus_subtypes=None,
    inclusion: Inclusion | None = None,
) -> pd.DataFrame:
    """The reader of ``fmt``; ``nevus_subtypes`` (Derm7pt and the ISIC Archive; None: all of
    them); ``inclusion``: the image type and manipulation rule (None: its defaults)."""
    if fmt not in READERS:
        raise ValueError(f"data.format {fmt!r} is not one of {', '.join(READERS)}")
    if nevus_subtypes is not None and fmt not in FORMATS_WITH_NEVUS_SUBTYPES:
        formats = ", ".join(FORMATS_WITH_NEVUS_SUBTYPES)
        raise ValueError(f"nevus subtypes are read only for {formats}, not {fmt!r}")
    kw = {} if nevus_subtypes is None else {"nevus_subtypes": tuple(nevus_subtypes)}
    return READERS[fmt](ground_truth, metadata, inclusion, **kw)
