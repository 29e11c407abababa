"""From pins in pyproject.toml to pins in the kit: an existing project's upgrade.

Version 0.1.0 here is this repository's commit 02af88a, whose pyproject.toml pinned the
dev tools in the dev group and uv's resolution date in [tool.uv]; 0.2.0 is the working
tree, where the kit's extras pin the tools and uv.toml has the date. A project made from
0.1.0, edited by its team in pyproject.toml as the fleet's are (test_fleet.py) and set up,
takes 0.2.0 with its own `make update` (0.1.0's recipe): no conflict, the pins and the
date leave its pyproject.toml, and its lock keeps every version it had. (A team line
added among the old pins conflicts once, as the CHANGELOG's upgrade note says.)
"""

from __future__ import annotations

import sys
import tarfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO, Project, answers, run
from tests.fast.test_environments import dev_pins
from tests.fast.test_ownership import frozen_groups, requirements
from tests.slow.test_fleet import DEPENDENCY, LINT_OVERRIDE
from tests.slow.test_kit_upgrade import NEW, OLD, TEMPLATE_PARTS, generate_old, release_new
from tests.slow.test_update import git, leftovers, replace_once

pytestmark = pytest.mark.slow

OLD_COMMIT = "02af88a"  # main before the pins moved to the kit.


def release_both(repo: Path) -> None:
    """OLD from OLD_COMMIT, then the working tree as NEW, in a throwaway repository."""
    archive = repo.parent / "template-old.tar"
    run(["git", "archive", "--output", str(archive), OLD_COMMIT, *TEMPLATE_PARTS], cwd=REPO)
    with tarfile.open(archive) as tar:
        tar.extractall(repo, filter="data")
    # The kit is a link in this repository; the release holds its files.
    kit = repo / "template" / "standards" / "handoff-kit"
    kit.unlink()
    run(["git", "archive", "--output", str(archive), OLD_COMMIT, "handoff-kit"], cwd=REPO)
    with tarfile.open(archive) as tar:
        tar.extractall(kit.parent, filter="data")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", f"Handoff {OLD}: pins in pyproject.toml")
    git(repo, "tag", OLD)
    release_new(repo)


def edit_as_the_project(project: Path) -> None:
    """The fleet's edits of pyproject.toml: a lint override, a run-time dependency."""
    pyproject = project / "pyproject.toml"
    ruff_extend = 'extend = "standards/ruff.toml"\n'
    replace_once(pyproject, ruff_extend, f"{ruff_extend}{LINT_OVERRIDE}\n")
    replace_once(
        pyproject, '    "scikit-learn>=1.6",\n', f'    "scikit-learn>=1.6",\n{DEPENDENCY}\n'
    )


def locked_versions(project: Path) -> dict[str, str]:
    lock = tomllib.loads((project / "uv.lock").read_text())
    return {package["name"]: package["version"] for package in lock["package"]}


def dependents(project: Path) -> dict[str, set[str]]:
    """Who needs each package in the project's uv.lock, by name."""
    needed_by: dict[str, set[str]] = {}
    for package in tomllib.loads((project / "uv.lock").read_text())["package"]:
        groups = [package.get("dependencies", [])]
        groups += package.get("optional-dependencies", {}).values()
        groups += package.get("dev-dependencies", {}).values()
        for group in groups:
            for dependency in group:
                needed_by.setdefault(dependency["name"], set()).add(package["name"])
    return needed_by


def left_out(excluded: set[str], needed_by: dict[str, set[str]]) -> set[str]:
    """The packages an exclusion takes out: the excluded ones, and those only they need."""
    out = set(excluded)
    grew = True
    while grew:
        more = {name for name, users in needed_by.items() if users and users <= out} - out
        out |= more
        grew = bool(more)
    return out


@dataclass
class Upgraded:
    project: Project
    before: dict[str, str]  # uv.lock's versions on 0.1.0
    needed_by: dict[str, set[str]]  # Who needed each package on 0.1.0.
    output: str  # What `make update` printed.
    returncode: int


@pytest.fixture(scope="module")
def upgraded(tmp_path_factory: pytest.TempPathFactory) -> Upgraded:
    root = tmp_path_factory.mktemp("pins-upgrade")
    repo = root / "handoff"
    repo.mkdir()
    release_both(repo)
    project = generate_old(repo, root)
    edit_as_the_project(project.path)
    project.commit("Our own work")
    before = locked_versions(project.path)
    needed_by = dependents(project.path)
    # 0.1.0's `make update`: copier update, re-lock (pyproject.toml changed), make check.
    done = project.make(
        "update", f"COPIER={sys.executable} -m copier", "UPDATE_FLAGS=--defaults", check=False
    )
    return Upgraded(project, before, needed_by, done.stdout + done.stderr, done.returncode)


def test_the_update_passes_make_check_without_a_conflict(upgraded: Upgraded) -> None:
    project = upgraded.project.path
    assert upgraded.returncode == 0, f"make update failed:\n{upgraded.output[-6000:]}"
    assert answers(project)["_commit"] == NEW
    assert not leftovers(project), f"the update left conflicts: {leftovers(project)}"
    assert "conflict" not in upgraded.output.lower(), upgraded.output[-6000:]
    assert "re-locking" in upgraded.output, "make update did not re-lock"
    assert " passed" in upgraded.output, "make update did not run make check"


def test_the_pins_and_the_date_leave_pyproject_and_the_teams_lines_stay(
    upgraded: Upgraded,
) -> None:
    project = upgraded.project.path
    pinned = [r for r in requirements(project / "pyproject.toml") if "==" in r]
    assert not pinned, f"pyproject.toml still pins {pinned}"
    text = (project / "pyproject.toml").read_text()
    assert "exclude-newer" not in text, "pyproject.toml still has uv's resolution date"
    groups = tomllib.loads(text)["dependency-groups"]
    given = answers(project)
    expected = frozen_groups(given["formatter"], given["model_registry"], given["example"])
    assert groups == expected, f"the groups are {groups}"
    for line in (LINT_OVERRIDE, DEPENDENCY):
        assert line in text.splitlines(), f"the update lost the team's {line!r}"
    assert (project / "uv.toml").is_file(), "uv.toml did not arrive"


def test_the_lock_keeps_every_version_and_pins_the_tools(upgraded: Upgraded) -> None:
    project = upgraded.project.path
    after = locked_versions(project)
    # The new version's kit may add packages (its new extras' requirements), and the
    # packages pyproject.toml now excludes (exclude-dependencies) leave, with those only
    # they needed; every other package locked before keeps its version.
    uv = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["uv"]
    excluded = left_out(set(uv.get("exclude-dependencies", [])), upgraded.needed_by)
    changed = {
        name: (version, after.get(name))
        for name, version in upgraded.before.items()
        if after.get(name) != version and not (name in excluded and name not in after)
    }
    assert not changed, f"the re-lock changed or dropped versions (before, after): {changed}"
    pins = dev_pins(project)
    assert {"black", "ruff", "mypy", "pytest"} <= pins.keys(), pins
    differ = {tool: after.get(tool) for tool, version in pins.items() if after.get(tool) != version}
    assert not differ, f"uv.lock has {differ}, not the kit's pins"
