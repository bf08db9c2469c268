"""The phantom set: ISIC 2019 layout, determinism, and colour statistics that do not give it away."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from ganaug.data.phantom import plan, render, write_phantom
from ganaug.data.readers.isic2019 import read_isic2019
from ganaug.settings import PhantomConfig

SMALL = PhantomConfig(
    n_minority_lesions=6,
    n_majority_lesions=14,
    repeat_fraction=0.5,
    mask_fraction=0.5,
    width=160,
    height=120,
    jpeg_quality=90,
    seed=42,
)


def write(tmp, cfg=SMALL, workers=1):
    write_phantom(cfg, tmp / "imgs", tmp / "gt.csv", tmp / "meta.csv", tmp / "masks", workers=workers)
    return tmp


def test_layout_is_read_by_the_isic2019_reader(tmp_path):
    write(tmp_path)
    df = read_isic2019(tmp_path / "gt.csv", tmp_path / "meta.csv")
    counts = df.label.value_counts()
    assert set(counts.index) == {"dermatofibroma", "nevus"}
    assert len(df) > SMALL.n_minority_lesions + SMALL.n_majority_lesions  # some lesions imaged twice
    repeated = df[df.lesion_id != ""].lesion_id.value_counts()
    assert (repeated == 2).any() and repeated.max() == 2
    # a repeated lesion keeps its label
    assert (df[df.lesion_id != ""].groupby("lesion_id").label.nunique() == 1).all()
    for iid in df.image_id:
        assert (tmp_path / "imgs" / f"{iid}.jpg").is_file()
    masks = list((tmp_path / "masks").glob("*_segmentation.png"))
    assert 0 < len(masks) < len(df)


def test_byte_identical_and_independent_of_workers(tmp_path):
    a = write(tmp_path / "a", workers=1)
    b = write(tmp_path / "b", workers=2)
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert files_a == files_b
    for rel in files_a:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_seed_changes_the_set():
    other = PhantomConfig(**{**SMALL.__dict__, "seed": 7})
    a, b = plan(SMALL)[0], plan(other)[0]
    assert not np.array_equal(render(a, 160, 120)[0], render(b, 160, 120)[0])


def test_mask_covers_the_lesion():
    shot = plan(SMALL)[0]
    img, mask = render(shot, 160, 120)
    assert set(np.unique(mask)) <= {0, 255}
    inside, outside = img[mask > 0].mean(), img[mask == 0].mean()
    assert 0.02 < (mask > 0).mean() < 0.5
    assert inside != pytest.approx(outside, abs=1.0)


def test_mean_rgb_does_not_separate_the_classes():
    """A logistic regression on per-image mean RGB stays below 0.9 balanced accuracy."""
    cfg = PhantomConfig(
        n_minority_lesions=80,
        n_majority_lesions=80,
        repeat_fraction=0.0,
        mask_fraction=0.0,
        width=160,
        height=120,
        jpeg_quality=90,
        seed=2024,
    )
    shots = plan(cfg)
    x = np.array([render(s, cfg.width, cfg.height)[0].reshape(-1, 3).mean(axis=0) for s in shots])
    y = np.array([s.lesion.label == "dermatofibroma" for s in shots])
    cv = StratifiedKFold(5, shuffle=True, random_state=0)
    pred = cross_val_predict(LogisticRegression(max_iter=2000), x / 255.0, y, cv=cv)
    assert balanced_accuracy_score(y, pred) < 0.9
    # ... and not because the features are broken: the lesion itself does differ by class
    assert x[y].mean(axis=0)[1] != pytest.approx(x[~y].mean(axis=0)[1], abs=0.1)


def test_the_archive_shape_options(tmp_path):
    """n_minority_images spreads that many DF images over the DF lesions (each at least once,
    some several times); sizes are used in turn; render_scale still writes full-size files."""
    import dataclasses

    from PIL import Image

    sizes = ((160, 160), (200, 150), (96, 72))
    shape = {"n_minority_lesions": 10, "n_minority_images": 23, "n_majority_lesions": 8}
    cfg = dataclasses.replace(
        SMALL, **shape, repeat_fraction=0.0, mask_fraction=0.0, sizes=sizes, render_scale=0.5
    )
    shots = plan(cfg)
    df = [s for s in shots if s.lesion.label == "dermatofibroma"]
    assert len(df) == 23 and len(shots) == 23 + 8
    per_lesion = {}
    for s in df:
        key = s.lesion.lesion_id or s.image_id  # a lesion without an id is photographed once
        per_lesion[key] = per_lesion.get(key, 0) + 1
    assert len(per_lesion) == 10 and max(per_lesion.values()) > 1
    write(tmp_path, cfg)
    gt = read_isic2019(tmp_path / "gt.csv", tmp_path / "meta.csv")
    assert (gt.label == "dermatofibroma").sum() == 23 and (gt.label == "nevus").sum() == 8
    sizes = [Image.open(tmp_path / "imgs" / f"{s.image_id}.jpg").size for s in shots]
    assert sizes == [cfg.sizes[k % 3] for k in range(len(shots))]


def test_fewer_minority_images_than_lesions_is_refused():
    import dataclasses

    with pytest.raises(ValueError, match="n_minority_images 3 is fewer than the 6 DF lesions"):
        plan(dataclasses.replace(SMALL, n_minority_images=3))


def test_an_external_phantom_has_its_own_ids_and_camera(tmp_path):
    """Another prefix and a shift: no id shared with the demo set, and the shift shows in the
    pixels (a red cast raises red against blue; blur lowers the fine detail)."""
    import dataclasses

    from PIL import Image

    from ganaug.settings import PhantomShift

    base = dataclasses.replace(SMALL, mask_fraction=0.0)
    camera = PhantomShift(colour_cast=(1.2, 1.0, 0.8), blur=2.0, resolution=0.5)
    shifted = dataclasses.replace(base, id_prefix="PHX", shift=camera)
    a, b = plan(base), plan(shifted)
    assert all(s.image_id.startswith("PHX_") for s in b)
    assert all(s.lesion.lesion_id.startswith("PHX_L") for s in b if s.lesion.lesion_id)
    assert not {s.image_id for s in a} & {s.image_id for s in b}
    write(tmp_path / "a", base)
    write(tmp_path / "b", shifted)

    def stats(root, prefix):
        imgs = [np.asarray(Image.open(p), float) for p in sorted((root / "imgs").glob(f"{prefix}_*.jpg"))]
        red_blue = np.mean([i[..., 0].mean() / i[..., 2].mean() for i in imgs])
        detail = np.mean([np.abs(np.diff(i.mean(axis=2), axis=1)).mean() for i in imgs])
        return red_blue, detail

    (rb_a, det_a), (rb_b, det_b) = stats(tmp_path / "a", "PHANTOM"), stats(tmp_path / "b", "PHX")
    assert rb_b > 1.3 * rb_a and det_b < 0.7 * det_a
