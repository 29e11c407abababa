"""Who owns which line: a project-owned file never carries a line a new version changes.

`copier update` merges the template's changes into the files a team also edits (the
Makefile, pyproject.toml, research/ruff.toml, the README). A template line there that
a version changes conflicts with the team's lines next to it, although only one side
changed each line. So the template's lines in those files are frozen: they name
template-owned files in standards/ by paths that never change, and what changes goes
in those files. A renamed standard leaves a stub at its old path.

pyproject.toml's share of this: the dev tools' exact pins are in the kit's extras
(standards/handoff-kit/pyproject.toml), which the dependency groups name in one frozen
line each, and uv's resolution date is in uv.toml (template-owned; uv reads its settings
there, [tool.uv] keeps the default groups and sources); conda projects get their pins
from standards/environment-dev.yml. Ruff's settings are extended from standards/ruff.toml.
[tool.black], [tool.mypy], [tool.pytest.ini_options] and [tool.coverage.*] stay in
pyproject.toml: none of these tools can extend or include another config file (each
reads one, and pointing it at a template-owned file, e.g. `mypy --config-file`, would
drop the team's own settings, which live in the same table), and their template lines
come from the answers (Python version, package name) and the standard (strict typing,
coverage floor), which a release does not change. A release that had to change one
would ship it as a migration in copier.yml, not as a line the merge meets.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml

from tests.conftest import answers

WHY = (
    "is in a project-owned file: a template version that changes it conflicts with "
    "every project that edited the lines next to it; put what changes in a "
    "template-owned file under standards/ that this line extends or includes"
)

# The template's lines in project-owned files, exactly; {project_name} is the answer.
FROZEN_FILES = {
    "research/ruff.toml": (
        "# research/ follows the relaxed standard: errors only (see STANDARDS.md).\n"
        "# Add rules here if the team wants more; package/ is not affected.\n"
        'extend = "../standards/ruff-research.toml"\n'
    ),
    "Makefile": (
        "# {project_name}: run `make help` for the list of tasks.\n"
        "#\n"
        "# The shared tasks (setup, check, format, ...) live in standards/tasks.mk, which\n"
        "# the template keeps current. Add this project's own targets below; a target\n"
        "# defined here with the same name overrides the shared one.\n"
        "\n"
        "include standards/tasks.mk\n"
    ),
}
# Lines of pyproject.toml that point at template-owned files, and what they point at.
ANCHORS = {
    "research/ruff.toml": {
        'extend = "../standards/ruff-research.toml"': "standards/ruff-research.toml"
    },
    "Makefile": {"include standards/tasks.mk": "standards/tasks.mk"},
    "pyproject.toml": {
        'extend = "standards/ruff.toml"': "standards/ruff.toml",
        'handoff-kit = { path = "standards/handoff-kit", editable = true }': (
            "standards/handoff-kit/pyproject.toml"
        ),
    },
}


# The template's whole share of pyproject.toml's dependency groups: one line each, naming
# the kit's extras (which pin the tools); the team adds its own lines below them.
def frozen_groups(formatter: str, registry: str, example: bool) -> dict[str, list[str]]:
    # The whole MLflow (`mlflow ui`) for development where the registry is MLflow's;
    # the worked example's DuckDB warehouse source.
    extras = ["dev", *(["black"] if formatter == "black" else []),
              *(["mlflow-ui"] if registry == "mlflow" else []),
              *(["duckdb"] if example else [])]  # fmt: skip
    return {
        "dev": [f"handoff-kit[{','.join(extras)}]"],
        "research": ["handoff-kit[research]"],
        "spark": ["handoff-kit[spark]"],
    }


# Project-owned files that list dependencies (the conda ones where they exist).
DEPENDENCY_FILES = ("pyproject.toml", "environment.yml", "environment-dev.yml")


def requirements(path: Path) -> list[str]:
    """Every requirement a dependency file lists (pyproject.toml or a conda environment)."""
    if path.suffix == ".toml":
        pyproject = tomllib.loads(path.read_text())
        project = pyproject["project"]
        lists = [
            project.get("dependencies", []),
            pyproject["build-system"]["requires"],
            *project.get("optional-dependencies", {}).values(),
            *pyproject.get("dependency-groups", {}).values(),
        ]
        return [requirement for listed in lists for requirement in listed]
    return [str(d) for d in yaml.safe_load(path.read_text())["dependencies"]]


def lint_research_code(
    ruff: list[str], project: Path, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`ruff check` of a debugger call in a new research/ file (T100 if T10 is on)."""
    return subprocess.run(
        [*ruff, "check", "--no-cache", "--stdin-filename", "research/debug.py", "-"],
        cwd=project,
        env=env,
        input="breakpoint()\n",
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("path", FROZEN_FILES)
def test_the_template_lines_of_project_owned_files_never_change(
    rendered: Mapping[str, Path], path: str
) -> None:
    for name, project in rendered.items():
        expected = FROZEN_FILES[path].format(project_name=answers(project)["project_name"])
        made = (project / path).read_text()
        changed = [line for line in made.splitlines() if line not in expected.splitlines()]
        assert made == expected, f"{path} ({name}): {changed or 'a line was removed'} {WHY}"


@pytest.mark.parametrize("path", ANCHORS)
def test_project_owned_files_point_at_template_owned_files_that_exist(
    rendered: Mapping[str, Path], path: str
) -> None:
    for name, project in rendered.items():
        lines = (project / path).read_text().splitlines()
        for line, target in ANCHORS[path].items():
            assert line in lines, f"{path} ({name}) no longer has the line {line!r}: {WHY}"
            assert (project / target).is_file(), (
                f"{path} ({name}) points at {target}, which the template no longer ships: "
                "a renamed standard must leave a stub at its old path"
            )


def test_a_stub_at_a_renamed_standards_old_path_keeps_research_linted_by_the_new_one(
    rendered: Mapping[str, Path], tmp_path: Path
) -> None:
    """The rename a version may make: standards/ruff-research.toml moves, a stub stays,
    and research/ruff.toml (the project's, untouched) gets the moved rules."""
    project = tmp_path / "project"
    shutil.copytree(rendered["default"], project)
    old = project / "standards" / "ruff-research.toml"
    moved = project / "standards" / "research" / "ruff.toml"
    moved.parent.mkdir()
    rules = old.read_text().replace('extend = "ruff.toml"', 'extend = "../ruff.toml"')
    moved.write_text(rules.replace('    "F82",', '    "F82",\n    "T10",  # No debugger calls.'))
    old.write_text('# Moved to standards/research/ruff.toml.\nextend = "research/ruff.toml"\n')

    linted = lint_research_code([str(Path(sys.executable).with_name("ruff"))], project)

    assert "T100" in linted.stdout, (
        f"research/ does not get the moved standard's rule through the stub:\n{linted.stdout}"
        f"{linted.stderr}"
    )


def test_project_owned_dependency_files_carry_no_pin_and_no_resolution_date(
    rendered: Mapping[str, Path],
) -> None:
    for name, project in rendered.items():
        # uv's resolution date, which every release moves, is uv.toml's (uv projects).
        uv_toml = project / "uv.toml"
        assert uv_toml.is_file() == (answers(project)["env_manager"] == "uv"), (
            f"{name}: uv.toml, the template-owned home of uv's settings, is "
            f"{'there' if uv_toml.is_file() else 'missing'} with env_manager="
            f"{answers(project)['env_manager']}"
        )
        uv = tomllib.loads(uv_toml.read_text()) if uv_toml.is_file() else {}
        moving = ["exclude-newer", *([uv["exclude-newer"]] if uv else [])]
        for path in DEPENDENCY_FILES:
            if not (project / path).is_file():
                continue
            pinned = [r for r in requirements(project / path) if "==" in r]
            assert not pinned, (
                f"{path} ({name}) pins {pinned} exactly: every release bumps some; {WHY}"
            )
            lines = (project / path).read_text().splitlines()
            dated = [line.strip() for line in lines if any(m in line for m in moving)]
            assert not dated, (
                f"{path} ({name}) carries uv's resolution date ({dated}), which every "
                "release moves: it belongs in uv.toml (template-owned)"
            )


def test_pyprojects_dependency_groups_are_the_frozen_lines_naming_the_kits_extras(
    rendered: Mapping[str, Path],
) -> None:
    for name, project in rendered.items():
        pyproject = tomllib.loads((project / "pyproject.toml").read_text())
        given = answers(project)
        expected = frozen_groups(given["formatter"], given["model_registry"], given["example"])
        groups = pyproject["dependency-groups"]
        assert groups == expected, f"pyproject.toml ({name}) groups {groups}: {WHY}"
        kit = project / pyproject["tool"]["uv"]["sources"]["handoff-kit"]["path"]
        extras = tomllib.loads((kit / "pyproject.toml").read_text())["project"]
        named = {
            e
            for lines in groups.values()
            for line in lines
            for e in re.findall(r"[\w-]+", line.split("[")[1])
        }
        missing = named - extras["optional-dependencies"].keys()
        assert not missing, f"pyproject.toml ({name}) names kit extras {missing} the kit lacks"
        defaults = pyproject["tool"]["uv"]["default-groups"]
        assert defaults == ["dev", "research"], f"`uv sync` ({name}) installs {defaults}"
