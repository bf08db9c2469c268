"""Blur filter: variance of the Laplacian of the greyscale image (Pech-Pacheco et al. 2000).

A sharp image has strong second derivatives somewhere, so the Laplacian's variance is high; a
blurred one has little. The value scales with image content and resolution (downsampling a
256 px image to 64 px raises it), so the study's threshold of 100 is for 256 px dermoscopy.

The threshold can instead come from the real images (``curation.blur_percentile``): a percentile
of the real train-split minority images' values, at the same size, so every generator's images
pass one rule set by the data, not tuned to any generator's grain.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np


def laplacian_variance(grey_u8: np.ndarray) -> float:
    return float(cv2.Laplacian(grey_u8, cv2.CV_64F).var())


def real_percentile(metadata: str | Path, q: float) -> float:
    """The ``q``-th percentile of the real train-split minority images' Laplacian variance (the
    only real images curation may read), each read as curation reads a synthetic one."""
    from ganaug.data.image_files import read_grey
    from ganaug.data.metadata import train_minority

    rows = train_minority(metadata)
    values = []
    for path in rows["path"]:
        grey = read_grey(Path(path))
        if grey is None:
            raise ValueError(
                f"{metadata}: {path} is not a readable image (curation.blur_percentile reads it)"
            )
        values.append(laplacian_variance(grey))
    if not values:
        raise ValueError(f"{metadata}: no train-split minority images to set curation.blur_percentile from")
    return float(np.percentile(values, q))
