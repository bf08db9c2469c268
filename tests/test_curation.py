"""Curation: SSIM and LPIPS equal to the reference packages, each filter's decisions, review
ingestion, cluster quotas, leakage and empty stages."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from skimage.metrics import structural_similarity

from ganaug.curation.blur import laplacian_variance
from ganaug.curation.clusters import build_feature_extractor, select
from ganaug.curation.lpips_fast import FastLpips, build_lpips, min_lpips
from ganaug.curation.review import COLUMNS, ReviewError, aggregate, read_review_files, simulate_scores
from ganaug.curation.ssim import ImageStats, max_ssim, ssim_pairs
from ganaug.curation.stages import EmptyStage, blur_stage, lpips_stage, real_reference, ssim_stage
from ganaug.data.provenance import load_train_minority
from ganaug.weights import MissingWeights, cached_file


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


def test_max_ssim_over_chunks():
    rng = np.random.default_rng(4)
    a, b = textured(rng, 7, 32), textured(rng, 5, 32)
    best, arg = max_ssim(torch.from_numpy(a), torch.from_numpy(b), chunk=3)
    ref = np.array([[structural_similarity(x, y) for y in b] for x in a])
    assert np.allclose(best.numpy(), ref.max(1), atol=1e-4)
    assert (arg.numpy() == ref.argmax(1)).all()


@pytest.fixture(scope="module")
def lpips_model():
    return build_lpips("random", "/nonexistent-cache", seed=42)


@pytest.mark.parametrize("size", [32, 64])
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


def test_lpips_with_imagenet_backbone_needs_the_cache(tmp_path):
    with pytest.raises(MissingWeights, match=r"vgg16-397923af\.pth"):
        build_lpips("imagenet", tmp_path)


def test_cluster_features_load_through_torchvision_from_the_cache(tmp_path):
    from torchvision.models import ResNet50_Weights, resnet50

    with pytest.raises(MissingWeights, match=r"resnet50-11ad3fa6\.pth.*weights.cache_dir"):
        build_feature_extractor("imagenet", tmp_path)
    # a stand-in file where torch.hub looks: the standard API must read it, not download
    torch.manual_seed(7)
    standin = resnet50(weights=None).state_dict()
    path = cached_file(ResNet50_Weights.IMAGENET1K_V2, tmp_path)
    path.parent.mkdir(parents=True)
    torch.save(standin, path)
    model = build_feature_extractor("imagenet", tmp_path)
    assert torch.equal(model.conv1.weight, standin["conv1.weight"])
    assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 2048)


# ---------------------------------------------------------------- stages on crafted images


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


# ---------------------------------------------------------------- review ingestion

CANDS = ["generated_0000.png", "generated_0001.png", "generated_0002.png"]


def review_file(path: Path, reviewer: str, rows: list[list], header: list[str] = COLUMNS) -> Path:
    lines = [",".join(header)] + [",".join(map(str, [reviewer, *r])) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def good_files(tmp: Path) -> list[Path]:
    return [
        review_file(tmp / f"{who}.csv", who, [[c, 4, 4, 4, 4, 4 - k] for c in CANDS])
        for k, who in enumerate(["ann", "bob", "cy"])
    ]


def test_good_reviews_are_averaged(tmp_path):
    scores = read_review_files(good_files(tmp_path), CANDS, reviewers=3)
    t = aggregate(scores, CANDS, threshold=3.5, mode="files")
    # artifacts 4, 3, 2 -> 3; the others 4: score (4 * 4 + 3) / 5 = 3.8
    assert t.score.tolist() == pytest.approx([3.8] * 3)
    assert t.artifacts.tolist() == pytest.approx([3.0] * 3)
    assert t.kept.all() and (t.n_reviewers == 3).all() and (t.review_mode == "files").all()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda f: review_file(f[0], "ann", [["generated_9999.png", 4, 4, 4, 4, 4]]), r"ann.csv, row 2: unknown image 'generated_9999.png'"),
        (lambda f: review_file(f[0], "ann", [[CANDS[0], 6, 4, 4, 4, 4]]), r"ann.csv, row 2: realism must be an integer from 1 to 5, got '6'"),
        (lambda f: review_file(f[0], "ann", [[CANDS[0], 4, 0, 4, 4, 4]]), r"row 2: color must be an integer from 1 to 5, got '0'"),
        (lambda f: review_file(f[0], "ann", [[CANDS[0], 4, 4, 3.5, 4, 4]]), r"row 2: texture must be an integer from 1 to 5, got '3.5'"),
        (lambda f: review_file(f[0], "ann", [[CANDS[0], 4, 4, 4, "", 4]]), r"row 2: boundary must be an integer"),
        (lambda f: review_file(f[0], "ann", [[c, 4, 4, 4, 4, 4] for c in [*CANDS, CANDS[1]]]), r"ann.csv, row 5: duplicate row, ann already scored generated_0001.png \(.*ann.csv, row 3\)"),
        (lambda f: f[2].unlink(), r"expected 3 reviewers, found 2: ann, bob"),
        (lambda f: [review_file(x, n, [[c, 4, 4, 4, 4, 4] for c in CANDS[:2]]) for x, n in zip(f, ["ann", "bob", "cy"], strict=True)], r"1 candidate image\(s\) scored by nobody, e.g. generated_0002.png"),
        (lambda f: review_file(f[0], "ann", [[CANDS[0], 4, 4, 4, 4]], header=COLUMNS[:-1]), r"ann.csv: header must be reviewer,image,realism,color,texture,boundary,artifacts"),
        (lambda f: f[0].write_text(f[0].read_text() + "zed,generated_0000.png,4,4,4,4,4\n"), r"ann.csv: one file per reviewer expected, found ann, zed"),
        (lambda f: review_file(f[0], "", [[CANDS[0], 4, 4, 4, 4, 4]]), r"ann.csv, row 2: empty reviewer name"),
    ],
    ids=["unknown-image", "score-6", "score-0", "score-fraction", "score-empty", "duplicate", "missing-reviewer",
         "unscored-image", "bad-header", "two-reviewers", "empty-reviewer"],
)  # fmt: skip
def test_bad_review_files_name_file_and_row(tmp_path, mutate, message):
    files = good_files(tmp_path)
    mutate(files)
    with pytest.raises(ReviewError, match=message):
        read_review_files([f for f in files if f.exists()], CANDS, reviewers=3)


def spreadsheet_export(path: Path, reviewer: str, rows: list[list], sep: str = ";") -> Path:
    """As a spreadsheet saves a CSV: UTF-8 with a BOM, CRLF, every field quoted, ';' between."""
    lines = [sep.join(f'"{c}"' for c in COLUMNS)]
    lines += [sep.join(f'"{c}"' for c in [reviewer, *r]) for r in rows]
    path.write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n\r\n").encode("utf-8"))
    return path


@pytest.mark.parametrize("sep", [";", ",", "\t"])
def test_spreadsheet_exports_are_read(tmp_path, sep):
    files = good_files(tmp_path)
    spreadsheet_export(files[1], "bob", [[c, 4, "4.0", "4,0" if sep != "," else 4, 4, 3] for c in CANDS], sep)
    spreadsheet_export(files[2], "Cy; Smith", [[c, 4, 4, 4, 4, 2] for c in CANDS], sep)
    t = aggregate(read_review_files(files, CANDS, reviewers=3), CANDS, threshold=3.5, mode="files")
    assert t.score.tolist() == pytest.approx([3.8] * 3)
    assert set(read_review_files(files, CANDS, 3).reviewer) == {"ann", "bob", "Cy; Smith"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"reviewer;image;realism;color;texture;boundary;artifacts\r\nann;generated_0000.png;4;4\r\n",
         r"ann.csv, row 2: 4 fields, the header has 7"),
        (b"reviewer,image,realism,color,texture,boundary,artifacts\nann,generated_0000.png,4,4,4,4,4.5\n",
         r"ann.csv, row 2: artifacts must be an integer from 1 to 5, got '4.5'"),
        (b'reviewer,image,realism,color,texture,boundary,artifacts\nann,"generated_0000.png,4,4,4,4,4\n',
         r"ann.csv, row \d+: .*"),
        ("reviewer,image,realism,color,texture,boundary,artifacts\nAnné,generated_0000.png,4,4,4,4,4\n".encode("latin-1"),
         r"ann.csv: not UTF-8 text \(byte \d+\); save it as 'CSV UTF-8'"),
        (b"", r"ann.csv: empty file; expected the header reviewer,image"),
    ],
    ids=["ragged-row", "fraction", "open-quote", "latin-1", "empty"],
)  # fmt: skip
def test_malformed_exports_name_file_row_and_expectation(tmp_path, content, message):
    files = good_files(tmp_path)
    files[0].write_bytes(content)
    with pytest.raises(ReviewError, match=message):
        read_review_files(files, CANDS, reviewers=3)


def test_tables_for_spreadsheets_neutralise_formulas(tmp_path):
    from ganaug.io import write_csv

    df = pd.DataFrame({"image_id": ["=HYPERLINK(1)", "+1", "-x", "@sum", "ISIC_1"], "n": [1, 2, 3, 4, 5]})
    write_csv(df, tmp_path / "t.csv", for_spreadsheets=True)
    got = pd.read_csv(tmp_path / "t.csv")
    assert got.image_id.tolist() == ["'=HYPERLINK(1)", "'+1", "'-x", "'@sum", "ISIC_1"]
    assert got.n.tolist() == [1, 2, 3, 4, 5]
    write_csv(df, tmp_path / "data.csv")  # a table the workflow reads back keeps its ids verbatim
    assert pd.read_csv(tmp_path / "data.csv").image_id.tolist() == df.image_id.tolist()


def test_simulated_scores_are_labelled_and_deterministic():
    proxy = pd.DataFrame(
        {"image": CANDS, "laplacian_var": [50.0, 500.0, 5000.0], "max_ssim": [0.3, 0.5, 0.7]}
    )
    a = simulate_scores(proxy, 3, 0.6, seed=42)
    b = simulate_scores(proxy, 3, 0.6, seed=42)
    assert a.equals(b) and sorted(a.reviewer.unique()) == ["simulated_1", "simulated_2", "simulated_3"]
    assert a[list(COLUMNS[2:])].isin([1, 2, 3, 4, 5]).all().all()
    t = aggregate(a, CANDS, 3.5, "simulate")
    assert (t.review_mode == "simulate").all()
    assert t.score.iloc[2] > t.score.iloc[0]  # sharper and more lesion-like scores higher


# ---------------------------------------------------------------- cluster quotas


def test_select_meets_quotas_and_prefers_high_scores():
    rng = np.random.default_rng(0)
    clusters = np.repeat([0, 1, 2], [100, 30, 60])
    scores = rng.uniform(1, 5, len(clusters))
    chosen, notes = select(clusters, scores, final_count=150, min_per_cluster=50)
    assert chosen.sum() == 150
    assert chosen[clusters == 1].all()  # the small cluster gives all it has
    for c in (0, 2):
        assert chosen[clusters == c].sum() >= 50
        # within a cluster, every chosen image outscores every left-out one
        assert scores[(clusters == c) & chosen].min() >= scores[(clusters == c) & ~chosen].max()
    assert any("cluster 1 has 30 images" in n for n in notes)


def test_select_with_fewer_candidates_than_wanted():
    chosen, notes = select(
        np.array([0, 0, 1]), np.array([3.0, 4.0, 5.0]), final_count=600, min_per_cluster=50
    )
    assert chosen.all() and any("only 3 candidates" in n for n in notes)


def test_select_without_scores_is_deterministic():
    clusters = np.array([0, 1, 0, 1, 0, 1])
    chosen, _ = select(clusters, np.full(6, np.nan), final_count=4, min_per_cluster=1)
    assert chosen.tolist() == [True, True, True, True, False, False]


def test_files_mode_without_files_says_what_to_do(world):
    from ganaug.curation.review import ReviewError
    from ganaug.curation.stages import review_stage

    pd.DataFrame({"image": CANDS, "kept": True}).to_csv(world / "lpips.csv", index=False)
    with pytest.raises(ReviewError, match=r"holds no review CSVs.*results/review/index.html.*simulate"):
        review_stage(world / "lpips.csv", "files", [], 3, 3.5, 0.6, 42, "", "", world / "reviews")


def test_lpips_imagenet_trunk_loads_from_a_standin_in_the_cache(tmp_path):
    """The VGG16 file as torchvision publishes it (features.N.*) lands in the lpips slices."""
    from torchvision.models import VGG16_Weights, vgg16

    from ganaug.weights import cached_file

    torch.manual_seed(9)
    standin = vgg16(weights=None).state_dict()  # features.* and classifier.*, as published
    path = cached_file(VGG16_Weights.IMAGENET1K_V1, tmp_path)
    path.parent.mkdir(parents=True)
    torch.save(standin, path)
    model = build_lpips("imagenet", tmp_path)
    trunk = model.net.state_dict()
    assert len(trunk) == 26  # 13 convolutions, weight and bias
    for key, value in trunk.items():
        _, idx, param = key.split(".")
        assert torch.equal(value, standin[f"features.{idx}.{param}"]), key
