"""Which real images a GAN learnt from, recorded so nothing downstream mixes two splits.

When the split changes (another seed, other data), the GAN must learn again from the new
training split only: a generator trained on the old split has seen lesions that may now be in
validation or test, and its near-copies would leak them into training. So the generator's
checkpoint, ``generator.pt``, the raw synthetic set's manifest and the curated set's summary all
carry the fingerprint of the training set (the sorted ids of the train-split minority images and
a hash of their decoded pixels), and every stage that combines synthetic images with the current
split checks it against that split.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ganaug.data.datasets import decode_cache
from ganaug.data.metadata import train_minority


class OtherTrainingSet(RuntimeError):
    """Synthetic images (or a generator) come from a GAN trained on another training split."""


@dataclass(frozen=True)
class MinorityTrainSet:
    """The real minority images of the training split: the GAN's only data."""

    ids: list[str]  # image ids, sorted
    images: Any  # uint8 torch tensor (N, 3, H, W), in the order of ids

    def fingerprint(self) -> dict[str, Any]:
        return fingerprint(self.ids, np.ascontiguousarray(self.images.numpy()))


def fingerprint(ids: list[str], images_u8: np.ndarray) -> dict[str, Any]:
    """What identifies a training set: its ids, its pixels, and one short digest of both."""
    if list(ids) != sorted(ids):
        raise ValueError("training-set ids must be sorted")
    ids_sha = hashlib.sha256("\n".join(ids).encode("utf-8")).hexdigest()
    h = hashlib.sha256(str(images_u8.shape).encode())
    h.update(np.ascontiguousarray(images_u8, dtype=np.uint8).tobytes())
    pixels_sha = h.hexdigest()
    digest = hashlib.sha256(f"{ids_sha}:{pixels_sha}".encode()).hexdigest()[:16]
    return {
        "n": len(ids),
        "ids_sha256": ids_sha,
        "pixels_sha256": pixels_sha,
        "shape": list(images_u8.shape),
        "digest": digest,
    }


def load_train_minority(metadata_csv: str | Path, img_size: int) -> MinorityTrainSet:
    """The train-split minority images, selected from metadata.csv before any image is opened
    (validation and test images are never read), decoded as uint8."""
    rows = train_minority(metadata_csv)
    return MinorityTrainSet(rows["image_id"].tolist(), decode_cache(rows["path"].tolist(), img_size))


def check_same_training_set(recorded: str | None, current: str, what: str) -> None:
    """Stop when ``what`` was made from another training split than the current one."""
    if recorded != current:
        raise OtherTrainingSet(
            f"{what} was made by a GAN trained on another training set (fingerprint "
            f"{recorded or 'missing'}; the current train split's is {current}). The split or the data "
            "changed since: rerun the GAN and everything after it (Snakemake does this when "
            "the repeat's data/metadata.csv is newer; otherwise use --forcerun train_gan, or "
            "train_generator for another generator family)."
        )


# the key under which a raw set's manifest, a curated set's summary and a fit's provenance record
# the fingerprint of the training set their generator learnt from; results written before the
# generator registry used the old key, which is still read
TRAINING_SET_KEY, OLD_TRAINING_SET_KEY = "generator_training_set", "gan_training_set"


def recorded_training_set(record: dict) -> str | None:
    """The generator's training-set fingerprint in a summary or provenance record, either key."""
    return record.get(TRAINING_SET_KEY, record.get(OLD_TRAINING_SET_KEY))


def manifest_digest(manifest_csv: str | Path) -> str | None:
    """The training-set fingerprint recorded in raw_manifest.csv (None when absent)."""
    import pandas as pd

    table = pd.read_csv(manifest_csv, dtype=str, keep_default_na=False)
    column = next((c for c in (TRAINING_SET_KEY, OLD_TRAINING_SET_KEY) if c in table.columns), None)
    values = set(table[column]) if column else set()
    return values.pop() if len(values) == 1 and "" not in values else None


def check_raw_set(manifest_csv: str | Path, metadata_csv: str | Path, img_size: int) -> str:
    """The current train split's fingerprint, after checking that the raw synthetic set listed in
    ``manifest_csv`` comes from a GAN trained on exactly that split."""
    current = load_train_minority(metadata_csv, img_size).fingerprint()["digest"]
    check_same_training_set(manifest_digest(manifest_csv), current, f"the raw synthetic set ({manifest_csv})")
    return current
