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


def test_evaluate_set_compares_equal_sizes_against_two_references(tmp_path):
    """Every figure against each reference at n images a side, over seeded draws; each draw is
    recomputed from the stored features, distances and indices (FID and KID by pytorch-fid's and
    torch-fidelity's routes, SSIM by skimage)."""
    from pytorch_fid.fid_score import calculate_frechet_distance
    from skimage.metrics import structural_similarity

    from ganaug.curation.lpips_fast import FastLpips, build_lpips
    from ganaug.data.image_files import Images
    from ganaug.evaluation.features import build_extractor
    from ganaug.evaluation.gan_metrics import fid_from_features, gaussian_stats
    from ganaug.evaluation.synthetic_quality import Settings, evaluate_set, reference

    rng = np.random.default_rng()

    def images(prefix: str, n: int) -> Images:
        rgb = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
        grey = rng.integers(0, 256, (n, 32, 32), dtype=np.uint8)  # stands for the study's grey of each file
        return Images([f"{prefix}_{i}" for i in range(n)], rgb, grey)

    s = Settings(batch_size=8, is_splits=2, kid_subsets=5, pr_k=3, lpips_diversity_images=6, size_draws=4)
    ex = build_extractor("random", tmp_path)
    fast = FastLpips(build_lpips("random", tmp_path), torch.device("cpu"))
    refs = [reference(n, images(n, k), ex, torch.device("cpu"), s) for n, k in (("train", 12), ("val", 6))]
    syn = images("syn", 20)
    result = evaluate_set(syn, refs, ex, fast, "random", torch.device("cpu"), s, desc="t", n=6)
    out = result.summary
    assert out["n_synthetic"] == 20 and out["lpips_diversity"]["n_images"] == 6
    assert out["lpips_diversity"]["n_pairs"] == 15 and len(out["lpips_diversity"]["images"]) == 6
    assert set(out["against"]) == {"train", "val"} and "c_t" in out["copying"]
    for ref in refs:
        a, pw = out["against"][ref.name], result.pairwise[ref.name]
        assert a["n_per_side"] == 6 and a["draws"] == 4 and a["n_real"] == len(ref.images.names)
        assert a["kid_subset_size"] == 6 and a["kid_subsets"] == 1  # every image of both sides: one subset
        assert a["headline"]["metric"] == "kid" and "under 2048" in a["headline"]["why"]
        assert len(pw.index) == 4 and all(len(i) == len(j) == 6 for i, j in pw.index)
        for k, (i, j) in enumerate(pw.index):
            # FID by the route tests/reference/test_gan_metrics.py ties to pytorch-fid (once by
            # pytorch-fid itself below: its sqrtm takes seconds at 2,048 dimensions)
            assert a["fid"]["per_draw"][k] == pytest.approx(
                fid_from_features(ref.pool[j], result.pool[i]), rel=1e-12
            )
            assert a["kid"]["per_draw"][k] == pytest.approx(
                kernel_inception_distance(ref.pool[j], result.pool[i], 1, 6)["mean"], rel=1e-12
            )
            ssim = np.array([[structural_similarity(x, y) for y in ref.images.grey[j]] for x in syn.grey[i]])
            assert a["ssim_best_match"]["per_draw"][k] == pytest.approx(ssim.max(axis=1).mean(), abs=1e-4)
            assert a["lpips_to_nearest_real"]["per_draw"][k] == pytest.approx(
                pw.lpips[np.ix_(i, j)].min(1).mean()
            )
        if ref.name == "val":
            i, j = pw.index[0]
            fid = calculate_frechet_distance(*gaussian_stats(ref.pool[j]), *gaussian_stats(result.pool[i]))
            # 6 images in 2,048 dimensions: scipy's sqrtm of a singular product is itself off by
            # about 1e-6 to 4e-5 (frechet_distance's docstring); the sample-span route is exact
            assert a["fid"]["per_draw"][0] == pytest.approx(fid, rel=5e-5)
        assert a["fid"]["mean"] == pytest.approx(np.mean(a["fid"]["per_draw"]))
        # per_image: the nearest image of the whole reference
        t = result.per_image[result.per_image["reference"] == ref.name]
        assert t["image"].tolist() == syn.names
        assert t["lpips_to_nearest_real"].tolist() == pytest.approx(pw.lpips.min(axis=1).tolist())
        ssim_all = np.array([[structural_similarity(x, y) for y in ref.images.grey] for x in syn.grey])
        assert t["nearest_real_ssim"].tolist() == [ref.images.names[k] for k in ssim_all.argmax(axis=1)]
    # the validation reference has exactly n images: each draw holds all of it
    assert all(len(set(j)) == 6 for _, j in result.pairwise["val"].index)
    # the Inception Score of the set at n images too, in splits of at least 10 (here: one)
    assert out["inception_score"]["n"] == 6 and out["inception_score"]["splits"] == 1
    with pytest.raises(ValueError, match="synthetic images are"):
        small = Images(syn.names, syn.rgb[:, :, :16, :16], syn.grey[:, :16, :16])
        evaluate_set(small, refs, ex, fast, "random", torch.device("cpu"), s, desc="t", n=6)


def test_a_perfect_generator_looks_the_same_against_train_and_val_at_equal_size():
    """The confound equal sizes remove: synthetic, train and val from one distribution, train
    three times the size of val. At each set's own size FID against train is lower; at equal
    sizes the two agree within their spread."""
    from ganaug.evaluation import equal_size
    from ganaug.evaluation.gan_metrics import fid_from_features
    from tests.helpers import random_features

    rng = np.random.default_rng(5)
    d = 64
    syn, train, val = (
        random_features(np.random.default_rng(s), n, d) for s, n in ((1, 120), (2, 120), (3, 40))
    )
    assert fid_from_features(train, syn) < fid_from_features(val, syn)  # the size effect
    dist = np.zeros((120, 120)), np.zeros((120, 40))
    names = {"fd": "fid", "kd": "kid"}
    vs = {}
    for ref, pool, dd in (("train", train, dist[0]), ("val", val, dist[1])):
        index = equal_size.draws(120, len(pool), 40, 20, 7, [7, len(pool)])
        vs[ref] = equal_size.against(syn, pool, dd, dd, 40, index, equal_size.Knobs(names, 10))["fid"]
    spread = np.hypot(vs["train"]["sd"], vs["val"]["sd"])
    assert abs(vs["train"]["mean"] - vs["val"]["mean"]) < 2 * spread
    del rng


def test_the_raw_set_is_compared_at_the_curated_size():
    from ganaug.data.image_files import Images
    from ganaug.evaluation.synthetic_quality import subsample

    names = [f"generated_{i:04d}.png" for i in range(30)]
    raw = Images(names, np.zeros((30, 3, 8, 8), np.uint8), np.zeros((30, 8, 8), np.uint8))
    sub = subsample(raw, 12, seed=42)
    assert len(sub.names) == 12 and sub.names == sorted(sub.names)
    assert subsample(raw, 12, seed=42).names == sub.names  # seeded
    assert subsample(raw, 40, seed=42).names == raw.names
