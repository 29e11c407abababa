"""Fixtures of the fast tier's tests that run the kit on rendered projects."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from handoff_kit import config

from tests.conftest import answers


@pytest.fixture
def load_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A function that imports a rendered project's package and returns its settings.

    The package reads its version from installed metadata: a dist-info folder stands
    in for `make setup`. Every project's package is churn_model, so each load starts
    from a clean module cache."""

    def load(project: Path) -> config.Settings:
        given = answers(project)
        package, slug = given["package_name"], given["project_slug"]
        meta = tmp_path / f"meta-{project.name}"
        info = meta / f"{package}-0.1.0.dist-info"
        info.mkdir(parents=True, exist_ok=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {slug}\nVersion: 0.1.0\n")
        for name in [m for m in sys.modules if m == package or m.startswith(f"{package}.")]:
            monkeypatch.delitem(sys.modules, name)
        monkeypatch.syspath_prepend(str(project / "package/src"))
        monkeypatch.syspath_prepend(str(meta))
        return config.load(project)

    yield load
    for name in [m for m in sys.modules if m.startswith("churn_model")]:
        del sys.modules[name]
