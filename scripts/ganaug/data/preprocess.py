"""Preprocessing: decode, crop centred on the lesion, resize, save PNG; reject what cannot be used.

Per image: find the lesion (its mask when one is given, else Otsu on a small blurred grey copy,
else the image centre), take a square crop around it, decode the JPEG only at the resolution the
crop needs (libjpeg DCT scaling through PIL's draft mode: a 1024 px JPEG cropped to 256 px is
decoded at 1/2 or 1/4 scale, which skips most of the inverse DCT work), resize with area
averaging and write a PNG. Nothing is dropped silently: every image either becomes a PNG with
its crop method recorded, or a row of ``rejects.csv`` with the reason.
"""

from __future__ import annotations

import logging
import math
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError

from ganaug.data.screening import REJECT_COLUMNS, lost_fraction, unsafe_id_reason
from ganaug.io import write_bytes, write_csv

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".JPG", ".JPEG", ".png", ".PNG")
# the crop is this many times the lesion's longer bounding-box side, so some skin stays around it
CROP_MARGIN = 1.5
# ... but never smaller than this share of the image's short side (tiny lesions keep context)
MIN_CROP_SHARE = 0.5
# size of the copy the automatic localisation looks at
LOCATE_SIDE = 128


class TooManyRejects(RuntimeError):
    """More images were rejected than data.max_reject_fraction allows."""


@dataclass(frozen=True)
class Task:
    image_id: str
    image_path: Path | None  # None: no file found under any known suffix
    mask_path: Path | None  # None: no mask for this image
    out_path: Path
    image_size: int
    jpeg_draft: bool


@dataclass(frozen=True)
class Outcome:
    image_id: str
    ok: bool
    reason: str  # why it was rejected ("" when ok)
    crop_method: str  # mask | otsu | centre ("" when rejected)
    orig_width: int
    orig_height: int
    orig_mode: str
    decode_scale: float  # 1.0 = full decode; 0.5 = libjpeg decoded at half size
    notes: str  # conversions made on the way ("; "-separated)


def find_image(images_dir: Path, image_id: str) -> Path | None:
    for suffix in IMAGE_SUFFIXES:
        p = images_dir / f"{image_id}{suffix}"
        if p.is_file():
            return p
    return None


def _to_rgb(im: Image.Image, path: Path, notes: list[str]) -> np.ndarray:
    """Any PIL mode to uint8 RGB, saying what was converted."""
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(im).astype(np.float64)
        top = 65535.0 if mode.startswith("I;16") or arr.max() > 255 else 255.0
        grey = np.clip(np.round(arr * (255.0 / top)), 0, 255).astype(np.uint8)
        notes.append(f"{mode} greyscale scaled to 8-bit RGB")
        return np.repeat(grey[..., None], 3, axis=2)
    if mode == "F":
        raise ValueError("floating-point image: no safe conversion to 8-bit")
    if mode != "RGB":
        if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in im.info):
            notes.append(f"{mode}: alpha channel dropped")
        elif mode in ("L", "1"):
            notes.append(f"{mode} greyscale converted to RGB")
        else:
            notes.append(f"{mode} converted to RGB")
        im = im.convert("RGB")
    elif path.suffix.lower() == ".png" and _png_bit_depth(path) == 16:
        notes.append("16-bit PNG reduced to 8-bit")
    return np.asarray(im, dtype=np.uint8)


def _png_bit_depth(path: Path) -> int:
    with open(path, "rb") as fh:
        head = fh.read(25)
    return head[24] if len(head) == 25 and head[12:16] == b"IHDR" else 8


def _decode(path: Path, min_side: float | None, draft: bool, notes: list[str]) -> tuple[np.ndarray, float]:
    """Decode to uint8 RGB; with ``min_side`` set, a JPEG may be decoded at 1/2, 1/4 or 1/8 size
    as long as its short side stays >= ``min_side``. Returns (image, scale)."""
    with Image.open(path) as im:
        w, h = im.size
        if draft and im.format == "JPEG" and min_side is not None and im.mode in ("RGB", "L"):
            s = min(1.0, min_side / min(w, h))
            im.draft(im.mode, (math.ceil(w * s), math.ceil(h * s)))
        im.load()  # raises OSError on truncated or corrupt data
        rgb = _to_rgb(im, path, notes)
    return rgb, rgb.shape[1] / w


def _mask_bbox(mask_path: Path, w: int, h: int) -> tuple[float, float, float, float] | None:
    """Lesion box (x0, y0, x1, y1) in image pixels from a mask of any size; None if empty."""
    with Image.open(mask_path) as m:
        arr = np.asarray(m.convert("L"))
    ys, xs = np.nonzero(arr > 127)
    if len(xs) == 0:
        return None
    sx, sy = w / arr.shape[1], h / arr.shape[0]
    return xs.min() * sx, ys.min() * sy, (xs.max() + 1) * sx, (ys.max() + 1) * sy


def locate_lesion(rgb: np.ndarray) -> tuple[float, float, float, float] | None:
    """Automatic lesion box in ``rgb``'s pixels: Otsu threshold of the blurred grey image.

    Lesions are darker than the surrounding skin. Dark regions touching the border (the
    dermoscope's vignette, a ruler) are down-weighted; hairs vanish in the blur and the opening.
    Returns None when nothing lesion-like is found.
    """
    h, w = rgb.shape[:2]
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    k = max(3, (min(h, w) // 40) | 1)
    blur = cv2.GaussianBlur(grey, (k, k), 0)
    # threshold from the central region only: the vignette would otherwise set it
    cy0, cy1, cx0, cx1 = h // 6, h - h // 6, w // 6, w - w // 6
    thr, _ = cv2.threshold(blur[cy0:cy1, cx0:cx1], 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    dark = (blur <= thr).astype(np.uint8)
    dark = cv2.morphologyEx(dark, cv2.MORPH_OPEN, np.ones((k, k), np.uint8))
    n, _lab, stats, _ = cv2.connectedComponentsWithStats(dark, connectivity=8)
    best, best_score = None, 0.0
    for i in range(1, n):
        x, y, bw, bh, area = stats[i]
        touches = x == 0 or y == 0 or x + bw == w or y + bh == h
        score = area * (0.2 if touches else 1.0)
        if score > best_score:
            best, best_score = (float(x), float(y), float(x + bw), float(y + bh)), score
    if best is None or best_score < 0.005 * h * w:
        return None
    return best


def crop_box(bbox: tuple[float, float, float, float] | None, w: int, h: int) -> tuple[float, float, float]:
    """Square crop (x0, y0, side) in image pixels: centred on the lesion, inside the image."""
    short = min(w, h)
    if bbox is None:
        side = float(short)
        cx, cy = w / 2, h / 2
    else:
        x0, y0, x1, y1 = bbox
        side = float(np.clip(CROP_MARGIN * max(x1 - x0, y1 - y0), MIN_CROP_SHARE * short, short))
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    # shift the square back inside the image rather than pad it
    left = float(np.clip(cx - side / 2, 0, w - side))
    top = float(np.clip(cy - side / 2, 0, h - side))
    return left, top, side


def process_one(task: Task) -> Outcome:
    """Everything for one image; never raises for bad input, returns a rejection instead."""

    def reject(reason: str, w: int = 0, h: int = 0, mode: str = "") -> Outcome:
        return Outcome(task.image_id, False, reason, "", w, h, mode, 0.0, "")

    if task.image_path is None:
        return reject("missing file")
    notes: list[str] = []
    try:
        with Image.open(task.image_path) as im:
            w, h, mode = im.size[0], im.size[1], im.mode
    except (UnidentifiedImageError, OSError) as err:
        return reject(f"unreadable image: {err}")
    if min(w, h) < task.image_size / 2:
        return reject(
            f"too small: {w}x{h}, the short side must be at least {task.image_size // 2} px "
            f"(half of image_size {task.image_size})",
            w,
            h,
            mode,
        )
    try:
        # One decode serves both localisation and crop: every crop is at least MIN_CROP_SHARE of
        # the short side, so a short side of image_size / MIN_CROP_SHARE always suffices.
        rgb, scale = _decode(task.image_path, task.image_size / MIN_CROP_SHARE, task.jpeg_draft, notes)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        return reject(f"corrupt or truncated image: {err}", w, h, mode)
    bbox, method = None, "centre"
    if task.mask_path is not None:
        try:
            bbox = _mask_bbox(task.mask_path, w, h)
        except (UnidentifiedImageError, OSError) as err:
            notes.append(f"mask unreadable ({err}), located automatically")
        if bbox is not None:
            method = "mask"
        elif not any(n.startswith("mask") for n in notes):
            notes.append("mask empty, located automatically")
    if bbox is None:
        f = min(1.0, 2 * LOCATE_SIDE / max(rgb.shape[:2]))  # threshold a small copy: fast, hairs blur out
        small = cv2.resize(rgb, None, fx=f, fy=f, interpolation=cv2.INTER_AREA) if f < 1 else rgb
        found = locate_lesion(small)
        if found is not None:
            k = scale * small.shape[1] / rgb.shape[1]  # original px -> small px
            bbox, method = tuple(v / k for v in found), "otsu"
    left, top, side = crop_box(bbox, w, h)

    x0, y0 = round(left * scale), round(top * scale)
    n = round(side * scale)
    crop = rgb[y0 : y0 + n, x0 : x0 + n]
    if n < task.image_size:
        notes.append(f"upscaled from a {n} px crop")
    interp = cv2.INTER_AREA if n >= task.image_size else cv2.INTER_CUBIC
    out = cv2.resize(crop, (task.image_size, task.image_size), interpolation=interp)
    ok, png = cv2.imencode(".png", cv2.cvtColor(out, cv2.COLOR_RGB2BGR))
    if not ok:  # pragma: no cover - cv2 only fails here on a broken build
        return reject("PNG encoding failed", w, h, mode)
    write_bytes(png.tobytes(), task.out_path)
    return Outcome(task.image_id, True, "", method, w, h, mode, round(scale, 6), "; ".join(notes))


def _tasks(
    kept: pd.DataFrame,
    images_dir: Path,
    masks_dir: str | Path | None,
    out_dir: Path,
    image_size: int,
    jpeg_draft: bool,
) -> list[Task]:
    tasks = []
    files = kept["file"] if "file" in kept.columns else [""] * len(kept)
    for iid, file in zip(kept["image_id"], files, strict=True):
        mask = Path(masks_dir) / f"{iid}_segmentation.png" if masks_dir is not None else None
        found = mask if mask and mask.is_file() else None
        # the archive's own file name where it has one (Derm7pt), else <id>.<known suffix>
        if file:
            image = images_dir / file if (images_dir / file).is_file() else None
        else:
            image = find_image(images_dir, iid)
        tasks.append(Task(iid, image, found, out_dir / f"{iid}.png", image_size, jpeg_draft))
    return tasks


def _run(tasks: list[Task], workers: int, progress: bool) -> list[Outcome]:
    from tqdm import tqdm

    with ExitStack() as stack:
        if workers > 1:  # one worker: stay in this process, a pool would only add start-up time
            pool = stack.enter_context(ProcessPoolExecutor(max_workers=workers))
            results = pool.map(process_one, tasks, chunksize=16)
        else:
            results = map(process_one, tasks)
        bar = tqdm(
            results, total=len(tasks), desc="preprocess", unit="img", mininterval=2, disable=not progress
        )
        return list(bar)


def _report(processed: pd.DataFrame, rejects: pd.DataFrame, max_reject_fraction: float) -> None:
    """Log every reject and the totals; stop when more images are lost than allowed."""
    n_lost, total, frac = lost_fraction(processed["image_id"], rejects)
    for reason, count in rejects["reason"].str.split(":").str[0].value_counts().items():
        log.warning("rejected %d image(s): %s", count, reason)
    for row in rejects.itertuples():
        log.info("reject %s: %s", row.image_id, row.reason)
    log.info(
        "preprocessed %d of %d images (%d lost, %.2f%%; %d rows in rejects.csv); crop methods: %s",
        len(processed),
        total,
        n_lost,
        100 * frac,
        len(rejects),
        processed["crop_method"].value_counts().to_dict(),
    )
    if frac > max_reject_fraction:
        from ganaug.data.inclusion import is_exclusion

        lost = rejects.loc[~rejects["reason"].map(is_exclusion).astype(bool)]
        examples = "; ".join(f"{r.image_id}: {r.reason}" for r in lost.head(5).itertuples())
        raise TooManyRejects(
            f"{n_lost} of {total} images rejected ({100 * frac:.1f}%), more than "
            f"data.max_reject_fraction = {max_reject_fraction:g}. First: {examples}. "
            "The rule's log lists every rejected image and its reason."
        )


def preprocess_all(
    labels: pd.DataFrame,
    images_dir: str | Path,
    masks_dir: str | Path | None,
    out_dir: str | Path,
    image_size: int,
    jpeg_draft: bool,
    max_reject_fraction: float,
    workers: int = 1,
    progress: bool = True,
    label_rejects: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Preprocess every row of ``labels`` (one per id, screened by ingest); return (processed
    table, rejects table: ``label_rejects`` first, then the images that could not be used).

    Raises TooManyRejects when more than ``max_reject_fraction`` of the images are lost.
    """
    images_dir, out_dir = Path(images_dir), Path(out_dir)
    if not images_dir.is_dir():
        raise FileNotFoundError(f"data.images: folder {images_dir} not found")
    if masks_dir is not None and not Path(masks_dir).is_dir():
        raise FileNotFoundError(f"data.masks: folder {masks_dir} not found")
    out_dir.mkdir(parents=True, exist_ok=True)
    dup = labels["image_id"][labels["image_id"].duplicated()]
    if len(dup):  # ingest writes one row per id; anything else is not its output
        raise ValueError(f"labels table lists {dup.iloc[0]!r} twice: run it through ingest")
    rejects = [] if label_rejects is None else list(label_rejects[REJECT_COLUMNS].itertuples(index=False))
    # ingest has screened the ids already; this keeps the function safe on any table
    unsafe = {i: r for i in labels["image_id"] if (r := unsafe_id_reason(i))}
    rejects += list(unsafe.items())
    kept = labels[~labels["image_id"].isin(unsafe)]
    outcomes = _run(_tasks(kept, images_dir, masks_dir, out_dir, image_size, jpeg_draft), workers, progress)
    rejects += [(o.image_id, o.reason) for o in outcomes if not o.ok]
    rejects_df = pd.DataFrame(rejects, columns=REJECT_COLUMNS)
    ok = pd.DataFrame([o.__dict__ for o in outcomes if o.ok], columns=list(Outcome.__dataclass_fields__))
    processed = kept.merge(ok.drop(columns=["ok", "reason"]), on="image_id", how="inner")
    processed["path"] = [str(out_dir / f"{i}.png") for i in processed["image_id"]]
    _report(processed, rejects_df, max_reject_fraction)
    return processed, rejects_df


def preprocess_rule(
    labels: str | Path,
    label_rejects: str | Path,
    images_dir: str | Path,
    masks_dir: str | Path | None,
    out_dir: str | Path,
    table_out: str | Path,
    rejects_out: str | Path,
    image_size: int,
    jpeg_draft: bool,
    max_reject_fraction: float,
    workers: int = 1,
) -> None:
    """The rule preprocess: PNGs, preprocessed.csv and rejects.csv (written for spreadsheets)."""
    read = {"dtype": str, "keep_default_na": False}
    processed, rejects = preprocess_all(
        pd.read_csv(labels, **read),
        images_dir=images_dir,
        masks_dir=masks_dir,
        out_dir=out_dir,
        image_size=image_size,
        jpeg_draft=jpeg_draft,
        max_reject_fraction=max_reject_fraction,
        workers=workers,
        label_rejects=pd.read_csv(label_rejects, **read),
    )
    write_csv(rejects, rejects_out, for_spreadsheets=True)
    write_csv(processed, table_out)
