"""External test sets: images the training archive also holds are dropped (by id or by pixels)
and listed; what is left is split "external"; a set with a class missing is refused."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pandas as pd
import pytest

from ganaug.data.external import EXTERNAL_SPLIT, NoImagesLeft, external_set_rule, overlap, pixel_digest


def table(root, prefix, n, rng, labels=None, copy_from=None):
    rows = []
    for k in range(n):
        path = root / f"{prefix}_{k}.png"
        img = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
        if copy_from is not None and k in copy_from:
            img = cv2.imread(str(copy_from[k]), cv2.IMREAD_UNCHANGED)
        cv2.imwrite(str(path), img)
        label = labels[k] if labels else ("dermatofibroma" if k % 3 == 0 else "nevus")
        rows.append({"image_id": f"{prefix}_{k}", "path": str(path), "label": label,
                     "lesion_id": f"L{prefix}{k}", "patient_id": "", "crop_method": "otsu"})  # fmt: skip
    return pd.DataFrame(rows)


def test_overlap_by_id_and_by_pixels(tmp_path):
    rng = np.random.default_rng()
    archive = table(tmp_path, "ISIC", 6, rng)
    # ext_1 is archive image 4 under another name; ext_2 shares an id with the archive
    ext = table(tmp_path, "ext", 5, rng, copy_from={1: archive["path"][4]})
    ext.loc[2, "image_id"] = "ISIC_3"
    got = overlap(ext, archive)
    assert got.to_dict("records") == [
        {"image_id": "ISIC_3", "reason": "same image id as an archive image", "archive_image_id": "ISIC_3",
         "distance": ""},
        {"image_id": "ext_1", "reason": "identical pixels to an archive image after preprocessing",
         "archive_image_id": "ISIC_4", "distance": ""},
    ]  # fmt: skip
    # the same pixels in another file format are the same image; other pixels are not
    cv2.imwrite(str(tmp_path / "again.bmp"), cv2.imread(archive["path"][4], cv2.IMREAD_UNCHANGED))
    assert pixel_digest(tmp_path / "again.bmp") == pixel_digest(archive["path"][4])
    assert pixel_digest(archive["path"][0]) != pixel_digest(archive["path"][1])


def test_external_set_files_write_the_set_without_the_overlap(tmp_path):
    rng = np.random.default_rng(3)
    archive = table(tmp_path, "ISIC", 6, rng)
    ext = table(tmp_path, "ext", 7, rng, copy_from={3: archive["path"][0]})
    archive.to_csv(tmp_path / "archive.csv", index=False)
    ext.to_csv(tmp_path / "ext.csv", index=False)
    out = {k: tmp_path / f"{k}.out" for k in ("meta", "overlap", "summary")}
    summary = external_set_rule(tmp_path / "ext.csv", tmp_path / "archive.csv", out["meta"], out["overlap"],
                                 out["summary"], "shifted", "dermatofibroma", "nevus")  # fmt: skip
    meta = pd.read_csv(out["meta"])
    assert "ext_3" not in set(meta["image_id"]) and len(meta) == 6
    assert set(meta["split"]) == {EXTERNAL_SPLIT} and set(meta["source"]) == {"shifted"}
    assert (meta["target"] == (meta["label"] == "dermatofibroma")).all()
    assert pd.read_csv(out["overlap"])["image_id"].tolist() == ["ext_3"]
    assert json.loads(out["summary"].read_text()) == summary
    assert summary["images"] == {"dermatofibroma": 2, "nevus": 4} and summary["dropped_as_in_archive"] == 1


def test_a_re_encoded_copy_is_dropped_as_a_near_duplicate_with_its_distance(tmp_path):
    from PIL import Image

    from ganaug.data.near_duplicates import hash_images, save_hashes

    rng = np.random.default_rng(5)
    raw, ext_raw = tmp_path / "raw", tmp_path / "ext_raw"
    raw.mkdir(), ext_raw.mkdir()
    # smooth random images (noise has no perceptual structure to survive JPEG), 400 x 300 px
    for k in range(4):
        small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
        Image.fromarray(small).resize((400, 300), Image.BICUBIC).save(raw / f"ISIC_{k}.png")
    for k in range(3):
        small = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
        Image.fromarray(small).resize((400, 300), Image.BICUBIC).save(ext_raw / f"ext_{k}.png")
    Image.open(raw / "ISIC_2.png").convert("RGB").save(ext_raw / "ext_1.jpg", quality=70)
    (ext_raw / "ext_1.png").unlink()
    archive = table(tmp_path, "ISIC", 4, rng)
    ext = table(tmp_path, "ext", 3, rng, labels=["dermatofibroma", "nevus", "nevus"])
    ext["file"] = ""
    archive.to_csv(tmp_path / "archive.csv", index=False)
    ext.to_csv(tmp_path / "ext.csv", index=False)
    save_hashes(hash_images({f"ISIC_{k}": raw / f"ISIC_{k}.png" for k in range(4)}, progress=False),
                tmp_path / "hashes.npz")  # fmt: skip
    out = {k: tmp_path / f"{k}.out" for k in ("meta", "overlap", "summary")}
    summary = external_set_rule(tmp_path / "ext.csv", tmp_path / "archive.csv", out["meta"], out["overlap"],
                                 out["summary"], "shifted", "dermatofibroma", "nevus", images_dir=ext_raw,
                                 archive_hashes=[tmp_path / "hashes.npz"])  # fmt: skip
    dropped = pd.read_csv(out["overlap"], dtype=str, keep_default_na=False)
    assert dropped["image_id"].tolist() == ["ext_1"] and dropped["archive_image_id"].tolist() == ["ISIC_2"]
    assert dropped["reason"].str.startswith("near-duplicate").all() and 0 <= int(dropped["distance"][0]) <= 24
    assert summary["images"] == {"dermatofibroma": 1, "nevus": 1}


def test_a_set_without_one_class_is_refused(tmp_path):
    rng = np.random.default_rng(4)
    table(tmp_path, "ISIC", 3, rng).to_csv(tmp_path / "archive.csv", index=False)
    table(tmp_path, "ext", 4, rng, labels=["nevus"] * 4).to_csv(tmp_path / "ext.csv", index=False)
    with pytest.raises(NoImagesLeft, match=r"external set 'shifted'.*no dermatofibroma image left"):
        external_set_rule(tmp_path / "ext.csv", tmp_path / "archive.csv", tmp_path / "m", tmp_path / "o",
                           tmp_path / "s", "shifted", "dermatofibroma", "nevus")  # fmt: skip


def test_another_photograph_of_an_archive_lesion_is_dropped_and_the_extra_pool_counts(tmp_path):
    rng = np.random.default_rng()
    archive = table(tmp_path, "ISIC", 6, rng)
    extra = table(tmp_path, "XTRA", 3, rng, labels=["dermatofibroma"] * 3)
    ext = table(tmp_path, "ext", 9, rng, copy_from={5: extra["path"][1]})
    ext.loc[2, "lesion_id"] = archive.loc[4, "lesion_id"]  # same lesion, new photograph
    ext.loc[7, "lesion_id"] = ""  # no lesion id: never matched by it
    got = overlap(ext, archive)
    assert got.to_dict("records") == [
        {"image_id": "ext_2", "reason": "same lesion id (LISIC4) as an archive image",
         "archive_image_id": "ISIC_4", "distance": ""},
    ]  # fmt: skip
    archive.to_csv(tmp_path / "archive.csv", index=False)
    extra.to_csv(tmp_path / "extra.csv", index=False)
    ext.to_csv(tmp_path / "ext.csv", index=False)
    out = [tmp_path / f"{k}.out" for k in ("meta", "overlap", "summary")]
    external_set_rule(tmp_path / "ext.csv", [tmp_path / "archive.csv", tmp_path / "extra.csv"], *out,
                       "shifted", "dermatofibroma", "nevus")  # fmt: skip
    dropped = pd.read_csv(out[1])
    assert dropped["image_id"].tolist() == ["ext_2", "ext_5"]  # ext_5 is an extra pool image
    assert dropped["archive_image_id"].tolist() == ["ISIC_4", "XTRA_1"]
