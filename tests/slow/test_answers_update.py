"""Renaming an answer keeps the projects that gave it working: `none` becomes `files`.

The test makes its own template versions, as tests/slow/test_update.py does: the
working tree as it was before the rename, tagged 1.0.0, then as it is, 1.1.0.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

import copier
import pytest

from tests.conftest import BASE_ANSWERS, answers, run, snapshot_template, tool_env

pytestmark = pytest.mark.slow

OLD, NEW = "1.0.0", "1.1.0"
# What copier.yml and the pyproject said while the file registry's answer was `none`.
FILES_CHOICE = "    files (versioned folders under models/, no server): files\n"
NONE_CHOICE = "    none (versioned folders under models/): none\n"
DEFAULT_NOW = (
    "  default: \"{{ 'files' if model_registry is defined and model_registry == 'none' "
    "else 'mlflow' }}\"\n"
)
REGISTRY_NOW = 'registry = "{{ model_registry }}"'
REGISTRY_BEFORE = "registry = \"{{ 'mlflow' if model_registry == 'mlflow' else 'files' }}\""


def replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{path}: expected {old!r} once: update this test"
    path.write_text(text.replace(old, new))


def git(repo: Path, *args: str) -> None:
    run(["git", *args], cwd=repo, env=tool_env(repo.parent))


def release(repo: Path, version: str) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", f"Handoff {version}")
    git(repo, "tag", version)


@pytest.fixture
def template_before_and_after(tmp_path: Path) -> Path:
    """A template repository: 1.0.0 answers `none` for the file registry, 1.1.0 `files`."""
    repo = tmp_path / "handoff"
    repo.mkdir()
    snapshot_template(repo)
    replace_once(repo / "copier.yml", FILES_CHOICE, NONE_CHOICE)
    replace_once(repo / "copier.yml", DEFAULT_NOW, "  default: mlflow\n")
    replace_once(repo / "template/pyproject.toml.jinja", REGISTRY_NOW, REGISTRY_BEFORE)
    git(repo, "init", "-q")
    release(repo, OLD)
    for name in ("copier.yml", "template"):
        path = repo / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    (tmp_path / "now").mkdir()
    snapshot_template(tmp_path / "now")
    for name in ("copier.yml", "template"):
        shutil.move(tmp_path / "now" / name, repo / name)
    release(repo, NEW)
    return repo


def test_a_project_that_answered_none_updates_to_files_and_keeps_its_file_registry(
    template_before_and_after: Path, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    copier.run_copy(
        str(template_before_and_after),
        project,
        data={**BASE_ANSWERS, "model_registry": "none", "example": False},
        defaults=True,
        vcs_ref=OLD,
        quiet=True,
    )
    assert answers(project)["model_registry"] == "none"
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "Start")

    copier.run_update(
        project,
        defaults=True,
        skip_answered=True,  # As `make update` runs it; --defaults as Renovate does.
        overwrite=True,
        unsafe=False,  # The rename needs no migration, so no --trust.
        quiet=True,
    )

    recorded = answers(project)
    assert recorded["_commit"] == NEW
    assert recorded["model_registry"] == "files", "the old answer was not carried over"
    settings = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["handoff"]
    assert settings["registry"] == "files", "the project moved to another registry"
    changed = run(["git", "status", "--porcelain"], cwd=project).stdout.split("\n")
    assert [line for line in changed if line] == [" M .copier-answers.yml"], changed
