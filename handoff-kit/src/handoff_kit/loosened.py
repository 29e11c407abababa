"""Loosened settings: every project-owned setting that weakens a gate, compared with
the template's, and the waivers that let a looser one through.

The template's values live here (`TEMPLATE`, `STANDARD_RUFF`): a fast test of the
template repository proves they are what the template renders, for every answer
set. A setting looser than the template's fails the row unless
`[tool.handoff.waivers]` names it, with the value it has, a reason, an owner and
an expiry date:

    [tool.handoff.waivers."coverage.report.fail_under"]
    value = 70
    reason = "the legacy loader has no tests yet; #123 adds them"
    owner = "@maria"
    expires = 2027-03-01

What counts as looser, family by family, is what the tool does with the setting:

- `[tool.handoff]`: a threshold above the template's (promotion-tolerance); a
  floor below it (contract-coverage-boundary, contract-coverage-fields: the
  template sets none, so any floor a project sets is its own); an
  empty promotion-metric (promotion compares nothing); a package-dir that does
  not hold the whole package (package/src/<package>); snapshot, research,
  acceptance or interface-test anywhere else (the gate would look at another
  reference, folder or test). catalog, report, openapi, odcs, lock and card-notes say
  where things are, not what a gate sees.
- coverage: fail_under below the template's, branch off, and any omit, include,
  source or exclusion pattern beyond coverage's and the template's own;
  pytest's addopts that turn coverage off, lower its floor or narrow --cov.
- mypy: the project's [tool.mypy] as mypy reads it (mypy's own parser: `no_`
  and `allow_` spellings, overrides by module pattern) against the template's;
  any of `--strict`'s flags, or one of LOOSE_MYPY's, looser for a package/
  module; error codes disabled; ignore_missing_imports for a module the template
  does not name; follow_imports skip or silent; files or exclude that drop
  package/ files.
- ruff: `extend` re-pointed; `select` that drops a template rule; ignores and
  per-file ignores of rules the template selects, for package/ files; package/
  files ruff does not check (exclude, include, .gitignore: ruff's own file list).
- a tool's config file that it reads instead of pyproject.toml (mypy.ini,
  pytest.ini, .coveragerc, ruff.toml, a ruff config inside package/).

Per-line waivers that name their rule (`# noqa: CODE`, `# type: ignore[code]`)
are not settings: ruff's PGH rules keep them named.
"""

from __future__ import annotations

import configparser
import fnmatch
import io
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

from handoff_kit import debt
from handoff_kit.config import (
    COVERAGE_KEYS,
    KEYS,
    PYPROJECT,
    ConfigError,
    read_toml,
)
from handoff_kit.report import Result

TITLE = "Settings at the standard, or waived"
WAIVERS = "[tool.handoff.waivers]"
WAIVER_FIELDS = ("value", "reason", "owner", "expires")
# The template's own settings (template/pyproject.toml.jinja), where a gate reads
# them; tests/fast/test_loosened_defaults.py proves they are what it renders.
TEMPLATE_TOML = """
[tool.handoff]
snapshot = "package/contracts.lock.json"
research = "research"
acceptance = "package/tests/acceptance"
promotion-tolerance = 0.01

[tool.ruff]
extend = "standards/ruff.toml"
src = ["package/src", "package/tests"]

[tool.mypy]
files = ["package/src", "package/tests"]
mypy_path = "package/src"
strict = true
warn_unreachable = true

[[tool.mypy.overrides]]
module = ["sklearn.*"]
ignore_missing_imports = true

[tool.coverage.run]
branch = true

[tool.coverage.report]
fail_under = 80
show_missing = true
exclude_also = ['if __name__ == "__main__":']
"""
TEMPLATE: dict[str, Any] = tomllib.loads(TEMPLATE_TOML)["tool"]
# The package's import folder is here, under the project: package-dir must hold it.
PACKAGE_ROOT = "package/src"
# The lint rules of standards/ruff.toml.jinja, per-file ignores relative to the
# project (the file's own are relative to standards/).
STANDARD_RUFF: dict[str, Any] = {
    "select": [
        *("E", "W", "F", "I", "N", "UP", "B", "S", "C4", "SIM", "PTH", "PT"),
        *("ANN", "NPY", "PD", "PL", "PGH", "TID", "RUF"),
    ],
    "ignore": ["E501"],
    "per-file-ignores": {"package/tests/**": ["S101", "PLR2004"]},
}
# [tool.handoff] paths a gate reads its reference or its subject from: anywhere
# else, it sees another one. A folder may widen to one that holds the template's.
REFERENCE_FILES = ("snapshot", "interface-test")
SCANNED_FOLDERS = ("acceptance",)
NAMED_FOLDERS = ("research",)  # The gate looks for imports of this folder's name.
# mypy options, besides --strict's own flags (mypy says which), whose looser value
# for a package/ module weakens the types row: option -> its strict value.
LOOSE_MYPY: dict[str, object] = {
    "warn_unreachable": True,
    "strict_optional": True,
    "warn_no_return": True,
    "ignore_errors": False,
    "ignore_missing_imports": False,
    "follow_untyped_imports": False,
    "implicit_optional": False,
    "allow_untyped_globals": False,
}
LOOSE_FOLLOW_IMPORTS = ("skip", "silent")
# A tool's config files that it reads before pyproject.toml (found in the root):
# tool -> files; for coverage, setup.cfg and tox.ini count when they have its sections.
SHADOWING = {
    "mypy": ("mypy.ini", ".mypy.ini"),
    "pytest": ("pytest.ini", ".pytest.ini"),
    "coverage": (".coveragerc",),
    "ruff": (".ruff.toml", "ruff.toml"),
}
RUFF_CONFIGS = (".ruff.toml", "ruff.toml", PYPROJECT)


@dataclass(frozen=True)
class Loosened:
    """A setting looser than the template's: its waiver key, its value, the standard."""

    setting: str
    value: object
    standard: str

    def __str__(self) -> str:
        return f"{self.setting} = {_shown(self.value)} (the standard: {self.standard})"


@dataclass(frozen=True)
class Waiver:
    """A `[tool.handoff.waivers."<setting>"]` table: the value it lets through, why,
    who answers for it and until when."""

    setting: str
    value: object
    reason: str
    owner: str
    expires: date

    def __str__(self) -> str:
        return (
            f"{self.setting} = {_shown(self.value)} "
            f"({self.owner}, until {self.expires}: {self.reason})"
        )


@dataclass(frozen=True)
class Verdict:
    """Failures (one line each) and the waivers that let a looser setting through."""

    failures: list[str]
    waived: list[Waiver]


def _shown(value: object) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_shown(item) for item in value) + "]"
    return str(value)


def _tool(pyproject: Mapping[str, Any], *names: str) -> dict[str, Any]:
    """pyproject's [tool.NAME...] table, {} when absent or not a table."""
    found: object = pyproject.get("tool", {})
    for name in names:
        found = found.get(name, {}) if isinstance(found, dict) else {}
    return found if isinstance(found, dict) else {}


def _strings(value: object) -> list[str]:
    """A setting that takes one string or a list of them, as a list."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(item) for item in value]
    return []


def _inside(path: str, folder: str) -> bool:
    """Whether `path` is `folder` or under it (both relative to the project)."""
    inner = PurePosixPath(os.path.normpath(path))
    outer = PurePosixPath(os.path.normpath(folder))
    return outer == PurePosixPath(".") or inner == outer or outer in inner.parents


# --- [tool.handoff] --------------------------------------------------------------


def handoff_settings(table: Mapping[str, Any]) -> list[Loosened]:
    """Thresholds, the promotion metric and the paths the gates read."""
    found = []
    template = TEMPLATE["handoff"]
    for key in COVERAGE_KEYS:
        # A floor: lower is looser; the template's is 0 where it sets none.
        floor = template.get(key, 0)
        value = table.get(key, 0)
        number = _number(value)
        if number is None or number < floor:
            found.append(Loosened(f"handoff.{key}", value, f"at least {floor}"))
    for key, standard in template.items():
        if key in COVERAGE_KEYS:
            continue
        if isinstance(standard, int | float):
            # Every threshold there is a tolerance: higher is looser.
            value = table.get(key, float(str(KEYS[key][1])))
            number = _number(value)
            if number is None or number > standard:
                found.append(Loosened(f"handoff.{key}", value, f"at most {standard}"))
    package = str(table.get("package", ""))
    whole = f"{PACKAGE_ROOT}/{package.replace('.', '/')}"
    package_dir = str(table.get("package-dir", ""))
    if not _inside(whole, package_dir):
        standard = f"{whole!r}, the whole package, or a folder holding it"
        found.append(Loosened("handoff.package-dir", package_dir, standard))
    if not str(table.get("promotion-metric", "")).strip():
        found.append(
            Loosened(
                "handoff.promotion-metric",
                "",
                "a metric promotion compares with the champion's",
            )
        )
    for key in (*REFERENCE_FILES, *NAMED_FOLDERS, *SCANNED_FOLDERS):
        standard = str(template.get(key, KEYS[key][1]))
        value = str(table.get(key, KEYS[key][1]))
        same = (
            _inside(standard, value)
            if key in SCANNED_FOLDERS
            else os.path.normpath(value) == os.path.normpath(standard)
        )
        if not same:
            found.append(Loosened(f"handoff.{key}", value, repr(standard)))
    return found


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


# --- coverage and pytest-cov -------------------------------------------------------


def coverage_settings(pyproject: Mapping[str, Any]) -> list[Loosened]:
    """The floor, branch measurement, and what coverage leaves out of the total."""
    from coverage.config import (  # noqa: PLC0415  # The dev tools only here.
        DEFAULT_EXCLUDE,
        DEFAULT_PARTIAL,
        DEFAULT_PARTIAL_ALWAYS,
    )

    found = []
    run = _tool(pyproject, "coverage", "run")
    report = _tool(pyproject, "coverage", "report")
    template_report = TEMPLATE["coverage"]["report"]
    floor = template_report["fail_under"]
    value = report.get("fail_under", 0)  # coverage's default: no floor.
    number = _number(value)
    if number is None or number < floor:
        found.append(Loosened("coverage.report.fail_under", value, f"at least {floor}"))
    if run.get("branch", False) is not True:
        found.append(Loosened("coverage.run.branch", run.get("branch", False), "true"))
    # What coverage leaves out of the total: nothing beyond these.
    allowed = {
        ("run", "omit"): [],
        ("report", "omit"): [],
        ("run", "include"): [],
        ("report", "include"): [],
        ("run", "source"): [],
        ("run", "source_pkgs"): [],
        ("report", "exclude_also"): template_report["exclude_also"],
        ("report", "exclude_lines"): [
            *DEFAULT_EXCLUDE,
            *template_report["exclude_also"],
        ],
        ("report", "partial_also"): [],
        ("report", "partial_branches"): [*DEFAULT_PARTIAL, *DEFAULT_PARTIAL_ALWAYS],
    }
    for (section, key), standard in allowed.items():
        table = run if section == "run" else report
        extra = [item for item in _strings(table.get(key)) if item not in standard]
        if extra:
            shown = _shown(standard) if standard else "none"
            found.append(Loosened(f"coverage.{section}.{key}", extra, shown))
    found += pytest_settings(pyproject)
    return found


def pytest_settings(pyproject: Mapping[str, Any]) -> list[Loosened]:
    """pytest-cov options in addopts that turn coverage off or lower its floor;
    the package must be measured (`--cov=<package>`, or `--cov` for everything)."""
    addopts = _tool(pyproject, "pytest", "ini_options").get("addopts", [])
    words = shlex.split(addopts) if isinstance(addopts, str) else _strings(addopts)
    package = str(_tool(pyproject, "handoff").get("package", ""))
    floor = TEMPLATE["coverage"]["report"]["fail_under"]
    loose = []
    measured = False
    for index, word in enumerate(words):
        option, equals, value = word.partition("=")
        if (
            not equals
            and index + 1 < len(words)
            and option in {"--cov-fail-under", "-p"}
        ):
            value = words[index + 1]
        if option == "--no-cov" or (
            option == "-p" and value in {"no:cov", "no:pytest_cov"}
        ):
            loose.append(word if option != "-p" else f"-p {value}")
        elif option == "--cov-fail-under" and (_float(value) or 0) < floor:
            loose.append(f"--cov-fail-under={value}")
        elif option == "--cov-config":
            loose.append(word)
        elif option == "--cov":
            # --cov alone measures everything; --cov=pkg the package or a parent.
            measured = measured or not value or f"{package}.".startswith(f"{value}.")
    if not measured:
        loose.append(f"no --cov={package}")
    if not loose:
        return []
    return [
        Loosened(
            "pytest.addopts",
            loose,
            f"--cov={package}, the floor at {floor}, coverage on",
        )
    ]


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


# --- mypy ---------------------------------------------------------------------------


def _mypy_options(pyproject: Path) -> Any:  # noqa: ANN401  # mypy's Options.
    """The options mypy reads from `pyproject`, with --strict as mypy sets it."""
    from mypy.config_parser import parse_config_file  # noqa: PLC0415
    from mypy.options import Options  # noqa: PLC0415

    options = Options()

    def strict() -> None:
        for option, value in strict_flags().items():
            setattr(options, option, value)

    parse_config_file(options, strict, str(pyproject), io.StringIO(), io.StringIO())
    return options


@cache
def strict_flags() -> dict[str, object]:
    """What mypy's --strict sets: option -> value, as mypy itself defines it."""
    from mypy.main import define_options  # noqa: PLC0415

    _, _, assignments = define_options()
    return dict(assignments)


def package_modules(root: Path) -> dict[str, str]:
    """The module names mypy gives package/'s files: name -> file (relative)."""
    modules = {}
    for file in sorted((root / "package").rglob("*.py*")):
        if file.suffix not in {".py", ".pyi"}:
            continue
        parts = [] if file.stem == "__init__" else [file.stem]
        folder = file.parent
        while (folder / "__init__.py").is_file() or (folder / "__init__.pyi").is_file():
            parts.insert(0, folder.name)
            folder = folder.parent
        if parts:
            modules[".".join(parts)] = file.relative_to(root).as_posix()
    return modules


def mypy_settings(root: Path) -> list[Loosened]:
    """[tool.mypy] as mypy reads it, against the template's, for package/'s modules."""
    with tempfile.TemporaryDirectory(prefix="handoff-") as folder:
        standard_file = Path(folder) / PYPROJECT
        standard_file.write_text(TEMPLATE_TOML)
        standard = _mypy_options(standard_file)
    project = _mypy_options(root / PYPROJECT)
    checked = {**strict_flags(), **LOOSE_MYPY}
    modules = package_modules(root)
    found = []
    for option, strict in checked.items():
        if getattr(project, option) != strict and getattr(standard, option) == strict:
            found.append(
                Loosened(f"mypy.{option}", getattr(project, option), _shown(strict))
            )
    if project.follow_imports in LOOSE_FOLLOW_IMPORTS:
        found.append(
            Loosened("mypy.follow_imports", project.follow_imports, '"normal"')
        )
    if project.disable_error_code:
        found.append(
            Loosened("mypy.disable_error_code", project.disable_error_code, "none")
        )
    for pattern, section in project.per_module_options.items():
        found += _mypy_override(pattern, section, standard, modules, checked)
    files = [str(path) for path in project.files or []]
    for entry in _strings(TEMPLATE["mypy"]["files"]):
        if not any(_inside(entry, path) for path in files):
            found.append(
                Loosened("mypy.files", files, _shown(TEMPLATE["mypy"]["files"]))
            )
            break
    excluded = [
        pattern
        for pattern in project.exclude
        if any(re.search(pattern, file) for file in modules.values())
    ]
    if excluded:
        found.append(
            Loosened("mypy.exclude", excluded, "none that match package/ files")
        )
    return found


def _mypy_override(
    pattern: str,
    section: Mapping[str, object],
    standard: Any,  # noqa: ANN401  # mypy's Options.
    modules: Mapping[str, str],
    checked: Mapping[str, object],
) -> list[Loosened]:
    """What one [[tool.mypy.overrides]] section loosens: on package modules, any
    checked option; on other modules, imports mypy may not find."""
    from mypy.options import Options  # noqa: PLC0415

    probe = Options()
    probe.per_module_options = {pattern: {"ignore_errors": True}}
    ours = [
        module for module in modules if probe.clone_for_module(module).ignore_errors
    ]
    # The modules it names that are not ours: what the template's overrides say there.
    theirs = standard.clone_for_module(pattern.removesuffix(".*"))
    found = []
    for option, value in section.items():
        key = f"mypy.overrides[{pattern}].{option}"
        if option in {"ignore_missing_imports", "follow_untyped_imports"}:
            if value is True and getattr(theirs, option) is not True:
                found.append(Loosened(key, value, "false"))
            continue
        if not ours:
            continue
        if option in checked and value != checked[option]:
            found.append(Loosened(key, value, _shown(checked[option])))
        elif option == "follow_imports" and value in LOOSE_FOLLOW_IMPORTS:
            found.append(Loosened(key, value, '"normal"'))
        elif option == "disable_error_code" and value:
            found.append(Loosened(key, value, "none"))
    return found


# --- ruff ---------------------------------------------------------------------------


def _ruff(root: Path, *args: str) -> str:
    """ruff's output; ruff refusing the project's settings is a ConfigError."""
    # Only the kit's fixed ruff commands run here, never user input.
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "ruff", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=root,
    )
    if done.returncode != 0:
        said = [line for line in done.stderr.splitlines() if line.strip()]
        last = said[-1].strip() if said else f"exit status {done.returncode}"
        msg = f"`ruff {' '.join(args)}` cannot read the project's settings: {last}"
        raise ConfigError(msg)
    return done.stdout


@cache
def _linters(root: Path) -> list[str]:
    """ruff's linter prefixes, longest first: a code belongs to the longest that
    starts it (EM101 to flake8-errmsg's EM, E501 to pycodestyle's E)."""
    listed = json.loads(_ruff(root, "linter", "--output-format", "json") or "[]")
    prefixes = set()
    for linter in listed:  # pycodestyle has no prefix of its own: E and W.
        categories = [str(c["prefix"]) for c in linter.get("categories", [])]
        prefixes |= {str(linter["prefix"])} if linter["prefix"] else set(categories)
    return sorted(prefixes, key=len, reverse=True)


def _covers(selector: str, code: str, linters: Sequence[str]) -> bool:
    """Whether the rule selector `selector` selects every rule `code` selects."""
    if selector == "ALL":
        return True
    owner = next((prefix for prefix in linters if code.startswith(prefix)), "")
    # E covers E501, not EM101 (another linter); PL covers PLR0913.
    return code.startswith(selector) and len(owner) <= len(selector)


def _overlaps(code: str, selectors: Sequence[str], linters: Sequence[str]) -> bool:
    """Whether the selector `code` names a rule one of `selectors` selects."""
    return any(
        _covers(code, selector, linters) or _covers(selector, code, linters)
        for selector in selectors
    )


def _ruff_tables(pyproject: Mapping[str, Any]) -> dict[str, Any]:
    """[tool.ruff] merged with [tool.ruff.lint] (which wins), as ruff reads them."""
    top = _tool(pyproject, "ruff")
    return {**top, **_tool(pyproject, "ruff", "lint")}


def ruff_settings(root: Path, pyproject: Mapping[str, Any]) -> list[Loosened]:
    """The project's ruff settings that drop a template rule for package/ files."""
    found = []
    table = _ruff_tables(pyproject)
    extend = _tool(pyproject, "ruff").get("extend", "")
    if extend != TEMPLATE["ruff"]["extend"]:
        found.append(Loosened("ruff.extend", extend, repr(TEMPLATE["ruff"]["extend"])))
    linters = _linters(root)
    selected = STANDARD_RUFF["select"]
    if "select" in table:
        chosen = [*_strings(table["select"]), *_strings(table.get("extend-select"))]
        if not all(any(_covers(c, s, linters) for c in chosen) for s in selected):
            standard = f"{_shown(selected)} or more"
            found.append(
                Loosened("ruff.lint.select", _strings(table["select"]), standard)
            )
    ignored = [
        code
        for key in ("ignore", "extend-ignore")
        for code in _strings(table.get(key))
        if code not in STANDARD_RUFF["ignore"] and _overlaps(code, selected, linters)
    ]
    if ignored:
        found.append(
            Loosened("ruff.lint.ignore", ignored, _shown(STANDARD_RUFF["ignore"]))
        )
    files = [path for path in package_files(root) if path.suffix in {".py", ".pyi"}]
    relative = [path.relative_to(root).as_posix() for path in files]
    for key in ("per-file-ignores", "extend-per-file-ignores"):
        patterns = table.get(key, {})
        for pattern, codes in patterns.items() if isinstance(patterns, dict) else []:
            found += _per_file(pattern, _strings(codes), relative, key, linters)
    # lint.exclude: files ruff reads but does not lint (`--show-files` lists them).
    hits = [
        pattern
        for pattern in _strings(_tool(pyproject, "ruff", "lint").get("exclude"))
        if _excludes(pattern, relative)
    ]
    if hits:
        found.append(
            Loosened("ruff.lint.exclude", hits, "none that match package/ files")
        )
    listed = _ruff(root, "check", "--show-files", "package").splitlines()
    checked = {Path(line).resolve() for line in listed if line.strip()}
    skipped = [
        path
        for path, file in zip(relative, files, strict=True)
        if file.resolve() not in checked
    ]
    if skipped:
        found.append(Loosened("ruff.files", skipped, "every package/ file is linted"))
    return found


def _per_file(
    pattern: str, codes: list[str], files: list[str], key: str, linters: Sequence[str]
) -> list[Loosened]:
    """The rules a per-file-ignores entry drops for package files, beyond the
    standard's own for tests (a pattern matches a file's path or name, or with "!"
    every file it does not match)."""
    negated = pattern.startswith("!")
    glob = pattern.removeprefix("!")
    matched = [
        file
        for file in files
        if (
            fnmatch.fnmatch(file, glob)
            or fnmatch.fnmatch(PurePosixPath(file).name, glob)
        )
        != negated
    ]
    if not matched:
        return []
    standard: list[str] = []
    for tests, allowed in STANDARD_RUFF["per-file-ignores"].items():
        if all(fnmatch.fnmatch(file, tests) for file in matched):
            standard += allowed
    loose = [
        code
        for code in codes
        if code not in standard and _overlaps(code, STANDARD_RUFF["select"], linters)
    ]
    if not loose:
        return []
    shown = _shown(standard) if standard else "none"
    return [Loosened(f"ruff.lint.{key}[{pattern}]", loose, shown)]


def _excludes(pattern: str, files: Sequence[str]) -> bool:
    """Whether a ruff exclude pattern matches a package file or a folder above it
    (a pattern with no slash matches any file or folder of that name)."""
    for file in files:
        path = PurePosixPath(file)
        candidates = [path, *path.parents]
        for candidate in candidates:
            if fnmatch.fnmatch(str(candidate), pattern):
                return True
            if "/" not in pattern and fnmatch.fnmatch(candidate.name, pattern):
                return True
    return False


def package_files(root: Path) -> list[Path]:
    """Every file under package/ but caches and hidden folders."""
    return [
        path
        for path in sorted((root / "package").rglob("*"))
        if path.is_file()
        and not any(
            part.startswith(".") or part == "__pycache__"
            for part in path.relative_to(root).parts
        )
    ]


# --- config files read instead of pyproject.toml -------------------------------------


def shadowing_files(root: Path) -> list[Loosened]:
    """Files a tool reads instead of pyproject.toml, where review of its settings
    in pyproject.toml would never look."""
    found = []
    for tool, names in SHADOWING.items():
        there = [name for name in names if (root / name).is_file()]
        if tool == "coverage":
            there += [
                name for name in ("setup.cfg", "tox.ini") if _has_coverage(root / name)
            ]
        if tool == "ruff":
            there += [
                path.relative_to(root).as_posix()
                for path in package_files(root)
                if path.name in RUFF_CONFIGS
                and (path.name != PYPROJECT or "ruff" in _read(path).get("tool", {}))
            ]
        if there:
            found.append(Loosened(f"{tool}.config-file", there, f"{PYPROJECT} only"))
    return found


def _has_coverage(path: Path) -> bool:
    if not path.is_file():
        return False
    parser = configparser.ConfigParser()
    try:
        parser.read(path)
    except configparser.Error:
        return False
    return any(section.startswith("coverage:") for section in parser.sections())


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}


# --- waivers and the verdict ---------------------------------------------------------


def read_waivers(table: Mapping[str, Any]) -> tuple[dict[str, Waiver], list[str]]:
    """[tool.handoff.waivers]: setting -> waiver, and one line per waiver that
    lacks a field."""
    waivers = {}
    problems = []
    for setting, fields in table.items():
        where = f'{PYPROJECT} [tool.handoff.waivers."{setting}"]'
        if not isinstance(fields, dict):
            problems.append(f"{where}: not a table of {', '.join(WAIVER_FIELDS)}")
            continue
        missing = [
            name
            for name in WAIVER_FIELDS
            if name not in fields
            or (name in {"reason", "owner"} and not str(fields[name]).strip())
        ]
        expires = fields.get("expires")
        if "expires" not in missing and (
            isinstance(expires, datetime) or not isinstance(expires, date)
        ):
            missing.append("expires (a date: expires = 2027-03-01)")
        if missing:
            problems.append(f"{where}: no {', '.join(missing)}; a waiver needs each")
            continue
        waivers[setting] = Waiver(
            setting,
            fields["value"],
            str(fields["reason"]).strip(),
            str(fields["owner"]).strip(),
            fields["expires"],
        )
    return waivers, problems


def _same(waived: object, actual: object) -> bool:
    if isinstance(waived, list) and isinstance(actual, list):
        return sorted(map(str, waived)) == sorted(map(str, actual))
    if isinstance(waived, bool) or isinstance(actual, bool):
        return waived is actual
    return waived == actual


def loosened(root: Path) -> list[Loosened]:
    """Every setting of the project at `root` looser than the template's."""
    pyproject = read_toml(root / PYPROJECT)
    return [
        *handoff_settings(_tool(pyproject, "handoff")),
        *coverage_settings(pyproject),
        *mypy_settings(root),
        *ruff_settings(root, pyproject),
        *shadowing_files(root),
    ]


def judge(root: Path, today: date | None = None) -> Verdict:
    """Each looser setting against its waiver: unwaived, mismatched or expired
    ones fail, and so do waivers that lack a field or waive nothing."""
    today = today or datetime.now(UTC).date()
    waivers, failures = read_waivers(
        _tool(read_toml(root / PYPROJECT), "handoff", "waivers")
    )
    waived = []
    found = loosened(root)
    for setting in found:
        waiver = waivers.get(setting.setting)
        where = f'{WAIVERS}."{setting.setting}"'
        if waiver is None:
            failures.append(f"{setting}: restore it, or waive it in {where}")
        elif not _same(waiver.value, setting.value):
            failures.append(
                f"{setting}: {where} waives {_shown(waiver.value)}, not this value"
            )
        elif waiver.expires < today:
            failures.append(f"{setting}: {where} expired on {waiver.expires}")
        else:
            waived.append(waiver)
    named = {setting.setting for setting in found}
    failures += [
        f'{WAIVERS}."{name}" waives a setting at the standard: delete the waiver'
        for name in waivers
        if name not in named
    ]
    failures += debt.grown(root)  # A debt baseline only shrinks; no waiver for it.
    return Verdict(failures, waived)


def gate(root: Path, today: date | None = None) -> Result:
    """The row: settings at the template's standard, or waived (each waiver listed)."""
    try:
        verdict = judge(root, today)
    except ConfigError as error:
        return Result(TITLE, False, str(error))
    except ImportError as error:  # The dev tools (mypy, coverage) are not installed.
        return Result(
            TITLE, False, f"cannot read the tools' settings: {error}; run `make setup`"
        )
    listed = "; ".join(map(str, verdict.waived))
    waivers = f"; {len(verdict.waived)} waived: {listed}" if verdict.waived else ""
    details = "\n".join([*verdict.failures, *(f"waived: {w}" for w in verdict.waived)])
    if verdict.failures:
        more = (
            f" (and {len(verdict.failures) - 1} more)"
            if len(verdict.failures) > 1
            else ""
        )
        return Result(TITLE, False, f"{verdict.failures[0]}{more}{waivers}", details)
    return Result(
        TITLE, True, f"no setting looser than the template's{waivers}", details
    )


def lines(result: Result) -> Iterator[str]:
    """What `handoff settings` prints: the verdict, then each failure and waiver."""
    yield f"{result.gate}: {'pass' if result.passed else 'FAIL'}: {result.reason}"
    yield from (f"  {line}" for line in result.details.splitlines())
