"""The four files the team and the template both write, merged: pyproject.toml
(with tomlkit, so the team's comments stay), README.md, Makefile and .gitignore."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import tomlkit
from tomlkit.items import Table

# The tables of pyproject.toml that configure a build of the old layout: the
# template's build backend (uv_build, package/src) replaces them.
BUILD_TABLES = ("flit", "poetry", "setuptools", "setuptools_scm", "hatch", "pdm")
# Settings that name the old layout's paths: the template's say where things are now.
PATH_KEYS = {
    "ruff": {"src", "include", "exclude", "extend-exclude", "extend-include"},
    "mypy": {"files", "mypy_path", "packages", "modules", "exclude"},
    "pytest": {"testpaths", "pythonpath", "rootdir"},
    "black": {"include", "exclude", "extend-exclude", "force-exclude"},
}
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def requirement_name(requirement: str) -> str:
    """A requirement's project name, normalised as PEP 503 does."""
    match = _NAME.match(requirement)
    return re.sub(r"[-_.]+", "-", match[1]).lower() if match else requirement


def _requirement_lines(text: str) -> list[str]:
    lines = [raw.split(" #", 1)[0].strip() for raw in text.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def _is_requirement(line: str) -> bool:
    return not line.startswith(("-", ".", "/")) and "://" not in line


# How a requirements file names the project itself, which `uv sync` installs.
_THE_PROJECT = re.compile(r"(?:(?:-e|--editable)\s*)?(?:file:)?\.(?:\[[^\]]*\])?/?")


def read_requirements(text: str) -> list[str]:
    """The requirements of a requirements.txt: no options, includes or editables."""
    return [line for line in _requirement_lines(text) if _is_requirement(line)]


def unread_requirements(text: str) -> list[str]:
    """The lines of a requirements.txt that read_requirements leaves out and
    pyproject.toml cannot hold (an option, an include, a URL or path), besides the
    project itself (`-e .`)."""
    return [
        line
        for line in _requirement_lines(text)
        if not _is_requirement(line) and not _THE_PROJECT.fullmatch(line)
    ]


_POETRY_VERSION = re.compile(
    r"(?P<release>[0-9]+(?:\.[0-9]+)*)(?P<rest>[.-]?[A-Za-z].*)?"
)


def _upper(release: str, caret: bool) -> str:
    """The exclusive upper bound of poetry's `^release` or `~release`."""
    parts = [int(p) for p in release.split(".")]
    if caret:
        # The first non-zero part is the one that may not change (^0.0 and ^0: the
        # last given part).
        keep = next((i for i, p in enumerate(parts) if p), len(parts) - 1)
    else:
        keep = min(1, len(parts) - 1)  # ~1.2.3 and ~1.2: the minor; ~1: the major.
    bumped = [*parts[:keep], parts[keep] + 1]
    return ".".join(str(p) for p in bumped)


def poetry_constraint(constraint: str) -> str | None:
    """Poetry's version constraint as PEP 440 specifiers (`^1.2` is `>=1.2,<2`,
    `~1.2` is `>=1.2,<1.3`, `1.2.3` is `==1.2.3`); "" for any version, None for
    what PEP 440 cannot say (`||`: either of two)."""
    if "||" in constraint:
        return None
    specifiers: list[str] = []
    for raw in re.split(r"\s*,\s*|\s+(?=[<>=!~^])", constraint.strip()):
        part = raw.replace(" ", "")
        if part in {"", "*"}:
            continue
        operator = re.match(r"\^|~(?!=)|~=|==|!=|<=|>=|<|>|=", part)
        symbol = operator[0] if operator else ""
        version = part[len(symbol) :]
        if symbol in {"^", "~"}:
            match = _POETRY_VERSION.fullmatch(version)
            if match is None:
                return None
            upper = _upper(match["release"], caret=symbol == "^")
            specifiers += [f">={version}", f"<{upper}"]
        elif symbol in {"", "="}:
            specifiers.append(f"=={version}")
        else:
            specifiers.append(f"{symbol}{version}")
    return ",".join(specifiers)


def _poetry_requirement(name: str, spec: object) -> str | None:
    """A [tool.poetry.dependencies] entry as a PEP 508 requirement (None: python,
    or a constraint PEP 508 cannot say; the audit notes it)."""
    if name.lower() == "python":
        return None
    table = spec if isinstance(spec, dict) else {}
    version = table.get("version") if isinstance(spec, dict) else spec
    extras = table.get("extras")
    listed = f"[{','.join(extras)}]" if isinstance(extras, list) and extras else ""
    if isinstance(table.get("git"), str):
        revision = next(
            (
                table[k]
                for k in ("rev", "tag", "branch")
                if isinstance(table.get(k), str)
            ),
            None,
        )
        return f"{name}{listed} @ git+{table['git']}" + (
            f"@{revision}" if revision else ""
        )
    specifiers = poetry_constraint(version) if isinstance(version, str) else ""
    if specifiers is None:
        return None
    markers = table.get("markers")
    return f"{name}{listed}{specifiers}" + (
        f"; {markers}" if isinstance(markers, str) and markers.strip() else ""
    )


def poetry_dependencies(
    pyproject: dict[str, Any],
) -> tuple[list[str], list[str], list[str]]:
    """Poetry's runtime and development dependencies (its dev-dependencies and
    every group's) as PEP 508 requirements, and notes on those it cannot say."""
    poetry = pyproject.get("tool", {}).get("poetry", {})
    groups = poetry.get("group", {})
    tables = [("dependencies", poetry.get("dependencies", {}))]
    tables.append(("dev-dependencies", poetry.get("dev-dependencies", {})))
    tables += [(f"group.{g}", t.get("dependencies", {})) for g, t in groups.items()]
    runtime: list[str] = []
    dev: list[str] = []
    notes: list[str] = []
    for where, table in tables:
        for name, spec in table.items():
            requirement = _poetry_requirement(name, spec)
            if requirement is not None:
                (runtime if where == "dependencies" else dev).append(requirement)
            elif name.lower() != "python":
                notes.append(
                    f"[tool.poetry.{where}] {name} {spec!r} has no PEP 508 form: "
                    "add it to [project] dependencies by hand"
                )
    return runtime, dev, notes


def kit_pins(kit_pyproject: str) -> dict[str, str]:
    """The projects the kit pins exactly (`name==version`), in its dependencies
    or any extra: the template's tools, which move only with a template update."""
    project = tomlkit.parse(kit_pyproject).unwrap().get("project", {})
    listed = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        listed += extra
    return {
        requirement_name(r): r.split(";")[0].strip()
        for r in listed
        if "==" in r.split(";")[0] and "," not in r.split(";")[0]
    }


def _yield_to_kit(
    requirements: Iterable[str], pinned: Mapping[str, str], notes: list[str]
) -> list[str]:
    """The team's requirements, less those the kit pins: its pin wins (a team's
    own constraint on the template's tools would only break the lock)."""
    kept = []
    for requirement in requirements:
        pin = pinned.get(requirement_name(requirement))
        if pin is None:
            kept.append(requirement)
        elif requirement.strip() != pin:
            notes.append(f"{requirement} left out: the template pins {pin}")
    return kept


def _union(first: Iterable[str], second: Iterable[str]) -> list[str]:
    """`first`, then each of `second` whose project it does not name yet."""
    merged = list(first)
    names = {requirement_name(r) for r in merged}
    for requirement in second:
        if requirement_name(requirement) not in names:
            merged.append(requirement)
            names.add(requirement_name(requirement))
    return merged


def _array(values: Sequence[str]) -> Any:  # noqa: ANN401  # tomlkit's Array.
    array = tomlkit.array()
    array.extend(values)
    return array.multiline(True)


def _overlay(
    team: Table, template: Table, path_keys: set[str], notes: list[str]
) -> None:
    """The template's keys win in a tool's table; the team's others stay, except
    those that name the old layout's paths."""
    for key in list(team.keys()):
        if key in path_keys and key not in template:
            notes.append(f"dropped {key} (it names the old layout's paths)")
            del team[key]
    for key, value in template.items():
        current = team.get(key)
        if isinstance(value, Table) and isinstance(current, Table):
            _overlay(current, value, set(), notes)
        else:
            team[key] = value


def _merge_project(
    project: Table, template_project: Table, version: str | None, notes: list[str]
) -> None:
    """[project]: the team's fields kept, dynamic ones written out, the
    template's missing ones added; requires-python is the template's."""
    dynamic = [str(field) for field in project.get("dynamic", [])]
    if dynamic:
        del project["dynamic"]
        notes.append(
            f"[project] dynamic {dynamic} written out (uv_build reads no dynamic fields)"
        )
    if version and "version" not in project:
        project["version"] = version
        if not dynamic:
            notes.append(f"[project] version {version}, from the team's metadata")
    if "license" in project and "license-files" not in project:
        template_project.pop("license-files", None)
    for key, value in template_project.items():
        if key == "dependencies":
            continue
        if key == "requires-python" and project.get(key) != value:
            if key in project:
                notes.append(f"requires-python {project[key]} becomes {value}")
            project[key] = value
        elif key not in project:
            project[key] = value


def _merge_tools(tools: Table, template_tools: Table, notes: list[str]) -> None:
    """[tool.*]: build tables of the old layout go; the template's settings win
    where both set one; the team's others stay."""
    for name in BUILD_TABLES:
        if name in tools:
            del tools[name]
            notes.append(f"[tool.{name}] removed: the template's build replaces it")
    for name, table in template_tools.items():
        current = tools.get(name)
        if isinstance(current, Table) and isinstance(table, Table):
            before = len(notes)
            _overlay(current, table, PATH_KEYS.get(name, set()), notes)
            notes[before:] = [f"[tool.{name}] {note}" for note in notes[before:]]
        else:
            tools[name] = table


def _strings(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def merge_pyproject(  # noqa: PLR0913
    team_text: str | None,
    template_text: str,
    requirements: Sequence[str],
    dev_requirements: Sequence[str],
    version: str | None,
    *,
    pinned: Mapping[str, str] | None = None,
    extras: Mapping[str, Sequence[str]] | None = None,
) -> tuple[str, list[str]]:
    """pyproject.toml: the team's document, comments kept, with the template's
    tables, dependencies and settings added; what changed, as notes. `version`
    is the team's where its [project] table gives none; `pinned`, what the kit
    pins exactly (kit_pins), wins over the team's requirements; `extras`, the
    optional dependencies setup() declared, join [project.optional-dependencies]."""
    template = tomlkit.parse(template_text)
    notes: list[str] = []
    pinned = pinned or {}
    if team_text is None:
        document = template
        team_runtime: list[str] = []
        team_dev: list[str] = []
        if version:
            document["project"]["version"] = version
            notes.append(f"[project] version {version}, from the team's metadata")
    else:
        document = tomlkit.parse(team_text)
        team_runtime, team_dev, poetry_notes = poetry_dependencies(document.unwrap())
        notes += poetry_notes
    project = document.setdefault("project", tomlkit.table())
    template_project = template["project"]
    assert isinstance(template_project, Table)  # noqa: S101  # The template's own file.
    _merge_project(project, template_project, version, notes)
    dependencies = _yield_to_kit(
        _union(_strings(project.get("dependencies")), [*team_runtime, *requirements]),
        pinned,
        notes,
    )
    project["dependencies"] = _array(
        _union(dependencies, _strings(template_project.get("dependencies")))
    )

    if extras:
        optional = project.setdefault("optional-dependencies", tomlkit.table())
        for name, listed in extras.items():
            optional[name] = _array(_union(_strings(optional.get(name)), listed))
            notes.append(
                f"[project.optional-dependencies] {name}: the extra setup() declared"
            )

    groups = document.setdefault("dependency-groups", tomlkit.table())
    template_groups = template["dependency-groups"]
    assert isinstance(template_groups, Table)  # noqa: S101
    for name, values in template_groups.items():
        extra = [*team_dev, *dev_requirements] if name == "dev" else []
        team = _yield_to_kit(_union(_strings(groups.get(name)), extra), pinned, notes)
        groups[name] = _array(_union(team, _strings(values)))

    if "build-system" in document:
        notes.append("[build-system] is the template's (uv_build, package/src)")
    document["build-system"] = template["build-system"]
    tools = document.setdefault("tool", tomlkit.table(is_super_table=True))
    template_tools = template["tool"]
    assert isinstance(template_tools, Table)  # noqa: S101
    _merge_tools(tools, template_tools, notes)
    return tomlkit.dumps(document), notes


def package_version(init_text: str) -> str | None:
    """`__version__ = "..."` in a package's __init__.py, read as Python reads it."""
    try:
        tree = ast.parse(init_text)
    except SyntaxError:
        return None
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(
                isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets
            )
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            return node.value.value
    return None


def merge_readme(team: str, template: str) -> str:
    """The team's README, then the template's sections (its title left out)."""
    lines = template.splitlines()
    start = next((i + 1 for i, line in enumerate(lines) if line.startswith("# ")), 0)
    body = "\n".join(lines[start:]).strip("\n")
    return f"{team.rstrip()}\n\n{body}\n"


_RULE = re.compile(r"^(?P<targets>[^\t#=:][^=:]*?)\s*:(?![:=])")


def make_targets(text: str) -> set[str]:
    """The targets a makefile's rules define (variables and recipes left out)."""
    targets: set[str] = set()
    for line in text.splitlines():
        match = _RULE.match(line)
        if match and not line.startswith("\t"):
            targets.update(t for t in match["targets"].split() if not t.startswith("."))
    return targets


def _assigned(name: str) -> re.Pattern[str]:
    """A makefile line that sets variable `name` (after `override` or `export`)."""
    return re.compile(
        rf"^((?:override\s+|export\s+)*){re.escape(name)}(?=\s*(?::*=|[?+!]=))"
    )


def _referenced(name: str) -> re.Pattern[str]:
    """`$(name)`, `${name}` or a substitution reference `$(name:a=b)`."""
    return re.compile(r"\$([({])" + re.escape(name) + r"(?=[)}:])")


def rename_variables(team: str, standard: Iterable[str]) -> tuple[str, list[str]]:
    """The team's makefile with each variable it sets that the standard files set
    too renamed old-<name>, where it is set and wherever it is used: after the
    include, the team's would replace the standard's (`make standards` fails it)."""
    clashing = sorted(
        name
        for name in set(standard)
        if any(_assigned(name).match(line) for line in team.splitlines())
    )
    for name in clashing:
        team = "\n".join(
            _referenced(name).sub(
                rf"$\1old-{name}", _assigned(name).sub(rf"\1old-{name}", line)
            )
            for line in team.splitlines()
        ) + ("\n" if team.endswith("\n") else "")
    return team, [f"variable {name} renamed old-{name}" for name in clashing]


def merge_makefile(
    team: str, standard_targets: set[str], standard_variables: Iterable[str] = ()
) -> tuple[str, list[str]]:
    """The team's Makefile including the standard tasks first; its targets that a
    standard task also defines are renamed old-<name>, where they are defined and
    wherever a rule names them, and so are the variables it sets that the standard
    files set (`standard_variables`)."""
    team, variable_notes = rename_variables(team, standard_variables)
    clashing = sorted(make_targets(team) & standard_targets)
    renamed = {name: f"old-{name}" for name in clashing}
    lines = []
    for line in team.splitlines():
        if line.startswith("\t") or not (
            _RULE.match(line) or line.startswith((".PHONY", ".DEFAULT_GOAL"))
        ):
            lines.append(line)
            continue
        lines.append(
            re.sub(
                r"(?<![\w.-])([\w.-]+)(?![\w.-])",
                lambda m: renamed.get(m[1], m[1]),
                line,
            )
        )
    first = next(
        (i for i, line in enumerate(lines) if not line.startswith("#")), len(lines)
    )
    include = [
        "# The template's shared tasks (make help lists them).",
        "include standards/tasks.mk",
        "",
    ]
    merged = lines[:first] + include + lines[first:]
    notes = [f"target {name} renamed {renamed[name]}" for name in clashing]
    return "\n".join(merged).rstrip("\n") + "\n", notes + variable_notes


def merge_gitignore(team: str, template: str) -> str:
    """The team's .gitignore, then the template's lines it does not have."""
    have = {line.strip() for line in team.splitlines()}
    added = [
        line
        for line in template.splitlines()
        if line.strip() and line.strip() not in have
    ]
    if not added:
        return team
    return (
        f"{team.rstrip()}\n\n# Added by the Handoff template\n"
        + "\n".join(added)
        + "\n"
    )
