"""The workflow as users plan it: dry runs, lint and format, and config errors before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.helpers import REPO, run, tool

SNAKEFILE = str(REPO / "workflow" / "Snakefile")

DEMO = str(REPO / "config" / "demo.yaml")


def snakemake(workdir: Path, *args: str, timeout: float = 600):
    return run([tool("snakemake"), "-s", SNAKEFILE, "-d", str(workdir), *args], cwd=workdir, timeout=timeout)


@pytest.mark.parametrize("configfile", ["config/config.yaml", "config/demo.yaml"])
def test_dry_run_plans(configfile):
    res = run([tool("snakemake"), "-n", "--configfile", configfile])
    assert res.returncode == 0, res.stderr[-3000:]


def test_lint_is_clean():
    res = run([tool("snakemake"), "--lint", "--configfile", "config/demo.yaml"])
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "Congratulations, your workflow is in a good condition!" in res.stdout + res.stderr


def test_snakefmt_is_clean():
    res = run([tool("snakefmt"), "--check", "workflow"])
    assert res.returncode == 0, res.stderr[-3000:]


def test_ruff_is_clean():
    res = run([tool("ruff"), "check", "."])
    assert res.returncode == 0, res.stdout[-3000:]
    res = run([tool("ruff"), "format", "--check", "."])
    assert res.returncode == 0, res.stdout[-3000:]


def test_bad_config_stops_before_anything_runs(tmp_path):
    bad = tmp_path / "bad.yaml"
    cfg = yaml.safe_load(Path(DEMO).read_text())
    cfg["data"]["format"] = "isic2018"
    cfg["data"]["imagesize"] = 3
    bad.write_text(yaml.safe_dump(cfg))
    res = snakemake(tmp_path, "-n", "--configfile", str(bad))
    assert res.returncode != 0
    out = res.stdout + res.stderr
    assert "config key 'data.format': 'isic2018' is not allowed" in out
    assert "unknown key(s) 'imagesize' under 'data'" in out


def test_missing_real_data_says_what_to_do(tmp_path):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(
        yaml.safe_dump({"data": {"images": "nope", "ground_truth": "nope.csv", "download": False}})
    )
    res = snakemake(tmp_path, "-n", "--configfile", str(cfg))
    assert res.returncode != 0
    assert "data.ground_truth: nope.csv" in res.stdout + res.stderr
    assert "data.download: true" in res.stdout + res.stderr
