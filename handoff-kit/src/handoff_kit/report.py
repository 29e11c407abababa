"""Run the gates and write the report: one row per gate, pass or fail, and why.

A reviewer reads it in a pull request: each failure once, with the lines that
say what broke (a test runner's own machinery left out), and the next command.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from handoff_kit.rules import Debt

_TAIL = 40  # Lines of a failing command's output kept in the report.
_MAKE_ERROR = re.compile(r"^make(\[\d+\])?: \*\*\* ")
# What says why a pytest run failed: the failing tests' ids (its short summary),
# the assertion lines ("E   ...") and where they are ("path.py:12: AssertionError").
_PYTEST_SUMMARY = re.compile(r"^=+ short test summary info =+$")
_PYTEST_FAILED = re.compile(r"^(FAILED|ERROR) \S+")
_PYTEST_WHY = re.compile(r"^(E {3}|\S+\.py:\d+: \w+)")
_PYTEST_TOTALS = re.compile(r"^=*\s*\d+ (failed|errors?)\b.* in [\d.]+s")
# A file a tool names, maybe with its line (`package/x.py:12`), relative or absolute.
_FILE = re.compile(r"(?<![\w/.-])(/?[\w.-]+(?:/[\w.-]+)*\.\w+)(:\d+)?")


@dataclass(frozen=True)
class Result:
    """The outcome of one gate."""

    gate: str
    passed: bool
    reason: str
    details: str = ""
    # False when there was nothing to check yet (no candidate): neither pass nor fail.
    exercised: bool = True

    @property
    def outcome(self) -> str:
        if not self.exercised:
            return "not exercised"
        return "pass" if self.passed else "FAIL"

    def failures(self) -> frozenset[str]:
        """The failing tests' ids its details name (pytest's FAILED lines)."""
        return frozenset(
            line.split()[1]
            for line in self.details.splitlines()
            if _PYTEST_FAILED.match(line)
        )


@dataclass(frozen=True)
class Gate:
    """A named check; `run` never raises, it reports."""

    name: str
    title: str
    run: Callable[[], Result]
    # What to run when it fails: a command that fixes it, or shows more.
    fix: str = ""
    # The command a command gate runs, or the command line that checks the same
    # (`handoff standards`); () for the others.
    command: tuple[str, ...] = ()
    # A gate that takes long (it runs tests): the gate starts it first, so the
    # others run beside it.
    long: bool = False
    # The gate whose outcome this one reads (the tests row's run): it starts once
    # that one has ended, when both run.
    after: str = ""


# The gates run at the same time (gate.run_all), but their Python code one at a time,
# as if alone (the registry, the project's imports): each holds this lock while it
# runs, and lets go of it only while a command it started runs.
_OWN_CODE = threading.Lock()
_holding = threading.local()


@contextmanager
def one_at_a_time() -> Iterator[None]:
    """Run a gate's Python code alone; its commands (run_command) run beside others."""
    with _OWN_CODE:
        _holding.lock = True
        try:
            yield
        finally:
            _holding.lock = False


def command_gate(
    name: str, title: str, command: Sequence[str], cwd: Path, fix: str = ""
) -> Gate:
    """A gate that passes when `command` exits 0 in `cwd`; its output explains a failure."""
    return Gate(
        name,
        title,
        lambda: run_command(title, command, cwd=cwd),
        command=tuple(command),
        fix=fix,
    )


def run_command(
    title: str,
    command: Sequence[str],
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Result:
    """Run `command` (with `env` added to the environment) as the gate `title`."""
    # The interpreter's full path says nothing to a reader: show "python".
    shown = " ".join([Path(command[0]).name, *command[1:]])
    holding = getattr(_holding, "lock", False)
    if holding:
        _OWN_CODE.release()
    try:
        # Only the fixed commands of the gates run here, never user input.
        done = subprocess.run(  # noqa: S603
            command,
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, **env} if env else None,
            cwd=cwd,
        )
    except OSError as error:  # Not installed (make, ...): a gate reports, never raises.
        return Result(title, False, f"`{shown}` could not run: {error.strerror}")
    finally:
        if holding:
            _OWN_CODE.acquire()
    if done.returncode == 0:
        return Result(title, True, f"`{shown}` passed")
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    # make's own "*** Error 1" lines repeat the exit status; the tool's say why.
    said = [line for line in lines if not _MAKE_ERROR.match(line)]
    found = finding(said, cwd or Path.cwd()) or f"exit status {done.returncode}"
    return Result(title, False, f"`{shown}` failed: {found}", what_matters(lines))


def finding(lines: Sequence[str], cwd: Path) -> str:
    """The line of a failed command's output that says what it found: a failing
    test's id, else the first line naming a file of the project with its line, else
    the first naming a file, else the last line (the tools' own advice comes after
    their findings, so the last line is often advice)."""
    failed = [line for line in lines if _PYTEST_FAILED.match(line)]

    def names_a_file(line: str, with_line: bool) -> bool:
        return any(
            (cwd / match.group(1)).is_file() and (match.group(2) or not with_line)
            for match in _FILE.finditer(line)
        )

    chosen = (
        failed
        or [line for line in lines if names_a_file(line, with_line=True)]
        or [line for line in lines if names_a_file(line, with_line=False)]
        or list(lines[-1:])
    )
    return project_relative(chosen[0].strip(), cwd) if chosen else ""


def project_relative(text: str, root: Path) -> str:
    """`text` with the project's absolute paths made relative to its root, and a
    temporary folder's paths named from inside it (a scratch render of the project
    holds the same relative paths): a report says the same on every machine."""
    for prefix in {str(root.resolve()), str(root)}:
        text = text.replace(prefix + os.sep, "").replace(prefix, ".")
    scratch = re.escape(tempfile.gettempdir())
    return re.sub(rf"{scratch}/[^/\s]+/", "", text)


def what_matters(lines: Sequence[str]) -> str:
    """The lines of a failing command's output a reviewer needs: for pytest, the
    failing test ids, assertion lines and totals; for other tools, their last lines."""
    if not any(_PYTEST_SUMMARY.match(line) for line in lines):
        return "\n".join(lines[-_TAIL:])
    kept = [
        line.strip("= ") if _PYTEST_TOTALS.match(line) else line
        for line in lines
        if _PYTEST_FAILED.match(line)
        or _PYTEST_WHY.match(line)
        or _PYTEST_TOTALS.match(line)
    ]
    return "\n".join(kept[-_TAIL:])


def markdown(  # noqa: PLR0913  # the report's parts: every one but results optional
    results: Sequence[Result],
    debts: Sequence[Debt],
    about: str = "",
    next_step: str = "",
    *,
    issues: Sequence[str] = (),
    adoption_debt: Sequence[str] = (),
    adoption_steps: Sequence[str] = (),
) -> str:
    """The report, ready to paste into a pull request; `about` says what was checked,
    `next_step` what to run now, `issues` the open known issues of catalogued data,
    `adoption_debt` an adopted project's remaining debt baseline, `adoption_steps`
    what it still has to write."""
    failed = [result for result in results if not result.passed]
    run = [result for result in results if result.exercised]
    idle = [result.gate for result in results if not result.exercised]
    if failed:
        verdict = f"**FAILED**: {len(failed)} of {_gates(len(run))} run failed."
    elif len(run) == 1:
        verdict = "**PASSED**: the one gate run passed."
    else:
        verdict = f"**PASSED**: all {_gates(len(run))} run passed."
    if idle:
        verdict += f" Not exercised: {', '.join(idle)}."
    lines = [
        "# Handoff report",
        "",
        *([about, ""] if about else []),
        verdict,
        *(["", f"Next: {next_step}"] if next_step else []),
        "",
        "| Gate | Result | Reason |",
        "|---|---|---|",
    ]
    sections: list[str] = []
    shown: dict[
        frozenset[str], str
    ] = {}  # failing test ids -> the gate that showed them
    for r in results:
        reason = r.reason
        same = next(
            (
                gate
                for ids, gate in shown.items()
                if r.failures() and r.failures() <= ids
            ),
            None,
        )
        if same is not None:
            reason += f" (the same failure as {same}: details there)"
        elif not r.passed and r.details:
            shown[r.failures()] = r.gate
            sections += ["", f"## {r.gate}", "", "```text", r.details, "```"]
        lines.append(f"| {r.gate} | {r.outcome} | {_cell(reason)} |")
    lines += ["", "## Debts: unofficial data used in research/", ""]
    lines += [f"- {debt}" for debt in debts] or ["None."]
    lines += ["", "## Debts: open known issues of catalogued data", ""]
    lines += [f"- {issue}" for issue in issues] or ["None."]
    if adoption_debt:  # An adopted project's baseline (handoff_kit/debt.py).
        lines += ["", "## Debt baseline: what the code had when it was adopted", ""]
        lines += adoption_debt
    if adoption_steps:  # handoff_kit/debt.py steps_left.
        lines += ["", "## Adoption: steps left", ""]
        lines += [f"{i}. {step}" for i, step in enumerate(adoption_steps, 1)]
    return "\n".join([*lines, *sections]) + "\n"


def _gates(count: int) -> str:
    return f"{count} gate{'' if count == 1 else 's'}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
