"""Near-duplicate images across sets, found by their pixels: a perceptual hash that survives
re-encoding, resizing and a slight re-crop.

Public archives share images under new ids: a JPEG re-saved at another quality, a resized copy,
a copy with its border trimmed. Ids, lesion ids and identical pixels (ganaug.data.external) miss
all three. This module hashes every image with pHash (``imagehash.phash``, a maintained library:
the DCT of a 64 x 64 greyscale thumbnail, 16 x 16 = 256 bits) and compares the hashes by their
Hamming distance.

Why the whole photograph and not the 256 px lesion crop: the crop is placed around the lesion
that preprocessing finds (Otsu's threshold), and on a re-cropped or re-encoded copy that box
moves; on the phantom set the crops' hashes of such copies were up to 20 of 64 bits apart, no
closer than distinct lesions (tests/unit/data/test_near_duplicates.py holds the cases). The
photograph is decoded as for preprocessing (libjpeg's draft mode, RGB), brought to
:data:`WORKING_SIDE` px on its long side, and a trimmed border is absorbed by hashing, for every
image, its :data:`TRIMS`-trimmed crops too: 3^4 = 81 variants, each side cut by 0, 2.5 or 5 %.
Two images are near-duplicates when the whole-image hash of either lies within
:data:`MAX_DISTANCE` bits of some variant of the other.

:data:`MAX_DISTANCE` = 24 of 256 bits. Measured on 200 distinct phantom lesions and copies of 30
of them: JPEG quality 70 at most 10 bits, a 0.8x resize at most 8, a 5 % crop at most 4; distinct
lesions at least 44 (0.1st percentile 58). The margin was measured on the phantom only; real
dermoscopy shares a dark vignette too, so every screen logs the nearest distance of the images it
did not flag (min, 1st percentile, median), which shows how close a real archive's distinct
images come.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ganaug.data.preprocess import find_image
from ganaug.io import atomic_path

HASH_SIZE = 16  # 16 x 16 = 256 bits
TRIMS = (0.0, 0.025, 0.05)  # the share cut from each side, in every combination
MAX_DISTANCE = 24  # bits of 256
NEAR_COLUMNS = ["image_id", "reason", "archive_image_id", "distance"]


WORKING_SIDE = 160  # px on the long side the photograph is hashed at: 2.5x the hash's 64 px thumbnail


def _decode(path: str | Path):
    """The photograph, RGB, at WORKING_SIDE on its long side: every one of the 81 crops is then
    cheap to thumbnail (3.4x faster than cropping the full decode, measured on the phantom)."""
    from PIL import Image

    im = Image.open(path)
    # libjpeg's DCT scaling: decode a large JPEG at a fraction of its size first
    im.draft("RGB", (2 * WORKING_SIDE, 2 * WORKING_SIDE))
    im = im.convert("RGB")
    scale = WORKING_SIDE / max(im.size)
    if scale < 1:
        im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.BILINEAR)
    return im


def hash_variants(path: str | Path) -> np.ndarray:
    """(81, 32) uint8: the packed pHash of the image, then of each trimmed crop (row 0: whole)."""
    import imagehash

    im = _decode(path)
    w, h = im.size
    out = []
    for left, top, right, bottom in itertools.product(TRIMS, repeat=4):
        box = (int(left * w), int(top * h), w - int(right * w), h - int(bottom * h))
        out.append(np.packbits(imagehash.phash(im.crop(box), hash_size=HASH_SIZE).hash.ravel()))
    return np.stack(out)


def _one(path: str) -> np.ndarray:
    return hash_variants(path)


def hash_images(
    paths: Mapping[str, str | Path], workers: int = 1, progress: bool = True
) -> dict[str, np.ndarray]:
    """{image id: hash_variants} of every image, in ``workers`` processes."""
    from concurrent.futures import ProcessPoolExecutor

    from tqdm import tqdm

    ids, files = list(paths), [str(p) for p in paths.values()]
    if workers > 1 and len(files) > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            hashes = list(
                tqdm(
                    pool.map(_one, files, chunksize=8),
                    total=len(files),
                    desc="perceptual hash",
                    unit="img",
                    mininterval=2,
                    disable=not progress,
                )
            )
    else:
        hashes = [
            _one(f)
            for f in tqdm(files, desc="perceptual hash", unit="img", mininterval=2, disable=not progress)
        ]
    return dict(zip(ids, hashes, strict=True))


def save_hashes(hashes: Mapping[str, np.ndarray], path: str | Path) -> None:
    ids = np.array(list(hashes), dtype=str)
    stack = np.stack(list(hashes.values())) if len(ids) else np.zeros((0, 3**4, HASH_SIZE**2 // 8), np.uint8)
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez(f, ids=ids, hashes=stack)


def load_hashes(paths: str | Path | Iterable[str | Path]) -> dict[str, np.ndarray]:
    files = [paths] if isinstance(paths, str | Path) else list(paths)
    out: dict[str, np.ndarray] = {}
    for f in files:
        with np.load(f) as z:
            out.update(zip(z["ids"].tolist(), z["hashes"], strict=True))
    return out


def distances(
    query: np.ndarray, reference: np.ndarray, budget_bytes: int = 256 << 20, workers: int = 1
) -> np.ndarray:
    """(n_query, n_reference) Hamming distances: the smaller of (query's whole-image hash against
    the reference's variants) and (the reference's whole-image hash against the query's).

    The hashes are compared as 64-bit words with numpy's popcount, a block of queries at a time
    sized so that the XOR of one block with every reference variant stays within
    ``budget_bytes`` (13,000 archive images x 81 variants is 34 MB a query); ``workers`` threads
    take blocks in turn (numpy's ufuncs release the GIL)."""
    from concurrent.futures import ThreadPoolExecutor

    q64 = np.ascontiguousarray(query).view(np.uint64)  # (nq, 81, 4)
    r64 = np.ascontiguousarray(reference).view(np.uint64)  # (nr, 81, 4)
    nq, nr = len(q64), len(r64)
    out = np.empty((nq, nr), dtype=np.uint16)
    if not nq or not nr:
        return out
    per_query = nr * r64.shape[1] * r64.shape[2] * 8
    chunk = max(1, int(budget_bytes // (per_query * max(1, workers))))
    r_whole = r64[:, 0, :]

    def block(s: int) -> None:
        q = q64[s : s + chunk]
        a = np.bitwise_count(q[:, None, None, 0, :] ^ r64[None, :, :, :]).sum(-1, dtype=np.uint16).min(-1)
        b = np.bitwise_count(q[:, None, :, :] ^ r_whole[None, :, None, :]).sum(-1, dtype=np.uint16).min(-1)
        out[s : s + chunk] = np.minimum(a, b)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        list(pool.map(block, range(0, nq, chunk)))
    return out


def spread(far: np.ndarray) -> list:
    """min, 1st percentile and median of the nearest distances of the images not flagged: how
    close the distinct images of a real archive come to the threshold."""
    return ["n/a"] * 3 if not len(far) else [int(far.min()), int(np.percentile(far, 1)), int(np.median(far))]


def near_duplicates(
    query: Mapping[str, np.ndarray],
    reference: Mapping[str, np.ndarray],
    max_distance: int = MAX_DISTANCE,
    workers: int = 1,
) -> pd.DataFrame:
    """Each query image within ``max_distance`` bits of a reference image: its closest match.
    The distribution of every query's nearest distance is logged, so a threshold too close to
    the distinct images of a real archive shows up."""
    import logging

    if not query or not reference:
        return pd.DataFrame(columns=NEAR_COLUMNS)
    qids, rids = list(query), list(reference)
    d = distances(np.stack([query[i] for i in qids]), np.stack([reference[i] for i in rids]), workers=workers)
    best = d.argmin(axis=1)
    nearest = d[np.arange(len(qids)), best]
    far = nearest[nearest > max_distance]
    logging.getLogger(__name__).info(
        "near-duplicate screen: %d of %d images within %d bits; nearest distance of the others: min %s, "
        "1st percentile %s, median %s (of 256)",
        len(qids) - len(far),
        len(qids),
        max_distance,
        *spread(far),
    )
    rows = [
        (
            qid,
            f"near-duplicate of an archive image (perceptual hash within {max_distance} of 256 bits)",
            rids[j],
            int(d[i, j]),
        )
        for i, (qid, j) in enumerate(zip(qids, best, strict=True))
        if d[i, j] <= max_distance
    ]
    return pd.DataFrame(rows, columns=NEAR_COLUMNS)


def raw_paths(table: pd.DataFrame, images_dir: str | Path) -> dict[str, Path]:
    """{image id: its raw file} of a preprocessed table (the archive's own file name where it has
    one, as Derm7pt, else <id>.<known suffix>)."""
    images_dir = Path(images_dir)
    files = table["file"] if "file" in table.columns else pd.Series("", index=table.index)
    out = {}
    for iid, file in zip(table["image_id"], files, strict=True):
        path = images_dir / file if file else find_image(images_dir, iid)
        if path is None or not path.is_file():
            raise FileNotFoundError(f"{images_dir}: the raw image of {iid!r} is gone since preprocessing")
        out[iid] = path
    return out


def perceptual_hashes_rule(
    table: str | Path, images_dir: str | Path, out: str | Path, workers: int = 1
) -> int:
    """The rule perceptual_hashes: hashes.npz of every image a preprocessed table kept."""
    import logging

    df = pd.read_csv(table, dtype=str, keep_default_na=False)
    hashes = hash_images(raw_paths(df, images_dir), workers=workers)
    save_hashes(hashes, out)
    logging.getLogger(__name__).info("perceptual hashes of %d images (%d variants each)", len(hashes), 3**4)
    return len(hashes)
