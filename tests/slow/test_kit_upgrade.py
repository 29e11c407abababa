"""From the template before the handoff kit to the kit: a real project's upgrade.

Version 0.1.0 here is this repository's commit c166414, when every project carried the
generic machinery (catalog, command line, contract compatibility, handoff gate,
registry) and its tests in its own package/. Version 0.2.0 is the working tree, where
that machinery is the handoff kit in standards/. A project made from 0.1.0, then
edited by its team, takes 0.2.0 the way the CHANGELOG says: `make update` (0.1.0's own
recipe), then `make update-package FROM=0.1.0`. Both versions are tagged in a
throwaway repository, as in test_update.py, so the test does not depend on this
repository's tags.
"""

from __future__ import annotations

import re
import shutil
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import copier
import pytest

from tests.conftest import (
    BASE_ANSWERS,
    REPO,
    Project,
    answers,
    run,
    snapshot_template,
    tool_env,
)
from tests.slow.test_update import NEW_FUNCTION, git, leftovers

pytestmark = pytest.mark.slow

OLD, NEW = "0.1.0", "0.2.0"
OLD_COMMIT = "c166414"  # The template before the handoff kit.
TEMPLATE_PARTS = ("copier.yml", "template", "hooks", "cookiecutter")
COPIER = f"COPIER={sys.executable} -m copier"

SRC, TESTS = "package/src/churn_model", "package/tests"  # BASE_ANSWERS' "Churn Model".
# The machinery 0.1.0 renders (default answers) and 0.2.0 no longer does: the kit has
# it now. test_the_list_of_machinery_is_what_the_kit_replaced checks this list.
MACHINERY = (
    f"{SRC}/__main__.py",
    f"{SRC}/catalog.py",
    f"{SRC}/cli.py",
    f"{SRC}/contracts/compat.py",
    f"{SRC}/contracts/validation.py",
    f"{SRC}/handoff/__init__.py",
    f"{SRC}/handoff/__main__.py",
    f"{SRC}/handoff/candidate.py",
    f"{SRC}/handoff/report.py",
    f"{SRC}/handoff/rules.py",
    f"{SRC}/registry/__init__.py",
    f"{SRC}/registry/card.py",
    f"{SRC}/registry/mlflow_store.py",
    f"{SRC}/registry/records.py",
    f"{TESTS}/conftest.py",
    f"{TESTS}/test_catalog.py",
    f"{TESTS}/test_cli.py",
    f"{TESTS}/test_compat.py",
    f"{TESTS}/test_handoff.py",
    f"{TESTS}/test_registry.py",
)
# The one machinery file the team edits. In 0.1.0 it is only a docstring, so the copy
# the update keeps imports nothing that goes away: lint, types, tests and the gate
# still pass with the rest of the machinery gone. (A kept cli.py, say, would import
# the removed registry and fail `make check`: a real conflict, which the team would
# resolve by hand, not what this test is about.)
EDITED = f"{SRC}/handoff/__init__.py"
EDIT = "\n# The gate as our team runs it: see docs/handoff.md.\n"
# The project's own code, with the team's own function added.
OWN_CODE = f"{SRC}/model.py"


# --- Template versions -------------------------------------------------------------


def release_old(repo: Path) -> None:
    """0.1.0: the template files of commit c166414, committed and tagged."""
    archive = repo.parent / "template-0.1.0.tar"
    run(["git", "archive", "--output", str(archive), OLD_COMMIT, *TEMPLATE_PARTS], cwd=REPO)
    with tarfile.open(archive) as tar:
        tar.extractall(repo, filter="data")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", f"Handoff {OLD}: machinery in each project's package/")
    git(repo, "tag", OLD)


def release_new(repo: Path) -> None:
    """0.2.0: the working tree's template, the handoff kit in it, committed and tagged."""
    for name in TEMPLATE_PARTS:
        path = repo / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    snapshot_template(repo)
    kit = repo / "template" / "standards" / "handoff-kit"
    # In this repository it is a link to handoff-kit/; the release must hold the files.
    assert kit.is_dir(), "the template has no standards/handoff-kit"
    assert not kit.is_symlink(), "standards/handoff-kit is still a link in the release"
    assert (kit / "pyproject.toml").is_file(), "the kit's files are not in the release"
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", f"Handoff {NEW}: the handoff kit")
    git(repo, "tag", NEW)


# --- The project -------------------------------------------------------------------


def generate_old(repo: Path, root: Path) -> Project:
    """A default-answers project from 0.1.0, committed and set up as a user would."""
    copier.run_copy(
        str(repo),
        root / "project",
        data=dict(BASE_ANSWERS),
        vcs_ref=OLD,
        defaults=True,
        unsafe=False,  # Copying never needs --trust.
        quiet=True,
    )
    project = Project(root / "project", tool_env(root))
    project.run("git", "init", "-q")
    project.commit(f"Start from Handoff {OLD}")
    project.make("setup")
    project.commit("Lock the environment")
    return project


def edit_as_the_project(project: Path) -> dict[str, bytes]:
    """The team's work: a function in its own model.py, a comment in one machinery file."""
    with (project / OWN_CODE).open("a") as code:
        code.write(NEW_FUNCTION)
    with (project / EDITED).open("a") as machinery:
        machinery.write(EDIT)
    return {name: (project / name).read_bytes() for name in (OWN_CODE, EDITED)}


def package_files(root: Path) -> dict[str, bytes]:
    """Every file under package/, caches left out, by path from `root`."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in (root / "package").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def section(output: str, title: str) -> list[str]:
    """The indented lines under the heading of update_package.py's report that starts
    with `title`."""
    lines = output.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(title)), None)
    assert start is not None, f"the report has no {title!r} section:\n{output}"
    listed = []
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        listed.append(line.strip())
    return listed


@dataclass
class Upgraded:
    """A 0.1.0 project, edited by its team, after `make update` and `make update-package`."""

    project: Project
    generated: dict[str, bytes]  # package/ as 0.1.0 made it
    edited: dict[str, bytes]
    fresh: Path  # A new project from 0.2.0 with the same answers.
    update: str  # What `make update` printed.
    update_status: int  # Its exit status.
    update_package: str  # What `make update-package` printed.


@pytest.fixture(scope="module")
def upgraded(tmp_path_factory: pytest.TempPathFactory) -> Upgraded:
    root = tmp_path_factory.mktemp("kit-upgrade")
    repo = root / "handoff"
    repo.mkdir()
    release_old(repo)
    release_new(repo)

    project = generate_old(repo, root)
    assert answers(project.path)["_commit"] == OLD
    generated = package_files(project.path)
    edited = edit_as_the_project(project.path)
    project.commit("Our own work")

    # 0.1.0's `make update`: copier update to the newest tag, re-lock, make check (with
    # the new makefiles). No --trust: 0.2.0 has no migrations and no tasks. Its check
    # still runs 0.1.0's machinery tests in package/tests, which the next step
    # removes: they may fail on what is newer (a catalog field they do not know).
    update = project.make("update", COPIER, "UPDATE_FLAGS=--defaults", check=False)
    # Then what 0.1.0's recipe does not know: the package's own update.
    update_package = project.make("update-package", f"FROM={OLD}", COPIER)

    fresh = root / "fresh"
    copier.run_copy(
        str(repo), fresh, data=dict(BASE_ANSWERS), vcs_ref=NEW, defaults=True, quiet=True
    )
    return Upgraded(
        project,
        generated,
        edited,
        fresh,
        update.stdout + update.stderr,
        update.returncode,
        update_package.stdout + update_package.stderr,
    )


# --- Tests ---------------------------------------------------------------------------


def test_the_list_of_machinery_is_what_the_kit_replaced(upgraded: Upgraded) -> None:
    gone = upgraded.generated.keys() - package_files(upgraded.fresh).keys()
    assert sorted(gone) == sorted(MACHINERY)


def test_the_update_takes_the_kit_without_trust_or_conflicts(upgraded: Upgraded) -> None:
    project = upgraded.project.path
    # It ran without --trust (see the fixture) and went to the newest version.
    assert "trust" not in upgraded.update.lower(), upgraded.update
    assert answers(project)["_commit"] == NEW
    assert (project / "standards" / "handoff-kit" / "pyproject.toml").is_file()
    assert (project / "standards" / "update_package.py").is_file()
    # Conflict markers or .rej files, in any file the project tracks or could commit.
    assert not leftovers(project), f"the update left conflicts: {leftovers(project)}"
    if upgraded.update_status != 0:  # Only the old machinery's own tests may fail.
        failed = re.findall(r"^(?:FAILED|ERROR) (\S+?)(?:::|\s)", upgraded.update, re.MULTILINE)
        machinery = {name for name in MACHINERY if name.startswith(TESTS)}
        assert failed, f"make update failed, not in a test:\n{upgraded.update[-3000:]}"
        assert set(failed) <= machinery, (
            f"make update failed beyond 0.1.0's machinery tests: {sorted(set(failed))}"
        )


def test_machinery_the_project_never_edited_is_gone(upgraded: Upgraded) -> None:
    project = upgraded.project.path
    unedited = [name for name in MACHINERY if name != EDITED]
    still_there = [name for name in unedited if (project / name).exists()]
    assert not still_there, f"machinery left behind: {still_there}"
    assert not (project / SRC / "registry").exists(), "the emptied registry/ folder stayed"
    removed = section(upgraded.update_package, "Removed")
    assert sorted(removed) == sorted(unedited), upgraded.update_package


def test_edited_machinery_and_the_projects_own_code_are_kept_and_listed(
    upgraded: Upgraded,
) -> None:
    project = upgraded.project.path
    for name, content in upgraded.edited.items():
        assert (project / name).read_bytes() == content, f"the update changed {name}"
    kept = section(upgraded.update_package, "Kept because you changed them")
    assert f"{EDITED}  (the template no longer ships it)" in kept, upgraded.update_package
    assert f"{OWN_CODE}  (the template ships a different version)" in kept


def test_the_package_equals_a_fresh_copy_plus_the_projects_edits(upgraded: Upgraded) -> None:
    """Everything else under package/ is exactly what 0.2.0 makes: updated, added,
    or left as it was."""
    ours, fresh = package_files(upgraded.project.path), package_files(upgraded.fresh)
    assert ours.keys() - fresh.keys() == {EDITED}
    assert fresh.keys() <= ours.keys(), f"missing: {sorted(fresh.keys() - ours.keys())}"
    differ = sorted(name for name in fresh if ours[name] != fresh[name])
    assert differ == [OWN_CODE]
    # The rest of the project, merged by copier update, is 0.2.0's too.
    project = upgraded.project.path
    for path in upgraded.fresh.rglob("*"):
        name = path.relative_to(upgraded.fresh).as_posix()
        if path.is_file() and not name.startswith("package/"):
            assert (project / name).read_bytes() == path.read_bytes(), f"{name} differs"


def test_make_setup_check_and_handoff_pass_after_the_upgrade(upgraded: Upgraded) -> None:
    project = upgraded.project
    project.make("setup")
    checked = project.make("check")
    assert re.search(r"\d+ passed", checked.stdout), "make check ran no tests"
    handoff = project.make("handoff")
    assert "**PASSED**" in handoff.stdout, handoff.stdout
