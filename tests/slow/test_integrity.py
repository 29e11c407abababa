"""The gate judges by the template's rules, not by the project's copy of them.

One generated project, set up once; each test changes it the way a team under
deadline would, asserts what `make check`, the gate and CI's re-render say, and
puts the project back.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Iterator

import pytest
import yaml

from tests.conftest import Project

pytestmark = pytest.mark.slow

GATE = "standards/handoff-kit/src/handoff_kit/gate.py"
EXIT_STATUS = "return 0 if all(result.passed for result in results) else 1"
TASKS = "standards/tasks.mk"
LARGE_FILES = "--maxkb=1000 "
MANIFEST = "standards/template-owned.sha256"
INTEGRITY = "standards/handoff-kit/src/handoff_kit/integrity.py"
COMPARED = "return found + extras(root, owned)"
# Copier from this repository's environment, as tests/slow/test_update.py runs it.
COPIER = f"{sys.executable} -m copier"


@pytest.fixture(scope="module")
def set_up(set_up_project: Callable[[str], Project]) -> Project:
    return set_up_project("default")


@pytest.fixture
def project(set_up: Project) -> Iterator[Project]:
    """The set-up project, put back as committed after each test."""
    yield set_up
    set_up.restore()


def replace_once(project: Project, name: str, old: str, new: str) -> None:
    path = project.path / name
    text = path.read_text()
    assert text.count(old) == 1, f"{name}: expected {old!r} once"
    path.write_text(text.replace(old, new))


def handoff(project: Project, *args: str) -> tuple[int, str]:
    """The kit's command, as CI runs it: its exit status and all it said."""
    done = project.run("uv", "run", "--frozen", "handoff", *args, check=False)
    return done.returncode, done.stdout + done.stderr


def row(output: str, title: str) -> str:
    """The report's row for the gate `title`."""
    found = [line for line in output.splitlines() if line.startswith(f"| {title} |")]
    assert found, f"no row {title!r} in:\n{output}"
    return found[0]


def test_an_edited_kit_file_fails_make_check_and_the_gate_and_restore_puts_it_back(
    project: Project,
) -> None:
    # The report says FAIL, the exit status says success: the gate's own shortcut.
    replace_once(project, GATE, EXIT_STATUS, "return 0")

    checked = project.make("check", check=False)
    _, gated = handoff(project, "gate", "--only", "standards")

    assert checked.returncode != 0, "make check passes with an edited kit"
    assert f"{GATE}: edited" in checked.stdout, f"make check does not name it:\n{checked.stdout}"
    assert f"| FAIL | {GATE}: edited" in row(gated, "Template-owned files unchanged")
    assert "`make restore-standards`" in gated, "the report does not give the way out"

    restored = project.make("restore-standards", f"COPIER={COPIER}", check=False)

    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert f"Restored {GATE}" in restored.stdout
    assert not project.run("git", "status", "--porcelain").stdout, "restore left a change"
    checked = project.make("check", check=False)
    assert checked.returncode == 0, f"make check fails after the restore:\n{checked.stdout[-3000:]}"


def test_a_raised_large_file_limit_in_the_shared_tasks_fails_naming_the_file(
    project: Project,
) -> None:
    replace_once(project, TASKS, LARGE_FILES, "--maxkb=100000 ")

    checked = project.make("check", check=False)
    status, gated = handoff(project, "gate", "--only", "standards")

    assert checked.returncode != 0, "make check passes with a raised large-file limit"
    assert f"{TASKS}: edited" in checked.stdout
    assert status == 1, f"the gate passes:\n{gated}"
    assert f"{TASKS}: edited" in row(gated, "Template-owned files unchanged")


def add_to_makefile(project: Project, text: str) -> int:
    """Append `text` to the project's Makefile; the number of lines it had before."""
    makefile = project.path / "Makefile"
    lines = len(makefile.read_text().splitlines())
    with makefile.open("a") as own:
        own.write(text)
    return lines


def test_a_makefile_recipe_for_handoff_fails_naming_the_target_and_its_line(
    project: Project,
) -> None:
    lines = add_to_makefile(project, "\nhandoff:\n\t@echo 'All gates passed.'\n")

    checked = project.make("check", check=False)
    status, gated = handoff(project, "gate", "--only", "overrides")

    said = f"Makefile:{lines + 3} overrides the standard target `handoff`"
    assert checked.returncode != 0, "make check passes with an overridden handoff target"
    assert said in checked.stdout, f"make check does not say so:\n{checked.stdout}"
    assert status == 1, f"the gate passes:\n{gated}"
    assert said in row(gated, "Standard targets not overridden")


def test_a_makefile_that_turns_the_tools_into_true_fails_the_gate_naming_its_line(
    project: Project,
) -> None:
    # Every standard task runs its tool through $(RUN): set to `true`, each passes.
    lines = add_to_makefile(project, "\nRUN = true\n")

    status, gated = handoff(project, "gate", "--only", "overrides")

    assert status == 1, f"the gate passes with RUN = true:\n{gated}"
    assert f"Makefile:{lines + 2} sets RUN, which standards/uv.mk:" in row(
        gated, "Standard targets not overridden"
    )


def test_a_new_target_and_a_new_prerequisite_of_check_pass(project: Project) -> None:
    add_to_makefile(
        project,
        "\nreport-size: ## How big the reports are.\n\t@du -sh reports\n\ncheck: report-size\n",
    )

    checked = project.make("standards", check=False)
    status, gated = handoff(project, "gate", "--only", "standards", "--only", "overrides")

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert status == 0, gated


def test_an_edited_file_with_its_manifest_passes_offline_and_fails_the_re_render(
    project: Project,
) -> None:
    replace_once(project, TASKS, LARGE_FILES, "--maxkb=100000 ")
    edited = hashlib.sha256((project.path / TASKS).read_bytes()).hexdigest()
    replace_once(project, MANIFEST, f"{recorded_hash(project)}  {TASKS}", f"{edited}  {TASKS}")

    offline = project.make("standards", check=False)
    status, rendered = handoff(project, "standards", "--rerender", "--copier", COPIER)

    assert offline.returncode == 0, "the offline row sees an edit the manifest covers"
    assert status == 1, f"the re-render passes an edited file and manifest:\n{rendered}"
    assert f"{TASKS}: edited" in rendered
    assert f"{MANIFEST}: edited" in rendered
    shown = [line.strip() for line in rendered.splitlines()]
    assert any(line.startswith("-") and "--maxkb=1000 " in line for line in shown), rendered
    assert any(line.startswith("+") and "--maxkb=100000 " in line for line in shown), (
        f"the re-render does not show the differing line:\n{rendered}"
    )


def recorded_hash(project: Project, path: str = TASKS) -> str:
    """The hash the manifest records for `path` (the shared tasks by default)."""
    for line in (project.path / MANIFEST).read_text().splitlines():
        digest, _, name = line.partition("  ")
        if name == path:
            return digest
    pytest.fail(f"{MANIFEST} does not list {path}")


def ci_rerender(project: Project) -> tuple[int, str]:
    """CI's re-render step, run as the workflow runs it (bash -e): status and output."""
    workflow = yaml.safe_load((project.path / ".github/workflows/check.yml").read_text())
    [script] = [
        step["run"]
        for job in workflow["jobs"].values()
        for step in job["steps"]
        if step.get("name", "").startswith("Template-owned files are the template's")
    ]
    done = project.run("bash", "-e", "-c", script, check=False)
    return done.returncode, done.stdout + done.stderr


def test_ci_re_render_fails_an_edited_kit_that_passes_its_own_checks(project: Project) -> None:
    # The kit's comparison made blind, and the manifest given the edited file's hash:
    # every check the kit runs now passes, its own re-render included.
    replace_once(project, INTEGRITY, COMPARED, "return []")
    edited = hashlib.sha256((project.path / INTEGRITY).read_bytes()).hexdigest()
    replace_once(
        project,
        MANIFEST,
        f"{recorded_hash(project, INTEGRITY)}  {INTEGRITY}",
        f"{edited}  {INTEGRITY}",
    )
    kit_status, kit_said = handoff(project, "standards", "--rerender", "--copier", COPIER)
    assert kit_status == 0, f"the blinded kit still sees the edit:\n{kit_said}"

    status, said = ci_rerender(project)

    assert status != 0, f"CI's re-render passes an edited kit and manifest:\n{said}"
    assert f"{INTEGRITY}: FAILED" in said, said
    assert f"{MANIFEST}: FAILED" in said, said
    assert "make restore-standards" in said, said


def test_ci_re_render_passes_the_project_as_generated(project: Project) -> None:
    status, said = ci_rerender(project)

    assert status == 0, f"CI's re-render fails an untouched project:\n{said}"
