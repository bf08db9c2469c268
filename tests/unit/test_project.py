"""Pins agree everywhere: pyproject.toml, requirements.txt and the per-rule conda envs."""

from __future__ import annotations

import re
import tomllib

import pytest
import yaml

from tests.helpers import REPO

ENV_FILES = sorted((REPO / "envs").glob("*.yaml"))


def _name(spec: str) -> str:
    return re.split(r"[=<>!~\[ ]", spec, maxsplit=1)[0].lower().replace("_", "-")


def _pins(specs: list[str]) -> dict[str, str]:
    out = {}
    for spec in specs:
        spec = spec.split("#")[0].strip()
        if spec:
            assert "==" in spec, f"not an exact pin: {spec!r}"
            out[_name(spec)] = spec.split("==", 1)[1].strip()
    return out


def pyproject_pins() -> dict[str, str]:
    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    proj = data["project"]
    extras = [spec for group in proj["optional-dependencies"].values() for spec in group]
    return _pins(proj["dependencies"] + extras)


def requirements_pins() -> dict[str, str]:
    return _pins((REPO / "requirements.txt").read_text().splitlines())


def test_pyproject_pins_match_requirements():
    req = requirements_pins()
    for name, version in pyproject_pins().items():
        assert req.get(name) == version, f"{name}: pyproject {version}, requirements.txt {req.get(name)}"


def test_torch_pair_is_the_one_that_imports_here():
    pins = pyproject_pins()
    assert (pins["torch"], pins["torchvision"]) == ("2.14.1", "0.29.1")


@pytest.mark.parametrize("env", ENV_FILES, ids=[p.stem for p in ENV_FILES])
def test_env_parses_and_agrees_with_pyproject(env):
    spec = yaml.safe_load(env.read_text())
    assert "conda-forge" in spec["channels"]
    deps = spec["dependencies"]
    assert "python=3.11" in deps
    pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    req = requirements_pins()
    for name, version in _pins(pip).items():
        have = req.get(name)
        assert have == version, f"{env.name}: {name}=={version}, requirements.txt has {have}"


def test_every_rule_env_exists():
    used = set()
    for smk in (REPO / "workflow" / "rules").glob("*.smk"):
        used |= set(re.findall(r'f"\{ENVS\}/([a-z_]+\.yaml)"', smk.read_text()))
    assert used, "no rule names an env"
    for name in used:
        assert (REPO / "envs" / name).is_file(), name


def test_a_fresh_run_clears_the_tensorboard_files_of_an_earlier_one(tmp_path):
    from ganaug.io import clear_event_files

    (tmp_path / "events.out.tfevents.1.host").write_text("old")
    (tmp_path / "events.out.tfevents.2.host").write_text("old")
    (tmp_path / "keep.txt").write_text("not TensorBoard's")
    assert clear_event_files(tmp_path) == 2 and clear_event_files(tmp_path / "missing") == 0
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
