"""IDE onboarding: the devcontainer and VS Code settings match the project and its answers."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.conftest import (
    ANSWER_SETS,
    REPO,
    answers,
    dockerfile_instructions,
    dockerfile_stage,
    read_jsonc,
    run,
)

NAMES = list(ANSWER_SETS)
DEVCONTAINER_CLI = REPO / ".tools" / "node_modules" / ".bin" / "devcontainer"


@pytest.mark.parametrize("name", NAMES)
def test_devcontainer_builds_the_dockerfiles_dev_stage_and_runs_make_setup(
    rendered: Mapping[str, Path], name: str
) -> None:
    project = rendered[name]
    config = read_jsonc(project / ".devcontainer" / "devcontainer.json")
    dockerfile = (project / ".devcontainer" / config["build"]["dockerfile"]).resolve()
    target = dockerfile_stage(dockerfile_instructions(dockerfile), config["build"]["target"])
    workdirs = [line.split()[1] for line in target if line.startswith("WORKDIR")]

    assert dockerfile == project / "Dockerfile"
    assert config["postCreateCommand"] == "make setup"
    # The checkout is mounted where the dev stage works.
    assert workdirs, f"the {config['build']['target']} stage sets no WORKDIR"
    assert config["workspaceFolder"] == workdirs[-1]


@pytest.mark.parametrize("name", ["default", "conda-gitlab"])
def test_the_devcontainer_cli_reads_the_configuration(
    rendered: Mapping[str, Path], name: str
) -> None:
    """The real @devcontainers/cli; it asks the engine for containers, and podman answers."""
    if not DEVCONTAINER_CLI.exists() or not shutil.which("podman"):
        pytest.skip("@devcontainers/cli (npm) or podman (Debian) is missing: run `make dev`")
    project = rendered[name]

    result = run(
        [str(DEVCONTAINER_CLI), "read-configuration", "--workspace-folder", str(project),
         "--docker-path", "podman", "--log-level", "info"],
        cwd=project,
    )  # fmt: skip

    read = json.loads(result.stdout)
    strict = read_jsonc(project / ".devcontainer" / "devcontainer.json")
    configuration = read["configuration"]
    assert configuration["build"] == strict["build"]
    assert configuration["postCreateCommand"] == "make setup"
    assert read["workspace"]["workspaceFolder"] == strict["workspaceFolder"]
    assert read["workspace"]["workspaceMount"].startswith(f"source={project},")
    extensions = configuration["customizations"]["vscode"]["extensions"]
    assert extensions == strict["customizations"]["vscode"]["extensions"]


@pytest.mark.parametrize("name", NAMES)
def test_vscode_uses_the_projects_interpreter_formatter_and_type_checker(
    rendered: Mapping[str, Path], name: str
) -> None:
    project = rendered[name]
    given = answers(project)
    settings = read_jsonc(project / ".vscode" / "settings.json")
    recommended = read_jsonc(project / ".vscode" / "extensions.json")["recommendations"]
    devcontainer = read_jsonc(project / ".devcontainer" / "devcontainer.json")
    formatter = {"black": "ms-python.black-formatter", "ruff": "charliermarsh.ruff"}
    env_dir = {"uv": ".venv", "conda": ".conda"}[given["env_manager"]]

    assert settings["python.defaultInterpreterPath"] == f"${{workspaceFolder}}/{env_dir}/bin/python"
    assert settings["[python]"]["editor.defaultFormatter"] == formatter[given["formatter"]]
    assert settings["notebook.defaultFormatter"] == formatter[given["formatter"]]
    assert settings["mypy-type-checker.args"] == ["--config-file=pyproject.toml"]
    # Formatter, linter and type checker never bring their own version.
    strategies = {k: v for k, v in settings.items() if k.endswith(".importStrategy")}
    expected = {"ruff.importStrategy", "mypy-type-checker.importStrategy"}
    if given["formatter"] == "black":
        expected.add("black-formatter.importStrategy")
    assert set(strategies) == expected
    assert set(strategies.values()) == {"fromEnvironment"}
    for extensions in (recommended, devcontainer["customizations"]["vscode"]["extensions"]):
        assert formatter[given["formatter"]] in extensions
        assert "ms-python.mypy-type-checker" in extensions
        assert "charliermarsh.ruff" in extensions
        assert ("ms-python.black-formatter" in extensions) == (given["formatter"] == "black")
