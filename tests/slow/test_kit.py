"""The handoff kit is template-owned: a kit release reaches existing projects by update.

A project carries the kit in standards/handoff-kit/ and runs it from there (an
editable install from its lock), so a change to the kit in a newer template version
changes what the project's `handoff` command does once the project takes the
update, with no edit to the project's own code in package/.

As in test_update, the test makes its own template versions: the working tree
snapshotted into a temporary git repository and tagged 1.0.0, then the kit changed
and tagged 1.1.0.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import Project, answers, write_manifest
from tests.slow.test_update import NEW, NEWEST, OLD, generate, git, older_template, replace_once

pytestmark = pytest.mark.slow

KIT = Path("standards/handoff-kit")
CLI = KIT / "src/handoff_kit/cli.py"
# What `handoff snapshot` (make contract-snapshot) says, before and after the kit change.
SAID_BEFORE = '(contract version {settings.contract.version}): commit it.")'
SAID_AFTER = '(contract version {settings.contract.version}): commit it with the reviewed change.")'


def make_update(project: Project) -> str:
    """`make update` as a team runs it (Copier from this environment; no question asked);
    returns its output, failing with it if the update fails."""
    result = project.make(
        "update", f"COPIER={sys.executable} -m copier", "UPDATE_FLAGS=--defaults", check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"make update failed:\n{output[-6000:]}"
    return output


def snapshot_message(project: Project) -> str:
    """What `make contract-snapshot` (the kit's `handoff snapshot`) prints."""
    return project.make("contract-snapshot").stdout


def package_files(project: Project) -> dict[str, bytes]:
    return {
        path.relative_to(project.path).as_posix(): path.read_bytes()
        for path in sorted((project.path / "package").rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


@dataclass
class KitUpdate:
    repo: Path
    project: Project
    before: str
    package: dict[str, bytes]


@pytest.fixture(scope="module")
def kit_update(tmp_path_factory: pytest.TempPathFactory) -> KitUpdate:
    """A project made from 1.0.0 and set up, and 1.1.0 released with a changed kit message."""
    root = tmp_path_factory.mktemp("kit")
    repo = older_template(root)
    project = generate(repo, root / "project")
    project.make("setup")
    project.commit("Lock the environment")
    before = snapshot_message(project)
    assert not project.run("git", "status", "--porcelain").stdout, "the snapshot changed"

    replace_once(repo / "template" / CLI, SAID_BEFORE, SAID_AFTER)
    write_manifest(repo)
    git(repo, "commit", "-qam", f"Handoff {NEW}: the kit says what to commit the snapshot with")
    git(repo, "tag", NEW)
    return KitUpdate(repo, project, before, package_files(project))


def test_a_kit_change_reaches_the_project_by_make_update_and_changes_its_handoff_command(
    kit_update: KitUpdate,
) -> None:
    project = kit_update.project
    assert answers(project.path)["_commit"] == OLD
    assert "(contract version 1.0.0): commit it.\n" in kit_update.before

    output = make_update(project)

    assert str(CLI) in output, "the update summary does not list the kit's changed file"
    assert " passed" in output, "make update did not run make check"
    assert answers(project.path)["_commit"] == NEW
    changed = project.run("git", "status", "--porcelain").stdout.splitlines()
    # The kit's file, its hash in the template-owned manifest, and the version.
    expected = [".copier-answers.yml", str(CLI), "standards/template-owned.sha256"]
    assert sorted(line[3:] for line in changed) == sorted(expected), (
        f"the update changed more than the kit and the answers: {changed}"
    )
    assert package_files(project) == kit_update.package, "the update touched package/"

    after = snapshot_message(project)

    assert "(contract version 1.0.0): commit it with the reviewed change.\n" in after
    assert after != kit_update.before


def test_a_kit_release_with_a_new_version_is_locked_and_recorded_after_make_update(
    kit_update: KitUpdate,
) -> None:
    repo, project = kit_update.repo, kit_update.project
    if answers(project.path)["_commit"] == OLD:
        make_update(project)  # Run on its own: take 1.1.0 first, as the test above does.
    project.commit(f"Take Handoff {NEW}")
    kit_pyproject = repo / "template" / KIT / "pyproject.toml"
    version = project.run("uv", "run", "--frozen", "handoff", "--version").stdout.split()[-1]
    major, minor, patch = version.split(".")
    released = f"{major}.{minor}.{int(patch) + 1}"
    replace_once(kit_pyproject, f'version = "{version}"', f'version = "{released}"')
    write_manifest(repo)
    git(repo, "commit", "-qam", f"Handoff {NEWEST}: handoff-kit {released}")
    git(repo, "tag", NEWEST)

    make_update(project)

    assert answers(project.path)["_commit"] == NEWEST
    said = project.run("uv", "run", "--frozen", "handoff", "--version").stdout
    assert said.strip() == f"handoff {released}"
    assert project.make("lock-check").returncode == 0
    assert package_files(project) == kit_update.package, "the update touched package/"
