"""DINOv2 features: the weights through fetch_weights and timm's loader, the preprocessing of
Stein et al.'s dgm-eval, the random stand-in, and the figures on them over the Inception draws."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch


def _stand_in_weights() -> dict[str, torch.Tensor]:
    """A state dict of timm's ViT-S/14 DINOv2 at its native 518 px, random and seeded afresh,
    with layer scales of 1 so the features depend on the image (the real file's do)."""
    import timm

    from ganaug.models.registry import DINOV2_MODEL

    torch.manual_seed(int(np.random.default_rng().integers(1 << 31)))
    net = timm.create_model(DINOV2_MODEL, pretrained=False)
    state = net.state_dict()
    for k in state:
        if k.endswith(".gamma"):
            state[k] = torch.ones_like(state[k])
    return state


def test_the_weights_are_fetched_by_name_and_read_as_dgm_eval_reads_dinov2(server, tmp_path):
    """Served on loopback, fetched by the rule's code, loaded by timm's own loader: the features
    equal the stand-in network's final-norm CLS token, its position embeddings resampled from
    518 px at run time (timm's dynamic size), on images resized by clean-fid's resizer and
    ImageNet-normalised by hand."""
    import timm
    from cleanfid.resize import make_resizer
    from safetensors.torch import save
    from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

    from ganaug.evaluation.dinov2 import build_dinov2
    from ganaug.models.registry import DINOV2, DINOV2_MODEL
    from ganaug.pretrained import fetch_weights_rule

    url, h = server
    state = _stand_in_weights()
    h.files[DINOV2.name] = save(state)
    fetch_weights_rule([dataclasses.asdict(DINOV2)], tmp_path, mirror=url)
    dino = build_dinov2("pretrained", tmp_path, image_size=224)
    assert dino.comparable and dino.label.startswith("DINOv2 ViT-S/14")

    rng = np.random.default_rng()
    images = rng.integers(0, 256, (3, 3, 40, 40), dtype=np.uint8)
    (ours,) = dino(torch.from_numpy(images))

    ref = timm.create_model(DINOV2_MODEL, pretrained=False, dynamic_img_size=True)
    ref.load_state_dict(state)  # the file as published, at 518 px, loaded without timm's filter
    resize = make_resizer("PIL", False, "bicubic", (224, 224))
    x = np.stack([resize(im.transpose(1, 2, 0)) for im in images]) / 255.0  # (N, 224, 224, 3)
    x = (x - np.array(IMAGENET_DEFAULT_MEAN)) / np.array(IMAGENET_DEFAULT_STD)
    with torch.no_grad():
        tokens = ref.eval().forward_features(torch.from_numpy(x.transpose(0, 3, 1, 2)).float())
    cls = tokens[:, 0]
    assert ours.shape == (3, 384)
    torch.testing.assert_close(ours, cls, rtol=1e-5, atol=2e-5)
    # the figures see different images as different (the weights were read, not a fresh init)
    assert ours.std(dim=0).mean() > 1e-2


def test_without_weights_it_says_where_they_go_and_bad_settings_are_named(tmp_path):
    from ganaug.evaluation.dinov2 import build_dinov2
    from ganaug.models.registry import DINOV2
    from ganaug.weights import MissingWeights

    with pytest.raises(MissingWeights, match=DINOV2.name) as err:
        build_dinov2("pretrained", tmp_path / "empty")
    assert "fetch_weights" in str(err.value) and "evaluation.dinov2: random" in str(err.value)
    with pytest.raises(ValueError, match=r"evaluation\.dinov2 must be one of"):
        build_dinov2("dinov3", tmp_path)
    with pytest.raises(ValueError, match=r"a multiple of 14 \(the patch size\)"):
        build_dinov2("random", tmp_path, image_size=100)
    assert build_dinov2("none", tmp_path) is None


def test_the_random_stand_in_is_labelled_seeded_and_separates_images():
    from ganaug.evaluation.dinov2 import build_dinov2

    dino = build_dinov2("random", "unused", image_size=56)
    assert not dino.comparable and "not comparable" in dino.label
    rng = np.random.default_rng()
    a = torch.from_numpy(rng.integers(0, 256, (5, 3, 32, 32), dtype=np.uint8))
    (f,) = dino(a)
    # DINOv2's 1e-5 layer scales would give every image the same CLS token (sd ~1e-5)
    assert f.std(dim=0).mean() > 1e-2
    torch.testing.assert_close(f, build_dinov2("random", "unused", image_size=56)(a)[0])


def test_dinov2_figures_use_the_inception_draws_and_recompute_from_the_features(tmp_path):
    """A set against two references: the DINOv2 block holds the Frechet and kernel distances,
    precision/recall and density/coverage of each Inception draw (the same images), each equal to
    the function on the stored features; density and coverage to the prdc package."""
    import contextlib
    import io

    import prdc

    from ganaug.curation.lpips_fast import FastLpips, build_lpips
    from ganaug.data.image_files import Images
    from ganaug.evaluation.dinov2 import build_dinov2
    from ganaug.evaluation.features import build_extractor
    from ganaug.evaluation.gan_metrics import fid_from_features, kernel_inception_distance, precision_recall
    from ganaug.evaluation.synthetic_quality import Settings, evaluate_set, reference

    rng = np.random.default_rng()

    def images(prefix: str, n: int) -> Images:
        rgb = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
        return Images([f"{prefix}_{i}" for i in range(n)], rgb, rgb.mean(1).astype(np.uint8))

    cpu = torch.device("cpu")
    s = Settings(batch_size=8, is_splits=2, kid_subsets=5, pr_k=3, lpips_diversity_images=6, size_draws=3)
    ex, dino = build_extractor("random", tmp_path), build_dinov2("random", tmp_path, image_size=28)
    fast = FastLpips(build_lpips("random", tmp_path), cpu)
    refs = [reference(n, images(n, k), ex, cpu, s, dino) for n, k in (("train", 12), ("val", 8))]
    result = evaluate_set(images("syn", 15), refs, ex, fast, "random", cpu, s, "t", n=8, dino=dino)
    assert result.dino.shape == (15, 384)
    for ref in refs:
        a = result.summary["dinov2"]["against"][ref.name]
        assert "fid" not in a and a["n_per_side"] == 8 and a["draws"] == 3
        for k, (i, j) in enumerate(result.pairwise[ref.name].index):
            real, syn = ref.dino[j], result.dino[i]
            assert a["frechet_distance"]["per_draw"][k] == pytest.approx(
                fid_from_features(real, syn), rel=1e-12
            )
            kid = kernel_inception_distance(real, syn, 1, 8)["mean"]
            assert a["kernel_distance"]["per_draw"][k] == pytest.approx(kid, rel=1e-12)
            pr = precision_recall(real, syn, 3)
            assert (a["precision"]["per_draw"][k], a["recall"]["per_draw"][k]) == (
                pr["precision"],
                pr["recall"],
            )
            with contextlib.redirect_stdout(io.StringIO()):
                dc = prdc.compute_prdc(real, syn, nearest_k=3)
            assert a["density"]["per_draw"][k] == pytest.approx(dc["density"], rel=1e-9)
            assert a["coverage"]["per_draw"][k] == pytest.approx(dc["coverage"], rel=1e-9)
    # without DINOv2 there is no block
    plain = evaluate_set(images("syn", 10), refs, ex, fast, "random", cpu, s, "t", n=8)
    assert "dinov2" not in plain.summary and plain.dino is None
