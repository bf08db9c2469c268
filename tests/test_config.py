"""The config contract: defaults, unknown keys, bad values, cross-key checks, documentation."""

from __future__ import annotations

import copy
import re

import pytest
import yaml

from ganaug.config import ConfigError, load_schema, validate_config

from .conftest import REPO


def load(name: str) -> dict:
    return yaml.safe_load((REPO / "config" / name).read_text())


@pytest.mark.parametrize("name", ["config.yaml", "demo.yaml"])
def test_shipped_configs_validate(name):
    cfg = validate_config(load(name))
    assert cfg["data"]["split"] == {"train": 0.70, "val": 0.15, "test": 0.15, "seed": 42}


def test_defaults_are_the_study_values():
    cfg = validate_config({})
    d = cfg["data"]
    assert cfg["seed"] == 42
    assert (d["format"], d["minority"], d["majority"], d["image_size"]) == (
        "isic2019",
        "dermatofibroma",
        "nevus",
        256,
    )
    assert d["max_reject_fraction"] == 0.02
    assert d["phantom"] is None and d["download"] is False


def test_phantom_defaults_are_filled():
    cfg = validate_config({"data": {"phantom": {"n_minority_lesions": 3}}})
    ph = cfg["data"]["phantom"]
    assert ph["n_minority_lesions"] == 3 and ph["n_majority_lesions"] == 200 and ph["seed"] == 42


def test_input_is_not_mutated():
    raw = {"data": {"image_size": 64}}
    before = copy.deepcopy(raw)
    validate_config(raw)
    assert raw == before


@pytest.mark.parametrize(
    ("cfg", "needle"),
    [
        ({"bogus": 1}, "unknown key(s) 'bogus' under the top level"),
        ({"data": {"imagesize": 3}}, "unknown key(s) 'imagesize' under 'data'"),
        ({"data": {"split": {"tran": 0.7}}}, "'data.split'"),
        (
            {"data": {"format": "isic2018"}},
            "'data.format': 'isic2018' is not allowed; allowed values: isic2019",
        ),
        ({"data": {"image_size": "256"}}, "'data.image_size'"),
        ({"data": {"image_size": 8}}, "'data.image_size'"),
        ({"data": {"max_reject_fraction": 1.5}}, "'data.max_reject_fraction'"),
        ({"device": "tpu"}, "'device': 'tpu' is not allowed"),
        ({"data": {"phantom": {"width": 10}}}, "'data.phantom.width'"),
        ({"data": {"phantom": {"colour": 1}}}, "'colour'"),
    ],
)
def test_bad_values_name_the_key(cfg, needle):
    with pytest.raises(ConfigError) as err:
        validate_config(cfg)
    assert needle in str(err.value)


def test_split_must_sum_to_one():
    with pytest.raises(ConfigError, match=r"data.split.train/val/test' must sum to 1"):
        validate_config({"data": {"split": {"train": 0.8, "val": 0.15, "test": 0.15}}})


def test_minority_and_majority_differ():
    with pytest.raises(ConfigError, match="two different classes"):
        validate_config({"data": {"majority": "dermatofibroma"}})


def test_isic2020_has_no_dermatofibroma():
    with pytest.raises(ConfigError) as err:
        validate_config({"data": {"format": "isic2020"}})
    msg = str(err.value)
    assert "ISIC 2020 contains no dermatofibroma" in msg and "isic2019" in msg


def test_isic2020_is_fine_for_other_classes():
    cfg = validate_config({"data": {"format": "isic2020", "minority": "melanoma"}})
    assert cfg["data"]["minority"] == "melanoma"


def _schema_keys(schema: dict, prefix: str = "") -> list[str]:
    keys = []
    props = schema.get("properties", {})
    for branch in schema.get("oneOf", []):
        props = {**props, **branch.get("properties", {})}
    for name, sub in props.items():
        key = f"{prefix}{name}"
        keys.append(key)
        keys += _schema_keys(sub, key + ".")
    return keys


def test_every_key_is_documented():
    doc = (REPO / "config" / "README.md").read_text()
    documented = set(re.findall(r"`([a-z_][a-z0-9_.]*)`", doc))
    missing = [k for k in _schema_keys(load_schema()) if k not in documented]
    assert not missing, f"config/README.md does not document: {missing}"
