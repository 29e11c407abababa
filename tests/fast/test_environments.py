"""Reproducible environments and the container, checked statically on the rendered output."""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import tomllib
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from tests.conftest import ANSWER_SETS, answers, dockerfile_instructions, dockerfile_stage, run

NAMES = list(ANSWER_SETS)
CONDA = [n for n in NAMES if ANSWER_SETS[n].get("env_manager") == "conda"]
# The tools behind `make check`: their versions must come from the lock alone.
TOOLS = ("black", "ruff", "mypy", "pytest", "nbstripout", "pre-commit")
PLATFORMS = ["linux-64", "osx-arm64", "win-64"]
# What conda-lock locks, in conda.mk's order: run time, the template's tools, the team's.
ENV_FILES = ("environment.yml", "standards/environment-dev.yml", "environment-dev.yml")


def dev_pins(project: Path) -> dict[str, str]:
    """The exact versions the dev group gets, as {name: version}: the group names the
    kit's extras (`handoff-kit[dev,black]`), which pin the tools."""
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    kit = pyproject["tool"]["uv"]["sources"]["handoff-kit"]["path"]
    extras = tomllib.loads((project / kit / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    pins = {}
    for requirement in pyproject["dependency-groups"]["dev"]:
        if not requirement.startswith("handoff-kit["):
            continue
        for extra in re.findall(r"[\w-]+", requirement.split("[", 1)[1]):
            for pinned in extras[extra]:
                name, _, version = re.sub(r"\[.*\]", "", pinned).partition("==")
                if version:
                    pins[name] = version
    return pins


@pytest.mark.parametrize("name", NAMES)
def test_hooks_ci_and_the_editor_run_the_locked_tools(
    rendered: Mapping[str, Path], name: str
) -> None:
    project = rendered[name]
    given = answers(project)
    # The environment's own bin/ folder: a hook needs neither uv nor conda on PATH.
    runner = {"uv": ".venv/bin/", "conda": ".conda/bin/"}[given["env_manager"]]

    pins = dev_pins(project)
    assert {t for t in TOOLS if t != "black" or given["formatter"] == "black"} <= set(pins), (
        f"tools not pinned exactly in the dev group: {pins}"
    )
    hooks = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())["repos"]
    for hook in (hook for repo in hooks for hook in repo["hooks"]):
        assert hook["language"] == "system", f"hook {hook['id']} brings its own environment"
        # A hook runs a locked tool, or a project make target (which runs locked tools).
        assert hook["entry"].startswith((runner, "make ")), (
            f"hook {hook['id']} does not use the lock"
        )
    # CI sets the environment up with the project's own target, then runs the kit's
    # commands itself (not a make target the Makefile could redefine), and installs
    # no tool of its own.
    run = {"uv": "uv run --frozen", "conda": "micromamba run -p .conda"}[given["env_manager"]]
    commands = ci_commands(project, given["ci"])
    if commands:
        # Copier's re-render, checked by sha256sum before any project code (the kit,
        # make setup) has run, and none in it.
        rerender = commands[-4]
        assert " recopy " in rerender, commands
        assert "sha256sum --check" in rerender, commands
        ran = re.findall(r"^\s*(handoff|make|python|uv run)\b", rerender, flags=re.M)
        assert not ran, f"the re-render runs project code ({ran}):\n{rerender}"
        # The SBOM right after the environment: the run keeps it whether the gate passes.
        assert commands[-3:-1] == ["make setup", "make sbom"], commands
        assert commands[-1] == f"{run} handoff gate", commands
    for command in commands:
        named = [t for t in TOOLS if re.search(rf"\b{t}\b", command)]
        assert not named, f"CI installs or runs {named} itself: {command!r}"
    # VS Code's extensions use the environment's tools, not their bundled versions.
    settings = (project / ".vscode" / "settings.json").read_text()
    strategies = re.findall(r'"([\w.-]+)\.importStrategy": "(\w+)"', settings)
    assert strategies, "VS Code settings do not say where the tools come from"
    assert {value for _, value in strategies} == {"fromEnvironment"}, strategies


def ci_commands(project: Path, ci: str) -> list[str]:
    """The commands the CI's check job runs, in order; none without CI."""
    if ci == "github":
        steps = yaml.safe_load((project / ".github/workflows/check.yml").read_text())["jobs"]
        return [s["run"] for job in steps.values() for s in job["steps"] if "run" in s]
    if ci == "gitlab":
        job = yaml.safe_load((project / ".gitlab-ci.yml").read_text())["check"]
        return [*job.get("before_script", []), *job["script"]]
    return []


@pytest.mark.parametrize("name", [n for n in NAMES if ANSWER_SETS[n].get("ci") != "none"])
def test_ci_checks_out_the_whole_history_the_contract_gate_reads(
    rendered: Mapping[str, Path], name: str
) -> None:
    """A shallow clone holds one commit: the contract gate could compare no earlier
    snapshot, and a reset snapshot would pass."""
    project = rendered[name]
    if answers(project)["ci"] == "github":
        jobs = yaml.safe_load((project / ".github/workflows/check.yml").read_text())["jobs"]
        [checkout] = [
            s for s in jobs["check"]["steps"] if s.get("uses", "").startswith("actions/checkout@")
        ]
        assert checkout.get("with", {}).get("fetch-depth") == 0, (
            f"the checkout is shallow: {checkout}"
        )
    else:
        pipeline = yaml.safe_load((project / ".gitlab-ci.yml").read_text())
        depth = {**pipeline.get("variables", {}), **pipeline["check"].get("variables", {})}
        assert depth.get("GIT_DEPTH") == 0, f"GitLab clones shallow: variables {depth}"


@pytest.mark.parametrize("name", CONDA)
def test_conda_locks_parse_with_conda_locks_own_parser(
    rendered: Mapping[str, Path], name: str
) -> None:
    """Channels are out of reach here, so conda-lock reads the files but cannot solve."""
    from conda_lock.lookup import DEFAULT_MAPPING_URL
    from conda_lock.src_parser import make_lock_spec

    project = rendered[name]
    given = answers(project)
    locked = run(["make", "-n", "lock"], cwd=project).stdout
    assert " ".join(f"-f {f}" for f in ENV_FILES) in locked, (
        f"`make lock` locks otherwise: {locked}"
    )
    spec = make_lock_spec(
        src_files=[project / f for f in ENV_FILES],
        mapping_url=DEFAULT_MAPPING_URL,
    )

    assert [str(c.url) for c in spec.channels] == ["conda-forge"]
    assert sorted(spec.dependencies) == PLATFORMS
    for platform, dependencies in spec.dependencies.items():
        by_name = {d.name: d for d in dependencies}
        assert by_name["python"].version == f"{given['python_version']}.*", platform
        runtime = {n for n, d in by_name.items() if d.category == "main"}
        assert {"python", "numpy", "pandas", "scikit-learn", "pyarrow"} <= runtime
        dev = {n: d.version for n, d in by_name.items() if d.category == "dev"}
        # MLflow's client in the image, the whole MLflow (`mlflow ui`) for development only.
        mlflow = given["model_registry"] == "mlflow"
        assert ("mlflow-skinny" in runtime) == mlflow, f"{platform}: runtime {sorted(runtime)}"
        assert "mlflow" not in runtime, f"{platform}: the whole MLflow goes into the image"
        assert ("mlflow" in dev) == mlflow, f"{platform}: dev {sorted(dev)}"
        assert not {"jupyterlab", "ipykernel"} & runtime, "research tools in the image"
        # The same tool versions as the dev group gets from the kit's extras, exactly,
        # and no pin the kit does not have.
        pins = {"black-jupyter" if t == "black" else t: v for t, v in dev_pins(project).items()}
        for tool, version in pins.items():
            assert dev.get(tool) == version, f"{platform}: {tool} {dev.get(tool)}, not {version}"
        # conda-lock gives an exact pin as the bare version ("0.17.5").
        exact = {n for n, v in dev.items() if re.fullmatch(r"[\d.]+", v)}
        assert not exact - pins.keys(), (
            f"{platform}: conda pins {exact - pins.keys()}, which the kit's extras do not"
        )


@pytest.mark.parametrize("name", NAMES)
def test_the_dockerfile_builds_from_the_lock_for_a_non_root_cli(
    rendered: Mapping[str, Path], name: str
) -> None:
    project = rendered[name]
    given = answers(project)
    instructions = dockerfile_instructions(project / "Dockerfile")
    args = dict(
        line.split()[1].split("=", 1)
        for line in instructions
        if line.startswith("ARG") and "=" in line
    )
    build = dockerfile_stage(instructions, "build")
    runtime = dockerfile_stage(instructions, "runtime")
    copies = [line for line in build if line.startswith("COPY") and "--from" not in line]
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    kit = pyproject["tool"]["uv"]["sources"]["handoff-kit"]["path"]
    kit_project = tomllib.loads((project / kit / "pyproject.toml").read_text())["project"]

    # Base images are build arguments with pinned defaults (a version tag, never latest).
    assert args, "no base image build arguments"
    froms = [line for line in instructions if line.startswith("FROM")]
    for arg, image in args.items():
        assert re.search(r":[\w.-]*\d[\w.-]*$", image), f"{arg}={image} is not pinned"
        assert any(f"${{{arg}}}" in line for line in froms), f"no stage is built FROM ${arg}"
    # Reproducible: the build takes the commit's time (`make docker` passes it) for
    # Python's bytecode and the SBOM, and the image carries the SBOM.
    assert "ARG SOURCE_DATE_EPOCH" in build, "the build stage does not take SOURCE_DATE_EPOCH"
    assert any(line.startswith("COPY --from=build /app/sbom.cdx.json") for line in runtime), (
        "the image does not carry the SBOM at /app/sbom.cdx.json"
    )
    # The lock goes in, and dependencies are installed, before the source.
    lock = "uv.lock" if given["env_manager"] == "uv" else "conda-lock.yml"
    assert lock in copies[0], f"the first COPY is not the lock: {copies[0]}"
    assert "package/src" in copies[-1]
    installs = [i for i, line in enumerate(build) if line.startswith("RUN")]
    assert installs[0] < build.index(copies[-1]), "dependencies are installed after the source"
    # The handoff kit (a path dependency) goes in whole, before the package is installed.
    kit_copy = re.compile(rf"COPY (--chown=\S+ )?{kit} {kit}")
    kit_copies = [i for i, line in enumerate(build) if kit_copy.fullmatch(line)]
    assert kit_copies, f"the kit is not copied: no `COPY {kit} {kit}` in the build stage"
    assert installs[0] < kit_copies[0] < installs[-1]
    if given["env_manager"] == "uv":
        syncs = [line for line in build if "uv sync" in line]
        assert len(syncs) == 2, syncs
        assert all("--locked" in s and "--no-default-groups" in s for s in syncs), syncs
        assert not any("--group" in s for s in syncs)
        # uv reads the kit's metadata to check the lock, before any code is there;
        # the first sync leaves both the kit and the project out.
        metadata = build.index(f"COPY {kit}/pyproject.toml {kit}/")
        assert metadata < build.index(next(line for line in build if syncs[0] in line))
        assert "--no-install-local" in syncs[0], syncs[0]
        # uv.toml too: without its resolution date, `uv sync --locked` finds the lock stale.
        assert "uv.toml" in copies[0].split(), f"uv.toml is not copied with the lock: {copies[0]}"
        dockerignore = (project / ".dockerignore").read_text().splitlines()
        assert "!uv.toml" in dockerignore, ".dockerignore keeps uv.toml out of the build context"
        # The second installs both, as wheels: the image needs no source tree.
        assert "--no-editable" in syncs[1], syncs[1]
        assert not re.search(r"--no-install|--only|--frozen", syncs[1]), syncs[1]
    else:
        pips = [line for line in build if "pip install" in line]
        assert len(pips) == 2, pips
        # Each install's own command, without what runs after it (`&& ...`).
        kit_install, package_install = (pip.split("&&")[0].strip() for pip in pips)
        # The kit, then the package; dependencies come from the lock alone.
        assert kit_install.endswith(f" ./{kit}"), kit_install
        assert package_install.endswith(" ."), package_install
        assert all("--no-deps" in pip for pip in pips), pips
        assert not any(re.search(r"--editable|\s-e\s", pip) for pip in pips), pips
        assert build.index(pips[0]) < build.index(pips[1])
    # The final stage: no build tools, a non-root user, the kit's command line.
    assert runtime[-1] == instructions[-1], "runtime is not the last stage, which builds by default"
    users = [line.split()[1] for line in runtime if line.startswith("USER")]
    assert users, "the image runs as root"
    assert users[-1] not in {"root", "0"}
    assert 'ENTRYPOINT ["handoff"]' in runtime
    assert kit_project["scripts"]["handoff"] == "handoff_kit.cli:main"
    assert any(d.startswith("handoff-kit") for d in pyproject["project"]["dependencies"])
    assert not any(given["project_slug"] in line for line in runtime), "the old command"


def test_uv_setup_compiles_bytecode_only_where_python_will_not_write_it(
    rendered: Mapping[str, Path],
) -> None:
    project = rendered["default"]
    plain = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for env, compiles in ((plain, False), ({**plain, "PYTHONDONTWRITEBYTECODE": "1"}, True)):
        recipe = run(["make", "-n", "env"], cwd=project, env=env).stdout
        sync = [line for line in recipe.splitlines() if "uv sync --locked" in line]
        assert len(sync) == 1, f"make setup does not sync the lock once:\n{recipe}"
        assert ("--compile-bytecode" in sync[0]) == compiles, (
            f"with PYTHONDONTWRITEBYTECODE={env.get('PYTHONDONTWRITEBYTECODE')!r}, "
            f"setup runs `{sync[0].strip()}`"
        )


@pytest.mark.parametrize("name", CONDA)
def test_conda_setup_installs_the_kit_then_the_project_editable(
    rendered: Mapping[str, Path], name: str
) -> None:
    project = rendered[name]
    recipe = run(["make", "-n", "env"], cwd=project).stdout

    installs = [line for line in recipe.splitlines() if "pip install" in line]
    assert [line.split()[-1] for line in installs] == ["./standards/handoff-kit", "."], installs
    assert all("--no-deps --editable" in line for line in installs), installs


@pytest.mark.parametrize("name", ["default", "conda-github"])
def test_the_dockerfile_passes_hadolint_with_only_explained_ignores(
    rendered: Mapping[str, Path], name: str
) -> None:
    project = rendered[name]
    lines = (project / "Dockerfile").read_text().splitlines()

    run(["hadolint", "--failure-threshold", "info", "Dockerfile"], cwd=project)
    for number, line in enumerate(lines):
        if "hadolint ignore=" in line:
            rules = line.split("=", 1)[1].split(",")
            explanation = "\n".join(lines[max(0, number - 3) : number])
            for rule in rules:
                assert rule in explanation, f"line {number + 1}: ignoring {rule} without a reason"


def engines_only(tmp_path: Path, *engines: str) -> dict[str, str]:
    """An environment whose PATH has make and bash, plus the named engines only."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("make", "bash", "sh", *engines):
        found = shutil.which(tool)
        assert found, f"{tool} is not installed"
        (bin_dir / tool).symlink_to(found)
    return {**os.environ, "PATH": str(bin_dir)}


@pytest.mark.parametrize(
    ("installed", "chosen"),
    [(("podman", "buildah"), "podman"), (("buildah",), "buildah")],
)
def test_make_docker_builds_with_the_engine_that_is_installed(
    rendered: Mapping[str, Path], tmp_path: Path, installed: tuple[str, ...], chosen: str
) -> None:
    if not all(shutil.which(engine) for engine in installed):
        pytest.skip(f"{' and '.join(installed)} not installed: `make dev` installs them")
    project = rendered["default"]

    result = run(["make", "-n", "docker"], cwd=project, env=engines_only(tmp_path, *installed))

    assert f"with {chosen}." in result.stdout
    assert re.search(rf"^{chosen} build .*--tag churn-model \.$", result.stdout, re.MULTILINE)


def test_make_docker_without_an_engine_fails_and_says_so(
    rendered: Mapping[str, Path], tmp_path: Path
) -> None:
    result = run(
        ["make", "docker"], cwd=rendered["default"], env=engines_only(tmp_path), check=False
    )

    assert result.returncode != 0
    assert "No container engine found: install docker, podman or buildah" in result.stdout


def test_uv_toml_gives_pysparks_metadata_as_its_own_build_does(
    rendered: Mapping[str, Path],
) -> None:
    """uv locks pyspark from uv.toml's copy of its metadata instead of building its
    456 MB archive; the copy must say what the build says. The repository's own
    environment has that build (its dev group installs the kit's spark extra)."""
    built = importlib.metadata.distribution("pyspark")
    for name, project in rendered.items():
        if not (project / "uv.toml").is_file():
            continue
        uv = tomllib.loads((project / "uv.toml").read_text())
        [static] = [m for m in uv["dependency-metadata"] if m["name"] == "pyspark"]
        assert static["version"] == built.version, (
            f"uv.toml ({name}) has pyspark {static['version']}'s metadata, the repository "
            f"locks {built.version}: give uv.toml the metadata of the version the template's "
            "resolution date gives (uv builds any other from its archive)"
        )
        assert static["requires-python"] == built.metadata["Requires-Python"], (
            f"uv.toml ({name}) says pyspark needs Python {static['requires-python']}, its "
            f"build says {built.metadata['Requires-Python']}"
        )
        extras = sorted(built.metadata.get_all("Provides-Extra") or [])
        assert sorted(static["provides-extras"]) == extras, (
            f"uv.toml ({name}) gives pyspark the extras {static['provides-extras']}, its "
            f"build {extras}"
        )
        copied = {str(Requirement(r)) for r in static["requires-dist"]}
        says = {str(Requirement(r)) for r in built.requires or []}
        assert copied == says, (
            f"uv.toml ({name}) gives pyspark requirements its build does not: "
            f"{sorted(copied - says)}; and leaves out {sorted(says - copied)}"
        )
