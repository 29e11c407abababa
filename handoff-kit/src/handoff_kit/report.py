"""Run the gates and write the report: one row per gate, pass or fail, and why."""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from handoff_kit.rules import Debt

_TAIL = 40  # Lines of a failing command's output kept in the report.
_MAKE_ERROR = re.compile(r"^make(\[\d+\])?: \*\*\* ")


@dataclass(frozen=True)
class Result:
    """The outcome of one gate."""

    gate: str
    passed: bool
    reason: str
    details: str = ""


@dataclass(frozen=True)
class Gate:
    """A named check; `run` never raises, it reports."""

    name: str
    title: str
    run: Callable[[], Result]
    # The command a command gate runs, to rerun it by hand; () for the others.
    command: tuple[str, ...] = ()


def command_gate(name: str, title: str, command: Sequence[str], cwd: Path) -> Gate:
    """A gate that passes when `command` exits 0 in `cwd`; its output explains a failure."""
    return Gate(
        name, title, lambda: run_command(title, command, cwd=cwd), tuple(command)
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
    if done.returncode == 0:
        return Result(title, True, f"`{shown}` passed")
    lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
    # make's own "*** Error 1" lines repeat the exit status; the tool's say why.
    said = [line for line in lines if not _MAKE_ERROR.match(line)]
    last = said[-1].strip() if said else f"exit status {done.returncode}"
    return Result(title, False, f"`{shown}` failed: {last}", "\n".join(lines[-_TAIL:]))


def markdown(results: Sequence[Result], debts: Sequence[Debt], about: str = "") -> str:
    """The report, ready to paste into a pull request; `about` says what was checked."""
    failed = [result for result in results if not result.passed]
    if failed:
        verdict = f"**FAILED**: {len(failed)} of {_gates(len(results))} failed."
    elif len(results) == 1:
        verdict = "**PASSED**: the one gate run passed."
    else:
        verdict = f"**PASSED**: all {len(results)} gates passed."
    lines = [
        "# Handoff report",
        "",
        *([about, ""] if about else []),
        verdict,
        "",
        "| Gate | Result | Reason |",
        "|---|---|---|",
    ]
    lines += [
        f"| {r.gate} | {'pass' if r.passed else 'FAIL'} | {_cell(r.reason)} |"
        for r in results
    ]
    lines += ["", "## Debts: unofficial data used in research/", ""]
    lines += [f"- {debt}" for debt in debts] or ["None."]
    for result in failed:
        if result.details:
            lines += ["", f"## {result.gate}", "", "```text", result.details, "```"]
    return "\n".join(lines) + "\n"


def _gates(count: int) -> str:
    return f"{count} gate{'' if count == 1 else 's'}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
