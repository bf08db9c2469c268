"""One training budget for every generator: each family's training length set from a number of
GPU-hours, so the families are compared at an equal cost rather than at lengths each set alone.

The hours are the cost model's (``ganaug.cost``): a family's training job on one H100 at the
model's expected rates, projected from its own networks and steps tallied on the meta device
(its ``cost`` in its folder). A job's time is linear in its length (a fixed part, its host
overhead, and a part a unit), so the length that fits the budget is solved, not searched. A
projection, not a measurement: the report shows each family's measured training time beside it
("Which generator?").
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from ganaug.cost import hardware as hw
from ganaug.cost.model import Rates
from ganaug.io import write_json


def job_seconds(fam, settings) -> float:
    """The projected seconds of one training job of ``fam`` at ``settings`` on one H100."""
    train, _ = fam.cost(settings, 1)
    return train.job_seconds(Rates(hw.H100, "expected", None))


def per_unit(fam, settings) -> tuple[float, float]:
    """(fixed seconds, seconds a unit) of a training job: its host-only part, and the rest over its
    length (every step a family's cost counts runs once a unit or once a fixed number of units,
    so the rest is proportional to the length; the tests check the length found against the
    model itself)."""
    train, _ = fam.cost(settings, 1)
    fixed = train.host_s
    return fixed, (train.job_seconds(Rates(hw.H100, "expected", None)) - fixed) / settings.length


def length_for(gpu_seconds: float, fixed: float, unit: float, family: str) -> int:
    """The most units whose projected job fits ``gpu_seconds``."""
    n = math.floor((gpu_seconds - fixed) / unit)
    if n < 1:
        raise ValueError(
            f"a training budget of {gpu_seconds / 3600:.4g} GPU-hours does not fit one unit of "
            f"{family} (projected {fixed + unit:.3g} s on one H100): raise budget.gpu_hours"
        )
    return n


def budgeted_settings(fam, config: dict[str, Any]):
    """The family's settings at the length it trains for: the budget's where budget.gpu_hours is
    set (what the cost model projects the study at), else its own."""
    settings = fam.settings(config)
    hours = (config.get("budget") or {}).get("gpu_hours")
    if hours is None:
        return settings
    fixed, unit = per_unit(fam, settings)
    return replace(settings, **{settings.LENGTH_KEY: length_for(3600 * hours, fixed, unit, fam.name)})


def lengths(config: dict[str, Any], families: list) -> dict[str, dict[str, Any]]:
    """Per family in use: its length (the budget's, where budget.gpu_hours is set; else its own
    setting), its unit, and the projected seconds of that length on one H100."""
    hours = config["budget"]["gpu_hours"]
    out = {}
    for fam in families:
        settings = fam.settings(config)
        fixed, unit = per_unit(fam, settings)
        n = settings.length if hours is None else length_for(3600 * hours, fixed, unit, fam.name)
        out[fam.name] = {
            "length_key": fam.length_key,
            "length": n,
            "configured_length": settings.length,
            "set_by": "budget.gpu_hours" if hours is not None else fam.length_key,
            "seconds_per_unit": unit,
            "fixed_seconds": fixed,
            "projected_h100_seconds": fixed + unit * n,
        }
    return {
        "gpu": hw.H100.name,
        "case": "expected",
        "gpu_hours": hours,
        "families": out,
        "how": "each family's training job projected by the cost model (ganaug.cost) on one H100 at "
        "its expected rates; with budget.gpu_hours, each length is the most units whose job fits it",
    }


def budget_rule(config: dict[str, Any], families: list, output: str) -> dict[str, Any]:
    """The rule generator_budget: results/plan/generator_budget.json."""
    out = lengths(config, families)
    write_json(out, output)
    return out
