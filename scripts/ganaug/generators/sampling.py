"""What every family's sampling shares: image i comes from its own seed (``latent_seed``:
``SeedSequence([seed, i])``), so it is reproducible alone and does not depend on the batch it
was generated in; the raw set's file names and manifest; reading a generator file of one family.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch

from ganaug.data.provenance import TRAINING_SET_KEY
from ganaug.generators.resume import no_family_message
from ganaug.io import write_bytes, write_csv

log = logging.getLogger(__name__)


class GeneratorMismatch(ValueError):
    """generator.pt is not a generator of the configured family, architecture and size."""


def read_generator_file(path: str | Path, family: str, label: str) -> dict:
    """The blob of a generator file that ``family`` (``label``: how messages name it) wrote:
    an error naming the file where it is unreadable, of another family, or of none."""
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise GeneratorMismatch(f"{path}: not a generator file this workflow wrote ({err})") from None
    if not isinstance(blob, dict):
        raise GeneratorMismatch(
            f"{path}: expected a dict as the training job writes, found {type(blob).__name__}"
        )
    if "family" not in blob:
        raise GeneratorMismatch(no_family_message(path, "generator file"))
    if blob["family"] != family:
        raise GeneratorMismatch(
            f"{path}: a {blob['family']} generator, not a {label} one; retrain it (snakemake "
            "--forcerun on its training rule)"
        )
    return blob


def latent_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, index]).generate_state(1, dtype=np.uint64)[0] >> 1)


def latent(seed: int, index: int, dim: int) -> torch.Tensor:
    """The latent vector of image ``index``: N(0, 1) of length ``dim`` from its own seed (every
    GAN family's, so an image does not depend on its batch)."""
    return torch.randn(dim, generator=torch.Generator().manual_seed(latent_seed(seed, index)))


def image_name(index: int, n: int) -> str:
    return f"generated_{index:0{max(4, len(str(n - 1)))}d}.png"


def write_samples(
    generate_batch: Callable[[list[int]], np.ndarray],
    out_dir: str | Path,
    manifest: str | Path,
    n: int,
    seed: int,
    batch_size: int,
    training_set: dict,
    progress: bool = True,
) -> pd.DataFrame:
    """Images 0..n-1 from ``generate_batch`` (indices -> uint8 RGB), in batches, and the manifest:
    every generator family writes its raw set through this one function."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    starts = range(0, n, batch_size)
    if progress:
        from tqdm import tqdm

        starts = tqdm(starts, desc="sample", unit="batch", mininterval=10)
    for s in starts:
        idx = list(range(s, min(n, s + batch_size)))
        for i, img in zip(idx, generate_batch(idx), strict=True):
            ok, png = cv2.imencode(".png", cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
            assert ok
            write_bytes(png.tobytes(), out_dir / image_name(i, n))
    table = pd.DataFrame(
        {
            "image": [image_name(i, n) for i in range(n)],
            "index": range(n),
            "latent_seed": [latent_seed(seed, i) for i in range(n)],
            TRAINING_SET_KEY: training_set.get("digest", ""),
        }
    )
    write_csv(table, manifest)
    log.info("wrote %d synthetic images to %s", n, out_dir)
    return table
