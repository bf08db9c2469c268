"""Blur filter: variance of the Laplacian of the greyscale image (Pech-Pacheco et al. 2000).

A sharp image has strong second derivatives somewhere, so the Laplacian's variance is high; a
blurred one has little. The value scales with image content and resolution (downsampling a
256 px image to 64 px raises it), so the study's threshold of 100 is for 256 px dermoscopy.
"""

from __future__ import annotations

import cv2
import numpy as np


def laplacian_variance(grey_u8: np.ndarray) -> float:
    return float(cv2.Laplacian(grey_u8, cv2.CV_64F).var())
