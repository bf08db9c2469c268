"""Snapshot selection (ganaug.generators.snapshots): the KID at equal size against
torch-fidelity's, the choice of the lowest, and the scoring of snapshots whose images are known
to be nearer or farther from the validation images. Resume with snapshots kept is the family
tests' (tests/unit/generators/test_families.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ganaug.generators.loop import Snapshots
from ganaug.generators.sampling import latent_seed
from ganaug.generators.snapshots import (
    choose,
    kid_equal_size,
    of_manifest,
    score_snapshots,
    scoring_seed,
    stamp_manifest,
)
from ganaug.io import write_json
from tests.helpers import random_features


@pytest.mark.parametrize(
    ("total", "count", "units"), [(20, 5, [4, 8, 12, 16, 20]), (10, 3, [4, 7, 10]), (2, 5, [1, 2])]
)
def test_snapshots_are_evenly_spaced_and_end_at_the_final_weights(total, count, units, tmp_path):
    snaps = Snapshots(tmp_path / "s", tmp_path / "s.csv", count)
    assert snaps.units(total) == units


def test_clearing_keeps_the_snapshots_up_to_the_resumed_unit(tmp_path):
    snaps = Snapshots(tmp_path / "s", tmp_path / "s.csv", 4)
    snaps.folder.mkdir()
    for u in (5, 10, 15):
        snaps.path(u).write_bytes(b"x")
    (snaps.folder / "notes.pt").write_bytes(b"y")  # not a snapshot's name: left alone
    snaps.clear(after=10)
    assert sorted(p.name for p in snaps.folder.iterdir()) == ["00000005.pt", "00000010.pt", "notes.pt"]
    with pytest.raises(FileNotFoundError, match=r"00000020\.pt"):
        snaps.write_index(20, "step")


@pytest.mark.parametrize("n", [8, 37])
def test_kid_at_equal_size_equals_torch_fidelity(n):
    """Every image on both sides: torch-fidelity's KID with one subset of the whole set (its
    subsets are drawn without replacement, and the unbiased MMD is permutation-invariant)."""
    import torch
    from torch_fidelity.metric_kid import kid_features_to_metric

    rng = np.random.default_rng()
    real, fake = random_features(rng, n, 16), random_features(rng, n, 16, shift=0.3)
    ref = kid_features_to_metric(
        torch.from_numpy(real),
        torch.from_numpy(fake),
        kid_subsets=1,
        kid_subset_size=n,
        kid_kernel="poly",
        kid_kernel_poly_degree=3,
        kid_kernel_poly_gamma=None,
        kid_kernel_poly_coef0=1,
        verbose=False,
    )["kernel_inception_distance_mean"]
    assert kid_equal_size(real, fake) == pytest.approx(ref, rel=1e-9, abs=1e-12)
    with pytest.raises(ValueError, match="same size"):
        kid_equal_size(real, fake[:-1])


def k(mean: float, se: float | None = None) -> dict:
    return {"mean": mean, "se": se, "draws": []}


def test_the_latest_snapshot_within_one_standard_error_of_the_lowest_is_chosen():
    assert choose([k(3.0), k(1.0), k(2.0)], "kid_val") == 1  # one draw: the lowest
    assert choose([k(1.0), k(2.0), k(1.0)], "kid_val") == 2  # a tie: the later
    assert choose([k(3.0, 0.5), k(1.0, 0.5), k(1.4, 0.3), k(1.6, 0.2)], "kid_val") == 2  # 1.4 <= 1.5 < 1.6
    assert choose([None, k(2.0), k(float("nan"))], "kid_val") == 1
    assert choose([None, None, None], "last") == 2
    with pytest.raises(ValueError, match="no snapshot could be scored"):
        choose([None, None], "kid_val")
    with pytest.raises(ValueError, match=r"snapshots\.select"):
        choose([k(1.0)], "best")


def test_the_snapshot_whose_images_match_the_validation_images_scores_lowest(tmp_path):
    """Three snapshots whose images are drawn from distributions at known distances from the val
    images' (mean shifts 2, 0 and 1), over 4 draws: the scores order them so, each mean is its
    draws' mean with their standard error, and the middle one is chosen."""
    rng = np.random.default_rng()
    n, d, draws = 40, 12, 4
    real = random_features(rng, n, d)
    shifts = {"a.pt": 2.0, "b.pt": 0.0, "c.pt": 1.0}
    index = pd.DataFrame({"snapshot": [0, 1, 2], "step": [10, 20, 30], "path": list(shifts)})
    drawn = {}

    def sample(path: str, folder: Path, m: int) -> None:  # a snapshot's m images, as a file
        folder.mkdir(parents=True)
        drawn[path] = random_features(rng, m, d, shift=shifts[path])
        np.save(folder / "f.npy", drawn[path])

    scores = score_snapshots(index, real, sample, lambda f: np.load(Path(f) / "f.npy"), draws, progress=False)
    assert [len(x["draws"]) for x in scores] == [draws] * 3 and len(drawn["a.pt"]) == draws * n
    means = [x["mean"] for x in scores]
    assert means[1] < means[2] < means[0]
    per = [1000 * kid_equal_size(real, drawn["c.pt"][i * n : (i + 1) * n]) for i in range(draws)]
    assert scores[2]["draws"] == pytest.approx(per) and scores[2]["mean"] == pytest.approx(np.mean(per))
    assert scores[2]["se"] == pytest.approx(np.std(per, ddof=1) / np.sqrt(draws))
    assert choose(scores, "kid_val") == 1


def test_the_manifest_and_the_curated_summary_name_the_snapshot(tmp_path):
    manifest = tmp_path / "raw_manifest.csv"
    pd.DataFrame({"image": ["generated_0000.png"], "index": [0]}).to_csv(manifest, index=False)
    assert of_manifest(manifest) is None  # a raw set sampled before snapshots were kept
    record = {"method": "kid_val", "unit": "iteration", "chosen": {"snapshot": 2, "iteration": 300}}
    write_json(record, tmp_path / "snapshot.json")
    stamp_manifest(manifest, tmp_path / "snapshot.json")
    assert of_manifest(manifest) == {"snapshot": 2, "at": 300, "unit": "iteration", "select": "kid_val"}


def test_the_scoring_images_are_none_of_the_raw_sets():
    """The snapshot is scored on images of a seed of its own: their latent seeds and the raw
    set's (study size) do not meet, so the curated set's KID is not measured on them."""
    raw = {latent_seed(42, i) for i in range(1500)}
    scoring = {latent_seed(scoring_seed(42), i) for i in range(5 * 40)}
    assert scoring_seed(42) != 42 and not raw & scoring


def test_a_resume_without_the_snapshots_it_needs_stops_and_moves_its_checkpoint_aside(tmp_path):
    """A checkpoint written with other snapshot units (another count or length) cannot make the
    missing ones again: the job stops before training, the checkpoint moved aside."""
    from ganaug.generators.loop import SnapshotsMissing

    snaps = Snapshots(tmp_path / "s", tmp_path / "s.csv", 4)
    snaps.folder.mkdir()
    ckpt = tmp_path / "last.pt"
    for u in (10, 20):
        snaps.path(u).write_bytes(b"x")
    ckpt.write_bytes(b"c")
    snaps.check_resumable(20, 40, ckpt)  # units 10, 20 (30 and 40 still to come): fine
    assert ckpt.exists()
    with pytest.raises(SnapshotsMissing, match=r"those at 12, 24 do not exist"):
        snaps.check_resumable(30, 48, ckpt)  # the length raised to 48: units 12, 24, 36, 48
    assert not ckpt.exists() and (tmp_path / "last.superseded-snapshots-it30.pt").read_bytes() == b"c"
