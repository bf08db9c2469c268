"""The one way a config section becomes a typed, frozen dataclass (``from_dict``: unknown keys are
an error naming them, YAML lists become the tuples the fields ask for, nested sections their
dataclasses), and the way back to the plain dict a Snakemake param holds (``as_dict``)."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")


def from_dict(cls: type[T], d: Mapping[str, Any], where: str = "") -> T:
    """Build ``cls`` from a config section: unknown keys are an error naming them; lists become
    tuples where the field is a tuple; nested sections become their dataclasses."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(d) - names)
    if unknown:
        allowed = ", ".join(sorted(names))
        keys = ", ".join(unknown)
        raise ValueError(f"unknown key(s) {keys} in {where or cls.__name__}; allowed: {allowed}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in d:
            continue
        value, hint = d[f.name], hints[f.name]
        nested = _dataclass_in(hint)
        if nested is not None and isinstance(value, Mapping):
            value = from_dict(nested, value, f"{where}.{f.name}" if where else f.name)
        else:
            value = _tupled(value, hint)
        kwargs[f.name] = value
    return cls(**kwargs)


def _dataclass_in(hint: Any) -> type | None:
    for t in (hint, *typing.get_args(hint)):
        if dataclasses.is_dataclass(t):
            return t
    return None


def _tupled(value: Any, hint: Any) -> Any:
    """A YAML list as the tuple its field's hint asks for, nested tuples included (a list of
    [condition, reference] pairs becomes a tuple of pairs)."""
    if not isinstance(value, list) or not _is_tuple(hint):
        return value
    tuples = [h for h in (hint, *typing.get_args(hint)) if typing.get_origin(h) is tuple]
    args = typing.get_args(tuples[0]) if tuples else ()
    inner = args[0] if len(args) == 2 and args[1] is Ellipsis else None
    return tuple(_tupled(v, inner) for v in value) if inner is not None else tuple(value)


def _is_tuple(hint: Any) -> bool:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_is_tuple(a) for a in typing.get_args(hint))
    return origin is tuple or hint is tuple


def as_dict(obj: Any) -> dict[str, Any]:
    """A dataclass as the plain dict a Snakemake param can hold (tuples as lists)."""

    def plain(v: Any) -> Any:
        if isinstance(v, tuple | list):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return {k: plain(v) for k, v in dataclasses.asdict(obj).items()}
