"""Normalised diagnosis names shared by every reader.

The archives spell one diagnosis many ways: ISIC 2019's one-hot columns (``DF``), HAM10000's
``dx`` codes (``df``), ISIC 2020's free text (``nevus``) and the ISIC Archive's
``diagnosis_3`` (``Dermatofibroma``). Everything downstream sees one snake_case name.
"""

from __future__ import annotations

import re

CANONICAL = (
    "melanoma",
    "nevus",
    "basal_cell_carcinoma",
    "actinic_keratosis",
    "benign_keratosis",
    "dermatofibroma",
    "vascular_lesion",
    "squamous_cell_carcinoma",
    "unknown",
)

# Keys are lower-cased, with runs of spaces, hyphens and slashes turned into one underscore.
_ALIASES = {
    # ISIC 2019 one-hot columns and HAM10000 dx codes
    "mel": "melanoma",
    "nv": "nevus",
    "bcc": "basal_cell_carcinoma",
    "ak": "actinic_keratosis",
    "akiec": "actinic_keratosis",  # HAM10000 groups AK with intraepithelial carcinoma
    "bkl": "benign_keratosis",
    "df": "dermatofibroma",
    "vasc": "vascular_lesion",
    "scc": "squamous_cell_carcinoma",
    "unk": "unknown",
    # ISIC 2020 and ISIC Archive spellings
    "nevi": "nevus",
    "naevus": "nevus",
    "basal_cell_carcinoma": "basal_cell_carcinoma",
    "actinic_keratosis": "actinic_keratosis",
    "pigmented_benign_keratosis": "benign_keratosis",
    "benign_keratosis": "benign_keratosis",
    "seborrheic_keratosis": "seborrheic_keratosis",
    "vascular_lesion": "vascular_lesion",
    "squamous_cell_carcinoma": "squamous_cell_carcinoma",
    "dermatofibroma": "dermatofibroma",
    "melanoma": "melanoma",
    "nevus": "nevus",
    "unknown": "unknown",
}


def normalise_label(raw: str) -> str:
    """Return the canonical name of a diagnosis; unknown spellings become snake_case.

    A diagnosis outside ``CANONICAL`` (``lentigo NOS``, ``solar lentigo`` ...) keeps its own
    snake_case name rather than failing: such classes are simply never selected, and the
    ingest log counts every label, so a misspelt minority class shows up there.
    """
    key = re.sub(r"[\s\-/]+", "_", str(raw).strip().lower()).strip("_")
    if not key:
        raise ValueError("empty diagnosis")
    return _ALIASES.get(key, key)
