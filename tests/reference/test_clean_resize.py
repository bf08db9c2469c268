"""The feature extractors' resize against clean-fid's own resizer (its "clean" mode: PIL bicubic
on float32 channels), on fresh random images, up and down; and the reason for it: a pixel-level
checkerboard shrunk by the anti-aliased filter stays grey, where the bilinear resize of
interpolate (pytorch-fid's) keeps a pattern."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from cleanfid.resize import make_resizer

from ganaug.evaluation.clean_resize import clean_resize


@pytest.mark.parametrize(("side", "size"), [(64, 299), (256, 299), (256, 224), (300, 224)])
def test_equal_to_clean_fids_resizer(side, size):
    rng = np.random.default_rng(side + size)
    images = rng.integers(0, 256, size=(3, 3, side, side), dtype=np.uint8)
    resize = make_resizer("PIL", False, "bicubic", (size, size))
    ours = clean_resize(torch.from_numpy(images), size).numpy()
    for k, image in enumerate(images):
        ref = resize(image.transpose(1, 2, 0)).transpose(2, 0, 1) / 255.0  # HWC in [0, 255]
        np.testing.assert_allclose(ours[k], ref, rtol=0, atol=1e-6)
    assert ours.dtype == np.float32 and ours.shape == (3, 3, size, size)


def test_a_shrunk_checkerboard_stays_grey_where_bilinear_aliases():
    board = ((np.indices((300, 300)).sum(0) % 2) * 255).astype(np.uint8)
    x = torch.from_numpy(np.stack([board] * 3)[None])
    clean = clean_resize(x, 224)
    bilinear = F.interpolate(x.float() / 255, size=(224, 224), mode="bilinear", align_corners=False)
    assert float(clean.std()) < 0.05 < float(bilinear.std())
