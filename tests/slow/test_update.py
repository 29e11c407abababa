"""`copier update` from an older template version: project work survives, standards arrive.

Each test makes its own template versions: it snapshots the working tree into a
temporary git repository, tags it 1.0.0, then changes it the way a template release
would and tags 1.1.0 (Copier's own test suite works the same way). So the tests do
not depend on this repository's real release history.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import copier
import pytest

from tests.conftest import (
    ANSWER_SETS,
    BASE_ANSWERS,
    Project,
    answers,
    run,
    snapshot_template,
    tool_env,
    write_manifest,
)

pytestmark = pytest.mark.slow

OLD, NEW, NEWEST = "1.0.0", "1.1.0", "1.2.0"
COPIER = [sys.executable, "-m", "copier"]

# What the newer version changes: one line of a standard, and a rule added to it.
E501_BEFORE = '    "E501",  # Line length is the formatter\'s job.'
E501_TEMPLATE = '    "E501",  # Line length is left to the formatter.'
NEW_RULE = '    "T10",  # No debugger calls left behind.'
# The structural change: a template-owned file moves, with a migration. Only a
# template-owned file names it (tasks.mk includes it); a file that a project file
# extends or includes keeps its path for good (tests/fast/test_ownership.py).
RENAMED_FROM, RENAMED_TO = "standards/uv.mk", "standards/env/uv.mk"
MIGRATION = f"""_migrations:
  - version: "{NEW}"
    command: ["{{{{ _copier_python }}}}", "{{{{ _copier_conf.src_path }}}}/hooks/migrate.py",
              rename, {RENAMED_FROM}, {RENAMED_TO}]
"""
# A new question whose default reproduces the old output.
NEW_QUESTION = """
coverage_floor:
  type: int
  help: Which test coverage, in percent, must `make test` reach?
  default: 80
"""


# The project's own function, added to a package module (formatted, typed, lint-clean).
NEW_FUNCTION = """

def churn_label(probability: float, threshold: float = 0.5) -> str:
    \"\"\"Name the side of the threshold a churn probability falls on.\"\"\"
    return "churn" if probability >= threshold else "stay"
"""


# --- Template versions -------------------------------------------------------------


def replace_once(path: Path, old: str, new: str) -> None:
    """Edit a file, failing loudly if the text to replace is not there exactly once."""
    text = path.read_text()
    assert text.count(old) == 1, f"{path}: expected {old!r} once, found {text.count(old)}"
    path.write_text(text.replace(old, new))


def git(repo: Path, *args: str) -> str:
    return run(["git", *args], cwd=repo, env=tool_env(repo.parent)).stdout


def older_template(tmp_path: Path) -> Path:
    """The template as it is in this working tree, released as 1.0.0."""
    repo = tmp_path / "handoff"
    repo.mkdir()
    snapshot_template(repo)
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "Handoff 1.0.0")
    git(repo, "tag", OLD)
    return repo


def release_newer(repo: Path, *, change_example: bool = False) -> None:
    """Release 1.1.0: a changed standard, a new file, a moved file, a new question."""
    template = repo / "template"
    ruff = template / "standards" / "ruff.toml.jinja"
    replace_once(ruff, E501_BEFORE, E501_TEMPLATE)
    replace_once(ruff, '    "TID",', f'{NEW_RULE}\n    "TID",')

    (template / "standards" / "README.md").write_text(
        "# standards/\n\nTemplate-owned configuration; `copier update` keeps it current.\n"
    )

    # Both environment managers' files move (their names are conditional on it).
    (template / "standards" / "env").mkdir()
    for managed in (template / "standards").glob("*.mk{% endif %}"):
        managed.rename(template / "standards" / "env" / managed.name)
    replace_once(
        template / "standards" / "tasks.mk.jinja",
        "include standards/{{ env_manager }}.mk",
        "include standards/env/{{ env_manager }}.mk",
    )
    replace_once(repo / "copier.yml", "_migrations: []\n", MIGRATION)

    with (repo / "copier.yml").open("a") as config:
        config.write(NEW_QUESTION)
    replace_once(
        template / "pyproject.toml.jinja", "fail_under = 80", "fail_under = {{ coverage_floor }}"
    )

    # The template also changes a file the project deleted: it must stay deleted.
    replace_once(
        template / ".vscode" / "launch.json", '"name": "Python: current file"', '"name": "Python"'
    )
    if change_example:
        # Example code is the project's after the first copy: this must not reach it.
        model = template / "package" / "src" / "{{ package_name }}"
        model /= "{% if example %}model.py{% endif %}"
        replace_once(model, "    def fit(", "    # A template improvement.\n    def fit(")

    write_manifest(repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", f"Handoff {NEW}")
    git(repo, "tag", NEW)


# --- Projects ------------------------------------------------------------------------


def generate(repo: Path, dst: Path, **given: Any) -> Project:
    """Copy the template's 1.0.0 into a new git repository, committed."""
    copier.run_copy(
        str(repo), dst, data={**BASE_ANSWERS, **given}, vcs_ref=OLD, defaults=True, quiet=True
    )
    project = Project(dst, tool_env(dst.parent))
    project.run("git", "init", "-q")
    project.commit("Start from Handoff 1.0.0")
    return project


def update(project: Project, *flags: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """`copier update --defaults`, as Renovate runs it: new questions take their defaults."""
    return project.run(*COPIER, "update", "--defaults", *flags, check=check)


def edit_as_the_project(project: Path) -> dict[str, bytes]:
    """The project's own work, in the files a team edits; returns the edited files."""
    package = project / "package" / "src" / answers(project)["package_name"]
    module = package / "model.py" if (package / "model.py").exists() else package / "__init__.py"
    with module.open("a") as code:
        code.write(NEW_FUNCTION)

    for notebook in (project / "research" / "notebooks").glob("*.ipynb"):
        text = notebook.read_text()
        title = text.index('"# ') + len('"# ')
        notebook.write_text(text[:title] + "Our own take on " + text[title:])

    readme = project / "README.md"
    description = answers(project)["description"]
    replace_once(readme, description, description + "\n\nOwned by the retention squad.")

    # A project setting of the linter, in the project's own config, as STANDARDS.md says
    # (one that loosens no rule: an ignore would need a waiver).
    replace_once(
        project / "pyproject.toml",
        'extend = "standards/ruff.toml"\n',
        'extend = "standards/ruff.toml"\n'
        'lint.pydocstyle.convention = "google"  # Our docstrings follow Google\'s style.\n',
    )

    # An optional file the team does not want.
    (project / ".vscode" / "launch.json").unlink()

    edited = [module, readme, project / "pyproject.toml"]
    edited += (project / "research" / "notebooks").glob("*.ipynb")
    return {path.relative_to(project).as_posix(): path.read_bytes() for path in edited}


def leftovers(project: Path) -> list[str]:
    """Files with conflict markers, and .rej files, among the project's tracked and new files."""
    # A conflicted file is listed once per merge stage Copier records in the index.
    listed = sorted(
        set(run(["git", "ls-files", "-co", "--exclude-standard"], cwd=project).stdout.split("\n"))
        - {""}
    )

    def has_markers(path: Path) -> bool:
        lines = path.read_bytes().splitlines() if path.is_file() else []
        return any(line.startswith((b"<<<<<<< ", b">>>>>>> ")) for line in lines)

    return [name for name in listed if name.endswith(".rej") or has_markers(project / name)]


def tree(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file() and ".git" not in path.relative_to(root).parts
    }


def assert_same_files(made: Path, expected: Path, made_by: str, expected_by: str) -> None:
    """The two trees hold the same files with the same bytes; else say which differ."""
    ours, theirs = tree(made), tree(expected)
    assert ours.keys() == theirs.keys(), (
        f"only {made_by}: {sorted(ours.keys() - theirs.keys())}\n"
        f"only {expected_by}: {sorted(theirs.keys() - ours.keys())}"
    )
    differ = sorted(path for path in ours if ours[path] != theirs[path])
    assert not differ, f"{made_by} and {expected_by} differ in {differ}"


# --- Tests ---------------------------------------------------------------------------


@dataclass
class Updated:
    """A project made from 1.0.0, edited by its team, updated to 1.1.0 and set up."""

    repo: Path
    project: Project
    edited: dict[str, bytes]
    refused: subprocess.CompletedProcess[str]
    result: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def updated(tmp_path_factory: pytest.TempPathFactory) -> Updated:
    """Shared by the next two tests, in order, so the project is set up only once."""
    root = tmp_path_factory.mktemp("updated")
    repo = older_template(root)
    project = generate(repo, root / "project")
    edited = edit_as_the_project(project.path)
    project.commit("Our own work")
    release_newer(repo, change_example=True)

    refused = update(project, check=False)
    result = update(project, "--trust")
    project.make("setup")
    return Updated(repo, project, edited, refused, result)


def test_update_brings_new_standards_and_keeps_every_project_edit(updated: Updated) -> None:
    project, refused, result = updated.project, updated.refused, updated.result

    assert refused.returncode != 0, "an update that runs a migration did not ask for --trust"
    assert "--trust" in refused.stdout + refused.stderr, "the refusal does not say to use --trust"
    # pyproject.toml among them: the new question's default renders what 1.0.0 did.
    for path, content in updated.edited.items():
        assert (project.path / path).read_bytes() == content, f"the update changed {path}"
    ruff = (project.path / "standards" / "ruff.toml").read_text()
    assert NEW_RULE in ruff, "the new rule did not arrive"
    assert E501_TEMPLATE in ruff, "the changed line of the standard did not arrive"
    assert (project.path / "standards" / "README.md").is_file(), "the new file did not arrive"
    assert not (project.path / RENAMED_FROM).exists(), f"{RENAMED_FROM} was not moved"
    assert (project.path / RENAMED_TO).is_file(), f"{RENAMED_TO} did not arrive"
    assert f"include {RENAMED_TO}" in (project.path / "standards" / "tasks.mk").read_text()
    assert not (project.path / ".vscode" / "launch.json").exists(), "a deleted file came back"
    assert "Which test coverage" not in result.stdout + result.stderr, "a question was asked"
    recorded = answers(project.path)
    assert recorded["_commit"] == NEW
    assert recorded["coverage_floor"] == 80, "the new question's default was not recorded"
    assert not leftovers(project.path), f"update left conflicts: {leftovers(project.path)}"
    # The new and moved template-owned files are the newer version's, by its manifest.
    standards = project.make("standards", check=False)
    assert standards.returncode == 0, f"after the update:\n{standards.stdout}{standards.stderr}"
    assert "standards/README.md" in (project.path / "standards/template-owned.sha256").read_text()

    checked = project.make("check", check=False)
    assert checked.returncode == 0, (
        f"make check fails after the update:\n{checked.stdout[-4000:]}\n{checked.stderr[-2000:]}"
    )


def test_make_update_shows_the_changes_relocks_and_runs_make_check(updated: Updated) -> None:
    """The project's own task, end to end, from 1.1.0 to 1.2.0: no migration, no --trust."""
    repo, project = updated.repo, updated.project
    project.commit("Take Handoff 1.1.0")
    replace_once(repo / "template" / "pyproject.toml.jinja", '"numpy>=2.1",', '"numpy>=2.2",')
    git(repo, "commit", "-qam", f"Handoff {NEWEST}: numpy 2.2 or later")
    git(repo, "tag", NEWEST)

    result = project.make(
        "update", f"COPIER={sys.executable} -m copier", "UPDATE_FLAGS=--defaults", check=False
    )

    output = result.stdout + result.stderr
    assert result.returncode == 0, f"make update failed:\n{output[-6000:]}"
    assert "The update changed" in output, "make update shows no summary"
    assert "pyproject.toml" in output, "the summary does not list pyproject.toml"
    assert "re-locking" in output, "make update did not re-lock after a dependency change"
    assert '"numpy", specifier = ">=2.2"' in (project.path / "uv.lock").read_text()
    assert " passed" in result.stdout, "make update did not run make check"
    assert answers(project.path)["_commit"] == NEWEST


def test_a_line_changed_on_both_sides_becomes_a_conflict_that_fails_make_check(
    tmp_path: Path,
) -> None:
    repo = older_template(tmp_path)
    project = generate(repo, tmp_path / "project")
    project_line = '    "E501",  # Our line length is the formatter\'s job too.'
    replace_once(project.path / "standards" / "ruff.toml", E501_BEFORE, project_line)
    project.commit("Reword a standard (which the template owns)")
    release_newer(repo)

    update(project, "--trust")

    ruff = (project.path / "standards" / "ruff.toml").read_text()
    assert "\n<<<<<<< " in ruff, "the conflict is not shown with markers"
    assert "\n>>>>>>> " in ruff, "the conflict is not shown with markers"
    assert project_line in ruff, "the project's side of the conflict was dropped"
    assert E501_TEMPLATE in ruff, "the template's side of the conflict was dropped"
    assert NEW_RULE in ruff, "the template's non-conflicting change was dropped"
    assert leftovers(project.path) == ["standards/ruff.toml"]

    # No `make setup` needed: the conflict check runs first and needs only git.
    checked = project.make("check", check=False)
    assert checked.returncode != 0, "make check passes with conflict markers in the tree"
    assert "standards/ruff.toml" in checked.stdout, (
        f"make check does not name the file:\n{checked.stdout}"
    )


def test_an_update_equals_a_fresh_copy_of_the_newer_version_plus_the_project_edits(
    tmp_path: Path,
) -> None:
    given = ANSWER_SETS["contrast"]
    repo = older_template(tmp_path)
    project = generate(repo, tmp_path / "project", **given)
    edit_as_the_project(project.path)
    project.commit("Our own work")
    release_newer(repo)

    update(project, "--trust")

    fresh = tmp_path / "fresh"
    copier.run_copy(
        str(repo), fresh, data={**BASE_ANSWERS, **given}, vcs_ref=NEW, defaults=True, quiet=True
    )
    edit_as_the_project(fresh)
    assert_same_files(project.path, fresh, "after the update", "in a fresh copy")


# --- The cookiecutter entry point ----------------------------------------------------

# Cookiecutter's defaults (its default project name is "Churn Model", as in the other
# tests), and the contrasting choices under another name, so derived answers differ too.
COOKIECUTTER_SETS: dict[str, dict[str, Any]] = {
    "default": {},
    "contrast": {**ANSWER_SETS["contrast"], "project_name": "Fraud Alerts"},
}


def next_steps(output: str, project: Path) -> list[str]:
    """The message after copy's lines, from "Next steps:" on, the project's path masked."""
    lines = output.replace(str(project), "<project>").splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == "Next steps:"), None)
    return [] if start is None else [line.rstrip() for line in lines[start:] if line.strip()]


@pytest.mark.parametrize("name", COOKIECUTTER_SETS)
def test_cookiecutter_makes_the_same_project_as_copier(
    tmp_path: Path, cookies: Any, name: str, capfd: pytest.CaptureFixture[str]
) -> None:
    given: Mapping[str, Any] = COOKIECUTTER_SETS[name]
    repo = older_template(tmp_path).resolve()
    capfd.readouterr()

    baked = cookies.bake(extra_context=dict(given), template=str(repo / "cookiecutter"))
    said_by_cookiecutter = capfd.readouterr()

    assert baked.exit_code == 0, f"cookiecutter failed: {baked.exception}"
    copied = tmp_path / "copier" / baked.project_path.name
    copier.run_copy(str(repo), copied, data={**BASE_ANSWERS, **given}, defaults=True)
    said_by_copier = capfd.readouterr()
    assert_same_files(baked.project_path, copied, "from cookiecutter", "from copier")
    steps = next_steps(said_by_copier.err, copied)
    assert steps, f"Copier printed no next steps:\n{said_by_copier.err[-2000:]}"
    assert next_steps(said_by_cookiecutter.out, baked.project_path) == steps, (
        f"cookiecutter does not end with Copier's next steps:\n{said_by_cookiecutter.out}"
    )


def test_a_cookiecutter_project_updates_with_copier(tmp_path: Path, cookies: Any) -> None:
    repo = older_template(tmp_path).resolve()
    baked = cookies.bake(template=str(repo / "cookiecutter"))
    assert baked.exit_code == 0, f"cookiecutter failed: {baked.exception}"
    project = Project(baked.project_path, tool_env(tmp_path))
    project.run("git", "init", "-q")
    project.commit("Start from Handoff 1.0.0 through cookiecutter")
    assert answers(project.path)["_commit"] == OLD
    release_newer(repo)

    update(project, "--trust")

    assert answers(project.path)["_commit"] == NEW
    assert (project.path / "standards" / "README.md").is_file(), "the new file did not arrive"
    assert (project.path / RENAMED_TO).is_file(), f"{RENAMED_TO} did not arrive"
    assert not (project.path / RENAMED_FROM).exists(), f"{RENAMED_FROM} was not moved"
    assert not leftovers(project.path), f"update left conflicts: {leftovers(project.path)}"
