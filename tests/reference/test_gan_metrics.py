"""GAN metrics against pytorch-fid and torch-fidelity, on fresh random features."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganaug.evaluation.gan_metrics import (
    fid_from_features,
    frechet_distance,
    frechet_distance_of_samples,
    gaussian_stats,
    inception_score,
    kernel_inception_distance,
    precision_recall,
)
from tests.helpers import random_features, standin_fid_weights


@pytest.mark.parametrize(("n1", "n2", "d"), [(300, 200, 32), (500, 400, 128), (2300, 2100, 2048)])
def test_frechet_distance_equals_pytorch_fid(n1, n2, d):
    from pytorch_fid.fid_score import calculate_frechet_distance

    rng = np.random.default_rng()
    a, b = random_features(rng, n1, d), random_features(rng, n2, d, shift=0.2, scale=1.3)
    mine = frechet_distance(*gaussian_stats(a), *gaussian_stats(b))
    ref = calculate_frechet_distance(*gaussian_stats(a), *gaussian_stats(b))
    assert mine == pytest.approx(ref, abs=1e-6, rel=1e-9)
    assert fid_from_features(a, b) == mine


@pytest.mark.parametrize(("n1", "n2", "d"), [(36, 36, 512), (167, 36, 2048), (20, 50, 256)])
def test_frechet_distance_in_the_samples_span_equals_pytorch_fid(n1, n2, d):
    """Fewer images than dimensions (the DF sets): the (n1 x n2) route equals pytorch-fid's
    D x D sqrtm and the eigh route, and fid_from_features takes it."""
    from pytorch_fid.fid_score import calculate_frechet_distance

    rng = np.random.default_rng()
    a, b = random_features(rng, n1, d), random_features(rng, n2, d, shift=0.2, scale=1.3)
    mine = frechet_distance_of_samples(a, b)
    ref = calculate_frechet_distance(*gaussian_stats(a), *gaussian_stats(b))
    assert mine == pytest.approx(ref, rel=1e-6)
    assert mine == pytest.approx(frechet_distance(*gaussian_stats(a), *gaussian_stats(b)), rel=1e-6)
    assert (fid_from_features(a, b) == mine) == (n1 + n2 < d)


def test_gaussian_stats_are_pytorch_fids():
    rng = np.random.default_rng()
    f = rng.normal(size=(50, 7))
    mu, sigma = gaussian_stats(f)
    np.testing.assert_allclose(mu, np.mean(f, axis=0))
    np.testing.assert_allclose(sigma, np.cov(f, rowvar=False))


def test_inception_score_equals_torch_fidelity():
    from torch_fidelity.metric_isc import isc_features_to_metric

    rng = np.random.default_rng()
    logits = rng.normal(0, 3, size=(537, 1008))
    mine = inception_score(logits, splits=10, seed=42)
    ref = isc_features_to_metric(torch.from_numpy(logits), splits=10, shuffle=True, rng_seed=42)
    assert mine["mean"] == pytest.approx(ref["inception_score_mean"], rel=1e-10)
    assert mine["sd"] == pytest.approx(ref["inception_score_std"], rel=1e-8)


@pytest.mark.parametrize(("n_real", "n_syn", "size"), [(120, 90, 50), (40, 300, 1000)])
def test_kid_equals_torch_fidelity(n_real, n_syn, size):
    from torch_fidelity.metric_kid import kid_features_to_metric

    rng = np.random.default_rng()
    real, syn = random_features(rng, n_real, 64), random_features(rng, n_syn, 64, shift=0.1)
    mine = kernel_inception_distance(real, syn, subsets=20, subset_size=size, seed=7)
    used = min(size, n_real, n_syn)
    assert mine["subset_size"] == used
    ref = kid_features_to_metric(
        torch.from_numpy(syn),
        torch.from_numpy(real),
        kid_subsets=20,
        kid_subset_size=used,
        kid_kernel="poly",
        kid_kernel_poly_degree=3,
        kid_kernel_poly_gamma=None,
        kid_kernel_poly_coef0=1,
        rng_seed=7,
        verbose=False,
    )
    assert mine["mean"] == pytest.approx(ref["kernel_inception_distance_mean"], rel=1e-9, abs=1e-12)
    assert mine["sd"] == pytest.approx(ref["kernel_inception_distance_std"], rel=1e-7, abs=1e-12)


@pytest.mark.parametrize("k", [1, 3, 5])
def test_precision_recall_equals_torch_fidelity(k):
    from torch_fidelity.metric_prc import prc_features_to_metric

    rng = np.random.default_rng()
    real, syn = random_features(rng, 150, 20), random_features(rng, 110, 20, shift=0.3, scale=0.7)
    mine = precision_recall(real, syn, k=k)
    ref = prc_features_to_metric(
        torch.from_numpy(syn),
        torch.from_numpy(real),
        prc_neighborhood=k,
        prc_batch_size=10000,
        save_cpu_ram=False,
        verbose=False,
    )
    # torch-fidelity averages in float32; one image more or less inside would move it by >= 1/150
    assert mine["precision"] == pytest.approx(ref["precision"], abs=1e-6)
    assert mine["recall"] == pytest.approx(ref["recall"], abs=1e-6)
    assert mine["k"] == k


def test_extractor_equals_pytorch_fid_on_the_same_weights(tmp_path, monkeypatch):
    from pytorch_fid.inception import InceptionV3

    from ganaug.evaluation.clean_resize import clean_resize
    from ganaug.evaluation.features import build_extractor

    cache = standin_fid_weights(tmp_path)
    mine = build_extractor("inception", cache)
    assert mine.comparable and "standard FID weights" in mine.label
    # pytorch-fid loads the file through torch.hub's cache: point it at the same folder
    monkeypatch.setattr(torch.hub, "_hub_dir", str(cache / "hub"))
    monkeypatch.setenv("TORCH_HOME", str(cache))
    # the images resized as clean-fid resizes them (tests/reference/test_clean_resize.py), so
    # pytorch-fid's own bilinear resize is off; the network, its weights and the scaling are its
    ref = InceptionV3([3], resize_input=False, normalize_input=True, use_fid_inception=True).eval()
    images = torch.randint(0, 256, (3, 3, 64, 64), dtype=torch.uint8)
    pool, logits = mine(images)
    with torch.no_grad():
        want = ref(clean_resize(images, 299))[0].flatten(1)
    torch.testing.assert_close(pool, want, rtol=1e-4, atol=1e-5)
    assert logits.shape == (3, 1008)
    torch.testing.assert_close(logits, pool @ mine.net.fc.weight.T)
