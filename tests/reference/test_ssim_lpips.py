"""SSIM and LPIPS in bulk equal skimage's and the lpips package's, pair by pair, on fresh images."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from ganaug.curation.lpips_fast import FastLpips, min_lpips
from ganaug.curation.ssim import ImageStats, max_ssim, ssim_pairs

CANDS = ["generated_0000.png", "generated_0001.png", "generated_0002.png"]


def textured(rng: np.random.Generator, n: int, size: int) -> np.ndarray:
    """Smooth random fields plus noise: SSIM values spread over (0, 1), unlike pure noise."""
    out = []
    for _ in range(n):
        coarse = rng.uniform(0, 255, (size // 8 + 1, size // 8 + 1)).astype(np.float32)
        img = cv2.resize(coarse, (size, size), interpolation=cv2.INTER_CUBIC) + rng.normal(
            0, 12, (size, size)
        )
        out.append(np.clip(img, 0, 255).astype(np.uint8))
    return np.stack(out)


@pytest.mark.parametrize(("size", "seed"), [(32, 0), (64, 1), (57, 2)])
def test_ssim_equals_skimage_for_every_pair(size, seed):
    rng = np.random.default_rng(seed)
    a = textured(rng, 5, size)
    b = np.concatenate([textured(rng, 4, size), rng.integers(0, 256, (2, size, size), dtype=np.uint8)])
    b[0] = a[3]  # an exact copy
    b[1] = np.clip(a[1].astype(int) + rng.integers(-15, 16, a[1].shape), 0, 255).astype(np.uint8)
    got = ssim_pairs(ImageStats(torch.from_numpy(a)), ImageStats(torch.from_numpy(b))).numpy()
    ref = np.array([[structural_similarity(x, y) for y in b] for x in a])
    assert np.abs(got - ref).max() < 1e-4
    assert got[3, 0] == pytest.approx(1.0, abs=1e-6)


def test_max_ssim_to_the_other_real_images_equals_skimage():
    """The Turing test's proxy for real images: each one's highest SSIM to the others, never to
    itself, though another image may be its exact copy."""
    from ganaug.curation.review_stage import max_ssim_to_others

    rng = np.random.default_rng(11)
    g = textured(rng, 6, 40)
    g[4] = g[1]  # a duplicate: the two score 1 against each other
    got = max_ssim_to_others(torch.from_numpy(g))
    ref = [max(structural_similarity(g[i], g[j]) for j in range(len(g)) if j != i) for i in range(len(g))]
    assert np.abs(got - np.array(ref)).max() < 1e-4
    assert got[1] == pytest.approx(1.0, abs=1e-6) and got[0] < 1.0
    assert np.isnan(max_ssim_to_others(torch.from_numpy(g[:1]))).all()
    # some rows only (each against every image): the same values as those rows of all of them
    rows = [4, 0, 2]
    np.testing.assert_array_equal(max_ssim_to_others(torch.from_numpy(g), rows), got[rows])


def test_max_ssim_over_chunks():
    rng = np.random.default_rng(4)
    a, b = textured(rng, 7, 32), textured(rng, 5, 32)
    best, arg = max_ssim(torch.from_numpy(a), torch.from_numpy(b), chunk=3)
    ref = np.array([[structural_similarity(x, y) for y in b] for x in a])
    assert np.allclose(best.numpy(), ref.max(1), atol=1e-4)
    assert (arg.numpy() == ref.argmax(1)).all()


@pytest.mark.parametrize("size", [32, 36, 64])  # 36: VGG16 pools it to 18, 9, 4 and 2
def test_lpips_equals_the_lpips_package(lpips_model, size):
    g = torch.Generator().manual_seed(size)
    a = torch.randint(0, 256, (4, 3, size, size), generator=g, dtype=torch.uint8)
    b = torch.randint(0, 256, (3, 3, size, size), generator=g, dtype=torch.uint8)
    b[0] = a[2]
    b[1] = (a[0].int() + torch.randint(-20, 21, a[0].shape, generator=g)).clamp(0, 255).to(torch.uint8)
    fast = FastLpips(lpips_model, torch.device("cpu"))
    got = fast.distances(fast.features(a), fast.features(b))
    with torch.no_grad():
        ref = torch.tensor(
            [
                [lpips_model(x[None].float() / 127.5 - 1, y[None].float() / 127.5 - 1).item() for y in b]
                for x in a
            ]
        )
    assert (got - ref).abs().max().item() < 1e-4
    assert got[2, 0].item() == pytest.approx(0.0, abs=1e-4)
    best, arg = min_lpips(fast, a, b, chunk=3)
    assert torch.allclose(best, ref.min(1).values, atol=1e-4) and (arg == ref.argmin(1)).all()


def test_lpips_from_float16_features_in_blocks_equals_the_lpips_package(lpips_model, monkeypatch):
    """The stored (real) side in float16, its float32 copies made a few rows at a time (blocks
    smaller than one image's largest layer here), and the query side chunked: still within 1e-4
    of the package, and at 128 px, where layer 1 alone holds 1 M values an image."""
    import ganaug.curation.lpips_fast as lf

    monkeypatch.setattr(lf, "BLOCK_VALUES", 300_000)
    g = torch.Generator().manual_seed(128)
    a = torch.randint(0, 256, (3, 3, 128, 128), generator=g, dtype=torch.uint8)
    b = torch.randint(0, 256, (4, 3, 128, 128), generator=g, dtype=torch.uint8)
    fast = FastLpips(lpips_model, torch.device("cpu"))
    stored = lf.features_in_chunks(fast, b, chunk=3)
    assert stored.flat[0].dtype == torch.float16 and stored.own[0].dtype == torch.float32
    got = torch.cat([fast.distances(fast.features(a[s : s + 2]), stored) for s in (0, 2)])
    with torch.no_grad():
        scale = lambda t: t[None].float() / 127.5 - 1  # noqa: E731
        ref = torch.tensor([[lpips_model(scale(x), scale(y)).item() for y in b] for x in a])
    assert (got - ref).abs().max().item() < 1e-4
    # and the stored set against itself, query rows taken back to float32
    self_d = torch.cat([fast.distances(stored.rows(s, s + 3), stored) for s in (0, 3)])
    assert self_d.diagonal().abs().max().item() < 1e-4


def test_lpips_refuses_features_of_different_image_sizes(lpips_model):
    """Columns would pair up wrongly across sizes: refused, not a plausible-looking number."""
    fast = FastLpips(lpips_model, torch.device("cpu"))
    g = torch.Generator().manual_seed(3)
    small = fast.features(torch.randint(0, 256, (2, 3, 32, 32), generator=g, dtype=torch.uint8))
    large = fast.features(torch.randint(0, 256, (2, 3, 64, 64), generator=g, dtype=torch.uint8))
    with pytest.raises(ValueError, match="different image sizes"):
        fast.distances(small, large)
