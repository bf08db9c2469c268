"""GAN metrics: closed forms, the extractors, and one set evaluated against two references."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganaug.evaluation.gan_metrics import (
    frechet_distance,
    inception_score,
    kernel_inception_distance,
    precision_recall,
)


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


def test_kid_is_unbiased_near_zero_for_one_distribution():
    rng = np.random.default_rng()
    mix = rng.normal(size=(16, 16))
    a, b = rng.normal(size=(400, 16)) @ mix, rng.normal(size=(400, 16)) @ mix
    same = kernel_inception_distance(a, b, subsets=50, subset_size=200)
    moved = kernel_inception_distance(a, b + 3.0, subsets=50, subset_size=200)
    # measured over 40 draws: |same| < 0.46 (3 sd + 1e-3); moved > 20 (|same| + 3 sd)
    assert abs(same["mean"]) < 3 * same["sd"] + 1e-3
    assert moved["mean"] > 3 * (abs(same["mean"]) + 3 * same["sd"])


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


def test_extractor_without_weights_says_where_they_go(tmp_path):
    from ganaug.evaluation.features import build_extractor
    from ganaug.models.registry import FID_INCEPTION as FID_WEIGHTS
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
