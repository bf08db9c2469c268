"""Config validation: JSON Schema with defaults, unknown keys rejected, messages that name the key.

The Snakefile calls :func:`validate_config` once; rule scripts turn the validated dicts into the
typed dataclasses below, so package code never does string lookups on a config dict.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from ganaug.data.labels import normalise_label
from ganaug.data.sources import data_problems, fill_data_defaults
from ganaug.models.registry import arch_spec

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"

# Formats whose archives hold no dermatofibroma at all. ISIC 2020 (the SIIM-ISIC melanoma
# challenge) lists nevus, melanoma, seborrheic keratosis, lentigo NOS, lichenoid keratosis,
# solar lentigo, cafe-au-lait macule, atypical melanocytic proliferation and unknown.
FORMATS_WITHOUT_DF = {"isic2020"}
# the generator doubles a 4x4 map: log2(size / 4) transposed convolutions
GAN_SIZES = (32, 64, 128, 256)


class ConfigError(ValueError):
    """A config value is missing, of the wrong kind, or not allowed."""


def _extend_with_defaults(validator_class: type) -> type:
    """A validator that fills in ``default`` values while it walks ``properties``.

    Objects declare ``default: {}`` so nested defaults are filled even when the user leaves
    the whole section out (the recursion into the new ``{}`` happens after it is set).
    """
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(
        validator: Any, properties: Mapping[str, Any], instance: Any, schema: Mapping[str, Any]
    ) -> Iterator[jsonschema.ValidationError]:
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_DefaultingValidator = _extend_with_defaults(jsonschema.Draft202012Validator)


def _key(error: jsonschema.ValidationError) -> str:
    path = ".".join(str(p) for p in error.absolute_path)
    return path or "<top level>"


def _describe(error: jsonschema.ValidationError) -> str:
    """One line per error: the dotted key, the value and what is allowed."""
    key = _key(error)
    schema = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed))
        where = "the top level" if key == "<top level>" else f"'{key}'"
        hint = f"; allowed keys: {', '.join(allowed)}" if allowed else ""
        return f"unknown key(s) {', '.join(map(repr, extra))} under {where}{hint}"
    if error.validator == "enum":
        allowed = ", ".join(map(str, error.validator_value))
        return f"config key '{key}': {error.instance!r} is not allowed; allowed values: {allowed}"
    if error.validator == "oneOf":
        # "null or an object": report what is wrong inside the branch of the value's own type,
        # not that a dict is not null
        inner = [e for e in error.context if not (e.validator == "type" and not e.path)]
        if inner:
            return "; ".join(_describe(e) for e in inner)
        kinds = [b.get("type", "?") for b in error.validator_value]
        return f"config key '{key}': {error.instance!r} must be of type {' or '.join(kinds)}"
    return f"config key '{key}': {error.message}"


def normalise_classes(data: dict[str, Any]) -> list[str]:
    """Class names to the readers' canonical spelling (``DF`` -> ``dermatofibroma``), in place,
    so the same-class check, the ISIC 2020 refusal and every rule see one name."""
    problems = []
    for key in ("minority", "majority"):
        try:
            data[key] = normalise_label(data[key])
        except ValueError:
            problems.append(f"config key 'data.{key}': {data[key]!r} is not a class name")
    return problems


def check_semantics(config: Mapping[str, Any]) -> list[str]:
    """Checks a schema cannot express: fractions that sum to one, a dataset that has the class,
    keys that make no sense for the data's format or origin."""
    problems: list[str] = []
    data = config["data"]
    split = data["split"]
    total = split["train"] + split["val"] + split["test"]
    if abs(total - 1.0) > 1e-9:
        problems.append(
            "config keys 'data.split.train/val/test' must sum to 1, "
            f"got {split['train']} + {split['val']} + {split['test']} = {total:g}"
        )
    if data["minority"] == data["majority"]:
        problems.append(
            f"config keys 'data.minority' and 'data.majority' both name {data['minority']!r}; "
            "they must name two different classes"
        )
    if data["format"] in FORMATS_WITHOUT_DF and "dermatofibroma" in (
        data["minority"],
        data["majority"],
    ):
        problems.append(no_dermatofibroma_message(data["format"]))
    if data["image_size"] not in GAN_SIZES:
        problems.append(
            f"config key 'data.image_size': {data['image_size']} is not a size the WGAN-GP can "
            f"generate; allowed: {', '.join(map(str, GAN_SIZES))}"
        )
    problems += data_problems(data)
    problems += classifier_problems(config["classifier"])
    conditions = config["classifier"]["conditions"]
    for name, cond in conditions.items():
        to = cond.get("oversample_to")
        if to is None:
            continue
        if to not in conditions or to == name:
            problems.append(
                f"config key 'classifier.conditions.{name}.oversample_to': {to!r} is not another "
                f"condition of the table ({', '.join(conditions)})"
            )
        elif conditions[to].get("oversample_to") is not None:
            problems.append(
                f"config key 'classifier.conditions.{name}.oversample_to': {to!r} oversamples "
                "itself; name a condition with a fixed training set"
            )
        elif not cond["real_minority"]:
            problems.append(
                f"config key 'classifier.conditions.{name}': oversample_to needs real_minority: true"
            )
    for ref in config["evaluation"]["references"]:
        if ref not in conditions:
            problems.append(
                f"config key 'evaluation.references': {ref!r} is not a condition of "
                f"classifier.conditions ({', '.join(conditions)})"
            )
    return problems


def classifier_problems(cls: Mapping[str, Any]) -> list[str]:
    """Architectures the registry knows, and weights for each of them."""
    problems = []
    for arch in cls["archs"]:
        try:
            arch_spec(arch)
        except ValueError as err:
            problems.append(f"config key 'classifier.archs': {err}")
    weights = cls["weights"]
    if isinstance(weights, dict):
        missing = [a for a in cls["archs"] if a not in weights]
        if missing:
            problems.append(f"config key 'classifier.weights': no weights for {', '.join(missing)}")
        # entries for architectures not trained are allowed: --configfile merges mappings key by
        # key, so a config that narrows classifier.archs cannot remove the wider table's entries.
        # A misspelt name is still an error.
        for arch in (a for a in weights if a not in cls["archs"]):
            try:
                arch_spec(arch)
            except ValueError as err:
                problems.append(f"config key 'classifier.weights': {err}")
    for arch, w in weights.items() if isinstance(weights, dict) else [(None, weights)]:
        if w == "none":
            where = "classifier.weights" + (f".{arch}" if arch else "")
            problems.append(
                f"config key '{where}': 'none' is now spelt 'random' (random init), as everywhere"
            )
    return problems


def weights_of(cls: Mapping[str, Any], arch: str) -> str:
    """classifier.weights for one architecture (one value for all, or a mapping)."""
    w = cls["weights"]
    return w[arch] if isinstance(w, dict) else w


def no_dermatofibroma_message(fmt: str) -> str:
    return (
        f"data.format {fmt!r}: ISIC 2020 contains no dermatofibroma at all (its diagnoses are "
        "nevus, melanoma, seborrheic keratosis, lentigo NOS, lichenoid keratosis, solar "
        "lentigo, cafe-au-lait macule, atypical melanocytic proliferation and unknown). Use "
        "data.format: isic2019 (ISIC 2019 has 239 DF images) or ham10000 (115 DF images). "
        "The '300 DF in ISIC 2020' of the original study is wrong."
    )


def load_schema(path: Path = SCHEMA_PATH) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def validate_config(config: Mapping[str, Any], schema_path: Path = SCHEMA_PATH) -> dict[str, Any]:
    """Return a deep copy of ``config`` with defaults filled; raise ConfigError listing every problem."""
    filled = copy.deepcopy(dict(config))
    validator = _DefaultingValidator(load_schema(schema_path))
    errors = sorted(validator.iter_errors(filled), key=lambda e: list(map(str, e.absolute_path)))
    problems = [_describe(e) for e in errors]
    if not problems:
        problems = normalise_classes(filled["data"]) or check_semantics(filled)
    if problems:
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(problems))
    fill_data_defaults(filled["data"])
    return filled
