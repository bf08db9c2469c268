"""Row screening of a label table: unsafe ids, duplicates and conflicts, each with its reason.

Real exports repeat rows. A row repeated exactly (same id, label, lesion and patient) is kept
once, and the repeat is listed as kept once. One id with two labels, or with two lesion or
patient ids, cannot be settled by the workflow, so every row of it is rejected. Neither stops
the run by itself: the preprocessing rule stops only when the rejected images exceed
``data.max_reject_fraction``.
"""

from __future__ import annotations

import pandas as pd

from ganaug.data.inclusion import is_exclusion

REJECT_COLUMNS = ["image_id", "reason"]


def unsafe_id_reason(image_id: str) -> str | None:
    """Ids become file names: refuse anything that could leave the output folder."""
    if image_id in ("", ".", ".."):
        return f"unsafe image id {image_id!r}"
    if "/" in image_id or "\\" in image_id or ".." in image_id or "\x00" in image_id:
        return f"unsafe image id {image_id!r}: contains a path separator or '..'"
    return None


def _rows(rows: pd.Series) -> str:
    return ", ".join(str(r) for r in rows)


def screen_rows(labels: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split a reader's table into (rows to use, one per id) and rejects (``image_id,reason``).

    ``labels`` has the reader columns, including ``problem`` (a reason the reader already found
    to reject the row, such as conflicting metadata) and ``note`` (a remark that keeps the row
    but belongs in the rejects list, such as a repeated metadata row).
    """
    rejects: list[tuple[str, str]] = []
    keep: list[int] = []
    for iid, group in labels.groupby("image_id", sort=False):
        reason = unsafe_id_reason(str(iid))
        if reason:
            rejects += [(iid, reason)] * len(group)
            continue
        problems = group["problem"][group["problem"] != ""]
        if len(problems):
            rejects += [(iid, p) for p in problems.unique()]
            continue
        if len(group) > 1:
            conflict = None
            if group["label"].nunique() > 1:
                conflict = f"conflicting labels ({', '.join(sorted(group['label'].unique()))})"
            elif group["lesion_id"].nunique() > 1 or group["patient_id"].nunique() > 1:
                conflict = "conflicting lesion or patient ids"
            if conflict:
                rows = _rows(group["row"])
                rejects += [
                    (iid, f"row {r}: one id with {conflict} in rows {rows}: all rejected")
                    for r in group["row"]
                ]
                continue
            first = group["row"].iloc[0]
            rejects += [
                (iid, f"row {r} repeats row {first} exactly: kept once") for r in group["row"].iloc[1:]
            ]
        keep.append(group.index[0])
        notes = group["note"][group["note"] != ""]
        rejects += [(iid, n) for n in notes.unique()]
    kept = labels.loc[sorted(keep)].reset_index(drop=True)
    return kept, pd.DataFrame(rejects, columns=REJECT_COLUMNS)


def lost_fraction(processed_ids: pd.Series, rejects: pd.DataFrame) -> tuple[int, int, float]:
    """(images lost, images considered, their ratio): an id counts as lost when it is rejected
    and not processed, so a duplicate row kept once costs nothing. An image the inclusion rule
    left out (a clinical photo, a synthetic image) was never part of the study: not counted."""
    rejects = rejects.loc[~rejects["reason"].map(is_exclusion).astype(bool)]
    considered = set(processed_ids) | set(rejects["image_id"])
    lost = set(rejects["image_id"]) - set(processed_ids)
    return len(lost), len(considered), (len(lost) / len(considered) if considered else 1.0)
