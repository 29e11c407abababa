"""The first hour on a fresh Debian 12, as a newcomer who reads the README.

The machine is the container test's debootstrapped Debian root (cached), plus what the
README says the two commands need, from Debian: `apt-get install python3 git make
pipx`. A user who is not root runs the README's two commands as written (with the
answers a newcomer would type, passed as flags), then in the new project: a commit
through the git hooks, `make check`, `make train`, `make promote` and `make update`.
Nothing puts uv on PATH: every task must find the uv `make setup` installed with pipx.

The package registries are reached as this machine reaches them (its CA bundle, for
the TLS-inspecting proxy). The newcomer's caches (pip's and uv's downloads) persist
under .tools/fresh-machine/, so only the first run pays for the downloads.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO, run, snapshot_template, tool_env
from tests.slow.test_container import HOST_CA_BUNDLE, Buildah, apt_mirror, base_rootfs, buildah

pytestmark = pytest.mark.slow

__all__ = ["buildah"]  # The container test's fixture: buildah with its own storage.

USER, UID = "newcomer", 1000
HOME = Path("/home") / USER
CACHE = REPO / ".tools" / "fresh-machine" / "cache"
IMAGES = REPO / ".tools" / "images"
VERSION = "1.0.0"
# What a newcomer answers (Debian 12's Python is 3.11; the file registry keeps the
# download small), given as flags since the test has no terminal to type them in.
ANSWERS = "--defaults --data python_version=3.11 --data model_registry=files"
LOCK_MESSAGE = (
    "uv.lock is new: commit it (git add uv.lock), so that every clone, CI and the "
    "image install these exact versions."
)


def readme_commands() -> list[str]:
    """The commands that generate and set up a project, in the README's "Two
    commands" section, as written: its first bash block after the `git clone` of
    the template (which the fixture does)."""
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.DOTALL)
    generate = [block for block in blocks if not block.startswith("git clone ")]
    assert generate, f"the README's Two commands section has no bash block but a clone: {blocks}"
    commands = generate[0].strip().splitlines()
    assert len(commands) == 2, f"not two commands: {commands}"
    return commands


def apt_packages() -> list[str]:
    """What the README says to install with apt for the two commands."""
    found = re.search(r"`sudo apt install ([a-z0-9 .+-]+)`", (REPO / "README.md").read_text())
    assert found, "the README does not say what to install with apt"
    return found.group(1).split()


@dataclass
class Machine:
    """A working container of the fresh machine, where the newcomer runs commands."""

    buildah: Buildah
    name: str
    template: Path

    def run(self, script: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """`script` in bash as the newcomer, from the template clone, as at a terminal."""
        certs = {var: str(HOST_CA_BUNDLE) for var in ("SSL_CERT_FILE", "PIP_CERT")}
        env = {
            "HOME": str(HOME),
            "USER": USER,
            "LANG": "C.UTF-8",
            "UV_PYTHON_DOWNLOADS": "never",  # Debian's Python, as on a machine offline
            **certs,
            "GIT_AUTHOR_NAME": "New Comer",
            "GIT_AUTHOR_EMAIL": "newcomer@example.com",
            "GIT_COMMITTER_NAME": "New Comer",
            "GIT_COMMITTER_EMAIL": "newcomer@example.com",
        }
        return self.buildah(
            "run", "--user", f"{USER}:{USER}", "--network", "host",
            "--volume", f"{HOST_CA_BUNDLE}:{HOST_CA_BUNDLE}:ro",
            "--volume", f"{self.template}:{HOME / 'handoff'}",
            "--volume", f"{CACHE}:{HOME / '.cache'}",
            *(f"--env={key}={value}" for key, value in env.items()),
            "--workingdir", str(HOME / "handoff"), self.name,
            "--", "bash", "-c", f"set -eo pipefail\n{script}", check=check,
        )  # fmt: skip


def fresh_image(buildah: Buildah, context: Path) -> str:
    """The fresh machine's image: the debootstrapped root with the README's apt
    packages (without recommends) and a user. Cached as an OCI archive beside the
    root file system, keyed by suite and packages; returns the image's id."""
    _, suite = apt_mirror()
    packages = apt_packages()
    cached = IMAGES / f"fresh-{suite}-{'-'.join(packages)}.oci.tar"
    if not cached.is_file():
        shutil.copy(base_rootfs(), context / "rootfs.tar")
        (context / "Containerfile").write_text(
            "FROM scratch\nADD rootfs.tar /\n"
            "RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
            f"--no-install-recommends {' '.join(packages)} >/dev/null"
            " && rm -rf /var/lib/apt/lists/*\n"
            f"RUN useradd --create-home --uid {UID} {USER}\n"
        )
        started = time.monotonic()
        buildah.build(context, f"localhost/fresh-{suite}")
        partial = cached.with_suffix(".partial")
        buildah("push", f"localhost/fresh-{suite}", f"oci-archive:{partial}")
        partial.rename(cached)  # Only a complete archive ever has the cached name.
        print(f"fresh machine image: {time.monotonic() - started:.0f} s")
    return buildah("pull", "--quiet", f"oci-archive:{cached}").stdout.strip()


@pytest.fixture(scope="module")
def machine(buildah: Buildah, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Machine]:
    """Debian 12 with python3, git, make and pipx, a user, and a clone of the template
    (this working tree, committed and tagged as a version)."""
    if os.geteuid() != 0:
        pytest.skip("the fresh machine is made and entered as root; run the slow tier as root")
    image = fresh_image(buildah, tmp_path_factory.mktemp("fresh-machine"))
    template = tmp_path_factory.mktemp("clone") / "handoff"
    template.mkdir()
    snapshot_template(template)
    for name in ("README.md", "CHANGELOG.md", "Makefile"):
        shutil.copy2(REPO / name, template / name)
    env = tool_env(template.parent)
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "Handoff"], ["tag", VERSION]):
        run(["git", *command], cwd=template, env=env)
    for path in (template, *template.rglob("*")):
        os.lchown(path, UID, UID)
    CACHE.mkdir(parents=True, exist_ok=True)
    os.chown(CACHE, UID, UID)  # What the newcomer writes there is theirs already.
    name = buildah("from", image).stdout.strip()
    yield Machine(buildah, name, template)
    buildah("rm", name, check=False)


@dataclass
class FirstHour:
    """What each step printed, by step."""

    said: dict[str, str]


@pytest.fixture(scope="module")
def first_hour(machine: Machine) -> FirstHour:
    generate, set_up = readme_commands()
    assert generate.endswith("../my-project"), generate
    said: dict[str, str] = {}
    steps = {
        "no uv": "! command -v uv",
        "README": f"{generate} {ANSWERS}\n{set_up}",
        "commit": "cd ../my-project && git add -A && git commit -m 'Start from the template'",
        "check": "cd ../my-project && make check",
        "train": "cd ../my-project && make train",
        "promote": "cd ../my-project && make promote",
        "update": "cd ../my-project && make update",
        "still no uv": "! command -v uv && cd ../my-project && git status --porcelain",
    }
    for step, script in steps.items():
        started = time.monotonic()
        result = machine.run(script, check=False)
        print(f"{step}: {time.monotonic() - started:.0f} s")
        if result.returncode != 0:
            pytest.fail(
                f"{step} ({shlex.quote(script)}) exited {result.returncode}\n"
                f"--- stdout ---\n{result.stdout[-6000:]}\n--- stderr ---\n{result.stderr[-6000:]}"
            )
        said[step] = result.stdout + result.stderr
    return FirstHour(said)


def test_the_readme_commands_generate_and_set_up_a_project_without_uv_on_path(
    first_hour: FirstHour,
) -> None:
    said = first_hour.said["README"]
    assert "externally-managed-environment" not in said
    assert "uv is not installed: installing uv 0.13.8 with pipx" in said, said[-3000:]
    assert LOCK_MESSAGE in said, "make setup does not say to commit the lock it wrote"
    assert "Ready. Next steps:" in said
    assert f"{HOME}/.local/bin/uv run --quiet --frozen jupyter lab" in said, (
        "the suggested command does not run the uv make setup installed"
    )


def test_the_first_commit_runs_the_git_hooks_from_the_environment(
    first_hour: FirstHour,
) -> None:
    said = first_hour.said["commit"]
    for hook in ("format (black)", "lint (ruff)", "no large files", "no private keys"):
        passed = re.search(rf"^{re.escape(hook)}.*\.+Passed$", said, flags=re.MULTILINE)
        assert passed, f"the hook {hook} did not pass:\n{said}"


def test_check_train_and_promote_pass_on_the_fresh_project(first_hour: FirstHour) -> None:
    assert "Registered my-project version 1 as the new candidate" in first_hour.said["train"]
    assert "Promoted my-project version 1 to champion" in first_hour.said["promote"]


def test_make_update_with_nothing_newer_says_so(first_hour: FirstHour) -> None:
    said = first_hour.said["update"]
    assert f"Already on the newest template version ({VERSION}): nothing to update." in said
    assert "Traceback" not in said
    assert not first_hour.said["still no uv"].strip(), "the first hour left changes in git"
