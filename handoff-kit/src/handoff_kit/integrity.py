"""The gate's own rules are the template's: template-owned files and standard targets.

The gate trusts files the project could edit: the kit itself, standards/tasks.mk,
the CI workflows. So it checks them first:

- every template-owned file is what the project's template version rendered:
  offline, against the content hashes the render wrote
  (standards/template-owned.sha256); against Copier's own re-render of that
  version (`handoff standards --rerender`), which also catches an edited
  manifest. CI does that re-render without the kit (sha256sum against the
  render's manifest), so an edited kit cannot pass itself. standards/ holds the
  template's files only: a file of the project's own there is reported too.
  `handoff standards --restore` puts the template's versions back.
- no standard target (standards/tasks.mk) is redefined by the project's
  Makefile: make's own "overriding recipe" warning, surfaced. Nor is a setting
  the standard files make (a variable they set, unless tasks.mk names it in
  PROJECT_KNOBS), nor how make runs recipes (SHELL, .SHELLFLAGS, MAKEFLAGS'
  ignore-errors, dry-run, question, touch and environment-overrides flags,
  .IGNORE, .ONESHELL): make's own database (`make --print-data-base`) says
  where each was last set.
"""

from __future__ import annotations

import difflib
import hashlib
import itertools
import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from handoff_kit.report import Result

MANIFEST = "standards/template-owned.sha256"
ANSWERS_FILE = ".copier-answers.yml"
OWNED_FOLDER = "standards"
# The template-owned paths, as Copier exclusions (the last match wins): a re-render
# writes them only.
ONLY_OWNED = (
    "/*",
    "!/standards/",
    "!/.pre-commit-config.yaml",
    "!/.gitlab-ci.yml",
    "!/STANDARDS.md",
    *("!/.github/", "/.github/*", "!/.github/workflows/"),
)
# What runs Copier when neither --copier nor `copier` on PATH says (as `make update`).
UV_COPIER = "uv tool run copier@9.19.1"
PIPX_COPIER = "pipx run --spec copier==9.19.1 copier"
# Caches that are no file of anyone's, outside git.
CACHES = re.compile(r"(^|/)(__pycache__|\.[\w-]*_cache)(/|$)|\.py[co]$")
IN_STANDARDS = ("--exclude-standard", "--", OWNED_FOLDER)
SHOWN_LINES = 6  # The first differing lines shown for an edited file.

FILES_TITLE = "Template-owned files unchanged"
OVERRIDES_TITLE = "Standard targets not overridden"
WAYS_OUT = (
    "propose the change to the template (a new version reaches every project), "
    "or `make restore-standards` to put the template's version back"
)

# make's warnings, in the C locale: GNU make 4 quotes 'target', older ones `target'.
_OVERRIDING = re.compile(
    r"^(?P<file>.+?):(?P<line>\d+): warning: overriding recipe for target [`'](?P<target>.+)'$"
)
_IGNORING = re.compile(
    r"^(?P<file>.+?):(?P<line>\d+): warning: ignoring old recipe for target [`'](?P<target>.+)'$"
)


# make's database (`--print-data-base`, GNU make 4): where a variable was last set,
# on the comment line before it.
_SET_IN = re.compile(
    r"^# (?:makefile|'override' directive) \(from '(?P<file>.+)', line (?P<line>\d+)\)$"
)
_VARIABLE = re.compile(
    r"^(?:define )?(?:(?P<target>[^\s:#=][^:=]*?): )?(?P<name>[^\s:#=]+) ?(?:[:?+!]?:?=|$)"
)
# Any origin make names for a variable in its database.
_ORIGIN = re.compile(
    r"^# (?:default|environment|automatic|command line|makefile|'override' directive)\b"
)
# A goal with no recipe: make reads the makefiles and runs nothing (a $(shell) in
# a variable it must expand aside), and its MAKEFLAGS are then the makefiles' own.
_NO_GOAL = ".handoff-read-only"
# What changes how make runs every recipe, whoever sets it.
_RECIPE_SETTINGS = frozenset({"SHELL", ".SHELLFLAGS", ".RECIPEPREFIX"})
_RECIPE_TARGETS = {
    ".IGNORE": "make ignores every failing command",
    ".ONESHELL": "a recipe's earlier failing lines no longer fail it",
}
# MAKEFLAGS letters that make a failing check pass: ignore errors, print without
# running (dry run), question, touch, let the environment override the makefiles.
_FLAGS = {"i": "--ignore-errors", "n": "--dry-run", "q": "--question", "t": "--touch",
          "e": "--environment-overrides"}  # fmt: skip
KNOBS = "PROJECT_KNOBS"


class IntegrityError(Exception):
    """The check cannot run (no manifest, no answers, Copier failed); one line says why."""


@dataclass(frozen=True)
class Difference:
    """A template-owned file that is not the template's."""

    path: str
    kind: str  # "edited", "missing", or "extra" (in standards/, not the template's)
    # The first differing lines, when the template's version is known.
    lines: tuple[str, ...] = ()

    def __str__(self) -> str:
        if self.kind == "extra":
            return f"{self.path}: not the template's (standards/ holds only its files)"
        return f"{self.path}: {self.kind}"

    def shown(self) -> str:
        return "\n".join([str(self), *(f"    {line}" for line in self.lines)])


@dataclass(frozen=True)
class Override:
    """A standard target whose recipe the project's Makefile replaces."""

    target: str
    where: str  # file:line of the project's recipe
    standard: str  # file:line of the standard one

    def __str__(self) -> str:
        return f"{self.where} overrides the standard target `{self.target}` ({self.standard})"


@dataclass(frozen=True)
class Setting:
    """A setting of the standard files (or of make itself) the project changes."""

    name: str
    message: str  # Where, and what it changes.

    def __str__(self) -> str:
        return self.message


# --- Offline: the manifest the render wrote ------------------------------------------


def read_manifest(folder: Path) -> dict[str, str]:
    """The manifest under `folder`: path -> SHA-256, one `sha256sum` line each."""
    path = folder / MANIFEST
    if not path.is_file():
        msg = f"no {MANIFEST}: `make restore-standards` puts the template's back"
        raise IntegrityError(msg)
    entries = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        digest, _, name = line.partition("  ")
        if not re.fullmatch(r"[0-9a-f]{64}", digest) or not name:
            msg = f"{MANIFEST}:{number} is not `SHA256  PATH`: `make restore-standards` puts the template's back"
            raise IntegrityError(msg)
        entries[name] = digest
    return entries


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def owned_folder_files(root: Path) -> list[str]:
    """The files in standards/ that are the project's content: what git tracks or
    would add (ignored caches are nobody's); outside git, every file but caches."""
    try:
        # The arguments are this module's literals; git from PATH, as make finds it.
        listed = subprocess.run(  # noqa: S603
            ["git", "ls-files", "-z", "--cached", "--others", *IN_STANDARDS],  # noqa: S607
            cwd=root,
            capture_output=True,
            check=True,
        ).stdout.decode()
    except (OSError, subprocess.CalledProcessError):  # No git, or not a repository.
        walked = (
            path.relative_to(root).as_posix()
            for path in (root / OWNED_FOLDER).rglob("*")
            if path.is_file()
        )
        return sorted(name for name in walked if not CACHES.search(name))
    return sorted(
        {name for name in listed.split("\0") if name and (root / name).is_file()}
    )


def extras(root: Path, owned: Iterable[str]) -> list[Difference]:
    known = {*owned, MANIFEST}
    return [
        Difference(name, "extra")
        for name in owned_folder_files(root)
        if name not in known
    ]


def offline_differences(root: Path) -> list[Difference]:
    """Each template-owned file whose content is not the hash the render wrote,
    or that is missing, and each file in standards/ the manifest does not list."""
    manifest = read_manifest(root)
    found = []
    for name, expected in sorted(manifest.items()):
        path = root / name
        if not path.is_file():
            found.append(Difference(name, "missing"))
        elif digest(path) != expected:
            found.append(Difference(name, "edited"))
    return found + extras(root, manifest)


def files_result(root: Path) -> Result:
    """The gate row: template-owned files, against the manifest."""
    try:
        found = offline_differences(root)
    except IntegrityError as error:
        return Result(FILES_TITLE, False, str(error))
    if not found:
        count = len(read_manifest(root))
        return Result(
            FILES_TITLE, True, f"{count} files are the template's ({MANIFEST})"
        )
    return Result(
        FILES_TITLE, False, _reason(found), "\n".join(d.shown() for d in found)
    )


def rendered_result(found: Sequence[Difference]) -> Result:
    """The re-render check's row: template-owned files against Copier's render."""
    title = f"{FILES_TITLE} (Copier's re-render)"
    if not found:
        return Result(title, True, "every template-owned file is the template's render")
    return Result(title, False, _reason(found), "\n".join(d.shown() for d in found))


def _reason(found: Sequence[Difference]) -> str:
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    return f"{found[0]}{more}: {WAYS_OUT}"


# --- Standard targets ------------------------------------------------------------------


def read_makefiles(
    root: Path, *files: str, bare: bool = False
) -> subprocess.CompletedProcess[str]:
    """make reading the project's makefiles (or `files`), running no recipe: its
    database on standard output, its warnings on standard error. `bare`: with no
    environment but PATH and HOME, so that a variable a makefile sets with `?=` is
    set there whatever this process's environment holds (`uv run` sets UV)."""
    if bare:
        env = {key: os.environ[key] for key in ("PATH", "HOME") if key in os.environ}
    else:
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}
        }
    command = ["make", "--print-data-base", "--no-print-directory"]
    command += [f"--file={name}" for name in files]
    command += [f"--eval={_NO_GOAL}:", _NO_GOAL]
    return subprocess.run(  # noqa: S603 -- make from PATH; the project's file names.
        command,
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
        env={**env, "LC_ALL": "C"},
    )


def variables(database: str) -> dict[tuple[str, str], tuple[str, str]]:
    """Every variable a makefile set, as {(target or "", name): (file:line, value)};
    MAKEFLAGS, which make keeps whole without a place, as (target "", "MAKEFLAGS")."""
    found: dict[tuple[str, str], tuple[str, str]] = {}
    lines = database.splitlines()
    for origin, line in itertools.pairwise(lines):
        if origin == "# makefile" and line.startswith("MAKEFLAGS = "):
            found["", "MAKEFLAGS"] = ("", line.removeprefix("MAKEFLAGS = "))
            continue
        place = _SET_IN.match(origin)
        variable = _VARIABLE.match(line) if place else None
        if place and variable:
            where = f"{place['file']}:{place['line']}"
            value = line.split("=", 1)[1].strip() if "=" in line else ""
            found[variable["target"] or "", variable["name"]] = (where, value)
    return found


def defined(database: str) -> set[str]:
    """The names of every variable make knows, wherever it comes from (a makefile,
    the environment, make's defaults)."""
    lines = database.splitlines()
    return {
        match["name"]
        for origin, line in itertools.pairwise(lines)
        if _ORIGIN.match(origin) and (match := _VARIABLE.match(line))
    }


def _in_standards(where: str) -> bool:
    return Path(where.rsplit(":", 1)[0]).parts[:1] == (OWNED_FOLDER,)


def standard_settings(
    root: Path,
) -> tuple[dict[tuple[str, str], tuple[str, str]], set[str]]:
    """The variables the standard files (standards/tasks.mk and what it includes)
    set, as `variables` gives them, and the knobs among them: the names tasks.mk
    lists in PROJECT_KNOBS, which a project's Makefile may set."""
    database = read_makefiles(root, f"{OWNED_FOLDER}/tasks.mk", bare=True).stdout
    standard = variables(database)
    standard.pop(("", "MAKEFLAGS"), None)  # make's own, not the files'.
    return standard, set(standard.get(("", KNOBS), ("", ""))[1].split())


def settings(root: Path, database: str | None = None) -> list[Setting]:
    """The standard files' settings the project's makefiles change, and what they
    change of how make runs recipes, as make's database (`database`, else read
    now) says."""
    if not (root / OWNED_FOLDER / "tasks.mk").is_file():
        return []
    standard, knobs = standard_settings(root)
    if database is None:
        database = read_makefiles(root).stdout
    found = []
    for (target, name), (where, value) in variables(database).items():
        scope = f" for `{target}`" if target else ""
        if name == "MAKEFLAGS":
            flags = value.split()[0] if value and not value.startswith("-") else ""
            given = " ".join(_FLAGS[flag] for flag in flags if flag in _FLAGS)
            if given:
                found.append(
                    Setting(
                        name,
                        f"the Makefile gives make {given}, so a failing check can pass",
                    )
                )
        elif _in_standards(where) or name in knobs:
            continue
        elif ("", name) in standard:
            found.append(
                Setting(
                    name,
                    f"{where} sets {name}{scope}, which {standard['', name][0]} sets",
                )
            )
        elif name in _RECIPE_SETTINGS:
            found.append(
                Setting(
                    name,
                    f"{where} sets {name}{scope}, which decides how make runs recipes",
                )
            )
    known = defined(database)
    for (target, name), (where, _) in standard.items():
        if not target and name not in known:
            found.append(
                Setting(name, f"the Makefile undefines {name}, which {where} sets")
            )
    declared = {line.split(":", 1)[0] for line in database.splitlines()}
    found += [
        Setting(name, f"a makefile declares {name}: {effect}")
        for name, effect in _RECIPE_TARGETS.items()
        if name in declared
    ]
    return found


def overrides(root: Path, warnings: str | None = None) -> list[Override]:
    """make's own warnings (`warnings`, else read now), as it reads the Makefile:
    each recipe of a standard target (one in standards/) that a later definition
    replaces."""
    if warnings is None:
        warnings = read_makefiles(root).stderr
    said = warnings.splitlines()
    found = []
    for here, before in itertools.pairwise(said):
        new, old = _OVERRIDING.match(here), _IGNORING.match(before)
        if new and old and new["target"] == old["target"]:
            standard = Path(old["file"])
            if standard.parts[:1] == (OWNED_FOLDER,):
                found.append(
                    Override(
                        new["target"],
                        f"{new['file']}:{new['line']}",
                        f"{old['file']}:{old['line']}",
                    )
                )
    return found


def overrides_result(root: Path) -> Result:
    """The gate row: no project Makefile recipe replaces a standard target's, and
    no setting of the standard files or of make's way of running recipes changes."""
    try:
        read = read_makefiles(root)
        found: list[Override | Setting] = [
            *overrides(root, read.stderr),
            *settings(root, read.stdout),
        ]
    except OSError as error:
        return Result(OVERRIDES_TITLE, False, f"`make` could not run: {error.strerror}")
    if not found:
        return Result(
            OVERRIDES_TITLE,
            True,
            "the Makefile overrides no standard target or setting",
        )
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    way_out = (
        "give the project's target a name of its own"
        if isinstance(found[0], Override)
        else "use a variable of the project's own (standards/tasks.mk lists the "
        f"settings a project may set, in {KNOBS})"
    )
    return Result(
        OVERRIDES_TITLE,
        False,
        f"{found[0]}{more}: {way_out}, or propose the change to the template",
        "\n".join(map(str, found)),
    )


# --- Copier's re-render of the recorded version -----------------------------------------


def copier_command(given: str | None) -> list[str]:
    """`given`, else `copier` on PATH, else Copier run by uv, else by pipx."""
    if given:
        return shlex.split(given)
    if shutil.which("copier"):
        return ["copier"]
    for tool, command in (("uv", UV_COPIER), ("pipx", PIPX_COPIER)):
        if shutil.which(tool):
            return shlex.split(command)
    msg = "neither copier, uv nor pipx is on PATH: pass --copier 'COMMAND'"
    raise IntegrityError(msg)


def read_answers(root: Path) -> dict[str, object]:
    path = root / ANSWERS_FILE
    try:
        answers = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        msg = (
            f"no {ANSWERS_FILE}: the template version this project came from is unknown"
        )
        raise IntegrityError(msg) from None
    except yaml.YAMLError as error:
        msg = f"{ANSWERS_FILE} is not valid YAML: {' '.join(str(error).split())}"
        raise IntegrityError(msg) from None
    if not isinstance(answers, dict) or not answers.get("_src_path"):
        msg = f"{ANSWERS_FILE} has no _src_path: set it to the template's git URL"
        raise IntegrityError(msg)
    return answers


def template_source(src: str, root: Path) -> str:
    """_src_path as Copier can reach it from anywhere: a local path made absolute."""
    if re.match(r"^(gh:|gl:|git@|git\+|[a-z][a-z0-9+.-]*://)", src):
        return src
    path = (root / Path(src).expanduser()).resolve()
    if path == root.resolve():
        msg = (
            f"_src_path {src!r} in {ANSWERS_FILE} is this project itself (Copier "
            "records the path as typed): set it to the template's git URL"
        )
        raise IntegrityError(msg)
    return str(path)


def render(root: Path, copier: Sequence[str], into: Path) -> None:
    """The template-owned files of the project's recorded template version, with
    its answers, rendered by Copier into `into` (which must not exist)."""
    answers = read_answers(root)
    src = template_source(str(answers["_src_path"]), root)
    ref = answers.get("_commit")
    data = (
        into.parent / f"{into.name}-answers.json"
    )  # JSON is YAML, as Copier reads it.
    kept = {key: value for key, value in answers.items() if not key.startswith("_")}
    data.write_text(json.dumps(kept, default=str))
    command = [
        *copier,
        "copy",
        *(["--vcs-ref", str(ref)] if ref else []),
        *("--defaults", "--overwrite", "--quiet"),
        *(f"--exclude={pattern}" for pattern in ONLY_OWNED),
        *("--data-file", str(data), src, str(into)),
    ]
    try:
        # Copier, as the caller configured it, on the project's own template.
        done = subprocess.run(  # noqa: S603
            command, cwd=root, capture_output=True, text=True, check=False
        )
    except OSError as error:
        msg = f"cannot run {shlex.join(copier)} ({error.strerror}): pass --copier 'COMMAND'"
        raise IntegrityError(msg) from None
    if done.returncode != 0:
        lines = [line.strip() for line in (done.stderr + done.stdout).splitlines()]
        last = next((line for line in reversed(lines) if line), "no message")
        at = f" at {ref}" if ref else ""
        msg = f"Copier cannot render the template {src!r}{at}: {last}"
        raise IntegrityError(msg)
    if not (into / MANIFEST).is_file():
        msg = f"the template{f' at {ref}' if ref else ''} writes no {MANIFEST}: `make update` first"
        raise IntegrityError(msg)


def first_differences(theirs: Path, ours: Path) -> tuple[str, ...]:
    """The first lines where `ours` differs from the template's `theirs`."""
    try:
        old, new = theirs.read_text().splitlines(), ours.read_text().splitlines()
    except UnicodeDecodeError:
        return ()
    lines = list(
        difflib.unified_diff(old, new, "template", "project", n=0, lineterm="")
    )
    hunk = lines[2:]  # After the two file names.
    second = next(
        (i for i, line in enumerate(hunk[1:], 1) if line.startswith("@@")), None
    )
    return tuple(hunk[:second][: SHOWN_LINES + 1])


def compare(root: Path, rendered: Path) -> list[Difference]:
    """Every template-owned file (and the manifest) against Copier's render."""
    owned = read_manifest(rendered)
    found = []
    for name in sorted({*owned, MANIFEST}):
        ours, theirs = root / name, rendered / name
        if not ours.is_file():
            found.append(Difference(name, "missing"))
        elif ours.read_bytes() != theirs.read_bytes():
            found.append(Difference(name, "edited", first_differences(theirs, ours)))
    return found + extras(root, owned)


def rerendered(root: Path, copier: Sequence[str]) -> list[Difference]:
    with tempfile.TemporaryDirectory(prefix="handoff-standards-") as scratch:
        into = Path(scratch) / "render"
        render(root, copier, into)
        return compare(root, into)


def restore(root: Path, copier: Sequence[str]) -> tuple[list[str], list[Difference]]:
    """Put the template's version of every template-owned file back; the files
    restored, and the files of the project's own in standards/, which stay."""
    with tempfile.TemporaryDirectory(prefix="handoff-standards-") as scratch:
        into = Path(scratch) / "render"
        render(root, copier, into)
        found = compare(root, into)
        restored = []
        for difference in found:
            if difference.kind != "extra":
                target, source = root / difference.path, into / difference.path
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)
                shutil.copymode(source, target)
                restored.append(difference.path)
    return restored, [d for d in found if d.kind == "extra"]


def summary(results: Sequence[Result]) -> str:
    """`handoff standards`'s output: each row's outcome and reason, then details."""
    lines = []
    for result in results:
        lines.append(f"{result.outcome}: {result.gate}: {result.reason}")
        if not result.passed and result.details:
            lines += [f"  {line}" for line in result.details.splitlines()]
    return "\n".join(lines)
