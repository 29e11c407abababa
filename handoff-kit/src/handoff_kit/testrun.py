"""The outcome of every test of a pytest run, recorded for the gate.

`handoff gate` runs the project's tests once (`make test`, the tests row) with
this plugin (`-p handoff_kit.testrun`) and RESULTS_VARIABLE naming a file; the
acceptance and parity rows then read their tests' outcomes from that file
instead of running them a second time (gate.py). Without the variable the
plugin records nothing.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest

RESULTS_VARIABLE = "HANDOFF_TEST_RESULTS"
PLUGIN = "handoff_kit.testrun"

_outcomes: dict[str, Outcome] = {}


@dataclass(frozen=True)
class Outcome:
    """One test (or a test module that could not be collected): passed, failed,
    skipped or error, and what pytest said about a failure."""

    nodeid: str
    outcome: str
    message: str = ""
    longrepr: str = ""

    @property
    def failed(self) -> bool:
        return self.outcome in {"failed", "error"}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """A test's outcome: its first failing phase, else its call's (or its skip)."""
    before = _outcomes.get(report.nodeid)
    if before is not None and before.failed:
        return
    if report.failed:
        outcome = "failed" if report.when == "call" else "error"
        _outcomes[report.nodeid] = Outcome(
            report.nodeid, outcome, _message(report), report.longreprtext
        )
    elif report.skipped or report.when == "call":
        _outcomes[report.nodeid] = Outcome(report.nodeid, report.outcome)


def pytest_collectreport(report: pytest.CollectReport) -> None:
    """A test module that cannot be collected (an import error) is an error."""
    if report.failed:
        _outcomes[report.nodeid] = Outcome(
            report.nodeid, "error", _message(report), report.longreprtext
        )


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = os.environ.get(RESULTS_VARIABLE)
    if not path:
        return
    recorded = [vars(outcome) for outcome in _outcomes.values()]
    Path(path).write_text(json.dumps({"tests": recorded}))


def _message(report: pytest.TestReport | pytest.CollectReport) -> str:
    """The line pytest's short summary gives a failure: its exception's last line."""
    crash = getattr(report.longrepr, "reprcrash", None)
    message = getattr(crash, "message", "") or report.longreprtext.strip()
    return message.splitlines()[0] if message else ""


def read(path: Path) -> list[Outcome] | None:
    """The outcomes recorded in `path`; None when no run recorded any there."""
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return [Outcome(**test) for test in found["tests"]]
