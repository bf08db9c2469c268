"""External (out-of-distribution) test sets: preprocessed like the main archive, then cleared of
every image the main archive also holds.

Public archives overlap: HAM10000 and BCN20000 lie inside ISIC 2019, so an "external" set can
hold the very images a model trained on. An external image is dropped, and listed with the
archive image it matches, when it has the same image id as an archive image, the same lesion id
(another photograph of a lesion the models may have trained on: HAM10000's lesion ids are
ISIC 2019's), or when its preprocessed pixels (the same crop and resize as the archive's) are
identical to an archive image's, or when its perceptual hash is within a few bits of an archive
image's (a re-encoded, resized or slightly re-cropped copy: ganaug.data.near_duplicates). The
extra real images of the real_extra control count as archive images too. The
metadata that is left has ``split == "external"``; the fits predict it once, after their epoch
and threshold are fixed on validation, and nothing else ever reads it.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path

import cv2
import pandas as pd

from ganaug.data.archive_pool import has_isic_cli_layout, pool_labels
from ganaug.data.near_duplicates import hash_images, load_hashes, near_duplicates, raw_paths
from ganaug.data.preprocess import IMAGE_SUFFIXES, preprocess_all
from ganaug.data.splits import METADATA_COLUMNS, lesion_groups
from ganaug.io import write_csv, write_json

log = logging.getLogger(__name__)

EXTERNAL_SPLIT = "external"
OVERLAP_COLUMNS = ["image_id", "reason", "archive_image_id", "distance"]


class NoImagesLeft(ValueError):
    """An external set has no image of one of the two classes after the overlap is dropped."""


def pixel_digest(path: str | Path) -> str:
    """SHA-256 of the decoded pixels and their shape: equal for identical images, whatever the
    file's compression."""
    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise FileNotFoundError(f"cannot read image {path}")
    return hashlib.sha256(repr(img.shape).encode() + img.tobytes()).hexdigest()


def overlap(external: pd.DataFrame, archive: pd.DataFrame, near: pd.DataFrame | None = None) -> pd.DataFrame:
    """The external images that the archive also holds: by image id, then by lesion id, then by
    pixels, then as a near-duplicate (``near``: ganaug.data.near_duplicates.near_duplicates of
    the two sets); each with the first reason that applies, the archive image it matches, and
    for a near-duplicate the Hamming distance of the hashes (bits of 256; else blank)."""
    by_image = {i: i for i in archive["image_id"]}
    by_lesion: dict[str, str] = {}
    for iid, les in zip(
        archive["image_id"], archive.get("lesion_id", pd.Series("", archive.index)), strict=True
    ):
        if isinstance(les, str) and les:
            by_lesion.setdefault(les, iid)
    digests: dict[str, str] = {}
    for iid, path in zip(archive["image_id"], archive["path"], strict=True):
        digests.setdefault(pixel_digest(path), iid)
    near_by_id = {} if near is None else {r.image_id: r for r in near.itertuples()}
    lesions = external.get("lesion_id", pd.Series("", external.index))
    rows = []
    for iid, les, path in zip(external["image_id"], lesions, external["path"], strict=True):
        if iid in by_image:
            rows.append((iid, "same image id as an archive image", iid, ""))
        elif isinstance(les, str) and les in by_lesion:
            rows.append((iid, f"same lesion id ({les}) as an archive image", by_lesion[les], ""))
        elif (match := digests.get(pixel_digest(path))) is not None:
            rows.append((iid, "identical pixels to an archive image after preprocessing", match, ""))
        elif (hit := near_by_id.get(iid)) is not None:
            rows.append((iid, hit.reason, hit.archive_image_id, str(hit.distance)))
    rows += _siblings(external, rows)
    return pd.DataFrame(rows, columns=OVERLAP_COLUMNS).sort_values("image_id").reset_index(drop=True)


def _siblings(external: pd.DataFrame, matched: list[tuple]) -> list[tuple]:
    """The other photographs, by the set's own lesion ids, of a lesion one of whose images the
    archive holds. Two archives may name lesions differently (the ISIC Archive's IL_... against
    ISIC 2019's HAM_/BCN_...), so a lesion is matched through an image both hold: its siblings
    are the same lesion, and would leak it into the other set."""
    lesions = external.get("lesion_id", pd.Series("", external.index)).fillna("")
    lesion_of = dict(zip(external["image_id"], lesions, strict=True))
    held = {}
    for iid, _, archive_iid, _ in matched:
        les = lesion_of.get(iid, "")
        if les:
            held.setdefault(les, (iid, archive_iid))
    done = {r[0] for r in matched}
    out = []
    for iid, les in zip(external["image_id"], lesions, strict=True):
        if iid not in done and les in held:
            sibling, archive_iid = held[les]
            out.append((iid, f"same lesion ({les}) as {sibling}, which the archive holds", archive_iid, ""))
    return out


def near_to_archive(
    table: pd.DataFrame, images_dir: str | Path, archive_hashes, workers: int = 1
) -> tuple[dict, pd.DataFrame]:
    """(the hashes of a set's raw images, its near-duplicates among ``archive_hashes``' files)."""
    hashes = hash_images(raw_paths(table, images_dir), workers=workers)
    return hashes, near_duplicates(hashes, load_hashes(archive_hashes), workers=workers)


def external_metadata(
    processed: pd.DataFrame, dropped: pd.DataFrame, minority: str, name: str
) -> pd.DataFrame:
    """The external set's metadata.csv: the archive's columns, split "external", sorted by id."""
    df = processed[~processed["image_id"].isin(dropped["image_id"])].sort_values("image_id")
    df = df.reset_index(drop=True)
    df["split"] = EXTERNAL_SPLIT
    df["target"] = (df["label"] == minority).astype(int)
    df["source"] = name
    df["synthetic"] = False
    return df[METADATA_COLUMNS]


def _groups(rows: pd.DataFrame) -> int:
    return int(lesion_groups(rows.reset_index(drop=True)).nunique()) if len(rows) else 0


def summarise_external(
    meta: pd.DataFrame, dropped: pd.DataFrame, minority: str, majority: str, name: str
) -> dict:
    counts = {c: int((meta["label"] == c).sum()) for c in (minority, majority)}
    return {
        "name": name,
        "images": counts,
        "lesion_groups": {c: _groups(meta[meta["label"] == c]) for c in counts},
        "dropped_as_in_archive": len(dropped),
        "dropped_by_reason": {k: int(v) for k, v in dropped["reason"].value_counts().items()},
    }


def external_set_rule(
    table: str | Path,
    archive: str | Path | Sequence[str | Path],
    metadata_out: str | Path,
    overlap_out: str | Path,
    summary_out: str | Path,
    name: str,
    minority: str,
    majority: str,
    images_dir: str | Path | None = None,
    archive_hashes: str | Path | Sequence[str | Path] = (),
    workers: int = 1,
    rejects: str | Path | None = None,
) -> dict:
    """The rule external_set: metadata.csv, overlap.csv (every dropped image and why) and
    summary.json of one external set. ``archive``: the training archive's preprocessed.csv, and
    the extra real images' metadata.csv where real_extra has a pool; ``archive_hashes``: their
    perceptual hashes, which the set's raw images (under ``images_dir``) are screened against."""
    read = {"dtype": str, "keep_default_na": False}
    tables = [archive] if isinstance(archive, str | Path) else list(archive)
    processed = pd.read_csv(table, **read)
    arch = pd.concat([pd.read_csv(t, **read) for t in tables], ignore_index=True)
    near = None
    if images_dir is not None and archive_hashes:
        _, near = near_to_archive(processed, images_dir, archive_hashes, workers)
    dropped = overlap(processed, arch, near)
    for r in dropped.itertuples():
        log.warning("external set %s: %s dropped (%s: %s)", name, r.image_id, r.reason, r.archive_image_id)
    meta = external_metadata(processed, dropped, minority, name)
    summary = summarise_external(meta, dropped, minority, majority, name)
    if rejects is not None:  # the set's rows the inclusion rule left out (image type, manipulation)
        from ganaug.data.inclusion import summarise_exclusions

        summary["excluded_images"] = summarise_exclusions(pd.read_csv(rejects, **read))
    empty = [c for c, n in summary["images"].items() if n == 0]
    if empty:
        first = ", ".join(dropped["image_id"].head(5))
        raise NoImagesLeft(
            f"external set {name!r} ({table}): no {' or '.join(empty)} image left after dropping "
            f"{len(dropped)} image(s) the training archive also holds"
            + (f" (first: {first})" if first else "")
        )
    write_csv(dropped, overlap_out)
    write_csv(meta, metadata_out)
    write_json(summary, summary_out)
    log.info("external set %s: %s, %d dropped as in the archive", name, summary["images"], len(dropped))
    return summary


EXTRA_SPLIT = "extra"


def _pool_table(images_dir: str | Path, minority: str, inclusion) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """(the extra pool's label rows, the rows an isic-cli export's metadata leaves out or None)."""
    left_out = None
    if has_isic_cli_layout(images_dir):
        # an isic-cli export (the Archive pool): its metadata gives each image's diagnosis, lesion,
        # type and licence, and the inclusion rule holds as for the archive
        from ganaug.data.inclusion import Inclusion

        rule = None if inclusion is None else Inclusion.from_section(inclusion)
        labels, left_out = pool_labels(images_dir, minority, rule)
    else:
        files = sorted(p for p in Path(images_dir).iterdir() if p.suffix in IMAGE_SUFFIXES)
        labels = pd.DataFrame(
            {
                "image_id": [p.stem for p in files],
                "label": minority,
                "lesion_id": "",
                "patient_id": "",
                "row": range(1, len(files) + 1),
                "file": [p.name for p in files],
            }
        )
    if not len(labels):
        raise FileNotFoundError(
            f"{images_dir}: no images ({', '.join(IMAGE_SUFFIXES)}) of {minority} for the real_extra control"
        )
    return labels, left_out


def extra_minority_rule(
    images_dir: str | Path,
    archive: str | Path,
    out_dir: str | Path,
    metadata_out: str | Path,
    overlap_out: str | Path,
    rejects_out: str | Path,
    minority: str,
    image_size: int,
    jpeg_draft: bool,
    max_reject_fraction: float,
    workers: int = 1,
    archive_hashes: str | Path | None = None,
    hashes_out: str | Path | None = None,
    inclusion=None,
) -> dict:
    """The rule extra_minority: every image of the folder (all of the minority class, each its own
    lesion, in no split), preprocessed like the archive, less any the archive also holds (by id,
    pixels or perceptual hash: ``archive_hashes``); the pool the real_extra control draws from.
    metadata.csv has split "extra"; ``hashes_out``: the pool's hashes, for the external sets."""
    labels, left_out = _pool_table(images_dir, minority, inclusion)
    processed, rejects = preprocess_all(
        labels,
        images_dir,
        None,
        out_dir,
        image_size,
        jpeg_draft,
        max_reject_fraction,
        workers=workers,
        label_rejects=left_out,
    )
    hashes, near = (
        ({}, None)
        if archive_hashes is None
        else near_to_archive(processed, images_dir, archive_hashes, workers)
    )
    dropped = overlap(processed, pd.read_csv(archive, dtype=str, keep_default_na=False), near)
    meta = external_metadata(processed, dropped, minority, "extra_minority").assign(split=EXTRA_SPLIT)
    if hashes_out is not None:
        from ganaug.data.near_duplicates import save_hashes

        save_hashes({i: hashes[i] for i in meta["image_id"] if i in hashes}, hashes_out)
    write_csv(rejects, rejects_out)
    write_csv(dropped, overlap_out)
    write_csv(meta, metadata_out)
    log.info(
        "extra minority pool: %d images (%d rejected, %d dropped as in the archive)",
        len(meta),
        len(rejects),
        len(dropped),
    )
    return {"images": len(meta), "rejected": len(rejects), "dropped": len(dropped)}
