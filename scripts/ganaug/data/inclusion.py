"""The study's inclusion rule: which kinds of image an export may bring in.

The ISIC Archive holds more than dermoscopy. Its ``image_type`` field (the ``isic-metadata``
vocabulary) also names clinical photographs, tiles cut from total-body photography (TBP) and
reflectance confocal microscopy (RCM), and ``image_manipulation`` marks images that were
``altered`` or are ``synthetic``. A clinical close-up or a TBP tile in the GAN's training set, or a
synthetic "real" image in test, answers another question than the one this workflow asks, so
such rows are left out before anything else reads them.

A left-out row is not a lost image: it is listed in ``label_rejects.csv`` with a reason that
starts with :data:`EXCLUDED` (the inclusion rule, the field and its value), counted apart in the
data summary and the report, and never counted against ``data.max_reject_fraction``.

The rule applies wherever the metadata has these fields: always for the ``isic_archive``
format (an export leaves out a column that no image has, so a missing ``image_type`` column
means every row has a blank type), and for any other format whose file carries the columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ganaug.dataclass_io import from_dict

if TYPE_CHECKING:  # pandas is imported where it is used: the Snakefile parses the config with this module
    import pandas as pd

# isic-metadata's ImageTypeEnum and ImageManipulationEnum (the Archive's vocabulary)
IMAGE_TYPES = (
    "dermoscopic",
    "clinical: overview",
    "clinical: close-up",
    "TBP tile: close-up",
    "TBP tile: overview",
    "RCM: macroscopic",
    "RCM: tile",
    "RCM: mosaic",
)
MANIPULATIONS = ("instrument only", "altered", "synthetic")
# the reason of every left-out row starts with this (ganaug.data.screening.lost_fraction)
EXCLUDED = "excluded by the inclusion rule"


@dataclass(frozen=True)
class Inclusion:
    """data.image_types, data.blank_image_type and data.reject_manipulations."""

    image_types: tuple[str, ...] = ("dermoscopic",)
    # a row with no image type: None leaves it out (an unknown kind of image is not known to be
    # dermoscopy); a type from IMAGE_TYPES takes it as that type
    blank_image_type: str | None = None
    reject_manipulations: tuple[str, ...] = ("synthetic", "altered")

    @classmethod
    def from_section(cls, keys: Mapping[str, Any]) -> Inclusion:
        """The rule's keys of the data section (``settings.data_params(..., "ingest")``), through
        the one ``from_dict``: another key is an error."""
        return from_dict(cls, keys, "data")


def inclusion_problems(data: DataConfig) -> list[str]:
    """Config errors of the rule's keys (each names the key and what it may be)."""
    problems = []
    types = {t.lower(): t for t in IMAGE_TYPES}
    for t in data.image_types:
        if t.lower() not in types:
            problems.append(
                f"config key 'data.image_types': {t!r} is not an ISIC image type; choose from "
                + ", ".join(map(repr, IMAGE_TYPES))
            )
    blank = data.blank_image_type
    if blank is not None and blank.lower() not in types:
        problems.append(
            f"config key 'data.blank_image_type': {blank!r} is not an ISIC image type; null leaves "
            "such rows out, or choose from " + ", ".join(map(repr, IMAGE_TYPES))
        )
    for m in data.reject_manipulations:
        if m.lower() not in MANIPULATIONS:
            problems.append(
                f"config key 'data.reject_manipulations': {m!r} is not an ISIC image manipulation; "
                "choose from " + ", ".join(map(repr, MANIPULATIONS))
            )
    if not data.image_types:
        problems.append("config key 'data.image_types' is empty: no image could enter the study")
    return problems


def exclusions(table: pd.DataFrame, rule: Inclusion, always: bool) -> list[str]:
    """Per row of ``table`` (a label file's columns), why the rule leaves it out, or "".

    ``always``: the format defines the fields (the ISIC Archive), so an absent column is blank
    in every row; otherwise the rule applies only to the columns the file has.
    """
    import pandas as pd

    n = len(table)
    have_type = "image_type" in table.columns
    have_manip = "image_manipulation" in table.columns
    if not always and not (have_type or have_manip):
        return [""] * n
    blank = pd.Series("", index=table.index)
    kinds = (table["image_type"] if have_type else blank).astype(str).str.strip()
    manips = (table["image_manipulation"] if have_manip else blank).astype(str).str.strip()
    wanted = {t.lower() for t in rule.image_types}
    rejected = {m.lower() for m in rule.reject_manipulations}
    shown = ", ".join(rule.image_types)
    out = []
    for kind, manip in zip(kinds, manips, strict=True):
        if manip.lower() in rejected:
            out.append(f"{EXCLUDED}: image_manipulation {manip!r} (data.reject_manipulations)")
        elif (have_type or always) and not kind:
            if rule.blank_image_type is None:
                out.append(f"{EXCLUDED}: blank image_type (data.blank_image_type: null)")
            elif rule.blank_image_type.lower() not in wanted:
                out.append(
                    f"{EXCLUDED}: blank image_type taken as {rule.blank_image_type!r} "
                    f"(data.blank_image_type), not in data.image_types ({shown})"
                )
            else:
                out.append("")
        elif kind and kind.lower() not in wanted:
            out.append(f"{EXCLUDED}: image_type {kind!r} is not in data.image_types ({shown})")
        else:
            out.append("")
    return out


def is_exclusion(reason: str) -> bool:
    return str(reason).startswith(EXCLUDED)


def summarise_exclusions(rejects: pd.DataFrame) -> dict[str, int]:
    """Left-out images by the field and value that left them out (for summary.json)."""
    reasons = rejects.loc[rejects["reason"].map(is_exclusion).astype(bool), "reason"].astype(str)
    # the field and its value: the reason less its explanations, which are known suffixes
    keys = reasons.str.slice(len(EXCLUDED) + 2).str.replace(
        r" \((?:row|metadata\.csv row) \d+\)$", "", regex=True
    )
    keys = keys.str.replace(r" is not in data\.image_types \([^()]*\)$", "", regex=True)
    keys = keys.str.replace(
        r" \(data\.[a-z_]+(?:: null)?\)(?:, not in data\.image_types \([^()]*\))?$", "", regex=True
    )
    return {k: int(v) for k, v in sorted(keys.value_counts().items())}
