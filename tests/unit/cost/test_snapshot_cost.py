"""The snapshot selection's GPU cost (ganaug.cost.study.snapshot_stage): with ``snapshots.select:
kid_val`` every snapshot samples ``draws`` sets of the val DF count through the family's own
sampler, so its sampling work is the sampling stage's scaled by those images, plus one feature pass
over them and the val images; with ``last`` nothing is scored, so no stage."""

from __future__ import annotations

import pytest
import yaml

from ganaug.config import validate_config
from ganaug.cost import hardware as hw
from ganaug.cost.model import Rates
from ganaug.cost.study import FEATURE_BATCH, generator_stages
from ganaug.generators import family
from tests.helpers import DEMO

COUNTS = {"train": {"DF": 30, "NV": 60}, "val": {"DF": 7, "NV": 12}}


@pytest.fixture(scope="module")
def demo_config() -> dict:
    return validate_config(yaml.safe_load(open(DEMO)))


def test_kid_val_scores_count_x_draws_x_val_images_through_the_sampler_and_the_features(demo_config):
    snap = {"select": "kid_val", "count": 4, "draws": 3}
    cfg = {**demo_config, "snapshots": snap}
    fam = family("ddpm")
    stages = generator_stages(cfg, fam, COUNTS)
    names = [s.name for s in stages]
    assert names == [
        "train_ddpm",
        "select_snapshot ddpm",
        "sample_ddpm",
        "curate_lpips ddpm",
        "gan_metrics ddpm",
    ]
    select, sample = stages[1:3]
    scored = 4 * 3 * 7
    n_syn = fam.settings(cfg).n_samples
    sampling, features = select.work
    assert sampling.step is sample.work[0].step
    assert sampling.count == pytest.approx(sample.work[0].count * scored / n_syn, rel=1e-12)
    assert features.count == -(-(scored + 7) // FEATURE_BATCH)
    assert select.host_s == pytest.approx(sample.host_s * scored / n_syn, rel=1e-12)
    # on each repeat's chain, in the DDPM's branch, between training and sampling
    assert select.on_chain and select.branch == "ddpm" and select.jobs == sample.jobs
    r = Rates(hw.H100, "expected", None)
    assert select.job_seconds(r) > 0
    # more draws, more time
    more = generator_stages({**cfg, "snapshots": {**snap, "draws": 6}}, fam, COUNTS)[1]
    assert more.job_seconds(r) > select.job_seconds(r)


def test_last_scores_nothing_so_has_no_stage(demo_config):
    cfg = {**demo_config, "snapshots": {"select": "last", "count": 4, "draws": 3}}
    for name in ("wgan_gp", "ddpm", "stylegan2_ada"):
        names = [s.name for s in generator_stages(cfg, family(name), COUNTS)]
        assert not any(n.startswith("select_snapshot") for n in names), names
