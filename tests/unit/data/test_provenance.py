"""The training-set fingerprint a raw set, a curated set and a fit record: written under the
generator-neutral key, and still read under the key of results written before the registry."""

from __future__ import annotations

import pandas as pd
import pytest

from ganaug.data.provenance import (
    OLD_TRAINING_SET_KEY,
    TRAINING_SET_KEY,
    manifest_digest,
    recorded_training_set,
)


@pytest.mark.parametrize("key", [TRAINING_SET_KEY, OLD_TRAINING_SET_KEY])
def test_a_manifest_is_read_under_either_key(tmp_path, key):
    pd.DataFrame({"image": ["a.png", "b.png"], key: ["0123456789abcdef"] * 2}).to_csv(tmp_path / "m.csv")
    assert manifest_digest(tmp_path / "m.csv") == "0123456789abcdef"
    assert recorded_training_set({key: "0123456789abcdef"}) == "0123456789abcdef"


def test_a_manifest_without_one_fingerprint_records_none(tmp_path):
    pd.DataFrame({"image": ["a.png", "b.png"], TRAINING_SET_KEY: ["x", "y"]}).to_csv(tmp_path / "m.csv")
    assert manifest_digest(tmp_path / "m.csv") is None
    pd.DataFrame({"image": ["a.png"]}).to_csv(tmp_path / "n.csv")
    assert manifest_digest(tmp_path / "n.csv") is None and recorded_training_set({}) is None
