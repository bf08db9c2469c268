"""Shared fixtures. The package is importable through ``pythonpath = scripts`` (pyproject)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures"
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    """A console script from the running interpreter's environment (the project's venv)."""
    exe = BIN / name
    return str(exe) if exe.exists() else (shutil.which(name) or name)


def run(cmd: list[str], cwd: Path = REPO, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES
