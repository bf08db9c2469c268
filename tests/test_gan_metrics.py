"""GAN metrics against pytorch-fid, torch-fidelity and closed forms, on fresh random features."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganaug.evaluation.gan_metrics import (
    fid_from_features,
    frechet_distance,
    gaussian_stats,
    inception_score,
    kernel_inception_distance,
    precision_recall,
)


def _features(rng, n, d, shift=0.0, scale=1.0):
    mix = rng.normal(size=(d, d)) / np.sqrt(d)
    return (rng.normal(shift, scale, size=(n, d)) @ mix).astype(np.float64)


@pytest.mark.parametrize(("n1", "n2", "d"), [(300, 200, 32), (500, 400, 128), (2300, 2100, 2048)])
def test_frechet_distance_equals_pytorch_fid(n1, n2, d):
    from pytorch_fid.fid_score import calculate_frechet_distance

    rng = np.random.default_rng()
    a, b = _features(rng, n1, d), _features(rng, n2, d, shift=0.2, scale=1.3)
    mine = frechet_distance(*gaussian_stats(a), *gaussian_stats(b))
    ref = calculate_frechet_distance(*gaussian_stats(a), *gaussian_stats(b))
    assert mine == pytest.approx(ref, abs=1e-6, rel=1e-9)
    assert fid_from_features(a, b) == mine


def test_gaussian_stats_are_pytorch_fids():
    rng = np.random.default_rng()
    f = rng.normal(size=(50, 7))
    mu, sigma = gaussian_stats(f)
    np.testing.assert_allclose(mu, np.mean(f, axis=0))
    np.testing.assert_allclose(sigma, np.cov(f, rowvar=False))


def test_frechet_distance_closed_form_with_singular_covariances():
    # commuting (diagonal) covariances: tr((S1 S2)^1/2) = sum sqrt(s1_i s2_i), zeros included,
    # the rank-deficient case of fewer images than feature dimensions
    rng = np.random.default_rng()
    d = 40
    s1, s2 = rng.uniform(0, 3, d), rng.uniform(0, 3, d)
    s1[:15] = 0.0
    s2[10:20] = 0.0
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    expected = np.sum((mu1 - mu2) ** 2) + s1.sum() + s2.sum() - 2 * np.sqrt(s1 * s2).sum()
    assert frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(expected, abs=1e-9)
    # a rotation changes nothing; rotated, the 25 zero eigenvalues come back as rounding noise
    # of about 1e-15, whose square roots (about 3e-8 each) bound the accuracy
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    got = frechet_distance(q @ mu1, q @ np.diag(s1) @ q.T, q @ mu2, q @ np.diag(s2) @ q.T)
    assert got == pytest.approx(expected, abs=1e-5)
    assert frechet_distance(mu1, np.diag(s1), mu1, np.diag(s1)) == pytest.approx(0.0, abs=1e-9)


def test_frechet_distance_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="shapes differ"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


def test_inception_score_equals_torch_fidelity():
    from torch_fidelity.metric_isc import isc_features_to_metric

    rng = np.random.default_rng()
    logits = rng.normal(0, 3, size=(537, 1008))
    mine = inception_score(logits, splits=10, seed=42)
    ref = isc_features_to_metric(torch.from_numpy(logits), splits=10, shuffle=True, rng_seed=42)
    assert mine["mean"] == pytest.approx(ref["inception_score_mean"], rel=1e-10)
    assert mine["sd"] == pytest.approx(ref["inception_score_std"], rel=1e-8)


def test_inception_score_closed_forms():
    # every image certain of its class, classes balanced in each split: IS = number of classes
    k = 8
    logits = np.full((10 * k * 5, k), -50.0)
    logits[np.arange(len(logits)), np.arange(len(logits)) % k] = 50.0
    assert inception_score(logits, splits=1)["mean"] == pytest.approx(k, rel=1e-9)
    # identical predictions for every image: p(y|x) = p(y), IS = 1
    same = np.tile(np.random.default_rng().normal(size=(1, 30)), (200, 1))
    assert inception_score(same, splits=10)["mean"] == pytest.approx(1.0, abs=1e-12)
    with pytest.raises(ValueError, match="at least 10 images"):
        inception_score(same[:5], splits=10)


@pytest.mark.parametrize(("n_real", "n_syn", "size"), [(120, 90, 50), (40, 300, 1000)])
def test_kid_equals_torch_fidelity(n_real, n_syn, size):
    from torch_fidelity.metric_kid import kid_features_to_metric

    rng = np.random.default_rng()
    real, syn = _features(rng, n_real, 64), _features(rng, n_syn, 64, shift=0.1)
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


def test_kid_is_unbiased_near_zero_for_one_distribution():
    rng = np.random.default_rng()
    mix = rng.normal(size=(16, 16))
    a, b = rng.normal(size=(400, 16)) @ mix, rng.normal(size=(400, 16)) @ mix
    same = kernel_inception_distance(a, b, subsets=50, subset_size=200)
    moved = kernel_inception_distance(a, b + 3.0, subsets=50, subset_size=200)
    # measured over 40 draws: |same| < 0.46 (3 sd + 1e-3); moved > 20 (|same| + 3 sd)
    assert abs(same["mean"]) < 3 * same["sd"] + 1e-3
    assert moved["mean"] > 3 * (abs(same["mean"]) + 3 * same["sd"])


@pytest.mark.parametrize("k", [1, 3, 5])
def test_precision_recall_equals_torch_fidelity(k):
    from torch_fidelity.metric_prc import prc_features_to_metric

    rng = np.random.default_rng()
    real, syn = _features(rng, 150, 20), _features(rng, 110, 20, shift=0.3, scale=0.7)
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


def test_precision_recall_closed_forms():
    rng = np.random.default_rng()
    real = rng.normal(size=(60, 5))
    same = precision_recall(real, real.copy(), k=3)
    assert same["precision"] == 1.0 and same["recall"] == 1.0
    far = precision_recall(real, real + 1e3, k=3)
    assert far["precision"] == 0.0 and far["recall"] == 0.0
    # synthetic collapsed onto a corner of the real set: precise, but recalls little
    collapsed = precision_recall(real, real[:1] + rng.normal(0, 1e-3, size=(60, 5)), k=3)
    assert collapsed["precision"] == 1.0 and collapsed["recall"] < 0.3
    with pytest.raises(ValueError, match="more than 3"):
        precision_recall(real[:3], real, k=3)


# ---------------------------------------------------------------- the Inception feature extractor


def _standin_weights(tmp_path):
    """A stand-in for the FID Inception file: the architecture's state dict at a seeded init."""
    from ganaug.evaluation.features import FID_WEIGHTS, fid_inception_architecture

    torch.manual_seed(0)
    net = fid_inception_architecture()
    # non-trivial batch-norm statistics, so a mix-up of layers would show
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    folder = tmp_path / "cache" / "hub" / "checkpoints"
    folder.mkdir(parents=True)
    torch.save(net.state_dict(), folder / FID_WEIGHTS.name)
    return tmp_path / "cache"


def test_extractor_equals_pytorch_fid_on_the_same_weights(tmp_path, monkeypatch):
    from pytorch_fid.inception import InceptionV3

    from ganaug.evaluation.features import build_extractor

    cache = _standin_weights(tmp_path)
    mine = build_extractor("inception", cache)
    assert mine.comparable and "standard FID weights" in mine.label
    # pytorch-fid loads the file through torch.hub's cache: point it at the same folder
    monkeypatch.setattr(torch.hub, "_hub_dir", str(cache / "hub"))
    monkeypatch.setenv("TORCH_HOME", str(cache))
    ref = InceptionV3([3], resize_input=True, normalize_input=True, use_fid_inception=True).eval()
    images = torch.randint(0, 256, (3, 3, 64, 64), dtype=torch.uint8)
    pool, logits = mine(images)
    with torch.no_grad():
        want = ref(images.float() / 255.0)[0].flatten(1)
    torch.testing.assert_close(pool, want, rtol=1e-4, atol=1e-5)
    assert logits.shape == (3, 1008)
    torch.testing.assert_close(logits, pool @ mine.net.fc.weight.T)


def test_extractor_without_weights_says_where_they_go(tmp_path):
    from ganaug.evaluation.features import FID_WEIGHTS, build_extractor
    from ganaug.weights import MissingWeights

    with pytest.raises(MissingWeights, match=FID_WEIGHTS.name) as err:
        build_extractor("inception", tmp_path / "empty")
    assert "fetch_weights" in str(err.value) and "feature_extractor: random" in str(err.value)
    with pytest.raises(ValueError, match="feature_extractor"):
        build_extractor("vgg", tmp_path)


def test_random_extractor_is_labelled_and_separates_images():
    from ganaug.evaluation.features import build_extractor

    model = build_extractor("random", "unused")
    assert not model.comparable and "not comparable" in model.label
    rng = np.random.default_rng()
    a = torch.from_numpy(rng.integers(0, 256, (4, 3, 32, 32), dtype=np.uint8))
    pool, _ = model(a)
    # features differ between images (a collapsed random net would give FID 0 for any sets)
    assert pool.std(dim=0).mean() > 1e-3
    again, _ = build_extractor("random", "unused")(a)
    torch.testing.assert_close(pool, again)  # seeded


def test_evaluate_set_against_two_references_records_sizes_and_labels(tmp_path):
    from skimage.metrics import structural_similarity

    from ganaug.curation.lpips_fast import FastLpips, build_lpips
    from ganaug.evaluation.features import build_extractor
    from ganaug.evaluation.synthetic_quality import Images, Settings, evaluate_set, feature_metrics, reference

    rng = np.random.default_rng()

    def images(prefix: str, n: int) -> Images:
        rgb = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
        grey = rng.integers(0, 256, (n, 32, 32), dtype=np.uint8)  # stands for the study's grey of each file
        return Images([f"{prefix}_{i}" for i in range(n)], rgb, grey)

    s = Settings(batch_size=8, is_splits=2, kid_subsets=5, pr_k=3, lpips_diversity_images=6)
    ex = build_extractor("random", tmp_path)
    fast = FastLpips(build_lpips("random", tmp_path), torch.device("cpu"))
    refs = [reference(n, images(n, k), ex, torch.device("cpu"), s) for n, k in (("train", 12), ("val", 5))]
    syn = images("syn", 20)
    result = evaluate_set(syn, refs, ex, fast, "random", torch.device("cpu"), s, desc="t")
    out = result.summary
    assert out["n_synthetic"] == 20 and out["lpips_diversity"]["n_images"] == 6
    assert out["lpips_diversity"]["n_pairs"] == 15 and len(out["lpips_diversity"]["images"]) == 6
    assert set(out["against"]) == {"train", "val"}
    for ref in refs:
        a = out["against"][ref.name]
        assert a["n_real"] == len(ref.images.names) and a["kid"]["subset_size"] == len(ref.images.names)
        assert a["headline"]["metric"] == "kid" and "under 2048" in a["headline"]["why"]
        assert 0 <= a["precision"] <= 1 and 0 <= a["recall"] <= 1 and a["fid"] > 0
        # every figure recomputable from what is stored beside it
        again = feature_metrics(ref.pool, result.pool, s)
        assert again["fid"] == pytest.approx(a["fid"], rel=1e-12) and again["kid"] == a["kid"]
        t = result.per_image[result.per_image["reference"] == ref.name]
        assert t["image"].tolist() == syn.names
        assert a["lpips_to_nearest_real"]["mean"] == pytest.approx(
            t["lpips_to_nearest_real"].mean(), rel=1e-12
        )
        # SSIM on the greyscale images given (the study's decoding of each file)
        ssim = np.array([[structural_similarity(x, y) for y in ref.images.grey] for x in syn.grey])
        assert a["ssim_best_match"]["mean"] == pytest.approx(ssim.max(axis=1).mean(), abs=1e-4)
        assert t["nearest_real_ssim"].tolist() == [ref.images.names[k] for k in ssim.argmax(axis=1)]
    with pytest.raises(ValueError, match="synthetic images are"):
        small = Images(syn.names, syn.rgb[:, :, :16, :16], syn.grey[:, :16, :16])
        evaluate_set(small, refs, ex, fast, "random", torch.device("cpu"), s, desc="t")


def test_the_raw_set_is_compared_at_the_curated_size():
    from ganaug.evaluation.synthetic_quality import Images, equal_size

    names = [f"generated_{i:04d}.png" for i in range(30)]
    raw = Images(names, np.zeros((30, 3, 8, 8), np.uint8), np.zeros((30, 8, 8), np.uint8))
    sub = equal_size(raw, 12, seed=42)
    assert len(sub.names) == 12 and sub.names == sorted(sub.names)
    assert equal_size(raw, 12, seed=42).names == sub.names  # seeded
    assert equal_size(raw, 40, seed=42).names == raw.names
