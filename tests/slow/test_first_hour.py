"""The first hour with a generated project, the parts that need no environment: how
every task finds uv, what `make setup` says about the lock, notebooks in git, and the
template repository's `make release`.

Stand-ins for uv and pipx (shell scripts) take the place of the real tools where the
test is about the tasks' logic; the notebook tests use the real nbstripout filter.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, answers, format_check, run, tool_env

# Runs Copier, git and make in generated projects: seconds each, so the slow tier.
pytestmark = pytest.mark.slow

# A stand-in for uv: `lock` writes uv.lock, `run` runs the tool from PATH (this test
# environment's), the kernel install is skipped (ipykernel is a project dependency).
STAND_IN_UV = """#!/bin/sh
case "$1" in
  --version) echo "uv 0.13.8 (stand-in)" ;;
  lock) [ "$2" = --check ] || echo "# locked" > uv.lock ;;
  sync) ;;
  run)
    shift; [ "$1" = --quiet ] && shift; [ "$1" = --frozen ] && shift
    [ "$1 $2 $3" = "python -m ipykernel" ] && { echo "kernel installed"; exit 0; }
    exec "$@" ;;
esac
"""
LOCK_MESSAGE = (
    "uv.lock is new: commit it (git add uv.lock), so that every clone, CI and the "
    "image install these exact versions."
)


def script(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


@pytest.fixture
def project(rendered: Mapping[str, Path], tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A copy of the default project, `git init`-ed, nothing committed, and an
    environment whose HOME is a temporary folder (where pipx would put uv)."""
    path = shutil.copytree(rendered["default"], tmp_path / "project")
    (tmp_path / "home").mkdir()
    env = tool_env(tmp_path) | {"HOME": str(tmp_path / "home")}
    env.pop("PIPX_BIN_DIR", None)
    run(["git", "init", "-q"], cwd=path, env=env)
    return path, env


def make(
    path: Path, env: Mapping[str, str], *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return run(["make", "--no-print-directory", *args], cwd=path, env=env, check=check)


def resolved_uv(path: Path, env: Mapping[str, str]) -> str:
    """What the project's tasks take as uv."""
    return make(path, env, "--eval", "print-uv: ; @echo $(UV)", "print-uv").stdout.strip()


# --- Finding uv -------------------------------------------------------------------


def test_every_task_finds_uv_by_running_it_so_a_broken_shim_does_not_count(
    project: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    path, env = project
    shims = tmp_path / "shims"
    script(shims / "uv", "#!/bin/sh\necho 'pyenv: uv: command not found' >&2\nexit 127\n")
    pipx_uv = script(Path(env["HOME"]) / ".local" / "bin" / "uv", STAND_IN_UV)
    env["PATH"] = f"{shims}:{env['PATH']}"

    assert resolved_uv(path, env) == str(pipx_uv), "a uv that does not run was taken"

    pipx_uv.unlink()
    script(shims / "uv", STAND_IN_UV)
    assert resolved_uv(path, env) == "uv", "a working uv on PATH was not taken"


def test_make_setup_installs_uv_with_pipx_and_uses_it_at_once(
    project: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    path, env = project
    tools = tmp_path / "tools"
    stand_in_uv = script(tmp_path / "stand-in-uv", STAND_IN_UV)
    # pipx's own behaviour: the app goes to ~/.local/bin, which need not be on PATH.
    script(
        tools / "pipx",
        f'#!/bin/sh\necho "$@" > "$HOME/pipx-args"\n'
        f'mkdir -p "$HOME/.local/bin" && cp {stand_in_uv} "$HOME/.local/bin/uv"\n',
    )
    # This test environment's tools, but not its uv.
    for tool in ("python", "pre-commit", "nbstripout"):
        (tools / tool).symlink_to(REPO / ".venv" / "bin" / tool)
    env["PATH"] = f"{tools}:/usr/bin:/bin"

    result = make(path, env, "setup")

    home = Path(env["HOME"])
    assert "uv is not installed: installing uv 0.13.8 with pipx" in result.stdout, result.stdout
    assert (home / "pipx-args").read_text().split() == ["install", "uv==0.13.8"]
    assert (path / "uv.lock").is_file(), "make setup did not go on with the uv pipx installed"
    assert "Ready. Next steps:" in result.stdout
    assert f"{home}/.local/bin/uv run --quiet --frozen jupyter lab" in result.stdout, (
        "the suggested command does not name the uv that was found"
    )


def test_make_setup_without_uv_or_pipx_says_what_to_install_in_one_line(
    project: tuple[Path, dict[str, str]],
) -> None:
    path, env = project
    env["PATH"] = "/usr/bin:/bin"

    result = make(path, env, "setup", check=False)

    assert result.returncode != 0
    assert result.stdout.strip() == (
        "uv is not installed, nor pipx to install it: install pipx (Debian, Ubuntu: "
        "sudo apt install pipx) or uv, then run 'make setup' again."
    ), result.stdout


# Tasks that run no tool from the environment (or make it: setup, lock).
NEED_NO_ENVIRONMENT = {"help", "setup", "lock", "conflicts", "docker", "update-check"}


def test_every_task_that_needs_the_environment_says_make_setup_first_before_there_is_one(
    project: tuple[Path, dict[str, str]],
) -> None:
    """A fresh clone, without uv or .venv: each task says what to do in one line, not
    "uv: command not found" (or, from make check, "run 'make format'")."""
    path, env = project
    listed = make(path, env, "help").stdout.split("\n")
    tasks = [line.split()[0] for line in listed if line.strip()]
    env["PATH"] = "/usr/bin:/bin"

    said = {task: make(path, env, task, check=False) for task in tasks}

    assert {"check", "format"} <= said.keys(), f"make help lists {tasks}"
    for task, result in said.items():
        if task in NEED_NO_ENVIRONMENT:
            continue
        output = result.stdout + result.stderr
        assert result.returncode != 0, f"make {task} passed without an environment"
        assert "No environment here yet: run 'make setup' first." in result.stdout, (
            f"make {task} does not say to run make setup first:\n{output}"
        )
        assert "command not found" not in output, f"make {task}:\n{output}"


# --- The lock -------------------------------------------------------------------------


def test_make_setup_says_to_commit_the_lock_it_wrote_until_it_is_committed(
    project: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    path, env = project
    script(tmp_path / "tools" / "uv", STAND_IN_UV)
    env["PATH"] = f"{tmp_path / 'tools'}:{env['PATH']}"

    first = make(path, env, "setup")
    run(["git", "add", "-A"], cwd=path, env=env)
    run(["git", "commit", "-qm", "Start, with the lock", "--no-verify"], cwd=path, env=env)
    again = make(path, env, "setup")

    assert "No uv.lock yet: resolving the dependencies once." in first.stdout
    assert LOCK_MESSAGE in first.stdout, first.stdout
    assert LOCK_MESSAGE not in again.stdout, "the message stays once uv.lock is committed"


# --- Notebooks: outputs stay in the working copy, never reach git ----------------------


def executed(notebook: dict[str, object]) -> dict[str, object]:
    """The notebook as it is after running it: counts and an output in each code cell."""
    ran = copy.deepcopy(notebook)
    for number, cell in enumerate(ran["cells"], start=1):  # type: ignore[arg-type]
        if cell["cell_type"] == "code":
            cell["execution_count"] = number
            cell["outputs"] = [
                {"output_type": "stream", "name": "stdout", "text": [f"plot {number}\n"]}
            ]
    return ran


def outputs(notebook: dict[str, object]) -> list[object]:
    cells = notebook["cells"]
    return [o for c in cells if c["cell_type"] == "code" for o in c["outputs"]]  # type: ignore[attr-defined, index]


def notebook_check(path: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """`make lint`, with this test environment's tools (RUN=, no environment needed):
    the notebook check."""
    return make(path, env, "lint", "RUN=", "ENV_READY=true", check=False)


def test_a_commit_keeps_outputs_in_the_working_copy_and_none_in_git(
    project: tuple[Path, dict[str, str]],
) -> None:
    path, env = project
    name = "research/notebooks/01_explore_churn.ipynb"
    # What `make setup` runs, with the same nbstripout the project locks.
    run(["nbstripout", "--install", "--attributes", ".gitattributes"], cwd=path, env=env)
    notebook = path / name
    notebook.write_text(json.dumps(executed(json.loads(notebook.read_text())), indent=1) + "\n")

    run(["git", "add", "-A"], cwd=path, env=env)
    run(["git", "commit", "-qm", "Explore, with plots", "--no-verify"], cwd=path, env=env)

    in_git = json.loads(run(["git", "show", f"HEAD:{name}"], cwd=path, env=env).stdout)
    assert outputs(json.loads(notebook.read_text())), "the commit took the outputs away"
    assert not outputs(in_git), "the outputs reached git"
    status = run(["git", "status", "--porcelain"], cwd=path, env=env).stdout
    assert not status, f"git status shows changes that are not there:\n{status}"
    assert notebook_check(path, env).returncode == 0, "make lint fails on outputs git lacks"
    assert not (path / ".git" / "info" / "attributes").exists(), (
        "nbstripout wrote a second copy of the .gitattributes lines"
    )


def test_the_notebook_check_reads_git_and_not_the_working_copy(
    project: tuple[Path, dict[str, str]],
) -> None:
    """Without the filter (a clone before `make setup`), git holds what was committed."""
    path, env = project
    jupyterlab = {
        "cells": [
            {"cell_type": "code", "execution_count": None, "id": "3f1c2a9e-8b7d-4e0a-9c51",
             "metadata": {}, "outputs": [], "source": ["import pandas"]},
        ],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                    "name": "python3"},
                     "language_info": {"name": "python", "version": "3.12.1"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }  # fmt: skip
    new = path / "research" / "notebooks" / "02_new.ipynb"
    new.write_text(json.dumps(jupyterlab, indent=1) + "\n")
    run(["git", "add", "-A"], cwd=path, env=env)
    run(["git", "commit", "-qm", "Start", "--no-verify"], cwd=path, env=env)

    as_saved = notebook_check(path, env)
    new.write_text(json.dumps(executed(jupyterlab), indent=1) + "\n")
    outputs_not_added = notebook_check(path, env)
    run(["git", "add", "-A"], cwd=path, env=env)
    outputs_added = notebook_check(path, env)

    assert as_saved.returncode == 0, (
        f"a notebook JupyterLab saved is a false alarm:\n{as_saved.stdout}"
    )
    assert outputs_not_added.returncode == 0, "outputs only in the working copy fail the check"
    assert outputs_added.returncode != 0, "outputs in git pass the check"
    lines = outputs_added.stdout.splitlines()
    assert "research/notebooks/02_new.ipynb" in lines, outputs_added.stdout
    assert lines[-2:] == [
        "Notebooks above are in git with outputs: run 'make setup' (it strips them in git's",
        "index, and its git filter on every commit after), then commit.",
    ], outputs_added.stdout


# --- make release, in the template repository ------------------------------------------


@pytest.fixture
def template_clone(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A throwaway repository with this working tree's Makefile and CHANGELOG.md."""
    clone = tmp_path / "handoff"
    clone.mkdir()
    for name in ("Makefile", "CHANGELOG.md"):
        shutil.copy2(REPO / name, clone / name)
    env = tool_env(tmp_path)
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "Handoff"]):
        run(["git", *command], cwd=clone, env=env)
    return clone, env


def release(clone: Path, env: Mapping[str, str], version: str) -> subprocess.CompletedProcess[str]:
    return make(clone, env, "release", f"VERSION={version}", check=False)


def tags(clone: Path, env: Mapping[str, str]) -> list[str]:
    return run(["git", "tag", "--list"], cwd=clone, env=env).stdout.split()


def test_make_release_refuses_a_version_without_its_changelog_entry(
    template_clone: tuple[Path, dict[str, str]],
) -> None:
    clone, env = template_clone

    result = release(clone, env, "9.1.0")

    assert result.returncode != 0
    assert result.stdout.strip() == (
        "CHANGELOG.md has no entry for 9.1.0: turn the Unreleased notes into '## 9.1.0', "
        "commit, and run make release again."
    ), result.stdout
    assert tags(clone, env) == [], "a version without a CHANGELOG entry was tagged"


def test_make_release_tags_head_once_its_changelog_entry_is_committed(
    template_clone: tuple[Path, dict[str, str]],
) -> None:
    clone, env = template_clone
    changelog = clone / "CHANGELOG.md"
    changelog.write_text(changelog.read_text().replace("## Unreleased", "## 9.1.0", 1))

    dirty = release(clone, env, "9.1.0")
    run(["git", "commit", "-qam", "Release 9.1.0"], cwd=clone, env=env)
    released = release(clone, env, "9.1.0")
    again = release(clone, env, "9.1.0")
    malformed = release(clone, env, "v9.1.0")

    assert dirty.returncode != 0
    assert "Commit the changes above first: a version is a commit." in dirty.stdout
    assert released.returncode == 0, released.stdout + released.stderr
    assert "Tagged 9.1.0. Publish it with: git push origin 9.1.0" in released.stdout
    assert tags(clone, env) == ["9.1.0"]
    kind = run(["git", "cat-file", "-t", "9.1.0"], cwd=clone, env=env).stdout.strip()
    assert kind == "tag", "the version is a lightweight tag, not an annotated one"
    head = run(["git", "rev-parse", "HEAD"], cwd=clone, env=env).stdout
    assert run(["git", "rev-parse", "9.1.0^{commit}"], cwd=clone, env=env).stdout == head
    assert "The tag 9.1.0 exists already: pick the next version." in again.stdout
    assert malformed.returncode != 0
    assert "v9.1.0 is not a PEP 440 version in canonical form" in malformed.stdout


# --- The first commit ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["default", "contrast"])
def test_every_generated_file_passes_the_linters_the_first_commit_runs(
    rendered: Mapping[str, Path], name: str
) -> None:
    """The git hooks lint and format every Python file but the kit's (template-owned,
    checked where it is developed), standards/ included."""
    project = rendered[name]
    formatter = answers(project)["formatter"]
    check = format_check(formatter)
    python = [p.relative_to(project).as_posix() for p in project.rglob("*.py")]
    python = [p for p in python if not p.startswith("standards/handoff-kit/")]
    config = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    for tool in ("black" if formatter == "black" else "ruff-format", "ruff"):
        assert hooks[tool].get("exclude") == "^standards/handoff-kit/", (
            f"the {tool} hook would rewrite the kit"
        )
    hygiene = {"check-merge-conflict", "check-added-large-files", "detect-private-key"}
    for tool in hygiene | {"detect-secrets"}:
        assert "handoff-kit" not in hooks[tool].get("exclude", ""), (
            f"the {tool} hook does not look at the kit's files"
        )
    assert "exclude" not in config, "a global exclude hides the kit from the hygiene hooks"

    run(["ruff", "check", "--no-cache", *python], cwd=project)  # No cache left behind.
    run([*check, *python], cwd=project)
