"""The debt baseline of an adopted project: green on day one, never hiding debt.

`handoff adopt --apply` records the ruff and mypy violations the team's code had
when it moved under the template, by file and rule, and the coverage its tests
reached, in debt-baseline.json. Then `make lint`, `make typecheck` and `make test`
run the tools through this module (`handoff debt ruff|mypy|pytest`):

- a violation of a file and rule the baseline does not count, or more of them
  than it counts, fails, with the tools' own lines for that file and rule;
- fewer than it counts shrink the baseline, with a line that says so: it only
  shrinks, and a file and rule at zero leave it;
- coverage may not fall below the recorded figure, and a higher one becomes the
  new floor; at the project's own floor (coverage.report.fail_under) it leaves.

The tools run as they always do (their own configuration, their JSON output);
ruff's `--add-noqa` is not used: it would hide the debt in the code. A project
made by `copier copy` has no baseline; `make settings` fails when one appears
after the project started, or when it counts more than it did when recorded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

BASELINE = "debt-baseline.json"
ANSWERS = ".copier-answers.yml"
TOOLS = ("ruff", "mypy")
ABOUT = (
    "Violations the code had when the project adopted the Handoff template, by file "
    "and rule, and the coverage its tests reached. `make check` refuses any more; "
    "each fix shrinks this file (standards/handoff-kit/src/handoff_kit/debt.py)."
)
# The commands behind `make lint` and `make typecheck`, as the tasks run them.
RUFF = ("ruff", "check", "--output-format", "json", "package", "research")
MYPY = ("mypy", "--output", "json")

Counts = dict[str, dict[str, int]]  # file -> rule -> count


class DebtError(Exception):
    """The baseline or a tool's output cannot be read; one line says why."""


@dataclass
class Baseline:
    """What debt-baseline.json records."""

    counts: dict[str, Counts] = field(default_factory=dict)  # tool -> counts
    coverage: float | None = None

    def total(self, tool: str) -> int:
        return sum(sum(rules.values()) for rules in self.counts.get(tool, {}).values())

    def to_json(self) -> str:
        data: dict[str, object] = {"about": ABOUT}
        for tool in TOOLS:
            data[tool] = {
                file: dict(sorted(rules.items()))
                for file, rules in sorted(self.counts.get(tool, {}).items())
                if rules
            }
        if self.coverage is not None:
            data["coverage"] = self.coverage
        return json.dumps(data, indent=2) + "\n"

    def summary(self) -> str:
        parts = [f"{self.total(tool)} {tool} violations" for tool in TOOLS]
        if self.coverage is not None:
            parts.append(f"coverage floor {self.coverage:g}%")
        return ", ".join(parts)


def parse(text: str, where: str = BASELINE) -> Baseline:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise DebtError(f"{where} is not JSON ({error})") from None
    if not isinstance(data, dict):
        raise DebtError(f"{where} is not a JSON object")
    baseline = Baseline()
    for tool in TOOLS:
        table = data.get(tool, {})
        if not isinstance(table, dict) or not all(
            isinstance(rules, dict)
            and all(isinstance(n, int) and n >= 0 for n in rules.values())
            for rules in table.values()
        ):
            raise DebtError(f"{where}: {tool} must map files to rules to counts")
        baseline.counts[tool] = {f: dict(r) for f, r in table.items()}
    coverage = data.get("coverage")
    if coverage is not None and not isinstance(coverage, int | float):
        raise DebtError(f"{where}: coverage must be a number")
    baseline.coverage = None if coverage is None else float(coverage)
    return baseline


def read(root: Path) -> Baseline | None:
    path = root / BASELINE
    return parse(path.read_text(encoding="utf-8")) if path.is_file() else None


def write(root: Path, baseline: Baseline) -> None:
    (root / BASELINE).write_text(baseline.to_json(), encoding="utf-8")


# --- The tools' own output ---------------------------------------------------------


@dataclass(frozen=True)
class Violation:
    file: str
    rule: str
    line: str  # The tool's line for people: file:row: message [rule].


def _relative(root: Path, file: str) -> str:
    path = Path(file)
    if path.is_absolute() and path.is_relative_to(root.resolve()):
        path = path.relative_to(root.resolve())
    return path.as_posix()


def ruff_violations(root: Path, output: str) -> list[Violation]:
    try:
        found = json.loads(output or "[]")
    except json.JSONDecodeError:
        raise DebtError(
            f"ruff gave no JSON: {' '.join(output.split())[:300]}"
        ) from None
    violations = []
    for item in found:
        file = _relative(root, item["filename"])
        rule = item.get("code") or "syntax-error"
        row = item.get("location", {}).get("row", 0)
        cell = item.get("cell")
        where = f"{file}:cell {cell}:{row}" if cell else f"{file}:{row}"
        violations.append(Violation(file, rule, f"{where}: {rule} {item['message']}"))
    return violations


def mypy_violations(root: Path, output: str) -> list[Violation]:
    violations = []
    for raw in output.splitlines():
        if not raw.startswith("{"):
            continue  # mypy's summary or a crash, not an error line.
        item = json.loads(raw)
        if item.get("severity") != "error":
            continue
        file = _relative(root, item["file"])
        rule = item.get("code") or "misc"
        violations.append(
            Violation(file, rule, f"{file}:{item['line']}: {item['message']} [{rule}]")
        )
    return violations


def count(violations: Sequence[Violation]) -> Counts:
    counts: Counts = {}
    for (file, rule), n in Counter((v.file, v.rule) for v in violations).items():
        counts.setdefault(file, {})[rule] = n
    return counts


def _run(args: Sequence[str], root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603  # The tools of this environment.
        [sys.executable, "-m", *args],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )


def measure(tool: str, root: Path) -> list[Violation]:
    """The tool's violations in the project at `root`, as its task runs it."""
    if tool == "ruff":
        said = _run([*RUFF, "--no-cache"], root)
        if said.returncode not in {0, 1}:
            raise DebtError(f"ruff failed: {' '.join(said.stderr.split())[:300]}")
        return ruff_violations(root, said.stdout)
    said = _run(MYPY, root)
    if said.returncode not in {0, 1}:
        raise DebtError(
            f"mypy failed: {' '.join((said.stderr or said.stdout).split())[:300]}"
        )
    return mypy_violations(root, said.stdout)


def measure_coverage(
    root: Path, extra_env: Mapping[str, str] | None = None
) -> float | None:
    """The total coverage `pytest` reaches in the project (None: nothing measured)."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "coverage.json"
        env = {
            **os.environ,
            "COVERAGE_FILE": str(Path(scratch) / ".coverage"),
            **(extra_env or {}),
        }
        subprocess.run(  # noqa: S603  # This environment's pytest.
            [
                sys.executable,
                "-P",  # As the pytest command: the project's folder is not on sys.path.
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                f"--cov-report=json:{report}",
                "--cov-fail-under=0",
            ],
            cwd=root,
            env=env,
            capture_output=True,
            check=False,
        )
        if not report.is_file():
            return None
        totals = json.loads(report.read_text())["totals"]
        return float(totals["percent_covered"])


# --- Comparing with the baseline ---------------------------------------------------


@dataclass
class Verdict:
    failures: list[str]
    shrunk: list[str]


def compare(baseline: Baseline, tool: str, violations: Sequence[Violation]) -> Verdict:
    """Growth fails with the tool's lines; a shrink updates `baseline` in place."""
    recorded = baseline.counts.setdefault(tool, {})
    current = count(violations)
    failures: list[str] = []
    shrunk: list[str] = []
    for file in sorted(set(recorded) | set(current)):
        for rule in sorted(set(recorded.get(file, {})) | set(current.get(file, {}))):
            was = recorded.get(file, {}).get(rule, 0)
            now = current.get(file, {}).get(rule, 0)
            if now > was:
                failures.append(
                    f"{file}: {now} {tool} {rule} where the baseline allows {was}:"
                )
                failures += [
                    f"  {v.line}"
                    for v in violations
                    if v.file == file and v.rule == rule
                ]
            elif now < was:
                shrunk.append(
                    f"{BASELINE}: {file} {rule} {was} -> {now} ({was - now} fixed; "
                    "the baseline shrinks, commit it)"
                )
                if now:
                    recorded[file][rule] = now
                else:
                    del recorded[file][rule]
                    if not recorded[file]:
                        del recorded[file]
    return Verdict(failures, shrunk)


def ratchet(baseline: Baseline, measured: float, floor: float) -> list[str]:
    """Coverage: a higher figure is the new floor; at `floor` the entry leaves."""
    if baseline.coverage is None or measured <= baseline.coverage:
        return []
    was = baseline.coverage
    if measured >= floor:
        baseline.coverage = None
        return [
            f"{BASELINE}: coverage {measured:.1f}% reaches the project's floor "
            f"({floor:g}%): the coverage entry leaves the baseline, commit it"
        ]
    baseline.coverage = round(measured - 0.05, 1)  # Rounded down, to one decimal.
    return [
        f"{BASELINE}: coverage floor {was:g}% -> {baseline.coverage:g}% (it only rises; commit it)"
    ]


def _floor(root: Path) -> float:
    """The project's own coverage floor (coverage.report.fail_under)."""
    import tomllib  # noqa: PLC0415

    path = root / "pyproject.toml"
    data = tomllib.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    floor = data.get("tool", {}).get("coverage", {}).get("report", {}).get("fail_under")
    return float(floor) if isinstance(floor, int | float) else 100.0


def record_baseline(root: Path) -> Baseline:
    """Measure the project and write its baseline (what `--apply` runs once)."""
    baseline = Baseline({tool: count(measure(tool, root)) for tool in TOOLS})
    coverage = measure_coverage(root)
    if coverage is not None and coverage < _floor(root):
        baseline.coverage = round(coverage - 0.05, 1)
    write(root, baseline)
    return baseline


def check_tool(root: Path, tool: str) -> int:
    """`handoff debt ruff|mypy`: the tool against the baseline; 0 when it holds."""
    baseline = read(root)
    if baseline is None:
        raise DebtError(
            f"no {BASELINE} here: run {tool} itself (make lint, make typecheck)"
        )
    verdict = compare(baseline, tool, measure(tool, root))
    for line in verdict.shrunk:
        print(line)
    if verdict.shrunk:
        write(root, baseline)
    for line in verdict.failures:
        print(line)
    left = baseline.total(tool)
    if verdict.failures:
        print(
            f"New {tool} violations (above): fix them; the baseline ({BASELINE}) "
            "only holds the debt the code had when the project was adopted."
        )
        return 1
    print(f"{tool}: no new violations; {left} left in {BASELINE}.")
    return 0


def check_tests(root: Path, args: Sequence[str] = ()) -> int:
    """`handoff debt pytest`: the tests, with the baseline's coverage as the floor."""
    baseline = read(root)
    if baseline is None or baseline.coverage is None:
        return subprocess.run(  # noqa: S603  # This environment's pytest.
            [sys.executable, "-P", "-m", "pytest", *args], cwd=root, check=False
        ).returncode
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch) / "coverage.json"
        status = subprocess.run(  # noqa: S603  # This environment's pytest.
            [
                sys.executable,
                "-P",  # As the pytest command: the project's folder is not on sys.path.
                "-m",
                "pytest",
                f"--cov-fail-under={baseline.coverage}",
                "--cov-report=term-missing:skip-covered",
                f"--cov-report=json:{report}",
                *args,
            ],
            cwd=root,
            check=False,
        ).returncode
        if status == 0 and report.is_file():
            measured = float(
                json.loads(report.read_text())["totals"]["percent_covered"]
            )
            for line in ratchet(baseline, measured, _floor(root)):
                print(line)
                write(root, baseline)
    return status


def _git(root: Path, *args: str) -> str:
    said = subprocess.run(  # noqa: S603
        ["git", *args],  # noqa: S607
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    return said.stdout if said.returncode == 0 else ""


def _first_commit(root: Path, path: str) -> str:
    added = _git(root, "log", "--diff-filter=A", "--format=%H", "--", path).split()
    return added[-1] if added else ""


def grown(root: Path) -> list[str]:
    """A baseline is a loophole unless it only shrinks: it must arrive with the
    adoption (the commit that adds .copier-answers.yml), and never count more
    than it did then, nor lower the coverage it recorded."""
    current = read(root)
    if current is None:
        return []
    answers, first = _first_commit(root, ANSWERS), _first_commit(root, BASELINE)
    if answers and first != answers:
        return [
            f"{BASELINE} did not arrive with the adoption ({ANSWERS}): a project's "
            "debt baseline starts only with `handoff adopt --apply`; delete it and fix "
            "the violations"
        ]
    if not first:
        return []
    original = parse(
        _git(root, "show", f"{first}:{BASELINE}"), f"{BASELINE} at {first[:12]}"
    )
    found = []
    for tool in TOOLS:
        for file, rules in sorted(current.counts.get(tool, {}).items()):
            for rule, n in sorted(rules.items()):
                was = original.counts.get(tool, {}).get(file, {}).get(rule, 0)
                if n > was:
                    found.append(
                        f"{BASELINE} grew: {file} {tool} {rule} {n} where the adoption "
                        f"recorded {was}; it only shrinks: fix the violations"
                    )
    if current.coverage is not None and (
        original.coverage is None or current.coverage < original.coverage
    ):
        found.append(
            f"{BASELINE} lowered the coverage floor to {current.coverage:g}% "
            f"(recorded: {original.coverage}); it only rises"
        )
    return found


def report_lines(root: Path) -> list[str]:
    """The handoff report's section on the remaining debt (none: no lines)."""
    try:
        baseline = read(root)
    except DebtError as error:
        return [f"- {error}"]
    if baseline is None:
        return []
    lines = [f"Left in {BASELINE}: {baseline.summary()}."]
    for tool in TOOLS:
        for file, rules in sorted(baseline.counts.get(tool, {}).items()):
            listed = ", ".join(f"{rule} x{n}" for rule, n in sorted(rules.items()))
            lines.append(f"- {tool}: `{file}`: {listed}")
    return lines


def git_blob(root: Path, revision: str, path: str) -> str | None:
    """`path` (relative to `root`, the repository) as `revision` had it (None: it
    had none)."""
    said = subprocess.run(  # noqa: S603
        ["git", "show", f"{revision}:{path}"],  # noqa: S607
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    return said.stdout if said.returncode == 0 else None


def _starters(root: Path, commit: str, files: Sequence[Path]) -> bool:
    """Every one of `files` is as the adoption `commit` wrote it, and none was the
    team's before: the template's starters, untouched."""
    names = {file: file.relative_to(root).as_posix() for file in files}
    return all(
        git_blob(root, f"{commit}^", name) is None
        and git_blob(root, commit, name) == file.read_text(encoding="utf-8")
        for file, name in names.items()
    )


def _data_sources(data: Path, catalog: Path) -> list[str]:
    """The data sources in the data folder (a folder or a file at its top each,
    as `handoff adopt` names them) that the catalog does not describe."""
    if not data.is_dir():
        return []
    names = {
        entry.stem if entry.is_file() else entry.name
        for entry in data.iterdir()
        if not entry.name.startswith(".")
        and entry != catalog
        and entry.name != "README.md"
        and (entry.is_file() or any(p.is_file() for p in entry.rglob("[!.]*")))
    }
    described = {p.stem for p in catalog.glob("*.y*ml")} if catalog.is_dir() else set()
    return sorted(names - described)


def steps_left(
    root: Path,
    *,
    contracts: Path,
    training: Path,
    acceptance: Path,
    catalog: Path,
) -> list[str]:
    """What an adopted project still has to write, from its state: the template's
    starter contract, training and scenarios, as the adoption commit wrote them
    (or not written), and data sources the catalog lacks. None: not adopted."""
    if read(root) is None:
        return []
    adopted = _first_commit(root, ANSWERS)
    steps = []
    schemas = sorted(contracts.rglob("*.py")) if contracts.is_dir() else []
    if not schemas or (adopted and _starters(root, adopted, schemas)):
        steps.append(
            f"Write the contract: {contracts.relative_to(root).as_posix()}/ is still "
            "the template's starter; put the model's input and output schemas and "
            "its interface there, then `make contract-snapshot`."
        )
    if not training.is_file() or (adopted and _starters(root, adopted, [training])):
        state = (
            "is still the template's starter" if training.is_file() else "is missing"
        )
        steps.append(
            f"Connect training: {training.relative_to(root).as_posix()} {state}; "
            "its `train` ([tool.handoff] train) trains the team's model."
        )
    features = sorted(acceptance.rglob("*.feature")) if acceptance.is_dir() else []
    if not features or (adopted and _starters(root, adopted, features)):
        steps.append(
            f"Write the acceptance scenarios: {acceptance.relative_to(root).as_posix()}/"
            " has only the template's starter (or none), with its golden sample."
        )
    steps += [
        f"Describe the data source `{name}` in "
        f"{catalog.relative_to(root).as_posix()}/{name}.yml (owner, tier, official "
        "or not)."
        for name in _data_sources(catalog.parent, catalog)
    ]
    return steps


def hook(root: Path, files: Sequence[str]) -> int:
    """The git hook's lint: ruff on the staged `files` (fixing what it can), or,
    in an adopted project, the whole of it against the baseline, so that a commit
    to a file with recorded debt is judged as `make lint` judges it."""
    if read(root) is None:
        return subprocess.run(  # noqa: S603  # This environment's ruff.
            [sys.executable, "-m", "ruff", "check", "--fix", "--force-exclude", *files],
            cwd=root,
            check=False,
        ).returncode
    return check_tool(root, "ruff")
