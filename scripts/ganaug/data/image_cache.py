"""Decode once: one uint8 array per repeat and split, shared by every fit of that repeat.

A fit used to decode every PNG of its training and validation sets itself, on one thread, with
the GPU idle (about 13,100 images of 256 px a fit at ISIC 2019's size, 20-50 s; 165 fits). The
rule ``decode_split`` now writes each split's real images once, as ``{split}.npy`` (N, 3, H, W)
RGB uint8, rows in image_id order, with ``{split}.json`` beside it naming the rows and the
metadata.csv they came from. A fit memory-maps the array and gathers its rows; only the images
that are not in a split (synthetic ones, extra real ones) are still decoded by the fit.

The pixels are those :func:`ganaug.data.datasets.decode_cache` gives (it is what the rule calls,
on several threads), so fits read exactly what they decoded before. The test split's array is
opened only after the epoch and the threshold are fixed, as the PNGs were.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from ganaug.data.datasets import decode_cache, real_split
from ganaug.data.download import sha256sum
from ganaug.io import atomic_path, write_json

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
GATHER_BLOCK = 512  # rows copied at a time (100 MB at 256 px)
REPEAT_SUFFIX = "#repeat"  # an oversampled image's id: <image_id>#repeat<k> (datasets._additions)


def split_rows(metadata: str | Path, split: str):
    """The real images of one split in the cache's order: every class of train (a condition
    picks its rows from them), val and test as the fits read them."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    return real_split(metadata, split)


def decode_split_rule(
    metadata: str | Path, split: str, size: int, out_npy: str | Path, out_json: str | Path, threads: int = 1
) -> dict:
    """Decode the real images of ``split`` into ``out_npy`` (written in place through a memory map
    into a temporary file, so a split of 9,000 images never sits in memory twice) and describe it
    in ``out_json``."""
    from tqdm import tqdm

    rows = split_rows(metadata, split)
    n, chunk = len(rows.paths), 256
    with atomic_path(out_npy, suffix=".npy") as tmp:
        arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(n, 3, size, size))
        starts = range(0, n, chunk)
        # cv2 releases the GIL while it decodes: threads scale, without a process pool's copies
        with (
            ThreadPoolExecutor(max(1, threads)) as pool,
            tqdm(total=n, desc=f"decode {split}", unit="img", mininterval=5) as bar,
        ):

            def one(s: int) -> int:
                arr[s : s + chunk] = decode_cache(rows.paths[s : s + chunk], size).numpy()
                return min(chunk, n - s)

            for k in pool.map(one, starts):
                bar.update(k)
        arr.flush()
        del arr
    info = {
        "split": split,
        "n": n,
        "image_size": size,
        "ids": rows.ids,
        "metadata_sha256": sha256sum(metadata),
        "npy_bytes": Path(out_npy).stat().st_size,
    }
    write_json(info, out_json)
    log.info(
        "%s: %d images of %d px decoded into %s (%.1f MB)", split, n, size, out_npy, info["npy_bytes"] / 1e6
    )
    return info


class SplitCache:
    """One split's decoded images, memory-mapped, looked up by image id."""

    def __init__(self, npy: str | Path, metadata: str | Path, split: str, size: int):
        self.npy = Path(npy)
        info = json.loads(self.npy.with_suffix(".json").read_text())
        problems = []
        if info.get("split") != split:
            problems.append(f"it holds split {info.get('split')!r}, not {split!r}")
        if info.get("image_size") != size:
            problems.append(f"its images are {info.get('image_size')} px, not {size}")
        if info.get("metadata_sha256") != sha256sum(metadata):
            problems.append(f"it was decoded from another version of {metadata}")
        if problems:
            raise ValueError(f"image cache {self.npy}: " + "; ".join(problems) + " (rerun decode_split)")
        self.array = np.load(self.npy, mmap_mode="r")
        self.row = {i: k for k, i in enumerate(info["ids"])}
        if self.array.shape != (len(self.row), 3, size, size):
            raise ValueError(f"image cache {self.npy}: shape {self.array.shape} for {len(self.row)} ids")

    def lookup(self, image_id: str) -> int | None:
        """The row of a real image of this split (an oversampled repeat is its original's row)."""
        return self.row.get(image_id.split(REPEAT_SUFFIX, 1)[0])

    def gather(self, ids: list[str], paths: list[str], size: int) -> torch.Tensor:
        """uint8 (N, 3, size, size) for ``ids``: rows of the cache where it holds them, decoded
        from ``paths`` where it does not (synthetic and extra real images)."""
        rows = [self.lookup(i) for i in ids]
        out = np.empty((len(ids), 3, size, size), np.uint8)
        hit = [k for k, r in enumerate(rows) if r is not None]
        if hit:
            # sorted rows read the memory map front to back, in blocks (one block in memory twice,
            # not the whole set); then into place
            src = np.asarray([rows[k] for k in hit])
            order = np.argsort(src, kind="stable")
            dest = np.asarray(hit)[order]
            for s in range(0, len(order), GATHER_BLOCK):
                out[dest[s : s + GATHER_BLOCK]] = self.array[src[order[s : s + GATHER_BLOCK]]]
        miss = [k for k, r in enumerate(rows) if r is None]
        if miss:
            out[miss] = decode_cache([paths[k] for k in miss], size).numpy()
        return torch.from_numpy(out)


def cached_images(
    cache: SplitCache | None, ids: list[str], paths: list[str], size: int, progress: bool = False
) -> torch.Tensor:
    """The images of a set: from the split's cache when there is one, else decoded."""
    if cache is None:
        return decode_cache(paths, size, progress)
    return cache.gather(ids, paths, size)
