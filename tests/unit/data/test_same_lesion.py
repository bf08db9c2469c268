"""Same-lesion pairs inside the archive (ganaug.data.same_lesion): copies of a lesion under new
lesion and patient ids are found by the perceptual hash and kept in one split in every repeat;
distinct phantom lesions are never joined; published and user lists join their pairs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ganaug.data import same_lesion as sl
from ganaug.data.near_duplicates import MAX_DISTANCE, distances, hash_images
from ganaug.data.phantom import Lesion, Shot, render
from ganaug.data.splits import assign_splits, lesion_groups, split_rule
from ganaug.evaluation.fits import Groups

N_DISTINCT, N_COPIED = 300, 20
FRACTIONS = {"train": 0.70, "val": 0.15, "test": 0.15}
COPIES = ("jpeg70", "resize08", "crop5")


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """300 distinct phantom lesions (one image each, own lesion and patient ids) and, for 20 of
    them, three copies under new lesion and patient ids: a JPEG re-encode at quality 70, a 0.8x
    resize and a 5 % re-crop."""
    root = tmp_path_factory.mktemp("same_lesion")
    rng = np.random.default_rng(7)
    files, rows = {}, []
    for i in range(N_DISTINCT):
        label = "dermatofibroma" if i % 3 == 0 else "nevus"
        lesion = Lesion(label, 1000 + i, f"L{i}", 50, "back", "female")
        img, _ = render(Shot(f"A_{i:04d}", lesion, 5000 + i, False), 400, 300)
        files[f"A_{i:04d}"] = path = root / f"A_{i:04d}.jpg"
        Image.fromarray(img).save(path, quality=92)
        rows.append((f"A_{i:04d}", label, f"L{i}", f"P{i}", i))
    for i in sorted(rng.choice(N_DISTINCT, N_COPIED, replace=False)):
        im = Image.open(files[f"A_{i:04d}"])
        w, h = im.size
        label = rows[i][1]
        for kind in COPIES:
            iid = f"{kind}_{i:04d}"
            files[iid] = path = root / f"{iid}.{'png' if kind == 'resize08' else 'jpg'}"
            if kind == "jpeg70":
                im.save(path, quality=70)
            elif kind == "resize08":
                im.resize((int(0.8 * w), int(0.8 * h)), Image.BICUBIC).save(path)
            else:  # 5 % of the width and height cut away, from the right and the bottom
                im.crop((0, 0, w - int(0.05 * w), h - int(0.05 * h))).save(path, quality=92)
            rows.append((iid, label, f"Lnew_{iid}", f"Pnew_{iid}", int(i)))
    table = pd.DataFrame(rows, columns=["image_id", "label", "lesion_id", "patient_id", "origin"])
    return table, hash_images(files, workers=2, progress=False)


def test_every_copy_is_paired_with_its_lesion_and_no_distinct_lesions_are(archive):
    table, hashes = archive
    pairs, counts = sl.pair_table(table, hashes, [])
    origin = dict(zip(table["image_id"], table["origin"], strict=True))
    found = set(zip(pairs["image_id_a"], pairs["image_id_b"], strict=True))
    for iid in table.loc[
        table["image_id"].str.contains("_") & ~table["image_id"].str.startswith("A_"), "image_id"
    ]:
        original = f"A_{origin[iid]:04d}"
        assert sl._key(original, iid) in found, iid  # each copy with its original
    # no false pair: every pair is two images of one lesion, among 300 distinct ones
    assert all(origin[a] == origin[b] for a, b in found)
    assert (pairs["distance"] <= MAX_DISTANCE).all() and (pairs["kind"] == sl.HASH_KIND).all()
    assert not pairs["grouped_by_ids"].any()  # each copy has its own lesion and patient ids
    assert counts["pairs"] == counts["by_hash"] == counts["new_joins"] == len(pairs) >= 3 * N_COPIED


def test_no_pair_is_split_in_five_repeats_and_the_split_fractions_hold(archive):
    table, hashes = archive
    pairs = sl.as_pairs(sl.pair_table(table, hashes, [])[0])
    groups = lesion_groups(table, pairs)
    split_without = 0
    for r in range(5):
        joined = assign_splits(table, FRACTIONS, 42, "dermatofibroma", r, pairs)
        split = dict(zip(table["image_id"], joined, strict=True))
        assert all(split[a] == split[b] for a, b in pairs), r
        alone = assign_splits(table, FRACTIONS, 42, "dermatofibroma", r)
        by_ids = dict(zip(table["image_id"], alone, strict=True))
        split_without += sum(by_ids[a] != by_ids[b] for a, b in pairs)
        s = pd.Series(split)[table["image_id"]].to_numpy()
        for cls in ("dermatofibroma", "nevus"):
            sel = (table["label"] == cls).to_numpy()
            largest = groups[sel].value_counts().max()
            for name, frac in FRACTIONS.items():
                got = int((s[sel] == name).sum())
                assert abs(got - frac * sel.sum()) <= 2 * largest, (r, cls, name, got)
    assert split_without > 0  # grouping by ids alone splits some of these pairs: the join matters


def test_self_pairs_equal_the_full_distance_matrix(archive, monkeypatch):
    """The upper-triangle blocks against every pair of the full matrix, with blocks smaller
    than the archive so that the block edges are crossed."""
    _, hashes = archive
    monkeypatch.setattr(sl, "BLOCK", 37)
    found, nearest = sl.self_pairs(hashes, max_distance=MAX_DISTANCE)
    ids = sorted(hashes)
    d = distances(np.stack([hashes[i] for i in ids]), np.stack([hashes[i] for i in ids])).astype(int)
    np.fill_diagonal(d, 1 << 16)
    want = {
        (ids[i], ids[j], int(d[i, j]))
        for i, j in zip(*np.nonzero(np.triu(d <= MAX_DISTANCE, 1)), strict=True)
    }
    assert set(found) == want and len(found) == len(want)
    assert np.array_equal(nearest, d.min(axis=1))


def test_listed_pairs_join_only_ids_in_the_archive(archive, tmp_path):
    table, hashes = archive
    mine = tmp_path / "mine.csv"
    # two distinct lesions (far apart by hash), and a pair with an id that is not in the archive
    mine.write_text("image_id_a,image_id_b,note\nA_0001.jpg,A_0002,x\nA_0004,ISIC_9999999,y\n")
    pairs, counts = sl.pair_table(table, hashes, [("mine.csv", sl.read_pair_list(mine))])
    row = pairs[(pairs["image_id_a"] == "A_0001") & (pairs["image_id_b"] == "A_0002")].iloc[0]
    assert row["kind"] == "listed in mine.csv" and not row["grouped_by_ids"]
    assert row["distance"] == distances(hashes["A_0001"][None], hashes["A_0002"][None])[0, 0] > MAX_DISTANCE
    assert "ISIC_9999999" not in set(pairs["image_id_b"]) | set(pairs["image_id_a"])
    assert counts["lists"]["mine.csv"] == {"listed": 2, "in_archive": 1} and counts["by_list"] == 1
    # without the hash screen, the list alone
    only, c = sl.pair_table(table, None, [("mine.csv", sl.read_pair_list(mine))])
    assert len(only) == 1 and pd.isna(only["distance"].iloc[0]) and c["by_hash"] == 0


def test_the_published_list_is_the_18_confirmed_ham10000_pairs():
    (path,) = sl.PUBLISHED_LISTS
    pairs = sl.read_pair_list(path)
    assert len(pairs) == 18
    ids = pd.concat([pairs["image_id_a"], pairs["image_id_b"]])
    assert ids.str.fullmatch(r"ISIC_00\d{5}").all() and ids.is_unique
    assert ("ISIC_0033481", "ISIC_0033421") in set(zip(pairs["image_id_a"], pairs["image_id_b"], strict=True))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a,b\nx,y\n", r"bad\.csv: a same-lesion list needs the columns image_id_a and image_id_b"),
        ("image_id_a,image_id_b\nx,\n", r"bad\.csv, row 2: an empty image id"),
        ("image_id_a,image_id_b\nx,y\nz,z.jpg\n", r"bad\.csv, row 3: image 'z' is paired with itself"),
    ],
)
def test_a_bad_list_names_the_file_and_row(tmp_path, text, message):
    (tmp_path / "bad.csv").write_text(text)
    with pytest.raises(ValueError, match=message):
        sl.read_pair_list(tmp_path / "bad.csv")
    with pytest.raises(FileNotFoundError, match=r"missing\.csv: the same-lesion list is missing"):
        sl.read_pair_list(tmp_path / "missing.csv")


def test_the_split_rule_joins_the_pairs_and_counts_them(tmp_path):
    """Through the rule: a same_lesion.csv pair of two lesions keeps them in one split, the
    summary counts the pairs, and the statistics' test-set groups join them too."""
    rng = np.random.default_rng(3)
    rows = [
        (
            f"I{k:04d}",
            f"images/I{k:04d}.png",
            "dermatofibroma" if k % 5 == 0 else "nevus",
            f"L{k}",
            "",
            "otsu",
        )
        for k in range(400)
    ]
    columns = ["image_id", "path", "label", "lesion_id", "patient_id", "crop_method"]
    table = pd.DataFrame(rows, columns=columns)
    table.to_csv(tmp_path / "pre.csv", index=False)
    (tmp_path / "rej.csv").write_text("image_id,reason\n")
    joined = [tuple(f"I{k:04d}" for k in sorted(rng.choice(400, 2, replace=False))) for _ in range(30)]
    pd.DataFrame([(a, b, sl.HASH_KIND, 3, False) for a, b in joined], columns=sl.PAIR_COLUMNS).to_csv(
        tmp_path / "same.csv", index=False
    )
    split = {**FRACTIONS, "seed": 42, "repeat": 1}
    summary = split_rule(
        tmp_path / "pre.csv", tmp_path / "rej.csv", tmp_path / "same.csv", tmp_path / "meta.csv",
        tmp_path / "summary.json", split, "dermatofibroma", "nevus", "isic2019", None,
    )  # fmt: skip
    meta = pd.read_csv(tmp_path / "meta.csv", dtype=str)
    side = dict(zip(meta["image_id"], meta["split"], strict=True))
    assert all(side[a] == side[b] for a, b in joined)
    assert summary["same_lesion"] == {"pairs": 30, "by_hash": 30, "by_list": 0, "new_joins": 30}
    assert json.loads((tmp_path / "summary.json").read_text())["same_lesion"]["pairs"] == 30
    meta["target"] = (meta["label"] == "dermatofibroma").astype(int)
    tested = [(a, b) for a, b in joined if side[a] == "test"]
    assert tested  # some pairs reach the test set
    g = Groups.of(meta, pairs=joined)
    assert all(g.codes[a] == g.codes[b] for a, b in tested)
    assert len(g.names) < (meta["split"] == "test").sum()  # one image a lesion, less the joins
    assert len(Groups.of(meta).names) == (meta["split"] == "test").sum()
