"""Config validation: JSON Schema with defaults, unknown keys rejected, messages that name the key,
then the semantic checks (``ganaug.config_checks``) and the schema's key order.

The Snakefile calls :func:`validate_config` once; rule scripts turn the validated dicts into the
typed dataclasses of ``ganaug.settings``, so package code never does string lookups on a config dict.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from ganaug.config_checks import check_semantics
from ganaug.data.labels import normalise_label
from ganaug.data.sources import fill_data_defaults

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


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


def load_schema(path: Path = SCHEMA_PATH) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _resolved(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    """``schema`` with its ``$ref`` ("#/$defs/<name>", the only kind the schema uses) merged in."""
    if "$ref" not in schema:
        return schema
    target = _resolved(root["$defs"][schema["$ref"].rsplit("/", 1)[-1]], root)
    return {**target, **{k: v for k, v in schema.items() if k != "$ref"}}


def canonical_order(value: Any, schema: Mapping[str, Any], root: Mapping[str, Any]) -> Any:
    """``value`` with every declared mapping in the schema's key order, recursively.

    Snakemake compares a job's params by their repr (snakemake/snakemake#2212), so a config whose
    keys are only reordered would otherwise rerun every job. Free-form tables (a schema's
    ``additionalProperties``: the conditions, the external sets, per-architecture weights) keep
    the user's order, which the reports show; their values are ordered in turn."""
    schema = _resolved(schema, root)
    if isinstance(value, dict):
        alts = [_resolved(a, root) for a in schema.get("oneOf", schema.get("anyOf", ()))]
        for alt in alts:  # the alternative that is a mapping
            if "properties" in alt or isinstance(alt.get("additionalProperties"), dict):
                schema = {**schema, **alt}
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        extra = extra if isinstance(extra, dict) else {}
        declared = {k: canonical_order(value[k], props[k], root) for k in props if k in value}
        free = {k: canonical_order(v, extra, root) for k, v in value.items() if k not in props}
        return {**declared, **free}
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [canonical_order(v, schema["items"], root) for v in value]
    return value


def validate_config(config: Mapping[str, Any], schema_path: Path = SCHEMA_PATH) -> dict[str, Any]:
    """Return a deep copy of ``config`` with defaults filled and every declared section in the
    schema's key order (:func:`canonical_order`); raise ConfigError listing every problem."""
    schema = load_schema(schema_path)
    filled = copy.deepcopy(dict(config))
    validator = _DefaultingValidator(schema)
    errors = sorted(validator.iter_errors(filled), key=lambda e: list(map(str, e.absolute_path)))
    problems = [_describe(e) for e in errors]
    if not problems:
        problems = normalise_classes(filled["data"]) or check_semantics(filled)
    if problems:
        raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(problems))
    fill_data_defaults(filled["data"])
    return canonical_order(filled, schema, schema)
