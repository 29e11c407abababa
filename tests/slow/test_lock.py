"""uv.lock is the environment: setup installs exactly it, check refuses a stale one."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import Project, run
from tests.fast.test_environments import dev_pins

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


# uv 0.13 says [tool.uv]'s exclude-dependencies "will be ignored in favor of the
# uv.toml file". It is not: uv applies that field from the project's pyproject.toml only
# (in uv.toml it is the one ignored), as the lock below shows. That one line is uv's
# mistake, known upstream for its sibling override-dependencies; any other warning fails.
MASKED_FIELDS = re.compile(
    r"warning: Found both a `uv\.toml` file and a `\[tool\.uv\]` section in an adjacent "
    r"`pyproject\.toml`\. The following fields from `\[tool\.uv\]` will be ignored in favor "
    r"of the `uv\.toml` file:\n- exclude-dependencies\n"
)


def test_uv_takes_its_settings_from_uv_toml_and_its_exclusion_from_pyproject(
    set_up_project: Callable[[str], Project],
) -> None:
    """uv reads uv.toml's resolution date; [tool.uv] keeps the groups, the sources and
    the dependency it leaves out, and uv prints no warning a user must act on."""
    project = set_up_project("default")
    for command in (["uv", "lock", "--check"], ["uv", "sync", "--locked", "--dry-run"]):
        done = project.run(*command)
        said = MASKED_FIELDS.sub("", done.stdout + done.stderr)
        assert "warning" not in said.lower(), f"`{' '.join(command)}` warns users:\n{said}"
    date = tomllib.loads((project.path / "uv.toml").read_text())["exclude-newer"]
    lock = tomllib.loads((project.path / "uv.lock").read_text())
    assert lock["options"]["exclude-newer"] == date, (
        "the lock was not resolved as of uv.toml's date"
    )
    excluded = tomllib.loads((project.path / "pyproject.toml").read_text())["tool"]["uv"][
        "exclude-dependencies"
    ]
    locked = {package["name"] for package in lock["package"]}
    assert excluded, "pyproject.toml's [tool.uv] excludes nothing: the warning test is moot"
    assert not locked & set(excluded), (
        f"uv locked {sorted(locked & set(excluded))}, which [tool.uv] excludes"
    )


def test_the_lock_and_the_environment_have_every_dev_tool_at_its_pin(
    set_up_project: Callable[[str], Project],
) -> None:
    project = set_up_project("default")
    pins = dev_pins(project.path)
    assert {"ruff", "mypy", "pytest", "black"} <= pins.keys(), f"the kit's extras pin {pins}"
    lock = tomllib.loads((project.path / "uv.lock").read_text())
    locked = {package["name"]: package["version"] for package in lock["package"]}
    differ = {
        tool: locked.get(tool) for tool, version in pins.items() if locked.get(tool) != version
    }
    assert not differ, f"uv.lock has {differ}, not the kit's pins"
    listed = project.run("uv", "pip", "list", "--format=freeze").stdout.splitlines()
    installed = dict(line.split("==") for line in listed if "==" in line)
    differ = {
        tool: installed.get(tool)
        for tool, version in pins.items()
        if installed.get(tool) != version
    }
    assert not differ, f"`make setup` installed {differ}, not the kit's pins"
    # The default groups still apply: the research tools are installed too.
    assert "jupyterlab" in installed, "the research group (handoff-kit[research]) is missing"


def locked_versions(project: Project) -> dict[str, str]:
    lock = tomllib.loads((project.path / "uv.lock").read_text())
    return {package["name"]: package.get("version", "") for package in lock["package"]}


def test_locking_reads_pysparks_metadata_from_uv_toml_and_downloads_no_archive_of_it(
    set_up_project: Callable[[str], Project], tmp_path: Path
) -> None:
    """With an empty uv cache, resolving pyspark again downloads nothing of its 456 MB
    source archive, and the lock stays as it was: uv.toml's copy of its metadata is
    for the version the lock has."""
    project = set_up_project("default")
    [static] = tomllib.loads((project.path / "uv.toml").read_text())["dependency-metadata"]
    before = locked_versions(project)
    assert before["pyspark"] == static["version"], (
        f"the lock has pyspark {before['pyspark']}, uv.toml the metadata of "
        f"{static['version']}: uv downloads and builds the archive of any version uv.toml "
        "does not describe"
    )
    cache = tmp_path / "uv-cache"
    try:
        run(
            ["uv", "lock", "--upgrade-package", "pyspark"],
            cwd=project.path,
            env={**project.env, "UV_CACHE_DIR": str(cache)},
        )
        after = locked_versions(project)
    finally:
        project.restore()
    assert after == before, "locking pyspark again from uv.toml's metadata changed versions"
    # uv keeps what it downloads and builds under sdists-*/ and wheels-*/ (the index
    # page it reads, simple-*/pypi/pyspark.rkyv, is not the package).
    fetched = [
        path.relative_to(cache)
        for kind in ("sdists-*", "wheels-*")
        for path in cache.glob(f"{kind}/*/pyspark*")
    ]
    assert not fetched, f"locking downloaded pyspark: {fetched}"
