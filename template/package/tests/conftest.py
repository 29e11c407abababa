"""Fixtures shared by the package's tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def registry_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project directory with a copy of the data catalog and its own registry.

    The tests that train and register models share it: creating a registry's
    store takes seconds, so it happens once per test session.
    """
    root = tmp_path_factory.mktemp("project")
    shutil.copytree("data/catalog", root / "data/catalog")
    return root


@pytest.fixture(scope="module")
def workdir(registry_project: Path) -> Iterator[Path]:
    """Run a module's tests in `registry_project`, with the registry embedded there
    (never on the server a developer's MLFLOW_TRACKING_URI may name)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(registry_project)
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        yield registry_project
