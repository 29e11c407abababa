"""How `handoff gate` runs its gates: at the same time, the report in order, and
each test once (the acceptance and parity rows read the tests row's run)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from handoff_kit import config, gate, report
from handoff_kit.report import Gate, Result, markdown

COUNTED = """\
from pathlib import Path


def test_the_scenario_runs() -> None:
    runs = Path(__file__).with_name("runs.txt")
    runs.write_text(runs.read_text() + "ran\\n" if runs.exists() else "ran\\n")
    assert {verdict}, "the model scores outside the contract"
"""


# A command that says it started (its flag), then waits for the other's flag.
MEET = """\
import pathlib, sys, time
here, other = map(pathlib.Path, sys.argv[1:])
here.touch()
deadline = time.monotonic() + 30
while not other.exists():
    if time.monotonic() > deadline:
        sys.exit("the other command never started")
    time.sleep(0.05)
"""


def passing(title: str) -> Gate:
    return Gate(title.lower(), title, lambda: Result(title, True, "fine"))


def meeting(title: str, here: Path, other: Path) -> Gate:
    command = (sys.executable, "-c", MEET, str(here), str(other))
    return Gate(title.lower(), title, lambda: report.run_command(title, command))


def test_independent_gates_run_their_commands_at_the_same_time(tmp_path: Path) -> None:
    # Each command waits for the other: one after the other, the first would fail.
    one, two = tmp_path / "one", tmp_path / "two"
    gates = [meeting("One", one, two), meeting("Two", two, one)]

    results = gate.run_all(gates, workers=2)

    assert [r.passed for r in results] == [True, True], results


def test_the_gates_python_code_runs_one_gate_at_a_time() -> None:
    said: list[str] = []

    def alone(name: str) -> Gate:
        def run() -> Result:
            said.append(f"{name} in")
            time.sleep(0.2)
            said.append(f"{name} out")
            return Result(name, True, "")

        return Gate(name, name, run)

    gate.run_all([alone("a"), alone("b")], workers=2)

    assert said in (
        ["a in", "a out", "b in", "b out"],
        ["b in", "b out", "a in", "a out"],
    )


def test_the_results_keep_the_order_of_the_gates_whatever_ends_first() -> None:
    def slow() -> Result:
        time.sleep(0.3)
        return Result("Slow", True, "late")

    gates = [Gate("slow", "Slow", slow), passing("Quick"), passing("Other")]

    results = gate.run_all(gates, workers=3)

    assert [r.gate for r in results] == ["Slow", "Quick", "Other"]


def test_a_long_gate_starts_first_and_a_reading_gate_after_the_one_it_reads() -> None:
    said: list[str] = []

    def step(name: str, seconds: float = 0.0) -> Gate:
        def run() -> Result:
            said.append(f"{name} started")
            time.sleep(seconds)
            said.append(f"{name} ended")
            return Result(name, True, "")

        return Gate(name, name, run)

    tests = Gate("tests", "tests", step("tests", 0.3).run, long=True)
    reader = Gate("reader", "reader", step("reader").run, after="tests")
    gates = [reader, step("lint"), tests]

    results = gate.run_all(gates, workers=1)

    assert [r.gate for r in results] == ["reader", "lint", "tests"]
    assert said == [
        "tests started",
        "tests ended",
        "lint started",
        "lint ended",
        "reader started",
        "reader ended",
    ]


def scenario(settings: config.Settings, verdict: str) -> Path:
    """One acceptance scenario that counts its runs in runs.txt beside it."""
    for old in settings.acceptance.glob("test_*.py"):
        old.unlink()
    (settings.acceptance / "test_counted.py").write_text(
        COUNTED.format(verdict=verdict)
    )
    return settings.acceptance / "runs.txt"


def the_tests_rows_run(settings: config.Settings, tests: gate.TestsRun) -> Result:
    """The tests row's run, with pytest run directly (the sample has no Makefile)."""
    command = (
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "--no-cov",
        "-p",
        "no:cacheprovider",
    )
    return tests.run("Tests and coverage", command, settings.root)


def test_the_acceptance_row_reads_the_tests_rows_run_and_runs_no_scenario_twice(
    settings: config.Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = scenario(settings, "True")
    tests = gate.TestsRun()
    assert the_tests_rows_run(settings, tests).passed
    monkeypatch.setattr(report, "run_command", pytest.fail)  # No second pytest.

    result = gate.acceptance_gate(settings, tests)

    assert result == Result(
        "Acceptance scenarios",
        True,
        "1 scenarios passed in `make test` (the tests row)",
    )
    assert runs.read_text() == "ran\n", "the scenario ran more than once"


def test_a_failing_scenario_fails_the_acceptance_row_and_is_shown_once(
    settings: config.Settings,
) -> None:
    runs = scenario(settings, "0.7 < 0.5")
    tests = gate.TestsRun()

    ran = the_tests_rows_run(settings, tests)
    result = gate.acceptance_gate(settings, tests)

    nodeid = "package/tests/acceptance/test_counted.py::test_the_scenario_runs"
    assert not ran.passed
    assert not result.passed
    assert result.reason == f"1 of 1 scenarios failed in `make test`: {nodeid}"
    assert f"FAILED {nodeid} - AssertionError: the model scores" in result.details
    assert "E       AssertionError: the model scores outside the contract" in (
        result.details
    )
    assert result.failures() == ran.failures() == {nodeid}
    shown = markdown([ran, result], [])
    assert "(the same failure as Tests and coverage: details there)" in shown
    assert runs.read_text() == "ran\n", "the scenario ran more than once"


def test_without_the_tests_row_the_acceptance_row_runs_the_scenarios_itself(
    settings: config.Settings,
) -> None:
    runs = scenario(settings, "True")

    result = gate.acceptance_gate(settings, gate.TestsRun())

    assert result.passed, result.details
    assert result.reason.startswith("`python -m pytest package/tests/acceptance ")
    assert runs.read_text() == "ran\n"
