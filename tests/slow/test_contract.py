"""The handoff contract inside generated projects: `make handoff` and what it catches."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from tests.conftest import ANSWER_SETS, REPO, Project, answers, run

pytestmark = pytest.mark.slow


@pytest.fixture
def default_project(set_up_project: Callable[[str], Project]) -> Iterator[Project]:
    """The default project; whatever a test plants in it is removed afterwards."""
    project = set_up_project("default")
    yield project
    project.restore()


def package_dir(project: Project) -> str:
    return f"package/src/{answers(project.path)['package_name']}"


def edit(project: Project, relative: str, old: str, new: str) -> None:
    """Replace `old` by `new` in a project file; `old` must be there."""
    path = project.path / relative
    text = path.read_text()
    assert old in text, f"{relative} no longer contains {old!r}: update this test"
    path.write_text(text.replace(old, new, 1))


def gate(project: Project, *only: str) -> str:
    """Run some gates of `make handoff` (`handoff gate --only`), expecting them to fail;
    return the report."""
    args = [arg for name in only for arg in ("--only", name)]
    result = project.run("uv", "run", "--frozen", "handoff", "gate", *args, check=False)
    assert result.returncode != 0, f"the {', '.join(only)} gate passed:\n{result.stdout}"
    return result.stdout


def rows(report: str) -> dict[str, tuple[str, str]]:
    """The report's table: gate -> (result, reason)."""
    table = re.findall(
        r"^\| (.+?) \| (pass|FAIL|not exercised) \| (.*) \|$", report, flags=re.MULTILINE
    )
    return {name: (result, reason) for name, result, reason in table}


GATES = {
    "No unresolved conflicts",
    "Template-owned files unchanged",
    "Standard targets not overridden",
    "No large files, private keys or secrets",
    "Settings at the standard, or waived",
    "Formatting",
    "Lint",
    "Environment lock fresh",
    "Types (mypy --strict)",
    "Model satisfies the interface",
    "Tests and coverage",
    "Acceptance scenarios",
    "Contract compatibility",
    "Contract enforced",
    "API schema matches the contract",
    "ODCS contracts match the contract",
    "Contract coverage",
    "Official data only",
    "No research imports in package/",
    "Notebook parity",
    "Registry candidate",
    "Acceptance on the candidate",
}
CANDIDATE_GATES = {"Registry candidate", "Acceptance on the candidate"}

# An optional input column that nothing else uses: only the contract can object to it.
REGION = "    region: Series[str] | None = pa.Field(nullable=True)\n"
SUPPORT_CALLS = "    support_calls: Series[int] = pa.Field(ge=0)\n"


# A pytest plugin that writes the id of every test that runs to the file TESTS_RAN names.
COUNTING_PLUGIN = """\
import os


def pytest_runtest_logreport(report):
    if report.when == "call":
        with open(os.environ["TESTS_RAN"], "a") as ran:
            ran.write(report.nodeid + "\\n")
"""


@pytest.mark.parametrize("name", ["default", "contrast"])
def test_make_handoff_passes_as_generated_and_writes_the_report(
    set_up_project: Callable[[str], Project], name: str, tmp_path: Path
) -> None:
    project = set_up_project(name)
    (tmp_path / "counting_plugin.py").write_text(COUNTING_PLUGIN)
    ran = tmp_path / "ran.txt"
    counted = {
        **project.env,
        "PYTHONPATH": str(tmp_path),
        "PYTEST_ADDOPTS": "-p counting_plugin",
        "TESTS_RAN": str(ran),
    }

    result = run(["make", "--no-print-directory", "handoff"], project.path, counted)

    tests = ran.read_text().splitlines()
    twice = sorted({test for test in tests if tests.count(test) > 1})
    assert not twice, f"make handoff ran these tests more than once: {twice}"
    assert any("/acceptance/" in test for test in tests), "the scenarios never ran"
    table = rows(result.stdout)
    assert set(table) == GATES, f"gates in the report: {sorted(table)}"
    failed = {gate: reason for gate, (outcome, reason) in table.items() if outcome == "FAIL"}
    assert not failed, failed
    idle = {gate for gate, (outcome, _) in table.items() if outcome == "not exercised"}
    assert idle == CANDIDATE_GATES, "a fresh project has no candidate to check"
    report = (project.path / "reports/handoff.md").read_text()
    assert report in result.stdout, "reports/handoff.md differs from the printed report"
    assert (
        f"**PASSED**: all {len(GATES) - 2} gates run passed. Not exercised: Registry "
        "candidate, Acceptance on the candidate.\n\nNext: `make train` registers a "
        "candidate, which the candidate gates then check." in report
    )
    assert not project.run("git", "status", "--porcelain").stdout, "make handoff changed files"
    # The worked example and an empty project: every boundary has a schema.
    boundaries = 4 if name == "default" else 2
    assert table["Contract coverage"][1].startswith(
        f"boundaries {boundaries} of {boundaries} have a schema (100%)"
    ), table["Contract coverage"]


def test_removing_an_input_column_is_breaking_until_a_major_version_and_a_fresh_snapshot(
    default_project: Project,
) -> None:
    schemas = f"{package_dir(default_project)}/contracts/schemas.py"
    init = f"{package_dir(default_project)}/contracts/__init__.py"
    # The agreed contract has an optional `region` column...
    edit(default_project, schemas, SUPPORT_CALLS, SUPPORT_CALLS + REGION)
    default_project.make("contract-snapshot")
    # ...which one side now removes.
    edit(default_project, schemas, REGION, "")

    failed = default_project.make("handoff", check=False)

    assert failed.returncode != 0
    table = rows(failed.stdout)
    outcome, reason = table["Contract compatibility"]
    assert outcome == "FAIL"
    assert "breaking change without a major version bump" in reason
    assert "Features.region" in reason
    assert "BREAKING    Features.region: column removed (or renamed)" in failed.stdout
    others = {gate for gate, (result, _) in table.items() if result == "FAIL"}
    assert others == {"Contract compatibility"}, "only the contract gate should object"

    # Recording the snapshot cannot launder the breaking change.
    refused = default_project.make("contract-snapshot", check=False)
    said = refused.stdout + refused.stderr
    assert refused.returncode != 0, "make contract-snapshot recorded a breaking change"
    assert "Refused: package/contracts.lock.json stays as it is." in said
    assert "bump the major number (to 2.0.0)" in said
    assert "BREAKING    Features.region: column removed (or renamed)" in said

    edit(default_project, init, 'CONTRACT_VERSION = "1.0.0"', 'CONTRACT_VERSION = "2.0.0"')
    stale = gate(default_project, "contract")
    assert "make contract-snapshot" in stale, "a major bump alone must not pass the gate"

    default_project.make("contract-snapshot")
    api_stale = default_project.make("handoff", check=False)
    assert rows(api_stale.stdout)["API schema matches the contract"][0] == "FAIL", (
        "the API document still says 1.0.0: the gate must ask for `make openapi`"
    )
    outcome, reason = rows(api_stale.stdout)["ODCS contracts match the contract"]
    assert outcome == "FAIL", "the ODCS files still say 1.0.0: the gate must object"
    assert 'contracts/customers.odcs.yaml: version: "1.0.0" -> "2.0.0"' in reason, reason
    assert "run `make contracts-export`" in reason, reason
    default_project.make("openapi")
    default_project.make("contracts-export")
    passed = default_project.make("handoff")

    assert "**PASSED**" in passed.stdout
    assert "version 2.0.0" in rows(passed.stdout)["Contract compatibility"][1]


def test_adding_an_optional_input_column_passes_after_a_fresh_snapshot(
    default_project: Project,
) -> None:
    schemas = f"{package_dir(default_project)}/contracts/schemas.py"
    edit(default_project, schemas, SUPPORT_CALLS, SUPPORT_CALLS + REGION)

    stale = gate(default_project, "contract")
    assert "compatible  Features.region: optional input column added" in stale
    assert "BREAKING" not in stale
    assert "make contract-snapshot" in stale

    default_project.make("contract-snapshot")
    default_project.make("openapi")
    stale = gate(default_project, "odcs")
    assert rows(stale)["ODCS contracts match the contract"][1].startswith(
        "contracts/ differs from what the contract produces (3 differences: "
        "contracts/customers.odcs.yaml: schema[customers].properties[region]: added"
    ), "an added column left the ODCS files current"
    assert "contracts/model-input.odcs.yaml: schema[model-input].properties[region]: added" in (
        stale
    ), "the report does not list every file the new column changes"
    default_project.make("contracts-export")
    passed = default_project.make("handoff")

    assert "**PASSED**" in passed.stdout
    assert '"region"' in (default_project.path / "api/openapi.json").read_text()
    odcs_input = (default_project.path / "contracts/model-input.odcs.yaml").read_text()
    assert "name: region" in odcs_input, "contracts-export left out the new column"
    lock = (default_project.path / "package/contracts.lock.json").read_text()
    assert '"region"' in lock


def test_the_contract_tests_run_in_the_gate_after_the_teams_are_deleted_and_a_check_weakened(
    default_project: Project,
) -> None:
    (default_project.path / "package/tests/test_contracts.py").unlink()
    schemas = f"{package_dir(default_project)}/contracts/schemas.py"
    edit(default_project, schemas, SUPPORT_CALLS, "    support_calls: Series[int]\n")

    report = gate(default_project, "enforced")

    outcome, reason = rows(report)["Contract enforced"]
    assert outcome == "FAIL"
    assert "support_calls: greater_than_or_equal_to(0)" in reason
    assert (
        "Features.support_calls: greater_than_or_equal_to(0) (in the contract snapshot, "
        "not in the code) did not refuse support_calls=-1" in report
    ), "the report does not name the schema, column and check"

    default_project.restore()
    passed = default_project.run("uv", "run", "--frozen", "handoff", "gate", "--only", "enforced")
    outcome, reason = rows(passed.stdout)["Contract enforced"]
    assert outcome == "pass", reason
    assert reason.startswith("45 rules of 3 schemas, each broken alone, refused by name"), reason


# A team's own Then step, overriding the kit's, that checks nothing.
HOLLOW_THEN = """

from pytest_bdd import then


@then("no customer is scored")
def nothing_scored() -> None:
    pass
"""


def test_a_then_step_that_checks_nothing_fails_the_acceptance_row_naming_it(
    default_project: Project,
) -> None:
    steps = default_project.path / "package/tests/acceptance/test_scoring.py"
    steps.write_text(steps.read_text() + HOLLOW_THEN)
    line = steps.read_text().splitlines().index('@then("no customer is scored")') + 1

    report = gate(default_project, "acceptance")

    outcome, reason = rows(report)["Acceptance scenarios"]
    assert outcome == "FAIL"
    assert reason.startswith(
        f"package/tests/acceptance/test_scoring.py:{line}: the Then step "
        '"no customer is scored" checks nothing'
    ), reason


def test_a_predict_signature_that_drifts_from_the_protocol_fails_the_type_check(
    default_project: Project,
) -> None:
    edit(
        default_project,
        f"{package_dir(default_project)}/model.py",
        "def predict(self, features: DataFrame[Features]) -> DataFrame[Predictions]:",
        "def predict(\n        self, features: DataFrame[Features], threshold: float\n"
        "    ) -> DataFrame[Predictions]:",
    )

    result = default_project.make("typecheck", check=False)

    assert result.returncode != 0
    assert "test_contracts.py" in result.stdout
    assert 'variable has type "Model"' in result.stdout
    assert "predict" in result.stdout, "mypy does not say which method conflicts"


# A model class the team's tests never assign to the Protocol: it scores, but has no fit().
FROZEN = """\
from __future__ import annotations

from handoff_kit import Trained
from pandera.typing import DataFrame

from .contracts import Features, Predictions
from .model import ChurnModel
from .training import train as train_churn_model


class Frozen:
    def __init__(self, model: ChurnModel) -> None:
        self.model = model

    def predict(self, features: DataFrame[Features]) -> DataFrame[Predictions]:
        return self.model.predict(features)


def train() -> Trained[Frozen]:
    fitted = train_churn_model()
    return Trained(Frozen(fitted.model), fitted.metrics, sources=fitted.sources)
"""


def test_the_interface_gate_checks_the_class_train_returns_not_the_one_tests_assign(
    default_project: Project,
) -> None:
    package = answers(default_project.path)["package_name"]
    (default_project.path / package_dir(default_project) / "frozen.py").write_text(FROZEN)
    edit(
        default_project,
        "pyproject.toml",
        f'"{package}.training:train"',
        f'"{package}.frozen:train"',
    )

    report = gate(default_project, "types", "interface")

    table = rows(report)
    assert table["Types (mypy --strict)"][0] == "pass", "the planted code is well typed"
    assert table["Model satisfies the interface"][0] == "FAIL"
    assert '"Frozen" is missing following "Model" protocol member' in report
    assert "Trained[TheModelClass]" in report, "the report does not say what to annotate"


def test_research_code_imported_by_name_passes_the_linter_and_fails_the_gate(
    default_project: Project,
) -> None:
    (default_project.path / "research/helpers.py").write_text("def tidy() -> None:\n    pass\n")
    (default_project.path / package_dir(default_project) / "leaky.py").write_text(
        'import importlib\n\nhelpers = importlib.import_module("research.helpers")\n'
    )

    lint = default_project.make("lint", check=False)
    report = gate(default_project, "research")

    assert lint.returncode == 0, "ruff saw it after all: this test plants the wrong thing"
    outcome, reason = rows(report)["No research imports in package/"]
    assert outcome == "FAIL"
    assert "leaky.py:3: imports research code (research.helpers)" in reason


def test_scoring_bad_input_raises_the_named_error_and_scores_nothing(
    default_project: Project,
) -> None:
    package = answers(default_project.path)["package_name"]
    script = (
        f"from {package}.contracts import Features\n"
        f"from {package}.data import make_customers\n"
        f"from {package}.model import ChurnModel\n"
        "customers = make_customers(n_rows=200)\n"
        "model = ChurnModel().fit(Features.validated(customers), customers['churned'])\n"
        "bad = customers.drop(columns='contract_type')\n"
        "bad.loc[0, 'tenure_months'] = -4\n"
        "print(model.predict(bad))\n"
    )

    result = default_project.run("uv", "run", "--frozen", "python", "-c", script, check=False)

    assert result.returncode != 0
    assert "ContractViolation: Features contract violated (2 failures)" in result.stderr
    assert "contract_type: missing column (column_in_dataframe)" in result.stderr
    assert "tenure_months: greater_than_or_equal_to(0) failed in 1 row, e.g. -4" in result.stderr
    assert "churn_probability" not in result.stdout, "bad input was scored"


def test_a_package_module_reading_an_unofficial_source_fails_with_file_and_line(
    default_project: Project,
) -> None:
    module = f"{package_dir(default_project)}/survey.py"
    (default_project.path / module).write_text(
        "import pandas as pd\n\nfrom handoff_kit import catalog\n\n\n"
        "def exit_reasons() -> pd.DataFrame:\n"
        '    return catalog.load("exit_survey")\n\n\n'
        "def raw_reasons() -> pd.DataFrame:\n"
        '    return pd.read_csv("data/raw/exit_survey.csv")\n'
    )
    (default_project.path / "research/survey.py").write_text(
        'import pandas as pd\n\nreasons = pd.read_csv("data/raw/exit_survey.csv")\n'
    )

    report = gate(default_project, "catalog")

    assert f"{module}:7: loads the unofficial source 'exit_survey'" in report
    assert (
        f"{module}:11: reads data directly with pandas.read_csv(): "
        "'data/raw/exit_survey.csv' is the unofficial source 'exit_survey'"
    ) in report
    # research/ may use it, and the report lists it as a debt.
    assert (
        "`exit_survey` (bronze, unofficial; owner customer-success) used in research/survey.py"
        in (report)
    )


# What a team under deadline runs to record the snapshot past `make contract-snapshot`.
RECORD_ANYWAY = (
    "from handoff_kit import config, gate\n"
    "from handoff_kit.compat import write_snapshot\n"
    "settings = config.load()\n"
    "write_snapshot(settings.snapshot, gate.current_contract(settings))\n"
)


@pytest.fixture
def committing_project(default_project: Project) -> Iterator[Project]:
    """The default project, whose commits are undone afterwards as well."""
    head = default_project.run("git", "rev-parse", "HEAD").stdout.strip()
    yield default_project
    default_project.run("git", "reset", "-q", "--hard", head)


def test_a_breaking_change_fails_against_earlier_commits_however_the_snapshot_is_reset(
    committing_project: Project,
) -> None:
    project = committing_project
    schemas = f"{package_dir(project)}/contracts/schemas.py"
    init = f"{package_dir(project)}/contracts/__init__.py"
    snapshot = "package/contracts.lock.json"
    # The agreed contract has an optional `region` column, committed...
    edit(project, schemas, SUPPORT_CALLS, SUPPORT_CALLS + REGION)
    project.make("contract-snapshot")
    project.commit("Agree an optional region column")
    agreed = project.run("git", "rev-parse", "--short=7", "HEAD").stdout.strip()
    # ...then removed, with the snapshot deleted and recorded again.
    edit(project, schemas, REGION, "")
    (project.path / snapshot).unlink()

    refused = project.make("contract-snapshot", check=False)
    said = refused.stdout + refused.stderr
    assert refused.returncode != 0, "make contract-snapshot recorded over the history"
    assert f"against {snapshot}@{agreed}" in said, said

    project.run("uv", "run", "--frozen", "python", "-c", RECORD_ANYWAY)
    project.commit("Remove the region column, record the snapshot again")
    report = gate(project, "contract")
    outcome, reason = rows(report)["Contract compatibility"]
    assert outcome == "FAIL"
    assert f"against {snapshot}@{agreed} (contract 1.0.0)" in reason, reason
    assert ".region: column removed (or renamed)" in reason, reason
    assert "BREAKING    Features.region: column removed (or renamed)" in report

    # Pointing the setting at a fresh file resets nothing either.
    edit(project, "pyproject.toml", f'snapshot = "{snapshot}"', 'snapshot = "contract.json"')
    project.run("uv", "run", "--frozen", "python", "-c", RECORD_ANYWAY)
    project.commit("A fresh snapshot")
    outcome, reason = rows(gate(project, "contract"))["Contract compatibility"]
    assert outcome == "FAIL"
    assert f"against {snapshot}@{agreed}" in reason, reason

    # The documented way: a major version, recorded by `make contract-snapshot`.
    edit(project, init, 'CONTRACT_VERSION = "1.0.0"', 'CONTRACT_VERSION = "2.0.0"')
    project.make("contract-snapshot")
    project.commit("2.0.0: the region column removed")
    passed = project.run("uv", "run", "--frozen", "handoff", "gate", "--only", "contract")
    outcome, reason = rows(passed.stdout)["Contract compatibility"]
    assert outcome == "pass", reason
    assert reason.startswith("contracts match their snapshot (version 2.0.0)"), reason


def test_datacontract_lint_accepts_the_odcs_files_of_every_answer_set(
    rendered: Mapping[str, Path],
) -> None:
    """datacontract-cli (the dev group) lints each distinct file once: the answer
    sets share their project name, so many files are the same bytes."""
    distinct: dict[str, Path] = {}
    for name in ANSWER_SETS:
        files = sorted((rendered[name] / "contracts").glob("*.odcs.yaml"))
        assert files, f"{name} has no ODCS files"
        for file in files:
            distinct.setdefault(file.read_text(), file)

    for file in distinct.values():
        linted = subprocess.run(
            [str(REPO / ".venv/bin/datacontract"), "lint", str(file)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert linted.returncode == 0, f"datacontract lint refuses {file}:\n{linted.stdout}"
        assert "Data contract is valid against ODCS v3.1.0" in linted.stdout, linted.stdout
