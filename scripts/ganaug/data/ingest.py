"""Ingest: one format's reader (``ganaug.data.readers``), the two classes of the study, the screening
of duplicate and unusable rows, and the inclusion rule, written as the workflow's label table and
its rejects list."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ganaug.config_checks import FORMATS_WITHOUT_DF, no_dermatofibroma_message
from ganaug.data.inclusion import Inclusion, summarise_exclusions
from ganaug.data.labels import normalise_label
from ganaug.data.readers import read_labels
from ganaug.data.readers.common import CLEAN_COLUMNS, DataFormatError
from ganaug.data.screening import screen_rows
from ganaug.io import write_csv

log = logging.getLogger(__name__)


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
    inclusion: Inclusion | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read, normalise, leave out what the inclusion rule excludes, screen and select: (the rows
    preprocessing works through, one per id; the left-out and rejected rows of the two classes,
    ``image_id,reason``)."""
    if fmt in FORMATS_WITHOUT_DF and "dermatofibroma" in (
        normalise_label(minority),
        normalise_label(majority),
    ):
        raise DataFormatError(no_dermatofibroma_message(fmt))
    labels = read_labels(fmt, ground_truth, metadata, nevus_subtypes, inclusion)
    wanted = {normalise_label(minority), normalise_label(majority)}
    out = labels["excluded"] != ""
    left_out = labels[out & labels["label"].isin(wanted)]
    reasons = [f"{r} (row {n})" for r, n in zip(left_out["excluded"], left_out["row"], strict=True)]
    excluded = pd.DataFrame({"image_id": left_out["image_id"], "reason": reasons})
    if len(left_out):
        log.info(
            "the inclusion rule leaves out %d image(s) of the two classes: %s",
            len(left_out),
            ", ".join(f"{k}={v}" for k, v in summarise_exclusions(excluded).items()),
        )
    # screen before selecting: an id labelled DF in one row and melanoma in another is a conflict
    kept, rejects = screen_rows(labels[~out])
    try:
        selected = select_classes(kept, fmt, minority, majority, ground_truth)
    except DataFormatError as err:
        if not len(left_out):
            raise
        counts = ", ".join(f"{k}: {v}" for k, v in summarise_exclusions(excluded).items())
        raise DataFormatError(
            f"{err}; the inclusion rule (data.image_types, data.blank_image_type, "
            f"data.reject_manipulations) left out {len(left_out)} image(s) of the two classes ({counts})"
        ) from None
    study_ids = set(labels.loc[labels["label"].isin(wanted), "image_id"])
    rejects = rejects[rejects["image_id"].isin(study_ids)]
    rejects = pd.concat([excluded, rejects], ignore_index=True)
    for row in rejects.itertuples():
        log.warning("label row of %s: %s", row.image_id, row.reason)
    return selected[CLEAN_COLUMNS], rejects


def ingest_rule(
    ground_truth: str | Path,
    metadata: str | Path | None,
    labels_out: str | Path,
    rejects_out: str | Path,
    format: str,
    minority: str,
    majority: str,
    nevus_subtypes=None,
    inclusion: Mapping[str, Any] | None = None,
) -> None:
    """The rule ingest (and ingest_external): labels.csv (one row per id) and label_rejects.csv.
    ``inclusion``: the data section's image_types, blank_image_type and reject_manipulations."""
    rule = None if inclusion is None else Inclusion.from_section(inclusion)
    labels, rejects = ingest(format, ground_truth, metadata, minority, majority, nevus_subtypes, rule)
    write_csv(rejects, rejects_out)
    write_csv(labels, labels_out)
