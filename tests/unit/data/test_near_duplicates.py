"""The near-duplicate screen: re-encoded, resized and re-cropped copies are all found; distinct
phantom lesions are never flagged (the threshold and its measured margins: ganaug.data.near_duplicates)."""

import numpy as np
import pytest
from PIL import Image

from ganaug.data.near_duplicates import (
    MAX_DISTANCE,
    distances,
    hash_images,
    load_hashes,
    near_duplicates,
    save_hashes,
)
from ganaug.data.phantom import Lesion, Shot, render

N_DISTINCT, N_COPIED = 200, 10


@pytest.fixture(scope="module")
def sets(tmp_path_factory):
    root = tmp_path_factory.mktemp("near")
    archive, external = {}, {}
    rng = np.random.default_rng(42)
    for i in range(N_DISTINCT):
        lesion = Lesion(
            "dermatofibroma" if i % 3 == 0 else "nevus", 1000 + i, f"L{i}", 50, "anterior torso", "male"
        )
        img, _ = render(Shot(f"A_{i:04d}", lesion, 5000 + i, False), 400, 300)
        archive[f"A_{i:04d}"] = path = root / f"A_{i:04d}.jpg"
        Image.fromarray(img).save(path, quality=92)
    for i in rng.choice(N_DISTINCT, N_COPIED, replace=False):
        im = Image.open(archive[f"A_{i:04d}"])
        w, h = im.size
        external[f"jpeg70_{i}"] = p = root / f"jpeg70_{i}.jpg"
        im.save(p, quality=70)
        external[f"resize08_{i}"] = p = root / f"resize08_{i}.png"
        im.resize((int(0.8 * w), int(0.8 * h)), Image.BICUBIC).save(p)
        # 5 % of the width and height cut away, from the left and the top
        external[f"crop5_{i}"] = p = root / f"crop5_{i}.jpg"
        im.crop((int(0.05 * w), int(0.05 * h), w, h)).save(p, quality=92)
    return (
        hash_images(archive, workers=2, progress=False),
        hash_images(external, workers=2, progress=False),
        root,
    )


def test_every_copy_is_found_with_its_original(sets):
    archive, external, _ = sets
    hits = near_duplicates(external, archive)
    assert sorted(hits["image_id"]) == sorted(external)
    for r in hits.itertuples():
        assert r.archive_image_id == f"A_{int(r.image_id.split('_')[1]):04d}" and r.distance <= MAX_DISTANCE


def test_no_two_distinct_lesions_are_flagged(sets):
    archive, _, _ = sets
    ids = list(archive)
    d = distances(np.stack([archive[i] for i in ids]), np.stack([archive[i] for i in ids])).astype(int)
    np.fill_diagonal(d, 10_000)
    assert d.min() > MAX_DISTANCE
    assert near_duplicates({i: archive[i] for i in ids[:100]}, {i: archive[i] for i in ids[100:]}).empty


def test_distances_are_the_hamming_distances_of_imagehash(sets):
    import imagehash

    archive, _, root = sets
    a, b = "A_0000", "A_0001"
    ref = imagehash.phash(Image.open(root / f"{a}.jpg").convert("RGB"), hash_size=16)
    assert np.array_equal(np.packbits(ref.hash.ravel()), archive[a][0])  # row 0: the whole image
    whole = int(np.unpackbits(archive[a][0] ^ archive[b][0]).sum())
    assert distances(archive[a][None], archive[b][None])[0, 0] <= whole  # the variants can only help


def test_hashes_round_trip(sets, tmp_path):
    archive, _, _ = sets
    save_hashes(archive, tmp_path / "h.npz")
    back = load_hashes(tmp_path / "h.npz")
    assert list(back) == list(archive) and all(np.array_equal(back[k], archive[k]) for k in archive)


def test_distances_equal_a_brute_force_minimum_over_the_variants():
    rng = np.random.default_rng()
    q = rng.integers(0, 256, (5, 81, 32), dtype=np.uint8)
    r = rng.integers(0, 256, (7, 81, 32), dtype=np.uint8)
    r[3] = q[1] ^ (rng.random((81, 32)) < 0.01)  # a close one

    def bits(a, b):
        return int(np.unpackbits(a ^ b).sum())

    want = np.array([[min(min(bits(q[i, 0], r[j, v]) for v in range(81)),
                          min(bits(q[i, v], r[j, 0]) for v in range(81))) for j in range(7)]
                     for i in range(5)])  # fmt: skip
    for budget, workers in ((1, 1), (10_000, 2), (256 << 20, 1)):  # one query a block, and all at once
        assert np.array_equal(distances(q, r, budget_bytes=budget, workers=workers), want)
