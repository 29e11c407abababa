"""The handoff gate: command gates, the contract and catalog gates, and the report."""

from __future__ import annotations

import json
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import pandera.pandas as pa
import pytest
from conftest import add_source, write_pyproject
from pandera.typing import Series

from handoff_kit import __version__, cli, config, gate
from handoff_kit import report as report_module
from handoff_kit.compat import write_snapshot
from handoff_kit.contracts import Schema
from handoff_kit.report import Gate, Result, command_gate, markdown, run_command

REPOSITORY = Path(__file__).resolve().parents[2]  # The template's, around the kit.

PYTHON = Path(sys.executable).name


def python(code: str) -> tuple[str, ...]:
    return (sys.executable, "-c", code)


# --- Command gates -------------------------------------------------------------


def test_a_command_gate_passes_showing_the_command_without_the_interpreters_path(
    tmp_path: Path,
) -> None:
    passing = command_gate("ok", "Fine", python("print('all good')"), tmp_path)

    assert passing.name == "ok"
    assert passing.run() == Result(
        "Fine", True, f"`{PYTHON} -c print('all good')` passed"
    )


def test_a_failing_command_is_explained_by_its_last_words_with_its_output() -> None:
    result = run_command(
        "Broken", python("print('step 1'); raise SystemExit('it broke')")
    )

    assert not result.passed
    assert result.reason == (
        f"`{PYTHON} -c print('step 1'); raise SystemExit('it broke')` failed: it broke"
    )
    assert result.details == "step 1\nit broke"


def test_a_failing_make_target_is_explained_by_its_tool_not_by_make() -> None:
    output = "Found 1 error.\nmake[1]: *** [tasks.mk:46: lint] Error 1\nmake: *** [x] Error 2"

    result = run_command("Lint", python(f"print({output!r}); exit(2)"))

    assert result.reason.endswith("failed: Found 1 error.")
    assert result.details.endswith("make: *** [x] Error 2")


def test_a_failed_commands_reason_is_its_finding_not_the_advice_after_it(
    tmp_path: Path,
) -> None:
    """check-added-large-files as `make hygiene` runs it: the file, then the advice."""
    (tmp_path / "research").mkdir()
    (tmp_path / "research/customers.csv").write_text("id\n")
    output = (
        "research/customers.csv (10240 KB) exceeds 1000 KB.\n"
        "Large files are in git (above): 'git rm --cached' them; data belongs in data/\n"
        "(a false positive: 'detect-secrets audit .secrets.baseline').\n"
        "make: *** [standards/tasks.mk:99: hygiene] Error 1"
    )

    result = run_command("Hygiene", python(f"print({output!r}); exit(2)"), cwd=tmp_path)

    assert result.reason.endswith(
        "failed: research/customers.csv (10240 KB) exceeds 1000 KB."
    ), result.reason


def test_a_finding_with_its_line_comes_before_one_without_and_paths_are_relative(
    tmp_path: Path,
) -> None:
    (tmp_path / "package").mkdir()
    (tmp_path / "package/model.py").write_text("x = 1\n")
    output = (
        f"would reformat {tmp_path}/package/model.py\n"
        f"{tmp_path}/package/model.py:3: error: Missing return [return]\n"
        "Run make format."
    )

    result = run_command("Types", python(f"print({output!r}); exit(1)"), cwd=tmp_path)

    assert result.reason.endswith(
        "failed: package/model.py:3: error: Missing return [return]"
    ), result.reason


def test_the_written_report_names_paths_from_the_project_and_no_scratch_folder(
    tmp_path: Path,
) -> None:
    scratch = Path(tempfile.gettempdir()) / "handoff-standards-x1y2"
    text = (
        f"{tmp_path}/research/explore.py uses raw.csv; "
        f"{scratch}/standards/ruff.toml differs"
    )

    shown = report_module.project_relative(text, tmp_path)

    assert shown == "research/explore.py uses raw.csv; standards/ruff.toml differs"


def test_a_silent_failure_gives_its_exit_status() -> None:
    assert run_command("Quiet", python("exit(3)")).reason.endswith(
        "failed: exit status 3"
    )


def test_a_command_that_is_not_installed_fails_the_gate_without_raising(
    tmp_path: Path,
) -> None:
    missing = command_gate(
        "make", "Make", (str(tmp_path / "no-make"), "lint"), tmp_path
    )

    assert missing.run() == Result(
        "Make", False, "`no-make lint` could not run: No such file or directory"
    )


def test_a_failures_details_keep_the_last_40_lines() -> None:
    result = run_command("Long", python("for i in range(100): print(i)\nexit(1)"))

    assert result.details.splitlines() == [str(i) for i in range(60, 100)]


def test_a_command_runs_in_its_folder_with_the_variables_added(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEPT", "kept")
    code = (
        "import os, pathlib; "
        "assert pathlib.Path.cwd().name == 'here', os.getcwd(); "
        "assert os.environ['ADDED'] == 'added' and os.environ['KEPT'] == 'kept'"
    )
    (tmp_path / "here").mkdir()

    result = run_command(
        "Env", python(code), env={"ADDED": "added"}, cwd=tmp_path / "here"
    )

    assert result.passed, result.details


# --- The report -----------------------------------------------------------------


def test_the_report_has_a_row_per_gate_the_debts_and_the_details() -> None:
    report = markdown(
        [
            Result("Lint", True, "fine", "not shown: it passed"),
            Result("Contract", False, "a|b\nc", "BREAKING  X.y"),
            Result("Catalog", False, "no details"),
        ],
        [],
    )

    assert report.startswith(
        "# Handoff report\n\n**FAILED**: 2 of 3 gates run failed.\n"
    )
    assert "| Lint | pass | fine |" in report
    assert "| Contract | FAIL | a\\|b c |" in report
    assert "## Contract\n\n```text\nBREAKING  X.y\n```" in report
    assert "## Catalog" not in report
    assert "not shown" not in report
    assert "## Debts: unofficial data used in research/\n\nNone.\n" in report


def test_a_report_of_passing_gates_says_so_in_words() -> None:
    one = markdown([Result("Lint", True, "fine")], [])
    two = markdown([Result("Lint", True, "fine"), Result("Types", True, "fine")], [])

    assert "**PASSED**: the one gate run passed." in one
    assert "**PASSED**: all 2 gates run passed." in two


def test_a_failed_single_gate_reads_in_the_singular() -> None:
    report = markdown([Result("Lint", False, "no")], [])

    assert "**FAILED**: 1 of 1 gate run failed." in report


def test_gates_not_exercised_are_marked_so_and_not_counted_as_passed() -> None:
    report = markdown(
        [
            Result("Lint", True, "fine"),
            Result("Types", True, "fine"),
            Result("Registry candidate", True, "no candidate yet", exercised=False),
            Result(
                "Acceptance on the candidate", True, "no candidate", exercised=False
            ),
        ],
        [],
    )

    assert (
        "**PASSED**: all 2 gates run passed. Not exercised: Registry candidate, "
        "Acceptance on the candidate.\n" in report
    )
    assert "| Registry candidate | not exercised | no candidate yet |" in report


PYTEST_OUTPUT = """\
============================= test session starts ==============================
platform linux -- Python 3.12.1, pytest-8.4.2, pluggy-1.6.0
rootdir: /home/ada/churn
collected 3 items

package/tests/acceptance/test_scoring.py F..                             [100%]

=================================== FAILURES ===================================
____________________________ test_loyal_customers _____________________________

    @scenario("scoring.feature", "Loyal customers")
    def test_loyal_customers() -> None:
>       assert probability < 0.5
E       assert 0.7 < 0.5

package/tests/acceptance/test_scoring.py:42: AssertionError
=========================== short test summary info ============================
FAILED package/tests/acceptance/test_scoring.py::test_loyal_customers - assert 0.7 < 0.5
========================= 1 failed, 2 passed in 0.51s ==========================
"""


def test_a_failing_pytest_run_keeps_the_failing_tests_and_their_assertions_only() -> (
    None
):
    result = run_command(
        "Tests", python(f"import sys; print({PYTEST_OUTPUT!r}); sys.exit(1)")
    )

    assert result.details.splitlines() == [
        "E       assert 0.7 < 0.5",
        "package/tests/acceptance/test_scoring.py:42: AssertionError",
        "FAILED package/tests/acceptance/test_scoring.py::test_loyal_customers - assert 0.7 < 0.5",
        "1 failed, 2 passed in 0.51s",
    ]
    assert "rootdir" not in result.details
    assert "@scenario" not in result.details


def test_one_failure_found_by_three_gates_is_shown_once() -> None:
    details = (
        "E       assert 0.7 < 0.5\n"
        "FAILED package/tests/acceptance/test_scoring.py::test_loyal_customers - assert"
    )
    report = markdown(
        [
            Result("Tests and coverage", False, "`make test` failed", details),
            Result("Acceptance scenarios", False, "`pytest` failed", details),
            Result("Acceptance on the candidate", False, "`pytest` failed", details),
        ],
        [],
    )

    assert report.count("E       assert 0.7 < 0.5") == 1
    assert report.count("## ") == 3, "one details section, and the two of debts"
    assert (
        "| Acceptance scenarios | FAIL | `pytest` failed (the same failure as Tests "
        "and coverage: details there) |" in report
    )


def test_the_report_says_what_to_run_next(settings: config.Settings) -> None:
    named = {g.name: g for g in gate.gates(settings)}
    first, second = named["format"], named["lint"]
    failed = gate.next_step(
        [first, second], [Result("Formatting", False, "x"), Result("Lint", False, "y")]
    )
    passed = [Result("Registry candidate", True, "fine")]
    idle = [Result("Registry candidate", True, "none yet", exercised=False)]
    candidate = [g for g in gate.gates(settings) if g.name == "candidate"]

    assert failed == "`make format`, then `make handoff` again."
    assert gate.next_step(candidate, passed) == (
        "`make promote` makes the candidate the champion."
    )
    assert gate.next_step(candidate, idle) == (
        "`make train` registers a candidate, which the candidate gates then check."
    )
    unnamed = Gate("x", "Custom", lambda: Result("Custom", False, "no"))
    assert gate.next_step([unnamed], [Result("Custom", False, "no")]) == (
        "fix what Custom reports, then `make handoff` again."
    )
    assert gate.next_step([first], [Result("Formatting", True, "fine")]) == ""


# --- The contract and catalog gates ---------------------------------------------


def test_without_a_snapshot_the_contract_gate_says_how_to_make_one(
    settings: config.Settings,
) -> None:
    result = gate.contract_gate(settings)

    assert not result.passed
    assert result.reason.startswith(
        "no contract snapshot yet: run `make contract-snapshot`"
    )


def test_the_contract_gate_passes_when_the_code_matches_its_snapshot(
    settings: config.Settings,
) -> None:
    write_snapshot(settings.snapshot, gate.current_contract(settings))

    result = gate.contract_gate(settings)

    assert result == Result(
        "Contract compatibility",
        True,
        "contracts match their snapshot (version 1.0.0); not a git repository: "
        "no earlier snapshots, the snapshot file alone",
        "",
    )


def test_a_breaking_difference_from_the_snapshot_fails_the_contract_gate(
    settings: config.Settings,
) -> None:
    snapshot = gate.current_contract(settings)
    columns = snapshot["schemas"]["Features"]["columns"]
    columns["gone"] = columns["rooms"]
    write_snapshot(settings.snapshot, snapshot)

    result = gate.contract_gate(settings)

    assert not result.passed
    assert result.reason.startswith("breaking change without a major version bump")
    assert result.details == "BREAKING    Features.gone: column removed (or renamed)"


def test_a_contract_column_allowing_nulls_its_dtype_cannot_hold_fails_the_gate(
    settings: config.Settings,
) -> None:
    class Counted(Schema):
        visits: Series[int] = pa.Field(nullable=True)
        member: Series[bool] = pa.Field(nullable=True)
        spend: Series[float] = pa.Field(nullable=True)

    write_snapshot(settings.snapshot, gate.current_contract(settings))
    contract = settings.contract
    # Settings.contract is imported once per Settings: this one's holds Counted too.
    vars(settings)["contract"] = replace(contract, inputs=(*contract.inputs, Counted))

    result = gate.contract_gate(settings)

    assert not result.passed, "a promise of nulls that validation never keeps passed"
    assert result.reason == (
        "Counted.visits: nullable=True, but int64 cannot hold a null (one fails "
        "dtype('int64')); make it nullable=False, or give it a dtype with a missing "
        "value, e.g. float64 (and 1 more)"
    )
    assert [line.split(":")[0] for line in result.details.splitlines()] == [
        "Counted.visits",
        "Counted.member",
    ]


def test_the_catalog_gate_passes_a_package_that_reads_official_sources(
    settings: config.Settings,
) -> None:
    assert gate.catalog_gate(settings) == Result(
        "Official data only",
        True,
        "2 catalog sources valid; package/ reads official ones only",
    )


def test_the_catalog_gate_counts_one_source_in_the_singular(
    settings: config.Settings,
) -> None:
    (settings.catalog / "survey.yml").unlink()

    assert gate.catalog_gate(settings).reason.startswith("1 catalog source valid;")


def test_the_catalog_gate_names_the_first_bad_read_and_counts_the_rest(
    settings: config.Settings,
) -> None:
    reader = settings.package_dir / "reader.py"
    reader.write_text(
        'import pandas as pd\npd.read_csv("x.csv")\npd.read_csv("y.csv")\n'
    )

    result = gate.catalog_gate(settings)

    assert not result.passed
    assert result.reason.startswith(
        "package/src/sample_model/reader.py:2: reads data directly"
    )
    assert result.reason.endswith("(and 1 more)")
    assert len(result.details.splitlines()) == 2


def test_the_catalog_gate_passes_with_a_waived_read_and_lists_it(
    settings: config.Settings,
) -> None:
    (settings.package_dir / "lookup.py").write_text(
        "import pandas as pd\n\n"
        'codes = pd.read_csv("codes.csv")  # handoff: allow-read a fixed code list\n'
    )

    assert gate.catalog_gate(settings) == Result(
        "Official data only",
        True,
        "2 catalog sources valid; package/ reads official ones only; "
        "1 waived read: package/src/sample_model/lookup.py:3 (a fixed code list)",
    )


def test_the_catalog_gate_fails_on_unwaived_reads_only_and_lists_the_waived(
    settings: config.Settings,
) -> None:
    (settings.package_dir / "lookup.py").write_text(
        "import pandas as pd\n\n"
        'codes = pd.read_csv("codes.csv")  # handoff: allow-read a fixed code list\n'
        'names = pd.read_csv("names.csv")  # handoff: allow-read the names of codes\n'
        'other = pd.read_csv("other.csv")\n'
    )

    result = gate.catalog_gate(settings)

    module = "package/src/sample_model/lookup.py"
    assert not result.passed
    assert result.reason.startswith(f"{module}:5: reads data directly")
    assert result.reason.endswith(
        f"instead; 2 waived reads: {module}:3 (a fixed code list), "
        f"{module}:4 (the names of codes)"
    )
    assert result.details.splitlines()[0].endswith("(waived: a fixed code list)")
    assert len(result.details.splitlines()) == 3


def test_the_catalog_gate_fails_on_a_malformed_catalog(
    settings: config.Settings,
) -> None:
    add_source(settings.catalog, "houses", tier="platinum")

    result = gate.catalog_gate(settings)

    assert not result.passed
    assert result.reason.startswith("malformed catalog: ")
    assert "field 'tier' must be one of bronze, silver, gold" in result.reason


def test_the_catalog_gate_fails_when_the_package_folder_is_not_there(
    project: Path,
) -> None:
    write_pyproject(project, package_dir="package/src/elsewhere")

    result = gate.catalog_gate(config.load(project))

    assert not result.passed
    assert result.reason == (
        f"no {project}/package/src/elsewhere/: set package-dir in [tool.handoff]"
    )


def test_the_research_gate_passes_a_package_that_imports_no_research_code(
    settings: config.Settings,
) -> None:
    result = gate.research_gate(settings)

    assert result == Result(
        "No research imports in package/", True, "package/ imports no research code"
    )


def test_the_research_gate_fails_on_a_research_module_imported_by_name(
    settings: config.Settings,
) -> None:
    module = "package/src/sample_model/leaky.py"
    (settings.root / module).write_text(
        'import importlib\n\nhelpers = importlib.import_module("research.helpers")\n'
    )

    result = gate.research_gate(settings)

    assert not result.passed
    assert result.reason == (
        f"{module}:3: imports research code (research.helpers): package code must "
        "never import research code; move what you need into the package"
    )


# --- Running the gates ----------------------------------------------------------


def test_the_gate_runs_every_check_make_check_runs_then_the_contracts_own(
    settings: config.Settings,
) -> None:
    gates = gate.gates(settings)

    assert [g.name for g in gates] == cli.GATES
    assert all(isinstance(g, Gate) and g.title for g in gates)


def test_the_gate_runs_every_target_of_make_check(
    settings: config.Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make check`'s checks (CHECKS), as the template's shared tasks define them, are
    each run by a gate: what CI runs through the gate is never less than check."""
    tasks = REPOSITORY / "template/standards/tasks.mk.jinja"
    [checks] = [
        line for line in tasks.read_text().splitlines() if line.startswith("CHECKS :=")
    ]
    prerequisites = checks.split(":=", 1)[1].split()
    called: list[list[str]] = []
    monkeypatch.setattr(
        "handoff_kit.report.run_command",
        lambda title, command, **_: (
            called.append(list(command)) or Result(title, True, "")
        ),
    )

    ran = []
    for each in gate.gates(settings):
        if each.command[:1] == ("handoff",):
            # A kit gate, run in-process, that `make TARGET` runs as `handoff TARGET`.
            ran.append(each.command[-1])
            assert f"\t$(RUN) handoff {each.command[-1]}\n" in tasks.read_text()
        else:
            each.run()
            ran += [command[-1] for command in called if command[0] == "make"]
        called.clear()

    # Once each; the gate keeps its report's order, make check starts the longest first.
    made = list(dict.fromkeys(ran))
    assert sorted(made) == sorted(prerequisites), (
        f"make check runs {prerequisites}, the gate {made}"
    )


def test_running_gates_prints_and_writes_the_report_with_the_research_debts(
    settings: config.Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    (settings.research / "explore.py").write_text("load('survey')\n")
    gates = [
        Gate("good", "Good", lambda: Result("Good", True, "fine")),
        Gate("bad", "Bad", lambda: Result("Bad", False, "broken", "why")),
    ]

    assert gate.run(settings, gates) == 1

    report = settings.report.read_text()
    assert "**FAILED**: 1 of 2 gates run failed." in report
    assert "\nNext: fix what Bad reports, then `make handoff` again.\n" in report
    about = report.splitlines()[2]
    assert about.startswith("Commit `unknown`, "), "the sample is no git repository"
    assert about.endswith(f" UTC, handoff-kit {__version__}."), about
    assert (
        "- `survey` (bronze, unofficial; owner bob@example.com) used in research/explore.py"
        in report
    )
    out, err = capsys.readouterr()
    assert out == f"{report}\nWritten to reports/handoff.md.\n"
    assert err == "... Good\n... Bad\n"


def test_a_gate_that_breaks_is_a_failed_row_and_the_report_is_still_written(
    settings: config.Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The contract module has a conflict marker left by a merge: Python cannot import it.
    (tmp_path / "merged_contracts.py").write_text("<<<<<<< ours\nVERSION = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    broken = replace(settings, contracts_module="merged_contracts")

    def crash() -> Result:
        raise RuntimeError("the registry is\nunreachable")

    gates = [
        Gate("contract", "Contract compatibility", lambda: gate.contract_gate(broken)),
        Gate("boom", "Boom", crash),
    ]

    assert gate.run(broken, gates) == 1

    report = broken.report.read_text()
    assert "| Contract compatibility | FAIL | cannot run: " in report
    assert "merged_contracts.py:1: invalid syntax" in report
    assert (
        "| Boom | FAIL | cannot run: RuntimeError: the registry is unreachable |"
        in report
    )


def test_the_report_is_written_even_when_the_catalog_is_malformed(
    settings: config.Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    (settings.catalog / "houses.yml").write_text("name: houses\n")

    assert (
        gate.run(settings, [Gate("ok", "Ok", lambda: Result("Ok", True, "fine"))]) == 0
    )

    assert "None." in settings.report.read_text()


def test_a_breaking_snapshot_difference_fails_the_command_line_gate(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["snapshot"]) == 0
    snapshot_file = project / "package/contracts.lock.json"
    snapshot = json.loads(snapshot_file.read_text())
    del snapshot["interfaces"]["Model"]["fit"]
    snapshot_file.write_text(json.dumps(snapshot))

    assert cli.main(["gate", "--only", "contract"]) == 1

    report = (project / "reports/handoff.md").read_text()
    assert (
        "| Contract compatibility | FAIL | breaking change without a major version bump"
        in report
    )
    assert "BREAKING    Model.fit: method added" in report


# --- The interface gate: mypy on the class train() returns ---------------------

LAZY_MODEL = """\
from __future__ import annotations

from handoff_kit import Trained
from pandera.typing import DataFrame

from sample_model.contracts import Features, Predictions


class Lazy:
    def predict(self, features: DataFrame[Features]) -> DataFrame[Predictions]:
        return DataFrame[Predictions]({{"score": [0.5] * len(features)}})


def train(){returns}:
    return Trained(Lazy(), {{}})
"""


@pytest.fixture
def shared_mypy_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """mypy's cache, shared by these tests: the kit's and pandas' modules once."""
    cache = tmp_path_factory.getbasetemp() / "mypy-cache"
    monkeypatch.setenv("MYPY_CACHE_DIR", str(cache))


@pytest.mark.xdist_group("mypy")
@pytest.mark.usefixtures("shared_mypy_cache")
def test_the_interface_gate_passes_when_the_model_train_returns_satisfies_it(
    settings: config.Settings,
) -> None:
    result = gate.interface_gate(settings)

    assert result.passed, f"{result.reason}\n{result.details}"


@pytest.mark.xdist_group("mypy")
@pytest.mark.usefixtures("shared_mypy_cache")
@pytest.mark.parametrize(
    ("returns", "said"),
    [
        (" -> Trained[Lazy]", '"Lazy" is missing following "Model" protocol member'),
        (" -> Trained", '"Scorer" is missing following "Model" protocol member'),
        ("", 'Expression type contains "Any" (has type "Callable[[], Any]")'),
    ],
    ids=["a-class-without-fit", "no-class-named", "no-annotation"],
)
def test_the_interface_gate_fails_on_the_class_train_returns_whatever_the_tests_assign(
    project: Path, returns: str, said: str
) -> None:
    (project / "package/src/sample_model/lazy.py").write_text(
        LAZY_MODEL.format(returns=returns)
    )
    write_pyproject(project, train="sample_model.lazy:train")

    result = gate.interface_gate(config.load(project))

    assert not result.passed, "the interface gate passed a model without fit()"
    assert said in result.details, result.details


def test_an_adopted_projects_report_shows_its_debt_and_the_steps_left() -> None:
    report = markdown(
        [Result("Lint", True, "fine")],
        [],
        adoption_debt=["Left in debt-baseline.json: 1 ruff violations."],
        adoption_steps=["Write the contract: x.", "Connect training: y."],
    )

    assert (
        "## Debt baseline: what the code had when it was adopted\n\n"
        "Left in debt-baseline.json: 1 ruff violations.\n\n"
        "## Adoption: steps left\n\n1. Write the contract: x.\n2. Connect training: y.\n"
    ) in report
    assert "Adoption" not in markdown([Result("Lint", True, "fine")], []), (
        "a project made by copier copy has no adoption section"
    )
