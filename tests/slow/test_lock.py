"""uv.lock is the environment: setup installs exactly it, check refuses a stale one."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.conftest import Project

pytestmark = pytest.mark.slow

STALE = "uv.lock is out of date with pyproject.toml: run 'make lock' and commit uv.lock."


@pytest.fixture
def unlocked_dependency(set_up_project: Callable[[str], Project]) -> Iterator[Project]:
    """The default project with a dependency added to pyproject.toml but not locked."""
    project = set_up_project("default")
    pyproject = project.path / "pyproject.toml"
    text = pyproject.read_text()
    assert "dependencies = [\n" in text
    pyproject.write_text(
        text.replace("dependencies = [\n", 'dependencies = [\n    "tabulate>=0.9",\n', 1)
    )
    yield project
    project.restore()


def test_make_check_fails_on_a_stale_lock_and_says_to_run_make_lock(
    unlocked_dependency: Project,
) -> None:
    result = unlocked_dependency.make("check", check=False)

    assert result.returncode != 0
    assert STALE in result.stdout + result.stderr
    assert not unlocked_dependency.run("git", "status", "--porcelain", "uv.lock").stdout, (
        "make check changed uv.lock"
    )


def test_make_setup_refuses_to_install_anything_but_the_lock(
    unlocked_dependency: Project,
) -> None:
    result = unlocked_dependency.make("setup", check=False)

    assert result.returncode != 0
    assert STALE in result.stdout + result.stderr
    installed = unlocked_dependency.run("uv", "pip", "list", "--format=freeze").stdout
    assert "tabulate" not in installed


def test_make_lock_writes_the_new_dependency_into_uv_lock(unlocked_dependency: Project) -> None:
    unlocked_dependency.make("lock")

    assert 'name = "tabulate"' in (unlocked_dependency.path / "uv.lock").read_text()
    assert unlocked_dependency.make("lock-check").returncode == 0
