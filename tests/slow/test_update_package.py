"""standards/update_package.py: a template version's changes reach the project-owned
files (package/src/, package/tests/, research/notebooks/) a project never edited, and
never the ones it did.

A throwaway template with two tagged versions stands in for Handoff, so these tests
do not depend on this repository's history. Between 1.0.0 and 2.0.0 it changes,
removes and adds files; the project edits some of them and deletes one."""

from __future__ import annotations

import ast
import importlib.util
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import copier
import pytest

from tests.conftest import REPO, run, tool_env

# Runs Copier, git and make in generated projects: seconds each, so the slow tier.
pytestmark = pytest.mark.slow

SCRIPT = REPO / "template" / "standards" / "update_package.py"
COPIER = shlex.join([sys.executable, "-m", "copier"])
PKG = "package/src/churn"

# The throwaway template's files by version (paths under its template/ folder).
COMMON = {
    "copier.yml": "_subdirectory: template\npackage_name:\n  type: str\n  default: pkg\n",
    "template/{{ _copier_conf.answers_file }}.jinja": "{{ _copier_answers | to_nice_yaml }}",
    "template/package/src/{{ package_name }}/__init__.py.jinja": '"""{{ package_name }}."""\n',
}
VERSION_1 = {
    **COMMON,
    "template/README.md.jinja": "# {{ package_name }}, version 1\n",
    "template/package/src/{{ package_name }}/model.py.jinja": "VERSION = 1\n",
    "template/package/src/{{ package_name }}/machinery/__init__.py": "",
    "template/package/src/{{ package_name }}/machinery/gate.py": "GATE = 1\n",
    "template/package/src/{{ package_name }}/training.py.jinja": "EPOCHS = 1\n",
    "template/package/src/{{ package_name }}/serving.py.jinja": "PORT = 1\n",
    "template/package/src/{{ package_name }}/data.py.jinja": "ROWS = 1\n",
    "template/research/notebooks/explore.ipynb": '{"cells": [], "version": 1}\n',
}
VERSION_2 = {
    **COMMON,
    "template/README.md.jinja": "# {{ package_name }}, version 2\n",
    "template/package/src/{{ package_name }}/model.py.jinja": "VERSION = 2\n",
    "template/package/src/{{ package_name }}/training.py.jinja": "EPOCHS = 2\n",
    "template/package/src/{{ package_name }}/data.py.jinja": "ROWS = 2\n",
    "template/package/src/{{ package_name }}/contracts.py.jinja": "SCHEMA = 2\n",
    "template/package/tests/test_contracts.py": "def test_schema() -> None: ...\n",
    "template/research/notebooks/explore.ipynb": '{"cells": [], "version": 2}\n',
}
# What the project did to its files after `copier copy` at 1.0.0.
EDITED = {
    f"{PKG}/training.py": "EPOCHS = 1\nBATCH = 64  # ours\n",
    f"{PKG}/serving.py": "PORT = 8080  # ours\n",
    "package/tests/test_contracts.py": "def test_our_schema() -> None: ...\n",
}
DELETED = f"{PKG}/data.py"


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("update_package", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up.
    spec.loader.exec_module(module)
    return module


@dataclass
class Throwaway:
    """The throwaway template, a project generated from it at 1.0.0, and an environment."""

    template: Path
    project: Path
    env: dict[str, str]


def write_tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def throwaway(tmp_path_factory: pytest.TempPathFactory) -> Throwaway:
    root = tmp_path_factory.mktemp("update-package")
    env = tool_env(root)
    template = root / "template"
    template.mkdir()
    for version, files in (("1.0.0", VERSION_1), ("2.0.0", VERSION_2)):
        for path in [p for p in template.iterdir() if p.name != ".git"]:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        write_tree(template, files)
        if version == "1.0.0":
            run(["git", "init", "-q"], template, env)
        run(["git", "add", "-A"], template, env)
        run(["git", "commit", "-q", "-m", f"Version {version}"], template, env)
        run(["git", "tag", version], template, env)
    project = root / "generated"
    with pytest.MonkeyPatch.context() as patch:
        for key in ("GIT_CONFIG_GLOBAL", "GIT_CONFIG_NOSYSTEM"):
            patch.setenv(key, env[key])
        copier.run_copy(
            str(template),
            project,
            data={"package_name": "churn"},
            vcs_ref="1.0.0",
            defaults=True,
            quiet=True,
        )
    return Throwaway(template, project, env)


def edited_copy(throwaway: Throwaway, dst: Path) -> Path:
    """The generated project as a team left it: some files edited, one deleted, and
    the caches running its tests leaves behind."""
    project = shutil.copytree(throwaway.project, dst)
    write_tree(project, EDITED)
    (project / DELETED).unlink()
    cache = project / PKG / "machinery" / "__pycache__" / "gate.cpython-311.pyc"
    cache.parent.mkdir()
    cache.write_bytes(b"\0cache")
    return project


def update_package(
    project: Path, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--copier", COPIER, *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def updated(
    throwaway: Throwaway, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """An edited project after `update_package.py --from 1.0.0 --to 2.0.0`."""
    project = edited_copy(throwaway, tmp_path_factory.mktemp("updated") / "project")
    result = update_package(project, throwaway.env, "--from", "1.0.0", "--to", "2.0.0")
    assert result.returncode == 0, result.stderr
    return project, result


# --- Files the project never edited follow the template ---------------------------


def test_a_file_you_never_edited_takes_the_new_version(
    updated: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    project, _ = updated

    assert (project / PKG / "model.py").read_text() == "VERSION = 2\n"
    assert (project / "research/notebooks/explore.ipynb").read_text() == (
        '{"cells": [], "version": 2}\n'
    )


def test_a_file_the_template_dropped_goes_and_so_does_its_empty_folder(
    updated: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    """A folder holding nothing but caches counts as empty."""
    project, _ = updated

    assert not (project / PKG / "machinery").exists()


def test_a_file_new_in_the_template_is_added(
    updated: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    project, _ = updated

    assert (project / PKG / "contracts.py").read_text() == "SCHEMA = 2\n"


def test_a_file_the_template_did_not_change_is_left_alone(
    updated: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    project, result = updated

    assert (project / PKG / "__init__.py").read_text() == '"""churn."""\n'
    assert f"{PKG}/__init__.py" not in result.stdout


# --- Files the project edited or deleted stay as the project left them --------------


def test_a_file_you_edited_is_kept_byte_for_byte_and_listed_as_kept(
    updated: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    project, result = updated

    for name, text in EDITED.items():
        assert (project / name).read_text() == text, name
    kept = result.stdout.split("Kept because you changed them (3)")[1]
    assert f"{PKG}/training.py  (the template ships a different version)" in kept
    assert f"{PKG}/serving.py  (the template no longer ships it)" in kept
    assert "package/tests/test_contracts.py  (the template now ships its own" in kept
    assert "--keep-renders DIR" in kept


def test_a_file_you_deleted_stays_deleted(
    updated: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    project, result = updated

    assert not (project / DELETED).exists()
    assert "data.py" not in result.stdout


def test_files_outside_the_project_owned_folders_are_left_to_copier_update(
    updated: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    project, _ = updated

    assert (project / "README.md").read_text() == "# churn, version 1\n"


def test_the_summary_groups_the_changes_with_counts(
    updated: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    _, result = updated

    assert result.stdout.splitlines()[0].startswith("Template 1.0.0 -> 2.0.0")
    for heading, names in [
        ("Updated (2)", [f"{PKG}/model.py", "research/notebooks/explore.ipynb"]),
        ("Removed (2)", [f"{PKG}/machinery/__init__.py", f"{PKG}/machinery/gate.py"]),
        ("Added (1)", [f"{PKG}/contracts.py"]),
    ]:
        section = result.stdout.split(heading)[1].split("\n\n")[0]
        assert [line.strip() for line in section.splitlines()[1:]] == names, heading
    assert result.stdout.rstrip().endswith("5 file(s) changed, 3 kept.")


def test_a_second_run_changes_nothing(
    updated: tuple[Path, subprocess.CompletedProcess[str]],
    dry_run: tuple[Path, dict[str, bytes], subprocess.CompletedProcess[str]],
) -> None:
    """The same comparison the script makes, against the renders the dry run kept."""
    project, _ = updated
    renders = dry_run[0] / "renders"
    script = load_script()

    again = script.plan_changes(
        script.managed_files(renders / "old"), script.managed_files(renders / "new"), project
    )

    assert again.updated == again.removed == again.added == []
    assert [name for name, _ in again.kept] == sorted(EDITED)


# --- Dry run, the default --to, and keeping the renders to compare ------------------


@pytest.fixture(scope="module")
def dry_run(
    throwaway: Throwaway, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, bytes], subprocess.CompletedProcess[str]]:
    """An edited project that `copier update` took to 2.0.0, after
    `update_package.py --from 1.0.0 --dry-run --keep-renders renders` (no --to)."""
    project = edited_copy(throwaway, tmp_path_factory.mktemp("dry-run") / "project")
    answers = project / ".copier-answers.yml"
    answers.write_text(answers.read_text().replace("_commit: 1.0.0", "_commit: 2.0.0"))
    before = tree(project)
    result = update_package(
        project, throwaway.env, "--from", "1.0.0", "--dry-run", "--keep-renders", "renders"
    )
    assert result.returncode == 0, result.stderr
    return project, before, result


def test_dry_run_says_what_would_change_and_changes_nothing(
    dry_run: tuple[Path, dict[str, bytes], subprocess.CompletedProcess[str]],
) -> None:
    project, before, result = dry_run

    after = {name: data for name, data in tree(project).items() if not name.startswith("renders/")}
    assert after == before
    assert "Would be updated (2)" in result.stdout
    assert "Would be removed (2)" in result.stdout
    assert "Would be added (1)" in result.stdout
    assert "Kept because you changed them (3)" in result.stdout
    assert "5 file(s) would change; nothing was changed." in result.stdout


def test_to_defaults_to_the_version_the_answers_file_records(
    dry_run: tuple[Path, dict[str, bytes], subprocess.CompletedProcess[str]],
) -> None:
    """After `copier update`, `_commit` in .copier-answers.yml is the new version."""
    _, _, result = dry_run

    assert result.stdout.startswith("Template 1.0.0 -> 2.0.0")


def test_keep_renders_writes_both_versions_to_compare(
    dry_run: tuple[Path, dict[str, bytes], subprocess.CompletedProcess[str]],
) -> None:
    project, _, result = dry_run

    assert (project / "renders/old" / PKG / "training.py").read_text() == "EPOCHS = 1\n"
    assert (project / "renders/new" / PKG / "training.py").read_text() == "EPOCHS = 2\n"
    assert "  git diff --no-index renders/old/FILE renders/new/FILE\n" in result.stdout


def test_only_the_project_owned_folders_are_rendered(
    dry_run: tuple[Path, dict[str, bytes], subprocess.CompletedProcess[str]],
) -> None:
    """The rest of the template is `copier update`'s: rendering it here would only cost."""
    project, _, _ = dry_run

    for version in ("old", "new"):
        root = project / "renders" / version
        rendered = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
        managed = ("package/src/", "package/tests/", "research/notebooks/")
        outside = [name for name in rendered if not name.startswith(managed)]
        assert rendered, f"nothing rendered in renders/{version}"
        assert not outside, f"renders/{version} holds files outside {managed}: {outside}"


# --- When it cannot run: one line that says what to fix -----------------------------


@pytest.mark.parametrize(
    ("src_path", "from_ref", "expected"),
    [
        ("/nowhere/template", "1.0.0", "is not at"),
        (".", "1.0.0", "is this project itself"),
        (None, "0.9.0", "Unknown revision: '0.9.0'"),
    ],
    ids=["missing-template", "the-project-itself", "unknown-version"],
)
def test_a_template_it_cannot_reach_is_one_line_and_exit_1(
    throwaway: Throwaway, tmp_path: Path, src_path: str | None, from_ref: str, expected: str
) -> None:
    project = shutil.copytree(throwaway.project, tmp_path / "project")
    if src_path is not None:
        answers = project / ".copier-answers.yml"
        text = answers.read_text().replace(str(throwaway.template), src_path)
        answers.write_text(text)
    before = tree(project)

    result = update_package(project, throwaway.env, "--from", from_ref, "--to", "2.0.0")

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert expected in result.stderr
    assert "_src_path" in result.stderr
    assert tree(project) == before


# --- The script itself ---------------------------------------------------------------


def test_the_script_is_copied_verbatim_and_is_plain_python() -> None:
    """Not a .jinja file and no Jinja markers, so every project gets it as written."""
    text = SCRIPT.read_text()

    assert SCRIPT.suffix == ".py"
    assert "{{" not in text
    assert "{%" not in text
    ast.parse(text, filename=str(SCRIPT))
