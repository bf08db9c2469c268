"""Before a long run, the plan alone: `snakemake results/plan/plan.md` on the study config, in an
empty folder with no data, prints the configured design's power at the effect of interest and
its projected GPU-hours, and reads nothing but the config."""

from __future__ import annotations

import json

import pytest

from tests.helpers import REPO, snakemake

pytestmark = [pytest.mark.workflow]


def test_the_plan_runs_with_no_data(tmp_path):
    res = snakemake(
        tmp_path, "results/plan/plan.md", "--configfile", str(REPO / "config/config.yaml"), "--cores", "2"
    )
    assert res.returncode == 0, res.stderr[-4000:]
    text = (tmp_path / "results/plan/plan.md").read_text()
    assert "12 repeat(s) x 1 seed(s)" in text and "3 primary hypotheses" in text
    assert "| pr_auc |" in text and "| sensitivity |" not in text  # the primary metric only
    cost = json.loads((tmp_path / "results/plan/cost.json").read_text())
    hours = sum(s["job_hours"] for s in cost["stages"])
    assert f"**{hours:.1f} GPU-hours**" in text
    # the plan is printed too, and nothing but the plan and its cost was made
    assert "The plan, before the run" in res.stdout + res.stderr
    made = {p.relative_to(tmp_path).parts[0] for p in tmp_path.iterdir()} - {".snakemake"}
    assert made == {"results"}
    assert {p.name for p in (tmp_path / "results").iterdir()} <= {"plan", "logs", "benchmarks"}
