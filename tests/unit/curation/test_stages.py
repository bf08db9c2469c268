"""The curation stages on crafted images: each filter's decisions, the study's exact definitions, leakage and empty stages, and the pretrained trunks from the cache."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from skimage.metrics import structural_similarity

from ganaug.curation.blur import laplacian_variance
from ganaug.curation.clusters import build_feature_extractor
from ganaug.curation.lpips_fast import FastLpips, build_lpips
from ganaug.curation.stages import EmptyStage, blur_stage, lpips_stage, real_reference, ssim_stage
from ganaug.data.provenance import load_train_minority
from ganaug.weights import MissingWeights, cached_file

CANDS = ["generated_0000.png", "generated_0001.png", "generated_0002.png"]


def test_lpips_with_imagenet_backbone_needs_the_cache(tmp_path):
    with pytest.raises(MissingWeights, match=r"vgg16-397923af\.pth"):
        build_lpips("imagenet", tmp_path)


def test_cluster_features_load_through_torchvision_from_the_cache(tmp_path):
    from torchvision.models import resnet50

    from ganaug.models.registry import CLUSTER_RESNET50

    with pytest.raises(MissingWeights, match=r"resnet50-11ad3fa6\.pth.*weights.cache_dir"):
        build_feature_extractor("imagenet", tmp_path)
    # a stand-in file where torch.hub looks: the standard API must read it, not download
    torch.manual_seed(7)
    standin = resnet50(weights=None).state_dict()
    path = cached_file(CLUSTER_RESNET50, tmp_path)
    path.parent.mkdir(parents=True)
    torch.save(standin, path)
    model = build_feature_extractor("imagenet", tmp_path)
    assert torch.equal(model.conv1.weight, standin["conv1.weight"])
    assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 2048)


def write_pngs(folder: Path, images: dict[str, np.ndarray]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, img in images.items():
        cv2.imwrite(str(folder / name), img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_RGB2BGR))


def lesion(rng: np.random.Generator, size: int = 64) -> np.ndarray:
    img = np.full((size, size, 3), (200, 160, 140), np.float64) + rng.normal(0, 10, (size, size, 3))
    cv2.circle(
        img, tuple(int(v) for v in rng.integers(20, 44, 2)), int(rng.integers(8, 18)), (110, 70, 60), -1
    )
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture
def world(tmp_path):
    """A metadata.csv with 6 real train DF images (val/test rows point at missing files) and a
    raw folder of synthetic images that includes a blurred image and an exact copy."""
    rng = np.random.default_rng(11)
    real = {f"r{i}.png": lesion(rng) for i in range(6)}
    write_pngs(tmp_path / "real", real)
    rows = [
        {
            "image_id": n[:-4],
            "path": str(tmp_path / "real" / n),
            "split": "train",
            "target": 1,
            "synthetic": False,
        }
        for n in real
    ]
    rows += [
        {
            "image_id": "v",
            "path": str(tmp_path / "missing_val.png"),
            "split": "val",
            "target": 1,
            "synthetic": False,
        },
        {
            "image_id": "t",
            "path": str(tmp_path / "missing_test.png"),
            "split": "test",
            "target": 1,
            "synthetic": False,
        },
        {
            "image_id": "n",
            "path": str(tmp_path / "missing_nv.png"),
            "split": "train",
            "target": 0,
            "synthetic": False,
        },
    ]
    pd.DataFrame(rows).to_csv(tmp_path / "metadata.csv", index=False)
    syn = {f"generated_{i:04d}.png": lesion(rng) for i in range(6)}
    syn["generated_0006.png"] = cv2.GaussianBlur(lesion(rng), (0, 0), 4)  # blurred
    syn["generated_0007.png"] = real["r2.png"].copy()  # an exact copy of a real image
    write_pngs(tmp_path / "raw", syn)
    write_manifest(tmp_path, sorted(syn))
    return tmp_path


def write_manifest(root: Path, names: list[str]) -> None:
    """raw_manifest.csv as sample_gan writes it, naming the current split's training set."""
    digest = load_train_minority(root / "metadata.csv", 64).fingerprint()["digest"]
    pd.DataFrame(
        {"image": names, "index": range(len(names)), "latent_seed": 0, "gan_training_set": digest}
    ).to_csv(root / "manifest.csv", index=False)


def study_grey(path: Path) -> np.ndarray:
    """The study's definition of the greyscale image, verbatim."""
    return cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)


def test_real_reference_reads_only_train_minority(world):
    ids, imgs = real_reference(world / "metadata.csv", grey=True, size=64, manifest=world / "manifest.csv")
    assert ids == [f"r{i}" for i in range(6)] and imgs.shape == (6, 64, 64)


def test_blur_drops_the_blurred_image(world):
    t = blur_stage(world / "raw", threshold=100)
    assert list(t.columns) == ["image", "laplacian_var", "kept", "reason"]
    row = t.set_index("image").loc["generated_0006.png"]
    assert not row.kept and "blurred" in row.reason
    assert t.kept.sum() == 7
    assert laplacian_variance(np.full((8, 8), 7, np.uint8)) == 0.0


@pytest.mark.parametrize("seed", [0, 1])
def test_blur_is_the_study_definition_exactly(tmp_path, seed):
    """cv2.Laplacian(cv2.imread(p, cv2.IMREAD_GRAYSCALE), cv2.CV_64F).var(), to 1e-9 relative, on
    fresh colour PNGs (where libpng's grey differs from cv2.cvtColor's on about half the pixels)."""
    rng = np.random.default_rng(seed)
    write_pngs(tmp_path, {f"generated_{i:04d}.png": lesion(rng) for i in range(5)})
    t = blur_stage(tmp_path, threshold=0)
    for name, score in zip(t.image, t.laplacian_var, strict=True):
        ref = cv2.Laplacian(study_grey(tmp_path / name), cv2.CV_64F).var()
        assert score == pytest.approx(ref, rel=1e-9)
    t.to_csv(tmp_path / "t.csv", index=False)  # as write_csv keeps it: every digit
    assert pd.read_csv(tmp_path / "t.csv").laplacian_var.tolist() == t.laplacian_var.tolist()


def test_ssim_stage_is_the_study_definition(world):
    """skimage's structural_similarity on the study's uint8 greyscale images (cv2.imread with
    IMREAD_GRAYSCALE, real and synthetic alike), maximised over the real training images."""
    blur = blur_stage(world / "raw", 0)
    blur.to_csv(world / "blur.csv", index=False)
    t = ssim_stage(
        world / "blur.csv", world / "raw", world / "metadata.csv", world / "manifest.csv", -1, 2, 3
    )
    reals = {f"r{i}": study_grey(world / "real" / f"r{i}.png") for i in range(6)}
    for name, best, nearest in zip(t.image, t.max_ssim, t.nearest_real, strict=True):
        syn = study_grey(world / "raw" / name)
        ref = {k: structural_similarity(syn, r) for k, r in reals.items()}
        assert best == pytest.approx(max(ref.values()), abs=1e-4)
        assert ref[nearest] == pytest.approx(max(ref.values()), abs=1e-4)


def test_a_corrupt_png_is_a_blur_reject_not_a_crash(world):
    good = (world / "raw" / "generated_0001.png").read_bytes()
    (world / "raw" / "generated_0003.png").write_bytes(good[: len(good) // 3])  # truncated
    (world / "raw" / "generated_0004.png").write_bytes(b"not a png at all")
    cv2.imwrite(str(world / "raw" / "generated_0005.png"), np.zeros((32, 32, 3), np.uint8))
    t = blur_stage(world / "raw", threshold=100).set_index("image")
    for name in ("generated_0003.png", "generated_0004.png"):
        assert not t.loc[name, "kept"] and t.loc[name, "reason"].startswith("unreadable image")
    assert not t.loc["generated_0005.png", "kept"]
    assert t.loc["generated_0005.png", "reason"] == "wrong size: 32x32, the others are 64x64"
    assert t.kept.sum() == 4


def test_curation_refuses_a_raw_set_of_another_split(world):
    """A raw set whose GAN trained on another training split cannot enter curation."""
    from ganaug.data.provenance import OtherTrainingSet

    blur_stage(world / "raw", 100).to_csv(world / "blur.csv", index=False)
    manifest = pd.read_csv(world / "manifest.csv")
    manifest["gan_training_set"] = "0123456789abcdef"
    manifest.to_csv(world / "manifest.csv", index=False)
    with pytest.raises(OtherTrainingSet, match="another training set"):
        ssim_stage(world / "blur.csv", world / "raw", world / "metadata.csv", world / "manifest.csv", 0, 1, 3)


def test_ssim_drops_the_copy(world):
    blur_stage(world / "raw", 100).to_csv(world / "blur.csv", index=False)
    t = ssim_stage(
        world / "blur.csv", world / "raw", world / "metadata.csv", world / "manifest.csv", 0.05, 0.95, chunk=3
    )
    assert "generated_0006.png" not in set(t.image)  # only the blur survivors are candidates
    copy = t.set_index("image").loc["generated_0007.png"]
    assert copy.max_ssim == pytest.approx(1.0, abs=1e-6) and not copy.kept
    assert copy.nearest_real == "r2" and "too close" in copy.reason
    assert t.kept.sum() == 6


def test_lpips_drops_the_copy(world, lpips_model):
    blur_stage(world / "raw", 100).to_csv(world / "blur.csv", index=False)
    ssim_stage(
        world / "blur.csv", world / "raw", world / "metadata.csv", world / "manifest.csv", 0.0, 1.1, 3
    ).to_csv(world / "ssim.csv", index=False)
    fast = FastLpips(lpips_model, torch.device("cpu"))
    t = lpips_stage(
        world / "ssim.csv",
        world / "raw",
        world / "metadata.csv",
        world / "manifest.csv",
        fast,
        "random",
        0.01,
        chunk=4,
    )
    copy = t.set_index("image").loc["generated_0007.png"]
    assert copy.min_lpips == pytest.approx(0.0, abs=1e-4) and not copy.kept
    assert (t.backbone == "vgg16-random-init (not comparable)").all()


def test_an_empty_stage_stops_with_its_threshold_and_distribution(world):
    with pytest.raises(
        EmptyStage, match=r"'blur' dropped all 8 images \(keep if Laplacian variance > 1e\+09\).*median="
    ):
        blur_stage(world / "raw", threshold=1e9)


def test_lpips_imagenet_trunk_loads_from_a_standin_in_the_cache(tmp_path):
    """The VGG16 file as torchvision publishes it (features.N.*) lands in the lpips slices."""
    from torchvision.models import vgg16

    from ganaug.models.registry import LPIPS_VGG16
    from ganaug.weights import cached_file

    torch.manual_seed(9)
    standin = vgg16(weights=None).state_dict()  # features.* and classifier.*, as published
    path = cached_file(LPIPS_VGG16, tmp_path)
    path.parent.mkdir(parents=True)
    torch.save(standin, path)
    model = build_lpips("imagenet", tmp_path)
    trunk = model.net.state_dict()
    assert len(trunk) == 26  # 13 convolutions, weight and bias
    for key, value in trunk.items():
        _, idx, param = key.split(".")
        assert torch.equal(value, standin[f"features.{idx}.{param}"]), key


def _one(world, name="wgan_gp", raw="raw", blur="", ssim=""):
    from ganaug.curation.review_stage import Candidates

    return Candidates(name, world / "lpips.csv", world / raw, world / "manifest.csv", blur, ssim)


def test_files_mode_without_files_says_what_to_do(world):
    from ganaug.curation.review import ReviewError
    from ganaug.curation.review_stage import review_stage

    pd.DataFrame({"image": CANDS, "kept": True}).to_csv(world / "lpips.csv", index=False)
    with pytest.raises(
        ReviewError, match=r"holds no review CSVs.*results/repeat_.*/review/index.html.*simulate"
    ):
        review_stage([_one(world)], "files", [], 3, 3.5, 0.6, 42, world / "reviews")
    # each repeat's page and exports folder (<dir>/repeat_<r>) are named right
    with pytest.raises(ReviewError, match=r"snakemake results/repeat_3/review/index.html\)"):
        review_stage([_one(world)], "files", [], 3, 3.5, 0.6, 42, world / "repeat_3")


def test_the_review_page_is_blinded_and_its_key_unblinds_it(world):
    """The page mixes real training images in under neutral names in a seeded order: neither a
    file name nor the page names a source; the key (kept apart) maps every shown name back."""
    from ganaug.curation.review import write_review_sheet
    from ganaug.curation.review_stage import review_key, review_page
    from ganaug.curation.turing import PAGE_NAME

    cands = [f"generated_{i:04d}.png" for i in range(6)]
    pd.DataFrame({"image": cands, "kept": True}).to_csv(world / "lpips.csv", index=False)
    key = review_key(_one(world), world / "metadata.csv", 4, 42)
    assert sorted(key.loc[key["source"] == "synthetic", "original"]) == cands
    assert set(key.loc[key["source"] == "synthetic", "generator"]) == {"wgan_gp"}
    real = key[key["source"] == "real"]
    assert len(real) == 4 and set(real["original"]) <= {f"r{i}" for i in range(6)}  # train DF only
    assert set(real["generator"]) == {""}
    assert all(PAGE_NAME.fullmatch(b) for b in key["blinded"]) and key["blinded"].is_monotonic_increasing
    # the page's order is not the sources' order: real images are not all at one end
    where = np.flatnonzero(key["source"] == "real")
    assert where.tolist() not in ([0, 1, 2, 3], [6, 7, 8, 9])
    assert real["max_ssim"].between(-1, 0.999).all()  # to the other real images, not itself
    pd.testing.assert_frame_equal(key, review_key(_one(world), world / "metadata.csv", 4, 42))  # seeded
    # another seed, other names and another order
    assert set(review_key(_one(world), world / "metadata.csv", 4, 7)["blinded"]).isdisjoint(key["blinded"])
    files = review_page([key], {"wgan_gp": world / "raw"}, world / "metadata.csv")
    assert list(files) == list(key["blinded"])
    page = write_review_sheet(files, world / "page", "t")
    shown = sorted(p.name for p in (world / "page" / "images").iterdir())
    assert shown == sorted(key["blinded"])
    html = page.read_text()
    assert "generated_" not in html and not any(f'"{o}' in html for o in real["original"])
    for b, src, o in key[["blinded", "source", "original"]].itertuples(index=False):
        original = world / "raw" / o if src == "synthetic" else world / "real" / f"{o}.png"
        assert (world / "page" / "images" / b).read_bytes() == original.read_bytes()


def _second_generator(world, names: list[str]) -> None:
    """A second generator's raw set (raw2/: other images under the same names as the first's)."""
    rng = np.random.default_rng()
    write_pngs(world / "raw2", {n: lesion(rng) for n in names})
    pd.DataFrame({"image": names, "kept": True}).to_csv(world / "lpips2.csv", index=False)


def test_one_page_blinds_every_generators_candidates_with_the_real_images(world):
    """Two generators whose images share names: one page, one blinded name each, the keys say
    which generator (or real) each came from, and each page image is that file's bytes. Each
    generator's key is its own: the same whichever generators share the page, with the real
    images blind() samples."""
    from ganaug.curation.review_stage import Candidates, review_key, review_page
    from ganaug.curation.turing import blind

    cands = [f"generated_{i:04d}.png" for i in range(6)]
    pd.DataFrame({"image": cands, "kept": True}).to_csv(world / "lpips.csv", index=False)
    _second_generator(world, cands[:4])
    ddpm = Candidates("ddpm", world / "lpips2.csv", world / "raw2", world / "manifest.csv")
    keys = [review_key(c, world / "metadata.csv", 3, 42) for c in (_one(world), ddpm)]
    files = review_page(keys, {"wgan_gp": world / "raw", "ddpm": world / "raw2"}, world / "metadata.csv")
    assert len(files) == 6 + 4 + 3 and list(files) == sorted(files)
    key = pd.concat(keys).drop_duplicates("blinded")
    assert key.groupby("generator")["original"].apply(sorted).to_dict() == {
        "": sorted(key.loc[key["source"] == "real", "original"]),
        "ddpm": cands[:4],
        "wgan_gp": cands,
    }
    for b, src, g, o in key[["blinded", "source", "generator", "original"]].itertuples(index=False):
        folder = {"wgan_gp": world / "raw", "ddpm": world / "raw2"}.get(g)
        expected = folder / o if src == "synthetic" else world / "real" / f"{o}.png"
        assert files[b].read_bytes() == expected.read_bytes()
    # the two keys show the same real images: the sample blind() draws for a page of one generator
    real = [k.loc[k["source"] == "real"].reset_index(drop=True) for k in keys]
    pd.testing.assert_frame_equal(real[0], real[1])
    before = blind(cands, [f"r{i}" for i in range(6)], 3, 42)
    assert sorted(real[0]["original"]) == sorted(before.loc[before["source"] == "real", "original"])
    # a second generator's images change nothing of the first's key
    _second_generator(world, cands[:2])
    pd.testing.assert_frame_equal(review_key(_one(world), world / "metadata.csv", 3, 42), keys[0])
    # keys of another seed show other real names: one page cannot mix them
    with pytest.raises(ValueError, match=r"disagree on their real images"):
        review_page([keys[0], review_key(ddpm, world / "metadata.csv", 3, 7)], {}, world / "metadata.csv")


def test_ingestion_unblinds_one_page_and_reports_the_turing_test_per_generator(world):
    """Three reviewers score one page of 3 WGAN-GP, 2 DDPM and 2 real images. Each generator's
    table holds only its own images' means; its Turing test counts only its own images against
    the real ones: accuracy, balanced accuracy and realism AUC here checked against values
    computed by hand."""
    from ganaug.curation.review import COLUMNS, CRITERIA
    from ganaug.curation.review_stage import Candidates, review_stage

    pd.DataFrame({"image": CANDS, "kept": True}).to_csv(world / "lpips.csv", index=False)
    pd.DataFrame({"image": CANDS[:2], "kept": True}).to_csv(world / "lpips2.csv", index=False)
    key = pd.DataFrame(
        [
            ("img_01.png", "synthetic", "wgan_gp", CANDS[0]),
            ("img_02.png", "real", "", "r1"),
            ("img_03.png", "synthetic", "ddpm", CANDS[0]),
            ("img_04.png", "synthetic", "wgan_gp", CANDS[1]),
            ("img_05.png", "synthetic", "ddpm", CANDS[1]),
            ("img_06.png", "real", "", "r4"),
            ("img_07.png", "synthetic", "wgan_gp", CANDS[2]),
        ],
        columns=["blinded", "source", "generator", "original"],
    )
    # realism per reviewer (the other criteria: 3), in the key's order
    realism = {"ann": [4, 5, 2, 3, 5, 4, 1], "bob": [2, 4, 5, 5, 1, 5, 4], "cid": [3, 3, 3, 3, 3, 3, 3]}
    files = []
    for who, marks in realism.items():
        rows = [[who, b, m, 3, 3, 3, 3] for b, m in zip(key["blinded"], marks, strict=True)]
        f = world / f"{who}.csv"
        pd.DataFrame(rows, columns=["reviewer", "image", *CRITERIA]).to_csv(f, index=False)
        files.append(f)
    assert ["reviewer", "image", *CRITERIA] == COLUMNS
    sets = [Candidates("wgan_gp", world / "lpips.csv"), Candidates("ddpm", world / "lpips2.csv")]
    out = review_stage(sets, "files", files, 3, 1.0, 0.6, 42, world / "reviews", key)
    wgan, wt = out["wgan_gp"]
    ddpm, dt = out["ddpm"]
    assert wgan["image"].tolist() == CANDS and ddpm["image"].tolist() == CANDS[:2]
    # WGAN-GP's images are key rows 0, 3, 6; the DDPM's 2, 4; real 1, 5
    assert wgan["realism"].tolist() == pytest.approx([(4 + 2 + 3) / 3, (3 + 5 + 3) / 3, (1 + 4 + 3) / 3])
    assert ddpm["realism"].tolist() == pytest.approx([(2 + 5 + 3) / 3, (5 + 1 + 3) / 3])
    assert wt["n_real_images"] == dt["n_real_images"] == 2
    assert (wt["n_synthetic_images"], dt["n_synthetic_images"]) == (3, 2)
    by = {r["reviewer"]: r for r in wt["reviewers"]}
    # ann, WGAN-GP: real 5, 4 (called real, right); synthetic 4, 3, 1 (4 called real: one wrong)
    assert by["ann"]["accuracy"] == pytest.approx(4 / 5) and by["ann"]["balanced_accuracy"] == pytest.approx(
        (1 + 2 / 3) / 2
    )
    # AUC of realism, real (5, 4) against synthetic (4, 3, 1): pairs won 2 + 3, one tie of 0.5 -> 5.5 / 6
    assert by["ann"]["realism_auc"] == pytest.approx(5.5 / 6)
    # bob, WGAN-GP: real 4, 5 right; synthetic 2 right, 5 and 4 wrong -> 3 / 5; balanced (1 + 1/3) / 2
    assert by["bob"]["accuracy"] == pytest.approx(3 / 5)
    assert by["bob"]["balanced_accuracy"] == pytest.approx((1 + 1 / 3) / 2)
    # cid scores 3 everywhere: never calls real; AUC 0.5
    assert by["cid"]["accuracy"] == pytest.approx(3 / 5) and by["cid"]["realism_auc"] == pytest.approx(0.5)
    dby = {r["reviewer"]: r for r in dt["reviewers"]}
    # ann, DDPM: real 5, 4 right; synthetic 2 right, 5 wrong -> 3 / 4; AUC: (5 vs 2, 5 vs 5 tie, 4 vs 2,
    # 4 vs 5) = 1 + 0.5 + 1 + 0 = 2.5 / 4
    assert dby["ann"]["accuracy"] == pytest.approx(3 / 4) and dby["ann"]["realism_auc"] == pytest.approx(
        2.5 / 4
    )
    # bob, DDPM: real 4, 5 right; synthetic 5 wrong, 1 right -> 3 / 4, balanced (1 + 1/2) / 2
    assert dby["bob"]["accuracy"] == pytest.approx(3 / 4)
    assert dby["bob"]["balanced_accuracy"] == pytest.approx(0.75)


def test_each_generator_ingests_its_own_part_of_one_pages_exports(world):
    """Reviewers score one page of two generators (names from blinded_name). Each generator,
    ingested from its own key, gets what the page's whole key gives it: the other generator's
    rows are passed over. A name that is no page name is still an error."""
    from ganaug.curation.review import CRITERIA, ReviewError
    from ganaug.curation.review_stage import Candidates, review_stage
    from ganaug.curation.turing import KEY_COLUMNS, blinded_name

    pd.DataFrame({"image": CANDS, "kept": True}).to_csv(world / "lpips.csv", index=False)
    pd.DataFrame({"image": CANDS[:2], "kept": True}).to_csv(world / "lpips2.csv", index=False)
    real = [(blinded_name(42, "real", r), "real", "", r) for r in ("r1", "r4")]
    keys = {
        g: pd.DataFrame(
            [(blinded_name(42, g, c), "synthetic", g, c) for c in cands] + real, columns=KEY_COLUMNS
        ).sort_values("blinded", ignore_index=True)
        for g, cands in (("wgan_gp", CANDS), ("ddpm", CANDS[:2]))
    }
    page = pd.concat(keys.values()).drop_duplicates("blinded")
    rng = np.random.default_rng()
    files = []
    for who in ("ann", "bob", "cid"):
        marks = rng.integers(1, 6, size=(len(page), len(CRITERIA)))
        rows = pd.DataFrame(marks, columns=list(CRITERIA)).assign(
            reviewer=who, image=page["blinded"].to_numpy()
        )
        files.append(world / f"{who}.csv")
        rows[["reviewer", "image", *CRITERIA]].to_csv(files[-1], index=False)
    sets = {
        "wgan_gp": Candidates("wgan_gp", world / "lpips.csv"),
        "ddpm": Candidates("ddpm", world / "lpips2.csv"),
    }
    args = ("files", files, 3, 1.0, 0.6, 42, world / "reviews")  # keep all: no empty table
    joint = review_stage(list(sets.values()), *args, page)
    for g, c in sets.items():
        table, turing = review_stage([c], *args, keys[g])[g]
        pd.testing.assert_frame_equal(table, joint[g][0])
        assert turing == joint[g][1]
    bad = pd.read_csv(files[0])
    bad.loc[0, "image"] = "generated_0000.png"  # an original name, not a page name
    bad.to_csv(files[0], index=False)
    with pytest.raises(ReviewError, match=r"ann\.csv, row 2: unknown image 'generated_0000\.png'"):
        review_stage([sets["wgan_gp"]], *args, keys["wgan_gp"])


def test_simulated_review_scores_the_real_images_without_moving_the_candidates(world):
    """The real images change no candidate's score, and neither does a second generator on the
    page: each generator's proxy is standardised over its own candidates."""
    from ganaug.curation.review_stage import Candidates, review_key, review_stage

    cands = [f"generated_{i:04d}.png" for i in range(6)]
    pd.DataFrame({"image": cands, "kept": True}).to_csv(world / "lpips.csv", index=False)
    pd.DataFrame({"image": cands, "laplacian_var": np.linspace(50, 900, 6)}).to_csv(
        world / "b.csv", index=False
    )
    pd.DataFrame({"image": cands, "max_ssim": np.linspace(0.2, 0.8, 6)}).to_csv(world / "s.csv", index=False)
    one = _one(world, blur=world / "b.csv", ssim=world / "s.csv")
    key = review_key(one, world / "metadata.csv", 3, 42)
    args = ("simulate", [], 3, 1.0, 0.6, 42)
    meta = world / "metadata.csv"
    with_real, turing = review_stage([one], *args, key=key, metadata=meta)["wgan_gp"]
    alone, _ = review_stage([one], *args)["wgan_gp"]
    pd.testing.assert_frame_equal(with_real, alone)  # the real images change no candidate's score
    assert turing["simulated"] and turing["n_real_images"] == 3 and turing["n_synthetic_images"] == 6
    assert [r["reviewer"] for r in turing["reviewers"]] == ["simulated_1", "simulated_2", "simulated_3"]
    assert set(turing["krippendorff_alpha_interval"]) == {
        "realism",
        "color",
        "texture",
        "boundary",
        "artifacts",
    }
    # a second generator with other proxies shares the page: the first's scores do not move
    _second_generator(world, cands[:4])
    pd.DataFrame({"image": cands[:4], "laplacian_var": [1.0, 2, 3, 4]}).to_csv(world / "b2.csv", index=False)
    pd.DataFrame({"image": cands[:4], "max_ssim": [0.01, 0.02, 0.9, 0.05]}).to_csv(
        world / "s2.csv", index=False
    )
    ddpm = Candidates(
        "ddpm",
        world / "lpips2.csv",
        world / "raw2",
        world / "manifest.csv",
        world / "b2.csv",
        world / "s2.csv",
    )
    both_key = pd.concat([key, review_key(ddpm, world / "metadata.csv", 3, 42)]).drop_duplicates("blinded")
    both = review_stage([one, ddpm], *args, key=both_key, metadata=meta)
    pd.testing.assert_frame_equal(both["wgan_gp"][0], alone)
    # nor its Turing test: the real images' simulated scores follow their place on a page of that
    # generator alone (blind's order), not their place in a key, which the blinded names set
    assert both["wgan_gp"][1] == turing
    shuffled = key.sample(frac=1, random_state=1, ignore_index=True)
    assert review_stage([one], *args, key=shuffled, metadata=meta)["wgan_gp"][1] == turing
    with pytest.raises(ValueError, match=r"needs the split's metadata\.csv"):
        review_stage([one], *args, key=key)
    assert both["ddpm"][0]["image"].tolist() == cands[:4] and both["ddpm"][1]["n_synthetic_images"] == 4


def test_the_shared_blur_rule_is_a_percentile_of_the_real_train_images(world):
    """curation.blur_percentile: the threshold is numpy's percentile of the study's Laplacian
    variance of each real train-split minority image (val, test and majority rows point at files
    that do not exist: reading one would fail), and blur.csv records it with its rule."""
    from ganaug.curation.blur import real_percentile
    from ganaug.curation.steps import blur_rule

    q = float(np.random.default_rng().uniform(5, 95))
    real = [cv2.Laplacian(study_grey(world / "real" / f"r{i}.png"), cv2.CV_64F).var() for i in range(6)]
    assert real_percentile(world / "metadata.csv", q) == pytest.approx(np.percentile(real, q), rel=1e-12)
    blur_rule(world / "raw", world / "blur.csv", None, q, world / "metadata.csv")
    t = pd.read_csv(world / "blur.csv")
    assert t["threshold"].unique().tolist() == [pytest.approx(np.percentile(real, q))]
    assert t["threshold_rule"].unique().tolist() == [f"real_percentile_{q:g}"]
    assert (t["kept"] == (t["laplacian_var"] > np.percentile(real, q))).all()
    blur_rule(world / "raw", world / "fixed.csv", 100.0)
    f = pd.read_csv(world / "fixed.csv")
    assert f["threshold"].unique().tolist() == [100.0] and f["threshold_rule"].unique().tolist() == ["fixed"]


def test_under_the_shared_rule_no_generator_has_its_own_threshold():
    from ganaug.config import ConfigError, validate_config
    from ganaug.settings import curation_params

    shared = {"blur_threshold": 100, "blur_percentile": 10}
    for g in ("wgan_gp", "ddpm", "stylegan2_ada"):
        assert curation_params(shared, "blur", g) == {"blur_threshold": None, "blur_percentile": 10}
    per = {"blur_threshold": {"wgan_gp": 780, "ddpm": 100}, "blur_percentile": None}
    assert curation_params(per, "blur", "ddpm") == {"blur_threshold": 100, "blur_percentile": None}
    with pytest.raises(ConfigError, match="exclude each other"):
        validate_config({"curation": {"blur_threshold": {"wgan_gp": 780}, "blur_percentile": 10}})
