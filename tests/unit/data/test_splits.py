"""Splits: proportions within one lesion group, disjoint groups, determinism."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ganaug.data.splits import METADATA_COLUMNS, assign_splits, build_metadata, lesion_groups, summarise

FRACTIONS = {"train": 0.70, "val": 0.15, "test": 0.15}


def random_table(seed: int, n_lesions: int = 300, minority_share: float = 0.1, with_patients: bool = False):
    """Lesions with 1-3 images each, a few without lesion id, optional patients with 1-3 lesions."""
    rng = np.random.default_rng(seed)
    rows = []
    for les in range(n_lesions):
        label = "dermatofibroma" if rng.random() < minority_share else "nevus"
        patient = f"P{rng.integers(n_lesions // 2)}" if with_patients and rng.random() < 0.5 else ""
        no_id = rng.random() < 0.05
        for _ in range(int(rng.choice([1, 1, 1, 2, 3]))):
            rows.append(
                {
                    "image_id": f"I{len(rows):05d}",
                    "label": label,
                    "lesion_id": "" if no_id else f"L{les}",
                    "patient_id": patient,
                }
            )
    return pd.DataFrame(rows)


@pytest.mark.parametrize("seed", range(8))
def test_each_class_within_one_group_of_the_exact_split(seed):
    df = random_table(seed)
    split = assign_splits(df, FRACTIONS, 42, "dermatofibroma")
    groups = lesion_groups(df)
    for cls in ("dermatofibroma", "nevus"):
        sel = df.label == cls
        largest = groups[sel].value_counts().max()
        n = sel.sum()
        for name, frac in FRACTIONS.items():
            got = (split[sel] == name).sum()
            assert abs(got - frac * n) <= largest, (cls, name, got, frac * n, largest)


@pytest.mark.parametrize("with_patients", [False, True])
def test_no_lesion_or_patient_spans_two_splits(with_patients):
    df = random_table(3, with_patients=with_patients)
    df["split"] = assign_splits(df, FRACTIONS, 42, "dermatofibroma")
    for col in ("lesion_id", "patient_id"):
        named = df[df[col] != ""]
        assert (named.groupby(col).split.nunique() == 1).all(), col


def test_groups_join_lesions_through_patients():
    df = pd.DataFrame(
        {
            "image_id": ["a", "b", "c", "d", "e"],
            "label": "nevus",
            "lesion_id": ["L1", "L1", "L2", "L3", ""],
            "patient_id": ["", "P1", "P1", "", ""],
        }
    )
    g = lesion_groups(df)
    # a-b share lesion L1, b-c share patient P1: one group; d and e stand alone
    assert g[0] == g[1] == g[2] == "a"
    assert len({g[0], g[3], g[4]}) == 3


def test_missing_ids_read_back_as_nan_do_not_join_images(tmp_path):
    # metadata.csv read with pandas' defaults turns empty ids into NaN: still "unknown"
    df = pd.DataFrame({"image_id": ["a", "b", "c"], "lesion_id": ["", "", "L1"], "patient_id": ""})
    df.to_csv(tmp_path / "m.csv", index=False)
    back = pd.read_csv(tmp_path / "m.csv")
    assert back["lesion_id"].isna().sum() == 2
    assert lesion_groups(back).nunique() == 3


def test_same_seed_same_split_other_seed_other_split():
    df = random_table(5)
    a = assign_splits(df, FRACTIONS, 42, "dermatofibroma")
    b = assign_splits(df, FRACTIONS, 42, "dermatofibroma")
    c = assign_splits(df, FRACTIONS, 43, "dermatofibroma")
    assert a.equals(b) and not a.equals(c)


def test_row_order_does_not_matter_in_build_metadata():
    df = random_table(6)
    df["path"] = "p/" + df.image_id
    df["crop_method"] = "otsu"
    a = build_metadata(df, FRACTIONS, 42, "dermatofibroma", "phantom")
    b = build_metadata(df.sample(frac=1, random_state=1), FRACTIONS, 42, "dermatofibroma", "phantom")
    assert list(a.columns) == METADATA_COLUMNS
    assert a.equals(b)
    assert (a.target == (a.label == "dermatofibroma")).all() and not a.synthetic.any()


def test_summary_counts():
    df = random_table(7)
    df["path"] = "p"
    df["crop_method"] = "mask"
    meta = build_metadata(df, FRACTIONS, 42, "dermatofibroma", "isic2019")
    s = summarise(meta, "dermatofibroma", "nevus", n_rejected=3)
    total = s["splits"]["all"]
    assert total["total"] == len(df)
    assert sum(s["splits"][k]["dermatofibroma"] for k in FRACTIONS) == total["dermatofibroma"]
    assert total["imbalance_ratio"] == pytest.approx(total["nevus"] / total["dermatofibroma"], abs=1e-4)
    assert s["rejected_images"] == 3 and s["crop_methods"] == {"mask": len(df)}
