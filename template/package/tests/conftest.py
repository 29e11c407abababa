"""Fixtures shared by the package's tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture
def project_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run the test in a copy of the project's settings and data catalog, so data
    it writes (the example's synthetic customers) stays out of the project."""
    shutil.copy(PROJECT / "pyproject.toml", tmp_path)
    shutil.copytree(PROJECT / "data/catalog", tmp_path / "data/catalog")
    monkeypatch.chdir(tmp_path)
    return tmp_path
