"""What an update costs beside a fresh copy: no more than Copier's own floor.

`copier update` renders the old and the new version beside the project, clones the
template for each and diffs them with git: about 1.75 times the work of a fresh copy
for any template. The floor is a template of the same files, verbatim (no Jinja, no
question); ours may cost more than it in absolute terms, but an update of ours must
not cost more, relative to a fresh copy, than an update of the floor does (tasks,
migrations or a heavy tree would). CPU time of the processes, not wall time, so a busy
machine does not decide the verdict. bench/run.py reports the wall times.
"""

from __future__ import annotations

import resource
import shutil
import statistics
import sys
from pathlib import Path

import pytest

from tests.conftest import Project, run, tool_env
from tests.slow.test_update import NEW, OLD, generate, git, older_template

pytestmark = pytest.mark.slow

COPIER = [sys.executable, "-m", "copier"]
CHANGED = Path("template/standards/ruff-research.toml")
# Slack over the floor's ratio for the noise of a loaded machine: idle here, ours is
# 0.9x the floor's; a task or a migration in an update would be several times it.
MARGIN = 1.25
RUNS = 5


def cpu_seconds(args: list[str], cwd: Path, env: dict[str, str]) -> float:
    """The CPU time (user + system) `args` and the processes it waited for took."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    run(args, cwd=cwd, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def release_a_changed_standard(repo: Path) -> None:
    with (repo / CHANGED).open("a") as standard:
        standard.write("# 1.1.0: a changed standard.\n")
    git(repo, "commit", "-qam", f"Handoff {NEW}")
    git(repo, "tag", NEW)


def floor_of(project: Path, root: Path) -> Path:
    """A template of `project`'s files verbatim, tagged OLD, plus its own answers file."""
    repo = root / "floor"
    shutil.copytree(project, repo / "template", ignore=shutil.ignore_patterns(".git"))
    (repo / "template" / ".copier-answers.yml").unlink()
    answers = repo / "template" / "{{ _copier_conf.answers_file }}.jinja"
    answers.write_text("{{ _copier_answers | to_nice_yaml }}")
    (repo / "copier.yml").write_text("_subdirectory: template\n")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", f"Floor {OLD}")
    git(repo, "tag", OLD)
    return repo


def update_and_copy(
    repo: Path, project: Project, scratch: Path, attempt: int
) -> tuple[float, float]:
    """The CPU time of an update of `project` from OLD to NEW, and of a fresh copy."""
    update = cpu_seconds([*COPIER, "update", "--defaults", "--quiet"], project.path, project.env)
    project.restore()
    target = scratch / f"{repo.name}-copy-{attempt}"
    copy = [*COPIER, "copy", "--defaults", "--quiet", "--vcs-ref", NEW, str(repo), str(target)]
    return update, cpu_seconds(copy, scratch, project.env)


def update_over_copy(pairs: list[tuple[Path, Project]], scratch: Path) -> list[float]:
    """For each (template, project): the median over RUNS of an update's CPU time over
    that of the fresh copy made right after it. Each update is paired with its own copy
    and the templates take turns, so a change in the machine's load (CI runs another
    test beside this one) falls on both sides of a ratio and on both templates alike."""
    samples: list[list[tuple[float, float]]] = [[] for _ in pairs]
    for attempt in range(RUNS):
        for (repo, project), taken in zip(pairs, samples, strict=True):
            taken.append(update_and_copy(repo, project, scratch, attempt))
    for (repo, _), taken in zip(pairs, samples, strict=True):
        print(f"{repo.name}: " + ", ".join(f"update {u:.1f} s, copy {c:.1f} s" for u, c in taken))
    return [statistics.median(u / c for u, c in taken) for taken in samples]


def test_an_update_costs_no_more_beside_a_fresh_copy_than_one_of_copiers_floor(
    tmp_path: Path,
) -> None:
    (tmp_path / "ours").mkdir()
    repo = older_template(tmp_path / "ours")
    project = generate(repo, tmp_path / "ours" / "project")
    floor = floor_of(project.path, tmp_path)
    floor_project = Project(tmp_path / "floor-project", tool_env(tmp_path))
    copy = [*COPIER, "copy", "--defaults", "--quiet", "--vcs-ref", OLD, str(floor)]
    run([*copy, str(floor_project.path)], cwd=tmp_path, env=floor_project.env)
    floor_project.run("git", "init", "-q")
    floor_project.commit(f"Start from floor {OLD}")
    release_a_changed_standard(repo)
    release_a_changed_standard(floor)

    ours, copiers = update_over_copy([(repo, project), (floor, floor_project)], tmp_path)

    assert ours <= copiers * MARGIN, (
        f"an update costs {ours:.2f}x a fresh copy of Handoff, but {copiers:.2f}x for "
        "Copier's floor: something of ours (a task, a migration, a big tree) adds to it"
    )
