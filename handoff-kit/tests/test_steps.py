"""The acceptance step library: a project's step module loads it as a pytest plugin
and keeps only its own steps; a step the project defines itself wins."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import build_project, fitted, houses, manifest

from handoff_kit import candidate, config, registry
from handoff_kit.registry.records import lock_hash

pytest_plugins = ("pytester",)

FEATURE = """\
Feature: Scoring houses
  Background:
    Given the candidate model

  Scenario: The golden sample is scored within the contract
    Given the golden sample of houses
    When the candidate model scores them
    Then every house gets exactly one prediction
    And every prediction conforms to the prediction schema

  Scenario Outline: Bad input is refused and nothing is scored
    Given the golden sample of houses
    But the "<column>" column <problem>
    When the candidate model scores them
    Then the input is refused, naming the "<column>" column and its "<check>" check
    And no house is scored

    Examples:
      | column | problem                 | check                    |
      | rooms  | is missing              | column_in_dataframe      |
      | rooms  | has a blank value       | not_nullable             |
      | kind   | has a blank value       | not_nullable             |
      | rooms  | holds a negative number | greater_than_or_equal_to |
      | rooms  | holds decimal numbers   | dtype                    |
"""
GOLDEN = "rooms,kind\n1,flat\n3,house\n2,flat\n5,house\n4,flat\n"
# The whole step module of a project that keeps no steps of its own.
STEPS = """\
from pytest_bdd import scenarios

pytest_plugins = ("handoff_kit.steps",)

scenarios("scoring.feature")
"""
SCENARIOS = 6


def acceptance(root: Path, steps: str = STEPS) -> Path:
    """The sample project's acceptance folder, with scenarios run by pytest-bdd."""
    folder = root / "package/tests/acceptance"
    for old in folder.glob("*.py"):
        old.unlink()
    (folder / "scoring.feature").write_text(FEATURE)
    (folder / "golden_sample.csv").write_text(GOLDEN)
    (folder / "test_scoring.py").write_text(steps)
    return folder


@pytest.fixture
def bdd_project(pytester: pytest.Pytester) -> Path:
    """The sample project in pytester's folder (the current one), with scenarios."""
    root = build_project(pytester.path)
    return acceptance(root)


def test_the_shared_steps_run_a_projects_scenarios_with_its_contract(
    pytester: pytest.Pytester, bdd_project: Path
) -> None:
    result = pytester.runpytest_inprocess(str(bdd_project), "-p", "no:cacheprovider")

    result.assert_outcomes(passed=SCENARIOS)


def test_a_step_the_project_defines_itself_wins_over_the_librarys(
    pytester: pytest.Pytester, bdd_project: Path
) -> None:
    (bdd_project / "test_scoring.py").write_text(
        STEPS
        + "\n\nfrom pytest_bdd import parsers, then\n\n\n"
        + '@then(parsers.parse("no {row} is scored"))\n'
        + "def own() -> None:\n"
        + '    raise AssertionError("the project\'s own step ran")\n'
    )

    result = pytester.runpytest_inprocess(str(bdd_project), "-p", "no:cacheprovider")

    result.assert_outcomes(passed=1, failed=SCENARIOS - 1)
    result.stdout.fnmatch_lines(["*the project's own step ran*"])


def test_the_shared_then_steps_fail_a_model_that_scores_bad_rows(
    pytester: pytest.Pytester, bdd_project: Path
) -> None:
    (bdd_project / "test_scoring.py").write_text(
        STEPS
        + "\n\nimport pandas as pd\nimport pytest\n\n\n"
        + "class Careless:\n"
        + "    def predict(self, rows: pd.DataFrame) -> pd.DataFrame:\n"
        + '        return pd.DataFrame({"score": 0.5}, index=rows.index)\n\n\n'
        + "@pytest.fixture\n"
        + "def model_trained_here() -> Careless:\n"
        + "    return Careless()\n"
    )

    result = pytester.runpytest_inprocess(str(bdd_project), "-p", "no:cacheprovider")

    result.assert_outcomes(passed=1, failed=SCENARIOS - 1)
    result.stdout.fnmatch_lines(["*the bad input was scored instead of refused*"])


def test_the_golden_sample_is_the_one_beside_the_feature_file_else_the_folders(
    pytester: pytest.Pytester, bdd_project: Path
) -> None:
    (bdd_project / "test_path.py").write_text(
        'pytest_plugins = ("handoff_kit.steps",)\n\n\n'
        "def test_outside_a_scenario(golden_sample_path, handoff_settings):\n"
        "    assert golden_sample_path == (\n"
        '        handoff_settings.acceptance / "golden_sample.csv"\n'
        "    )\n"
    )

    result = pytester.runpytest_inprocess(str(bdd_project), "-p", "no:cacheprovider")

    result.assert_outcomes(passed=SCENARIOS + 1)


def test_a_train_function_returning_no_trained_is_named(
    pytester: pytest.Pytester, bdd_project: Path
) -> None:
    (pytester.path / "package/src/sample_model/training.py").write_text("")
    (bdd_project / "test_scoring.py").write_text(
        STEPS
        + "\n\nimport sample_model.training\n\n"
        + "sample_model.training.train = lambda: 42\n"
    )

    result = pytester.runpytest_inprocess(
        str(bdd_project), "-p", "no:cacheprovider", "-k", "golden"
    )

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*sample_model.training:train returned int, not a Trained*"]
    )


def test_the_scenarios_score_the_registry_candidate_under_the_gate(
    settings: config.Settings,
) -> None:
    acceptance(settings.root)
    store = registry.open_registry(settings)
    recorded = manifest(settings, lock_hash=lock_hash(settings.lock))
    version = store.register(fitted(), recorded, "# Card\n", houses(3))

    result = candidate.acceptance(settings, version)

    assert result.passed, result.details
    assert result.reason == f"scenarios pass against {version.uri}"
