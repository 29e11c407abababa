"""The kit judges a project's settings against the template's (handoff_kit/loosened.py
keeps a copy): the copy is what the template renders, for every answer set, so the
two never drift, and a fresh project has no setting looser than its template's."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from handoff_kit import config, loosened

from tests.conftest import ANSWER_SETS

NAMES = list(ANSWER_SETS)


def tool(project: Path) -> dict[str, Any]:
    return tomllib.loads((project / "pyproject.toml").read_text())["tool"]


@pytest.mark.parametrize("name", NAMES)
def test_the_kits_copy_of_the_tool_tables_is_what_the_template_renders(
    rendered: Mapping[str, Path], name: str
) -> None:
    rendered_tool = tool(rendered[name])
    mypy = {key: v for key, v in rendered_tool["mypy"].items() if key != "python_version"}

    assert mypy == loosened.TEMPLATE["mypy"], "[tool.mypy] differs from the kit's copy"
    assert rendered_tool["coverage"] == loosened.TEMPLATE["coverage"], "[tool.coverage]"
    assert rendered_tool["ruff"] == loosened.TEMPLATE["ruff"], "[tool.ruff]"


@pytest.mark.parametrize("name", NAMES)
def test_the_kits_copy_of_the_handoff_settings_is_what_the_template_renders(
    rendered: Mapping[str, Path], name: str
) -> None:
    handoff = tool(rendered[name])["handoff"]

    for key, value in loosened.TEMPLATE["handoff"].items():
        # A key the template leaves out takes the kit's default.
        default = config.KEYS[key][1]
        given = handoff.get(key, type(value)(default) if default is not None else None)
        assert given == value, f"[tool.handoff] {key} renders {given!r}, the kit has {value!r}"
    assert handoff["package-dir"] == f"{loosened.PACKAGE_ROOT}/{handoff['package']}"
    assert handoff["promotion-metric"], "the template names a promotion metric"
    for key in loosened.REFERENCE_FILES:
        if key not in loosened.TEMPLATE["handoff"]:
            assert key not in handoff, f"{key} is rendered: the kit must copy it"


@pytest.mark.parametrize("name", NAMES)
def test_the_kits_copy_of_the_ruff_standard_is_what_the_template_renders(
    rendered: Mapping[str, Path], name: str
) -> None:
    lint = tomllib.loads((rendered[name] / "standards/ruff.toml").read_text())["lint"]
    # The standard's per-file patterns are relative to standards/; the kit's to the root.
    per_file = {
        os.path.normpath(f"standards/{pattern}"): codes
        for pattern, codes in lint["per-file-ignores"].items()
    }

    assert lint["select"] == loosened.STANDARD_RUFF["select"]
    assert lint["ignore"] == loosened.STANDARD_RUFF["ignore"]
    assert per_file == loosened.STANDARD_RUFF["per-file-ignores"]


@pytest.mark.parametrize("name", NAMES)
def test_a_fresh_project_has_no_setting_looser_than_its_template(
    rendered: Mapping[str, Path], name: str
) -> None:
    assert loosened.loosened(rendered[name]) == []
