"""The four files the team and the template both write, merged: pyproject.toml
(with tomlkit, so the team's comments stay), README.md, Makefile and .gitignore."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Sequence
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


def read_requirements(text: str) -> list[str]:
    """The requirements of a requirements.txt: no options, includes or editables."""
    found = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-", ".", "/")) or "://" in line:
            continue
        found.append(line)
    return found


def _poetry_requirement(name: str, spec: object) -> str | None:
    """A [tool.poetry.dependencies] entry as a PEP 508 requirement."""
    if name.lower() == "python":
        return None
    version = spec.get("version") if isinstance(spec, dict) else spec
    if not isinstance(version, str) or version.strip() in {"", "*"}:
        return name
    version = version.strip()
    caret = re.fullmatch(r"[\^~]\s*([0-9][0-9.]*)", version)
    if caret:
        return f"{name}>={caret[1]}"
    if re.fullmatch(r"[0-9][0-9.]*", version):
        return f"{name}=={version}"
    return f"{name}{version}"


def poetry_dependencies(pyproject: dict[str, Any]) -> tuple[list[str], list[str]]:
    """Poetry's runtime and development dependencies, as PEP 508 requirements."""
    poetry = pyproject.get("tool", {}).get("poetry", {})
    runtime = [
        requirement
        for name, spec in poetry.get("dependencies", {}).items()
        if (requirement := _poetry_requirement(name, spec)) is not None
    ]
    dev_tables = [poetry.get("dev-dependencies", {})]
    dev_tables += [g.get("dependencies", {}) for g in poetry.get("group", {}).values()]
    dev = [
        requirement
        for table in dev_tables
        for name, spec in table.items()
        if (requirement := _poetry_requirement(name, spec)) is not None
    ]
    return runtime, dev


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
        if "version" in dynamic and version:
            project["version"] = version
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


def merge_pyproject(
    team_text: str | None,
    template_text: str,
    requirements: Sequence[str],
    dev_requirements: Sequence[str],
    version: str | None,
) -> tuple[str, list[str]]:
    """pyproject.toml: the team's document, comments kept, with the template's
    tables, dependencies and settings added; what changed, as notes."""
    template = tomlkit.parse(template_text)
    notes: list[str] = []
    if team_text is None:
        document = template
        team_runtime: list[str] = []
        team_dev: list[str] = []
    else:
        document = tomlkit.parse(team_text)
        team_runtime, team_dev = poetry_dependencies(document.unwrap())
    project = document.setdefault("project", tomlkit.table())
    template_project = template["project"]
    assert isinstance(template_project, Table)  # noqa: S101  # The template's own file.
    _merge_project(project, template_project, version, notes)
    dependencies = _union(
        _strings(project.get("dependencies")), [*team_runtime, *requirements]
    )
    project["dependencies"] = _array(
        _union(dependencies, _strings(template_project.get("dependencies")))
    )

    groups = document.setdefault("dependency-groups", tomlkit.table())
    template_groups = template["dependency-groups"]
    assert isinstance(template_groups, Table)  # noqa: S101
    for name, values in template_groups.items():
        extra = [*team_dev, *dev_requirements] if name == "dev" else []
        current = _strings(groups.get(name))
        groups[name] = _array(_union(_union(current, extra), _strings(values)))

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


def merge_makefile(team: str, standard_targets: set[str]) -> tuple[str, list[str]]:
    """The team's Makefile including the standard tasks first; its targets that a
    standard task also defines are renamed old-<name>, where they are defined and
    wherever a rule names them."""
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
    return "\n".join(merged).rstrip("\n") + "\n", notes


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
