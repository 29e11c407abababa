"""A small fleet through template versions: updates lose nothing and conflict nowhere.

Six projects, with varied answers and names, each edited the way a team does (its own
code and test in package/, a script and a notebook title in research/, a line in the
README, a lint override, a dependency and a dev dependency in pyproject.toml, a uv
setting in uv.toml, a task in the Makefile, an exclusion in research/ruff.toml), take two
throwaway template versions (tags this test makes, as test_update does) that change the
template-owned lines right next to those edits, among them a rename of the standard
research/ruff.toml extends, a moved resolution date and a changed tool requirement. No
line is changed by both sides, so any conflict is a spurious one.

Cost: the updates and `make setup`/`make check` run two projects at a time (the
reference machine has two cores), and `make setup` runs once per project, after the
last update, as a team would after taking them; uv's cache is the user's, shared.
"""

from __future__ import annotations

import re
import sys
import tomllib
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import copier
import pytest

from tests.conftest import ANSWER_SETS, BASE_ANSWERS, REPO, Project, answers, run, write_manifest
from tests.fast.test_ownership import lint_research_code
from tests.slow.test_update import (
    E501_BEFORE,
    E501_TEMPLATE,
    NEW,
    NEW_FUNCTION,
    NEW_RULE,
    NEWEST,
    generate,
    git,
    leftovers,
    older_template,
    replace_once,
)

pytestmark = pytest.mark.slow

T = TypeVar("T")

# Varied names (short, with a digit, with punctuation) on every uv answer set, fixed
# for reproducibility; conda needs channels this machine cannot reach.
FLEET: dict[str, dict[str, Any]] = {
    "credit": {**ANSWER_SETS["default"], "project_name": "Credit Scoring"},
    "proj": {**ANSWER_SETS["contrast"], "project_name": "proj"},
    "ads": {**ANSWER_SETS["py313"], "project_name": "Ad Click Model"},
    "demand": {**ANSWER_SETS["no-ci"], "project_name": "Demand Forecast 2"},
    "inventory": {
        **ANSWER_SETS["container"],
        "model_registry": "files",
        "project_name": "Inventory Planner",
    },
    "price": {
        "project_name": "Price Elasticity (EU)",
        "description": "How demand in the EU answers to price changes.",
        "formatter": "ruff",
        "model_registry": "files",
        "license": "Apache-2.0",
    },
}

# --- The project's edits -------------------------------------------------------------

RESEARCH_SCRIPT = '"""Scratch work: a quick look at a number."""\n\nimport math\n\nprint(math.pi)\n'
MAKE_TARGET = (
    "\n# This project's own task.\n"
    "squad: ## Say which squad owns this project.\n"
    '\t@echo "The retention squad."\n'
)
# A project line in the linter's settings that loosens no rule (an ignore would need a
# waiver in [tool.handoff.waivers]).
LINT_OVERRIDE = 'lint.pydocstyle.convention = "google"  # Our docstrings follow Google\'s style.'
RESEARCH_EXCLUDE = 'extend-exclude = ["scratch/"]  # Throwaway work stays unlinted.'
DEPENDENCY = '    "joblib>=1.4",  # Our model cache.'
DEV_DEPENDENCY = '    "types-pyyaml>=6.0",  # Stubs for our config loader.'
UV_SETTING = "concurrent-downloads = 4  # Our build agents share a small link."
README_LINE = "Owned by the retention squad."


def label_test(package: str) -> str:
    return (
        '"""The project\'s own labels."""\n\n'
        f"from {package}.model import churn_label\n\n\n"
        "def test_a_probability_at_the_threshold_is_churn() -> None:\n"
        '    assert churn_label(0.5) == "churn"\n'
        '    assert churn_label(0.49) == "stay"\n'
    )


def edit_as_the_team(project: Path) -> None:
    """The team's everyday edits, next to the template's lines in each file."""
    given = answers(project)
    package = given["package_name"]
    with (project / "package" / "src" / package / "model.py").open("a") as module:
        module.write(NEW_FUNCTION)
    (project / "package" / "tests" / "test_labels.py").write_text(label_test(package))

    (project / "research" / "fleet_scratch.py").write_text(RESEARCH_SCRIPT)
    for notebook in (project / "research" / "notebooks").glob("*.ipynb"):
        text = notebook.read_text()
        title = text.index('"# ') + len('"# ')
        notebook.write_text(text[:title] + "Our own take on " + text[title:])
    with (project / "research" / "ruff.toml").open("a") as config:
        config.write(RESEARCH_EXCLUDE + "\n")

    description = given["description"]
    replace_once(project / "README.md", description, f"{description}\n\n{README_LINE}")
    pyproject = project / "pyproject.toml"
    ruff_extend = 'extend = "standards/ruff.toml"\n'
    replace_once(pyproject, ruff_extend, f"{ruff_extend}{LINT_OVERRIDE}\n")
    replace_once(
        pyproject, '    "scikit-learn>=1.6",\n', f'    "scikit-learn>=1.6",\n{DEPENDENCY}\n'
    )
    # Right below the template's one line of the dev group, which names the kit's extras.
    tools = re.search(r'^    "handoff-kit\[dev[\w,-]*\]",\n', pyproject.read_text(), re.MULTILINE)
    assert tools, "pyproject.toml's dev group does not name the kit's extras"
    replace_once(pyproject, tools.group(), f"{tools.group()}{DEV_DEPENDENCY}\n")
    with (project / "uv.toml").open("a") as settings:
        settings.write(UV_SETTING + "\n")
    with (project / "Makefile").open("a") as makefile:
        makefile.write(MAKE_TARGET)


# What the edits put in each file, line by line: none may go missing.
def added_lines(package: str) -> dict[str, list[str]]:
    return {
        f"package/src/{package}/model.py": NEW_FUNCTION.strip().splitlines(),
        "package/tests/test_labels.py": label_test(package).splitlines(),
        "research/fleet_scratch.py": RESEARCH_SCRIPT.splitlines(),
        "research/ruff.toml": [RESEARCH_EXCLUDE],
        "README.md": [README_LINE],
        "pyproject.toml": [LINT_OVERRIDE, DEPENDENCY, DEV_DEPENDENCY],
        "uv.toml": [UV_SETTING],
        "Makefile": MAKE_TARGET.strip().splitlines(),
    }


# --- The template's versions ---------------------------------------------------------

RESEARCH_OLD, RESEARCH_NEW = "standards/ruff-research.toml", "standards/research/ruff.toml"
RESEARCH_RULE = '    "T10",  # No debugger calls left behind.'
RESEARCH_RULE_NEWEST = '    "EXE",  # Scripts run with `python`, not as executables.'
STUB = (
    "# Moved to standards/research/ruff.toml; research/ruff.toml extends this path,\n"
    "# which stays.\n"
    'extend = "research/ruff.toml"\n'
)
HELP_BEFORE = "help: ## Show this list of tasks."
HELP_AFTER = "help: ## Show this list of tasks, the project's own included."
PL_BEFORE = '    "PL",   # pylint'
PL_AFTER = '    "PL",   # pylint\'s checks'
NEW_TARGET = (
    "\n# The template version this project is on.\n"
    "template-version: ## Print the template version this project was last updated to.\n"
    "\t@sed -n 's/^_commit: //p' .copier-answers.yml\n"
)
KIT_NOTE = "Kit note of 1.1.0: the fleet's kit change.\n"
# uv's resolution date as the template has it, and 1.1.0's: a day later.
TEMPLATE_DATE = tomllib.loads(next((REPO / "template").glob("*uv.toml*")).read_text())[
    "exclude-newer"
]
DATE_BEFORE = f'exclude-newer = "{TEMPLATE_DATE}"'
NEXT_DAY = datetime.fromisoformat(TEMPLATE_DATE) + timedelta(days=1)
DATE_AFTER = f'exclude-newer = "{NEXT_DAY:%Y-%m-%dT%H:%M:%SZ}"'
STUBS_BEFORE, STUBS_AFTER = '    "pandas-stubs>=2.2",', '    "pandas-stubs>=3.0",'


def release(repo: Path, tag: str, change: Callable[[Path], None]) -> None:
    change(repo / "template")
    write_manifest(repo)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", f"Handoff {tag}")
    git(repo, "tag", tag)


def version_new(template: Path) -> None:
    """1.1.0: a changed and a new lint rule, the research standard moved (a stub stays
    at its old path), a task's help reworded, the kit changed (a tool's requirement
    among it), uv's resolution date moved."""
    standards = template / "standards"
    replace_once(standards / "ruff.toml.jinja", E501_BEFORE, E501_TEMPLATE)
    replace_once(standards / "ruff.toml.jinja", '    "TID",', f'{NEW_RULE}\n    "TID",')
    moved = template / RESEARCH_NEW
    moved.parent.mkdir()
    (template / RESEARCH_OLD).rename(moved)
    replace_once(moved, 'extend = "ruff.toml"', 'extend = "../ruff.toml"')
    last_rule = '    "F82",  # undefined names'
    replace_once(moved, last_rule, f"{last_rule}\n{RESEARCH_RULE}")
    (template / RESEARCH_OLD).write_text(STUB)
    replace_once(template / "STANDARDS.md.jinja", RESEARCH_OLD, RESEARCH_NEW)
    replace_once(standards / "tasks.mk.jinja", HELP_BEFORE, HELP_AFTER)
    with (standards / "handoff-kit" / "README.md").open("a") as readme:
        readme.write("\n" + KIT_NOTE)
    replace_once(standards / "handoff-kit" / "pyproject.toml", STUBS_BEFORE, STUBS_AFTER)
    replace_once(next(template.glob("*uv.toml*")), DATE_BEFORE, DATE_AFTER)


def version_newest(template: Path) -> None:
    """1.2.0: the moved standard and the package standard change again, a new task."""
    moved = template / RESEARCH_NEW
    replace_once(moved, RESEARCH_RULE, f"{RESEARCH_RULE}\n{RESEARCH_RULE_NEWEST}")
    replace_once(template / "standards" / "ruff.toml.jinja", PL_BEFORE, PL_AFTER)
    with (template / "standards" / "tasks.mk.jinja").open("a") as tasks:
        tasks.write(NEW_TARGET)


# What each version brings, by file: every line must arrive.
ARRIVED = {
    "standards/ruff.toml": [E501_TEMPLATE, NEW_RULE, PL_AFTER],
    RESEARCH_NEW: [RESEARCH_RULE, RESEARCH_RULE_NEWEST],
    RESEARCH_OLD: STUB.splitlines(),
    "standards/tasks.mk": [HELP_AFTER, *NEW_TARGET.strip().splitlines()],
    "standards/handoff-kit/README.md": [KIT_NOTE.strip()],
    "standards/handoff-kit/pyproject.toml": [STUBS_AFTER],
    "uv.toml": [DATE_AFTER],
}


# --- The fleet -----------------------------------------------------------------------


def two_at_a_time(work: Callable[[T], Any], items: Iterable[T]) -> list[Any]:
    """Run `work` on every item, two at a time (failures are raised, in order)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(work, items))


@dataclass
class Fleet:
    repo: Path
    projects: dict[str, Project]
    updates: dict[str, list[str]]  # Copier's output, per project and update.
    checked: dict[str, Any]  # `make check` per project.


def update(project: Project) -> str:
    """`copier update --defaults` (no migration, so no --trust), then commit the result."""
    done = project.run(sys.executable, "-m", "copier", "update", "--defaults", check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"copier update failed in {project.path}:\n{output[-4000:]}"
    assert not leftovers(project.path), f"{project.path}: conflicts {leftovers(project.path)}"
    assert not project.run("git", "ls-files", "--unmerged").stdout, "unmerged files in the index"
    project.commit(f"Take Handoff {answers(project.path)['_commit']}")
    return output


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    root = tmp_path_factory.mktemp("fleet")
    repo = older_template(root)
    projects = {
        name: generate(repo, root / name / "project", **given) for name, given in FLEET.items()
    }
    for project in projects.values():
        edit_as_the_team(project.path)
        project.commit("Our own work")
    updates: dict[str, list[str]] = {name: [] for name in projects}
    for tag, change in ((NEW, version_new), (NEWEST, version_newest)):
        release(repo, tag, change)
        for name, output in zip(projects, two_at_a_time(update, projects.values()), strict=True):
            updates[name].append(output)

    def set_up_and_check(project: Project) -> Any:
        project.make("setup")
        return project.make("check", check=False)

    checked = dict(zip(projects, two_at_a_time(set_up_and_check, projects.values()), strict=True))
    return Fleet(repo, projects, updates, checked)


# --- Tests ---------------------------------------------------------------------------


def test_the_fleet_took_both_versions_without_a_conflict(fleet: Fleet) -> None:
    for name, project in fleet.projects.items():
        assert answers(project.path)["_commit"] == NEWEST, f"{name} is not on {NEWEST}"
        assert not leftovers(project.path), f"{name}: conflicts in {leftovers(project.path)}"
        for output in fleet.updates[name]:
            assert "conflict" not in output.lower(), (
                f"{name}: Copier reported a conflict:\n{output}"
            )


def test_no_project_line_is_lost(fleet: Fleet) -> None:
    for name, project in fleet.projects.items():
        for path, lines in added_lines(answers(project.path)["package_name"]).items():
            text = (project.path / path).read_text().splitlines()
            missing = [line for line in lines if line not in text]
            assert not missing, f"{name}: the updates lost {missing} from {path}"


def test_every_template_change_arrived(fleet: Fleet) -> None:
    for name, project in fleet.projects.items():
        for path, lines in ARRIVED.items():
            text = (project.path / path).read_text().splitlines()
            missing = [line for line in lines if line not in text]
            assert not missing, f"{name}: {missing} did not arrive in {path}"
        said = project.make("template-version").stdout.strip()
        assert said == NEWEST, f"{name}: the new shared task says {said!r}, not {NEWEST}"
        lock = tomllib.loads((project.path / "uv.lock").read_text())
        assert f'exclude-newer = "{lock["options"]["exclude-newer"]}"' == DATE_AFTER, (
            f"{name}: the lock was not resolved as of the moved date"
        )


def test_the_renamed_standard_still_lints_research_through_the_stub(fleet: Fleet) -> None:
    for name, project in fleet.projects.items():
        linted = lint_research_code(["uv", "run", "--frozen", "ruff"], project.path, project.env)
        assert "T100" in linted.stdout, (
            f"{name}: research/ does not get the moved standard's new rule:\n{linted.stdout}"
            f"{linted.stderr}"
        )


def test_an_updated_project_equals_a_fresh_copy_of_the_newest_version_with_its_edits(
    fleet: Fleet, tmp_path: Path
) -> None:
    for name, project in fleet.projects.items():
        fresh = tmp_path / name
        copier.run_copy(
            str(fleet.repo),
            fresh,
            data={**BASE_ANSWERS, **FLEET[name]},
            vcs_ref=NEWEST,
            defaults=True,
            quiet=True,
        )
        edit_as_the_team(fresh)
        tracked = set(run(["git", "ls-files"], cwd=project.path).stdout.splitlines())
        copied = {p.relative_to(fresh).as_posix() for p in fresh.rglob("*") if p.is_file()}
        assert tracked - {"uv.lock"} == copied, (
            f"{name}: only after the updates {sorted(tracked - copied)}, "
            f"only in a fresh copy {sorted(copied - tracked)}"
        )
        differ = [
            path
            for path in sorted(copied)
            if (project.path / path).read_bytes() != (fresh / path).read_bytes()
        ]
        assert not differ, (
            f"{name}: {differ} differ from a fresh copy of {NEWEST} with the same edits"
        )


def test_make_check_passes_in_every_project_after_the_updates(fleet: Fleet) -> None:
    failed = {
        name: f"{result.stdout[-3000:]}\n{result.stderr[-1500:]}"
        for name, result in fleet.checked.items()
        if result.returncode != 0
    }
    assert not failed, "make check fails after the updates in " + "\n\n".join(
        f"{name}:\n{output}" for name, output in failed.items()
    )
