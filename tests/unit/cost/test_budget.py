"""One GPU budget for every generator (ganaug.cost.budget): each length is the most units whose
projected job fits the budget, recomputed here from the cost model itself; the training rule's
params take it only from the budget's file."""

from __future__ import annotations

from dataclasses import replace

import pytest
import yaml

from ganaug.config import validate_config
from ganaug.cost.budget import budgeted_settings, job_seconds, length_for, lengths
from ganaug.generators import FAMILIES, family
from tests.helpers import DEMO


@pytest.fixture(scope="module")
def demo_config() -> dict:
    return validate_config(yaml.safe_load(open(DEMO)))


def test_each_length_is_the_most_units_that_fit_the_budget(demo_config):
    hours = 0.002  # 7.2 s on one H100: hundreds to thousands of units of the demo's small networks
    cfg = {**demo_config, "budget": {"gpu_hours": hours}}
    fams = list(FAMILIES.values())
    out = lengths(cfg, fams)
    assert out["gpu_hours"] == hours and set(out["families"]) == set(FAMILIES)
    for fam in fams:
        e = out["families"][fam.name]
        s = fam.settings(cfg)
        at = replace(s, **{s.LENGTH_KEY: e["length"]})
        beyond = replace(s, **{s.LENGTH_KEY: e["length"] + 1})
        # the cost model at the length chosen fits, one more unit does not
        assert job_seconds(fam, at) <= 3600 * hours < job_seconds(fam, beyond), fam.name
        assert e["projected_h100_seconds"] == pytest.approx(job_seconds(fam, at), rel=1e-9)
        assert e["set_by"] == "budget.gpu_hours" and e["length_key"] == fam.length_key


def test_without_a_budget_each_family_keeps_its_own_length(demo_config):
    cfg = {**demo_config, "budget": {"gpu_hours": None}}
    fam = family("wgan_gp")
    e = lengths(cfg, [fam])["families"]["wgan_gp"]
    assert e["length"] == e["configured_length"] == cfg["gan"]["total_iterations"]
    assert e["set_by"] == "gan.total_iterations"


def test_a_budget_too_small_for_one_unit_is_an_error():
    with pytest.raises(ValueError, match=r"does not fit one unit of ddpm.*raise budget\.gpu_hours"):
        length_for(0.5, 0.2, 0.4, "ddpm")
    assert length_for(10.0, 1.0, 0.3, "x") == 30


def test_the_cost_model_projects_the_study_at_the_budgets_lengths(demo_config):
    from ganaug.cost import hardware as hw
    from ganaug.cost.model import Rates
    from ganaug.cost.study import generator_stages

    hours = 0.002
    cfg = {**demo_config, "budget": {"gpu_hours": hours}}
    counts = {"train": {"DF": 30, "NV": 60}, "val": {"DF": 6, "NV": 12}}
    train = generator_stages(cfg, family("ddpm"), counts)[0]
    want = lengths(cfg, [family("ddpm")])["families"]["ddpm"]["projected_h100_seconds"]
    assert train.job_seconds(Rates(hw.H100, "expected", None)) == pytest.approx(want, rel=1e-9)


def test_the_training_settings_take_the_budgets_length_and_keep_every_other_key(demo_config):
    cfg = {**demo_config, "budget": {"gpu_hours": 0.002}}
    fam = family("stylegan2_ada")
    got, own = budgeted_settings(fam, cfg), fam.settings(cfg)
    assert got.total_iterations == lengths(cfg, [fam])["families"][fam.name]["length"] != own.total_iterations
    assert {**got.training_params(), "total_iterations": 0} == {
        **own.training_params(),
        "total_iterations": 0,
    }
    assert budgeted_settings(fam, {**cfg, "budget": {"gpu_hours": None}}) == own
