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


# The Archive's nevus subtypes (isic-metadata's diagnosis hierarchy below
# "Benign:Benign melanocytic proliferations:Nevus"): level 4, and level 5 under some of them.
# All are "nevus" by default, as in ISIC 2019's NV class; data.nevus_subtypes narrows it.
ARCHIVE_NEVUS = "Nevus"
ARCHIVE_NEVUS_SUBTYPES = (
    "Blue nevus",
    "Nevus, Acral",
    "Nevus, Agminated",
    "Nevus, Atypical, Dysplastic, or Clark",
    "Nevus, BAP-1 deficient",
    "Nevus, Balloon cell",
    "Nevus, Combined",
    "Nevus, Congenital",
    "Nevus, Deep penetrating",
    "Nevus, Halo",
    "Nevus, Lentiginous",
    "Nevus, Meyerson",
    "Nevus, NOS, Compound",
    "Nevus, NOS, Dermal",
    "Nevus, NOS, Junctional",
    "Nevus, Of special anatomic site",
    "Nevus, Recurrent or persistent",
    "Nevus, Reed",
    "Nevus, Spilus",
    "Nevus, Spitz",
    # level 5
    "Blue nevus, Cellular",
    "Blue nevus, Common",
    "Blue nevus, Epithelioid",
    "Blue nevus, Plaque type",
    "Blue nevus, Sclerosing",
    "Nevus, Atypical",
    "Nevus, Clark",
    "Nevus, Dysplastic",
    "Nevus, Congenital, by histopathological pattern",
    "Nevus, Congenital, by history and histopathological pattern",
    "Nevus, Congenital, by history",
    # a nevus given no subtype (level 3 only)
    ARCHIVE_NEVUS,
)


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


def nevus_subtype_problems(key: str, fmt: str, subtypes) -> list[str]:
    """Config errors of a nevus_subtypes key: names the format does not know (each names the key)."""
    if subtypes is None:
        return []
    if fmt not in ("derm7pt", "isic_archive"):
        return [f"config key '{key}' is only for formats derm7pt and isic_archive, not {fmt!r}"]
    known = DERM7PT_NEVUS_SUBTYPES if fmt == "derm7pt" else ARCHIVE_NEVUS_SUBTYPES
    lower = {k.lower() for k in known}
    bad = [t for t in subtypes if str(t).lower() not in lower]
    if not bad:
        return []
    return [
        f"config key '{key}': {', '.join(map(repr, bad))} not {fmt} nevus subtype(s); choose from "
        + ", ".join(map(repr, known))
    ]
