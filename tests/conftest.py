"""Shared fixtures: render the template once per answer set and session."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import copier
import pytest
import yaml
from filelock import FileLock, Timeout

REPO = Path(__file__).resolve().parents[1]

# The answer sets the tests render, by name. Together they give every value of
# every choice question at least once, and pairs that interact (env manager x
# formatter, ci x env manager) more than once.
ANSWER_SETS: dict[str, dict[str, Any]] = {
    # The defaults, as `copier copy --defaults` gives them.
    "default": {},
    # Every choice away from its default where it matters most for setup.
    "contrast": {
        "formatter": "ruff",
        "example": False,
        "model_registry": "files",
        "ci": "gitlab",
        "python_version": "3.11",
        "license": "Apache-2.0",
    },
    "py313": {
        "formatter": "ruff",
        "python_version": "3.13",
        "license": "Proprietary",
    },
    "conda-github": {
        "env_manager": "conda",
        "ci": "github",
        "python_version": "3.13",
        "model_registry": "files",
        "license": "Proprietary",
    },
    "conda-gitlab": {
        "env_manager": "conda",
        "formatter": "ruff",
        "ci": "gitlab",
        "example": False,
    },
    "no-ci": {
        "ci": "none",
        "example": False,
        "python_version": "3.11",
    },
    # The worked example on Debian bookworm's Python, which the container test's
    # locally made base image provides, with MLflow's registry: the image holds
    # MLflow's client (mlflow-skinny) and still reads the embedded registry, a
    # server and the file registry.
    "container": {
        "python_version": "3.11",
    },
}

# What every answer set has in common: a project name with a space and a
# capital, so slug and package derivations are exercised.
BASE_ANSWERS = {"project_name": "Churn Model"}


def snapshot_template(dst: Path) -> Path:
    """Copy the template's working tree, uncommitted changes included, without git.

    Copier renders a plain folder without cloning it, which keeps the fast tier fast.
    """
    for name in ("copier.yml", "template", "hooks", "cookiecutter"):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, dst / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, dst / name)
    return dst


def write_manifest(repo: Path) -> None:
    """`make manifest` in a template repository (a snapshot's included), as a release
    that changes a template-owned file runs it: every project's manifest lists it."""
    run([sys.executable, "hooks/manifest.py"], cwd=repo)


# Temporary folders that session-scoped fixtures made: they outlive the module that
# first asked for them.
KEPT_FOR_THE_SESSION: set[Path] = set()


def session_temp(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """A temporary folder for a session-scoped fixture: kept until the session ends."""
    path = tmp_path_factory.mktemp(name)
    KEPT_FOR_THE_SESSION.add(path)
    return path


@pytest.fixture(scope="module", autouse=True)
def _delete_what_the_module_made(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Each generated project set up in the slow tier holds its own environment
    (0.2 GB of bytecode with uv's hard links, 1.3 GB where the cache is on another
    file system), and container storage holds gigabytes: what a test module made is
    deleted when the module ends, passed or not, so a run holds a few at a time,
    never the tier's forty. Set HANDOFF_KEEP_TMP=1 to keep them to look into."""
    base = tmp_path_factory.getbasetemp()
    before = set(base.iterdir())
    yield
    if os.environ.get("HANDOFF_KEEP_TMP") == "1":
        return
    for path in set(base.iterdir()) - before - KEPT_FOR_THE_SESSION:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def template_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return snapshot_template(session_temp(tmp_path_factory, "template"))


def render(template: Path, dst: Path, *, exclude: Sequence[str] = (), **answers: Any) -> Path:
    """Generate a project from `template` into `dst`, as `copier copy --defaults` does
    (leaving out the `exclude` patterns, as Copier's `--exclude`)."""
    copier.run_copy(
        str(template),
        dst,
        data={**BASE_ANSWERS, **answers},
        exclude=list(exclude),
        defaults=True,
        unsafe=False,  # Copying must never need --trust.
        quiet=True,
    )
    return dst


def render_once(template: Path, root: Path, name: str) -> None:
    """Render answer set `name` into root/name, unless that is done already."""
    done = root / f"{name}.done"
    if not done.is_file():
        shutil.rmtree(root / name, ignore_errors=True)  # What a failed attempt left.
        render(template, root / name, **ANSWER_SETS[name])
        done.touch()


@pytest.fixture(scope="session")
def rendered(
    template_dir: Path, tmp_path_factory: pytest.TempPathFactory, worker_id: str
) -> Mapping[str, Path]:
    """Every answer set rendered once, by name, for the whole session. xdist's workers
    share the work: each renders the sets no other worker is rendering, then waits for
    the rest. Tests read these projects; one that changes a project changes a copy."""
    base = tmp_path_factory.getbasetemp()
    root = (base if worker_id == "master" else base.parent) / "rendered"
    root.mkdir(exist_ok=True)
    KEPT_FOR_THE_SESSION.add(root)
    busy = []
    for name in ANSWER_SETS:
        try:
            with FileLock(root / f"{name}.lock", timeout=0):
                render_once(template_dir, root, name)
        except Timeout:
            busy.append(name)
    for name in busy:
        with FileLock(root / f"{name}.lock"):
            render_once(template_dir, root, name)
    return {name: root / name for name in ANSWER_SETS}


def format_check(formatter: str) -> list[str]:
    """The project's formatter checking files (named after it), as `make format-check`
    runs it: it shows what it would change and writes nothing into the project."""
    if formatter == "black":
        return ["black", "--check", "--diff"]
    return ["ruff", "format", "--check", "--diff", "--no-cache"]


def project_files(project: Path) -> list[Path]:
    return sorted(p for p in project.rglob("*") if p.is_file())


def answers(project: Path) -> dict[str, Any]:
    """The answers a project was generated with, as Copier recorded them."""
    return yaml.safe_load((project / ".copier-answers.yml").read_text())


# A string, or a comment outside strings: JSON with comments, as VS Code reads it.
JSONC_TOKEN = re.compile(r'("(?:\\.|[^"\\])*")|//[^\n]*|/\*.*?\*/', re.DOTALL)


def read_jsonc(path: Path) -> Any:
    """Parse JSON with comments strictly: comments go, anything else must be plain JSON
    (no trailing commas, no single quotes), which json.loads enforces."""
    text = JSONC_TOKEN.sub(lambda match: match.group(1) or "", path.read_text())
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        pytest.fail(f"{path.name} is not JSON with comments: {error}")


def dockerfile_instructions(path: Path) -> list[str]:
    """A Dockerfile's instructions, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", path.read_text())
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def dockerfile_stage(instructions: list[str], name: str) -> list[str]:
    """The instructions of the stage `FROM ... AS name`, up to the next FROM."""
    starts = [i for i, line in enumerate(instructions) if line.startswith("FROM")]
    named = [i for i in starts if instructions[i].endswith(f" AS {name}")]
    if not named:
        pytest.fail(f"the Dockerfile has no stage {name!r}")
    end = next((i for i in starts if i > named[0]), len(instructions))
    return instructions[named[0] : end]


# --- Running tools the way a user would ------------------------------------------


def tool_env(home: Path) -> dict[str, str]:
    """Environment for commands run inside generated projects.

    Git identity and config are isolated; the Jupyter kernel goes to a temporary
    data dir; uv never tries to download an interpreter (this machine is offline),
    and pyenv exposes every installed Python so uv finds python3.12 and 3.13.
    """
    # What a user's shell would not have: git's and uv's variables (`uv run` sets UV
    # to itself), the outer make's (MAKELEVEL makes a project's make a sub-make), and
    # this machine's PYTHONDONTWRITEBYTECODE (with it, `make setup` compiles the whole
    # environment: 12,000 files, 20 s of CPU and 0.2 GB per project; a fast test
    # covers that path).
    outer = ("GIT_", "VIRTUAL_ENV", "UV_", "MAKE", "MFLAGS")
    dropped = ("UV", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if k not in dropped and not k.startswith(outer)}
    env.update(
        GIT_CONFIG_GLOBAL=str(home / "gitconfig"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Handoff Test",
        GIT_AUTHOR_EMAIL="test@example.com",
        GIT_COMMITTER_NAME="Handoff Test",
        GIT_COMMITTER_EMAIL="test@example.com",
        JUPYTER_DATA_DIR=str(home / "jupyter"),
        UV_PYTHON_DOWNLOADS="never",
    )
    if shutil.which("pyenv"):
        versions = subprocess.run(
            ["pyenv", "versions", "--bare"], capture_output=True, text=True, check=True
        ).stdout.split()
        env["PYENV_VERSION"] = ":".join(v for v in versions if v.startswith("3.1"))
    (home / "gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    return env


def run(
    args: list[str], cwd: Path, env: Mapping[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run a command; on an unexpected exit, fail with its output in the message."""
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        pytest.fail(
            f"`{' '.join(args)}` exited {result.returncode} in {cwd}\n"
            f"--- stdout ---\n{result.stdout[-6000:]}\n--- stderr ---\n{result.stderr[-6000:]}"
        )
    return result


# --- Generated projects, set up for real (slow tier) ----------------------------


@dataclass
class Project:
    """A generated project, git-initialised and set up as a user would have it."""

    path: Path
    env: dict[str, str]

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run(list(args), cwd=self.path, env=self.env, check=check)

    def make(self, *targets: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("make", "--no-print-directory", *targets, check=check)

    def commit(self, message: str) -> None:
        """Commit everything through the project's git hooks, as a user does: when a
        hook rewrites files (the formatter, the derived documents), add them and
        commit again; the second attempt must pass."""
        self.run("git", "add", "-A")
        if self.run("git", "commit", "-q", "-m", message, check=False).returncode != 0:
            self.run("git", "add", "-A")
            self.run("git", "commit", "-q", "-m", message)

    def restore(self) -> None:
        """Undo every uncommitted change, staged or not (ignored files such as .venv stay)."""
        self.run("git", "reset", "-q", "--hard")
        self.run("git", "clean", "-fdq")


@pytest.fixture(scope="session")
def set_up_project(
    template_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Project]:
    """Generate, `git init`, commit and `make setup` a named answer set, once per session."""
    projects: dict[str, Project] = {}

    def get(name: str) -> Project:
        if name not in projects:
            root = session_temp(tmp_path_factory, f"project-{name}")
            projects[name] = new_project(template_dir, root, ANSWER_SETS[name])
        return projects[name]

    return get


def new_project(template: Path, root: Path, given: Mapping[str, Any]) -> Project:
    """Generate into `root`/project, then `git init`, commit and `make setup` as a user would."""
    project = Project(render(template, root / "project", **given), tool_env(root))
    project.run("git", "init", "-q")
    project.commit("Start from the Handoff template")
    project.make("setup")
    project.commit("Lock the environment")
    return project
