"""Adopting existing repositories (tests/adopt_shapes.py builds them): the audit
writes only ADOPTION.md, the same bytes twice; `--apply` keeps history, reaches a
green `make check` with the debt baseline, refuses new debt, shrinks with fixes,
and takes a later template version with `make update` as a project made by
`copier copy` does.

Each of the three shapes is adopted once, end to end (history, make check, make
handoff); the cookiecutter-data-science one then takes the debt and update tests.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.adopt_shapes import build
from tests.conftest import Project, run, tool_env, write_manifest
from tests.slow.test_update import OLD, git, older_template

pytestmark = pytest.mark.slow

NEW = "1.1.0"
HANDOFF = [sys.executable, "-m", "handoff_kit"]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template as this working tree has it, released as 1.0.0."""
    return older_template(tmp_path_factory.mktemp("template"))


def shape(name: str, root: Path) -> Project:
    env = tool_env(root)
    return Project(build(name, root / name, env), env)


def adopt(project: Project, template: Path, *more: str, check: bool = True):
    return project.run(
        *HANDOFF, "adopt", str(project.path), "--template", str(template), *more, check=check
    )


def test_the_audit_writes_only_its_report_the_same_bytes_twice(
    template: Path, tmp_path: Path
) -> None:
    flat = shape("flat", tmp_path)
    adopt(flat, template)
    first = (flat.path / "ADOPTION.md").read_bytes()
    assert flat.run("git", "status", "--porcelain").stdout == "?? ADOPTION.md\n", (
        "the audit wrote something besides ADOPTION.md"
    )
    adopt(flat, template)
    assert (flat.path / "ADOPTION.md").read_bytes() == first, "a second audit differs"
    report = first.decode()
    for expected in [
        "| project_name | `fraud-detector` | setup.py setup(name=...) |",
        "| package_name | `fraud` | setup.py setup(packages=...) |",
        "| python_version | `3.11` |",
        "| `fraud/model.py` | `package/src/fraud/model.py` | package code |",
        "| `analysis.ipynb` | `research/notebooks/analysis.ipynb` | notebook |",
        "| `train.py` | `research/scripts/train.py` | scratch code |",
        "| `transactions.csv` | `data/transactions.csv` | data (untracked) |",
        "| `test_fraud.py` | `package/tests/test_fraud.py` | tests |",
        "- notebooks with outputs in git: 2",
        "data/catalog/transactions.yml",
    ]:
        assert expected in report, f"ADOPTION.md lacks {expected!r}:\n{report}"
    assert "`package/src/fraud/training.py`" in report, (
        "the template's training module, which imports what the team's model.py lacks, "
        "is named as not written"
    )


@dataclass(frozen=True)
class Shape:
    """What one repository shape's adoption must show."""

    moved: dict[str, str]  # A moved notebook and module -> a commit of their history.
    audit: list[str]  # Lines its ADOPTION.md holds.
    steps: list[str]  # What its handoff report names as left to do.
    debt: str  # A line of the report's debt section.
    retired: list[str]  # What pyproject.toml and uv.lock replace: gone, in history.


SHAPES = {
    "flat": Shape(
        moved={
            "research/notebooks/analysis.ipynb": "First model",
            "package/src/fraud/model.py": "First model",
        },
        audit=["pyproject.toml: [project] version 0.3.0, from the team's metadata"],
        steps=[
            "Write the contract: package/src/fraud/contracts/ is still the template's",
            "Connect training: package/src/fraud/training.py is missing",
            "Write the acceptance scenarios",
            "Describe the data source `transactions` in data/catalog/transactions.yml",
        ],
        debt="- ruff: `package/src/fraud/model.py`: ANN001 x2, ANN201 x1",
        retired=["requirements.txt", "setup.py"],
    ),
    "poetry": Shape(
        moved={
            "research/notebooks/forecast.ipynb": "Tests and a notebook",
            "package/src/demand_forecast/features.py": "Poetry project",
        },
        audit=[
            "| package_name | `demand_forecast` | pyproject.toml [tool.poetry] packages |",
            "| python_version | `3.12` |",
            "| formatter | `black` | pyproject.toml [tool.black] |",
            "| ci | `github` | .github/workflows/ |",
            "| `tests/test_features.py` | `package/tests/test_features.py` | tests |",
            "pyproject.toml: [tool.poetry] removed",
            "pyproject.toml: pytest>=8.0,<9 left out: the template pins pytest==",
            "type errors (mypy --strict): 4 in 2 files",
        ],
        steps=[
            "Write the contract: package/src/demand_forecast/contracts/ is still",
            "Connect training: package/src/demand_forecast/training.py is still the "
            "template's starter",
            "Write the acceptance scenarios",
        ],
        debt="- mypy: `package/src/demand_forecast/features.py`: no-untyped-def x1",
        retired=["poetry.lock"],
    ),
}


@pytest.fixture(scope="module", params=sorted(SHAPES))
def adopted_shape(
    request: pytest.FixtureRequest, template: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Shape, Project]:
    """The flat and the poetry shape, each adopted with --apply (one at a time)."""
    project = shape(request.param, tmp_path_factory.mktemp(f"adopted-{request.param}"))
    adopt(project, template, "--apply")
    return SHAPES[request.param], project


def test_a_flat_and_a_poetry_repository_are_adopted_end_to_end(
    adopted_shape: tuple[Shape, Project],
) -> None:
    expected, project = adopted_shape
    for path, commit in expected.moved.items():
        follow = project.run("git", "log", "--follow", "--format=%s", "--", path).stdout
        assert commit in follow, f"the history of {path} is lost:\n{follow}"
    audit = (project.path / "ADOPTION.md").read_text()
    for line in expected.audit:
        assert line in audit, f"ADOPTION.md lacks {line!r}:\n{audit}"
    for path in expected.retired:
        assert not (project.path / path).exists(), f"{path} stayed beside pyproject.toml"
        assert f"| `{path}` |" in audit.split("## Files adoption removes")[1], audit
        history = project.run("git", "log", "--format=%s", "--", path).stdout
        assert history.strip(), f"{path} left git history too"
    project.make("check")
    project.make("handoff", check=False)
    report = (project.path / "reports" / "handoff.md").read_text()
    assert "## Adoption: steps left" in report, f"the report names no steps left:\n{report}"
    steps = report.split("## Adoption: steps left", 1)[1]
    for step in expected.steps:
        assert step in steps, f"the report's steps left lack {step!r}:\n{steps}"
    assert "## Debt baseline: what the code had when it was adopted" in report, report
    assert expected.debt in report, f"the report lacks the debt {expected.debt!r}:\n{report}"


@pytest.fixture(scope="module")
def adopted(template: Path, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The cookiecutter-data-science shape, adopted with --apply."""
    project = shape("ccds", tmp_path_factory.mktemp("adopted"))
    adopt(project, template, "--apply")
    return project


def test_apply_keeps_history_and_takes_data_out_of_git(adopted: Project) -> None:
    assert adopted.run("git", "branch", "--show-current").stdout.strip() == "handoff-adoption"
    assert adopted.run("git", "status", "--porcelain").stdout == "", "apply left changes"
    follow = adopted.run(
        "git", "log", "--follow", "--format=%s", "--", "research/notebooks/1.0-dt-explore.ipynb"
    ).stdout
    assert "Explore the data" in follow, f"the notebook's history is lost:\n{follow}"
    follow = adopted.run(
        "git", "log", "--follow", "--format=%s", "--", "package/src/churn_insights/features.py"
    ).stdout
    assert "Explore the data" in follow, f"the module's history is lost:\n{follow}"
    answers = yaml.safe_load((adopted.path / ".copier-answers.yml").read_text())
    assert answers["_commit"] == OLD
    assert answers["package_name"] == "churn_insights"
    assert not (adopted.path / "churn_insights").exists(), "the old package folder stayed"
    assert not (adopted.path / "requirements.txt").exists(), "requirements.txt stayed"
    audit = (adopted.path / "ADOPTION.md").read_text()
    assert "still names requirements.txt, which adoption removed" in audit, (
        f"the team's `make requirements` would fail unannounced:\n{audit}"
    )


def test_make_check_passes_with_the_debt_baseline(adopted: Project) -> None:
    baseline = json.loads((adopted.path / "debt-baseline.json").read_text())
    assert baseline["ruff"]["package/src/churn_insights/features.py"]["F401"] == 1
    assert baseline["mypy"]["package/src/churn_insights/features.py"]["no-untyped-def"] == 1
    adopted.make("check")


def test_a_new_violation_fails_and_a_fixed_one_shrinks_the_baseline(adopted: Project) -> None:
    features = adopted.path / "package" / "src" / "churn_insights" / "features.py"
    original = features.read_text()
    features.write_text("import sys\n" + original)
    said = adopted.make("lint", check=False)
    assert said.returncode != 0, "a new unused import passed make lint"
    assert "features.py: 2 ruff F401 where the baseline allows 1" in said.stdout, said.stdout
    features.write_text(original.replace("import os\n\n", ""))
    said = adopted.make("lint")
    assert "features.py F401 1 -> 0" in said.stdout, said.stdout
    baseline = json.loads((adopted.path / "debt-baseline.json").read_text())
    assert "F401" not in baseline["ruff"]["package/src/churn_insights/features.py"]
    settings = adopted.make("settings")
    assert "pass" in settings.stdout, "a shrunk baseline is no loosened setting"
    (adopted.path / "debt-baseline.json").write_text(
        json.dumps({**baseline, "coverage": 10.0}) + "\n"
    )
    said = adopted.make("settings", check=False)
    assert said.returncode != 0, "a baseline that lowers the coverage floor passed"
    adopted.restore()


def test_make_handoff_reports_the_remaining_debt(adopted: Project) -> None:
    adopted.make("handoff", check=False)
    report = (adopted.path / "reports" / "handoff.md").read_text()
    assert "## Debt baseline: what the code had when it was adopted" in report, report
    assert "`package/src/churn_insights/features.py`: ANN001 x3" in report, report
    assert "## Adoption: steps left" in report, f"the report names no steps left:\n{report}"
    assert "1. Write the contract: package/src/churn_insights/contracts/" in report, report


def test_a_later_template_version_arrives_without_losing_the_teams_files(
    adopted: Project, template: Path
) -> None:
    (template / "template" / "standards" / "README.md").write_text(
        "# standards/\n\nTemplate-owned configuration; `copier update` keeps it current.\n"
    )
    write_manifest(template)
    git(template, "add", "-A")
    git(template, "commit", "-qm", f"Handoff {NEW}")
    git(template, "tag", NEW)
    kept = {
        path: (adopted.path / path).read_bytes()
        for path in [
            "package/src/churn_insights/features.py",
            "package/tests/test_features.py",
            "research/notebooks/1.0-dt-explore.ipynb",
            "README.md",
            "Makefile",
            "pyproject.toml",
            "debt-baseline.json",
        ]
    }
    adopted.make("update", f"COPIER={sys.executable} -m copier", "UPDATE_FLAGS=--defaults")
    answers = yaml.safe_load((adopted.path / ".copier-answers.yml").read_text())
    assert answers["_commit"] == NEW, "the update did not take the new version"
    assert (adopted.path / "standards" / "README.md").is_file(), "the new file did not arrive"
    for path, content in kept.items():
        assert (adopted.path / path).read_bytes() == content, f"the update changed {path}"
    run(["git", "add", "-A"], cwd=adopted.path, env=adopted.env)
    adopted.make("standards")
