"""Loosened settings in a generated project: `make check` and the handoff gate fail
naming each setting looser than the template's, until a waiver with a reason, an
owner and a future expiry records it; the report then lists every waiver."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import Project, answers
from tests.slow.test_contract import edit, rows

pytestmark = pytest.mark.slow

TITLE = "Settings at the standard, or waived"
UNTESTED = '''\
"""Scores from the old system, kept until the migration ends."""


def legacy_score(value: float) -> float:
    """The old system's score of `value`."""
    return value * 2
'''


@pytest.fixture
def project(set_up_project: Callable[[str], Project]) -> Iterator[Project]:
    """The default project; whatever a test changes is undone afterwards."""
    project = set_up_project("default")
    yield project
    project.restore()


def test_loosened_settings_fail_check_and_gate_until_waived_and_listed(
    project: Project,
) -> None:
    package = answers(project.path)["package_name"]
    (project.path / f"package/src/{package}/legacy.py").write_text(UNTESTED)
    loosened = {
        "handoff.promotion-tolerance": ("promotion-tolerance = 0.01", "promotion-tolerance = 0.2", "0.2"),
        "coverage.report.fail_under": ("fail_under = 80", "fail_under = 0", "0"),
        "handoff.package-dir": (
            f'package-dir = "package/src/{package}"',
            f'package-dir = "package/src/{package}/contracts"',
            f'"package/src/{package}/contracts"',
        ),
        "ruff.lint.ignore": (
            'extend = "standards/ruff.toml"',
            'extend = "standards/ruff.toml"\nlint.extend-ignore = ["PLR0913"]',
            '["PLR0913"]',
        ),
    }  # fmt: skip
    for old, new, _ in loosened.values():
        edit(project, "pyproject.toml", old, new)

    check = project.make("check", check=False)
    said = check.stdout + check.stderr
    assert check.returncode != 0, "make check passes with loosened settings"
    gated = project.run(
        "uv", "run", "--frozen", "handoff", "gate", "--only", "settings", check=False
    )  # fmt: skip
    assert gated.returncode != 0, f"the gate passes with loosened settings:\n{gated.stdout}"
    outcome, reason = rows(gated.stdout)[TITLE]
    assert outcome == "FAIL"
    for setting, (_, _, value) in loosened.items():
        assert f"{setting} = {value} (the standard: " in said, f"make check: no {setting}:\n{said}"
        assert f"{setting} = {value}" in gated.stdout, f"the report names no {setting}"
    assert "(and 3 more)" in reason

    expires = (datetime.now(UTC).date() + timedelta(days=365)).isoformat()
    waivers = "".join(
        f'\n[tool.handoff.waivers."{setting}"]\nvalue = {value}\n'
        f'reason = "reason {number}"\nowner = "@owner{number}"\nexpires = {expires}\n'
        for number, (setting, (_, _, value)) in enumerate(loosened.items())
    )
    with (project.path / "pyproject.toml").open("a") as pyproject:
        pyproject.write(waivers)

    check = project.make("check", check=False)
    assert check.returncode == 0, (
        f"make check fails with waived settings:\n{check.stdout}{check.stderr}"
    )
    gated = project.run("uv", "run", "--frozen", "handoff", "gate", "--only", "settings")
    outcome, reason = rows(gated.stdout)[TITLE]
    assert outcome == "pass"
    assert reason.startswith("no setting looser than the template's; 4 waived: ")
    for number, (setting, (_, _, value)) in enumerate(loosened.items()):
        listed = f"{setting} = {value} (@owner{number}, until {expires}: reason {number})"
        assert listed.replace("|", "\\|") in reason, f"the report does not list {listed}"
