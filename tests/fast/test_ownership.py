"""Who owns which line: a project-owned file never carries a line a new version changes.

`copier update` merges the template's changes into the files a team also edits (the
Makefile, pyproject.toml, research/ruff.toml, the README). A template line there that
a version changes conflicts with the team's lines next to it, although only one side
changed each line. So the template's lines in those files are frozen: they name
template-owned files in standards/ by paths that never change, and what changes goes
in those files. A renamed standard leaves a stub at its old path.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

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
