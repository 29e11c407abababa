"""The acceptance scenarios and golden samples are part of the contract the snapshot
records: removing or weakening one is a breaking change, adding one is compatible."""

from __future__ import annotations

from pathlib import Path

import pytest

from handoff_kit import cli, compat, config, gate
from handoff_kit.scenarios import ScenarioError, describe_acceptance

FEATURE = """\
Feature: Scoring houses
  Background:
    Given the candidate model

  Scenario: The golden sample is scored
    Given the golden sample
    When the model scores it
    Then every house gets one prediction
    And every prediction is a probability

  @smoke
  Scenario Outline: Bad input is refused
    Given the golden sample
    But the "<column>" column <problem>
    When the model scores it
    Then the input is refused

    Examples:
      | column | problem    |
      | rooms  | is missing |
      | price  | is blank   |

  Rule: Prices
    Scenario: A price table is checked
      Given these prices
        | price |
        | 10    |
      Then each is positive
"""

SAMPLE = "rooms,price\n3,250000\n2,180000\n5,410000\n"
STEPS = "def test_nothing() -> None:\n    assert True\n"


def acceptance(folder: Path, feature: str = FEATURE, sample: str = SAMPLE) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "scoring.feature").write_text(feature)
    (folder / "golden_sample.csv").write_text(sample)
    (folder / "test_scoring.py").write_text(STEPS)
    return folder


def changes_after(
    tmp_path: Path, feature: str = FEATURE, sample: str = SAMPLE
) -> list[str]:
    """The classified changes from the recorded folder to one with `feature`, `sample`."""
    old = describe_acceptance(acceptance(tmp_path / "old"))
    new = describe_acceptance(acceptance(tmp_path / "new", feature, sample))
    base = compat.describe("1.0.0", [], [], [])
    return [
        str(change)
        for change in compat.compare(
            base | {"acceptance": old}, base | {"acceptance": new}
        )
    ]


def test_every_scenario_is_recorded_with_its_background_examples_and_tags(
    tmp_path: Path,
) -> None:
    described = describe_acceptance(acceptance(tmp_path))

    assert described["scenarios"] == {
        "scoring.feature: The golden sample is scored": {
            "steps": [
                "Given the candidate model",
                "Given the golden sample",
                "When the model scores it",
                "Then every house gets one prediction",
                "Then every prediction is a probability",
            ],
            "examples": [],
            "tags": [],
        },
        "scoring.feature: Bad input is refused": {
            "steps": [
                "Given the candidate model",
                "Given the golden sample",
                'Given the "<column>" column <problem>',
                "When the model scores it",
                "Then the input is refused",
            ],
            "examples": [
                "column=rooms, problem=is missing",
                "column=price, problem=is blank",
            ],
            "tags": ["@smoke"],
        },
        "scoring.feature: Prices: A price table is checked": {
            "steps": [
                "Given the candidate model",
                "Given these prices\n| price |\n| 10 |",
                "Then each is positive",
            ],
            "examples": [],
            "tags": [],
        },
    }
    assert described["samples"] == {
        "golden_sample.csv": {
            "columns": ["rooms", "price"],
            "rows": ["3,250000", "2,180000", "5,410000"],
        }
    }


def test_the_same_files_change_nothing(tmp_path: Path) -> None:
    assert changes_after(tmp_path) == []


@pytest.mark.parametrize(
    ("feature", "sample", "expected"),
    [
        (FEATURE.replace("  Scenario: The golden sample is scored\n    Given the golden sample\n    When the model scores it\n    Then every house gets one prediction\n    And every prediction is a probability\n", ""), SAMPLE,
         "BREAKING    scoring.feature: The golden sample is scored: acceptance scenario removed"),
        (FEATURE.replace("    And every prediction is a probability\n", ""), SAMPLE,
         "BREAKING    scoring.feature: The golden sample is scored: step removed: Then every prediction is a probability"),
        (FEATURE.replace("one prediction", "a prediction"), SAMPLE,
         "BREAKING    scoring.feature: The golden sample is scored: step removed: Then every house gets one prediction"),
        (FEATURE.replace("      | price  | is blank   |\n", ""), SAMPLE,
         "BREAKING    scoring.feature: Bad input is refused: example row removed: column=price, problem=is blank"),
        (FEATURE.replace("  Scenario: The golden", "  @skip\n  Scenario: The golden"), SAMPLE,
         "BREAKING    scoring.feature: The golden sample is scored: tag @skip added (it may skip)"),
        (FEATURE.replace("    Then every house gets one prediction\n    And every prediction is a probability\n",
                         "    Then every prediction is a probability\n    And every house gets one prediction\n"), SAMPLE,
         "BREAKING    scoring.feature: The golden sample is scored: steps reordered"),
        (FEATURE, "rooms,price\n3,250000\n",
         "BREAKING    golden_sample.csv: 2 rows removed from the golden sample"),
        (FEATURE, "rooms,price,garden\n3,250000,yes\n2,180000,no\n5,410000,no\n",
         "BREAKING    golden_sample.csv: golden sample's columns changed from ['rooms', 'price'] to ['rooms', 'price', 'garden']"),
    ],
    ids=["scenario-deleted", "step-deleted", "step-weakened", "example-deleted", "skipped", "reordered", "golden-rows-deleted", "golden-columns"],
)  # fmt: skip
def test_removing_or_weakening_a_promise_is_breaking(
    tmp_path: Path, feature: str, sample: str, expected: str
) -> None:
    assert expected in changes_after(tmp_path, feature, sample)


@pytest.mark.parametrize(
    ("feature", "sample", "expected"),
    [
        (FEATURE.replace("  Rule:", "  Scenario: Scores are stable\n    Then the same input scores the same\n\n  Rule:"), SAMPLE,
         "compatible  scoring.feature: Scores are stable: acceptance scenario added"),
        (FEATURE.replace("    And every prediction is a probability\n", "    And every prediction is a probability\n    And none is blank\n"), SAMPLE,
         "compatible  scoring.feature: The golden sample is scored: step added: Then none is blank"),
        (FEATURE.replace("      | price  | is blank   |\n", "      | price  | is blank   |\n      | price  | is text    |\n"), SAMPLE,
         "compatible  scoring.feature: Bad input is refused: example row added: column=price, problem=is text"),
        (FEATURE, SAMPLE + "4,300000\n",
         "compatible  golden_sample.csv: 1 row added to the golden sample"),
    ],
    ids=["scenario", "step", "example", "golden-row"],
)  # fmt: skip
def test_adding_to_a_promise_is_compatible(
    tmp_path: Path, feature: str, sample: str, expected: str
) -> None:
    assert changes_after(tmp_path, feature, sample) == [expected]


def test_a_deleted_folder_or_file_is_breaking(tmp_path: Path) -> None:
    old = describe_acceptance(acceptance(tmp_path / "old"))
    base = compat.describe("1.0.0", [], [], [])
    gone = describe_acceptance(tmp_path / "missing")

    changes = [
        str(c)
        for c in compat.compare(base | {"acceptance": old}, base | {"acceptance": gone})
    ]

    assert "BREAKING    golden_sample.csv: golden sample removed" in changes
    assert sum("acceptance scenario removed" in change for change in changes) == 3


def test_a_snapshot_from_before_scenarios_were_recorded_takes_them_as_compatible() -> (
    None
):
    base = compat.describe("1.0.0", [], [], [])
    now = base | {"acceptance": {"scenarios": {}, "samples": {}}}

    assert [str(change) for change in compat.compare(base, now)] == [
        "compatible  acceptance: scenarios and golden samples recorded"
    ]


def test_the_snapshot_refuses_to_record_a_deleted_scenario_at_the_same_major(
    tmp_path: Path,
) -> None:
    feature = FEATURE.replace("    And every prediction is a probability\n", "")
    base = compat.describe("1.0.0", [], [], [])
    old = base | {"acceptance": describe_acceptance(acceptance(tmp_path / "old"))}
    new = base | {
        "acceptance": describe_acceptance(acceptance(tmp_path / "new", feature))
    }

    verdict = compat.may_record(old, new)

    assert not verdict.passed
    assert "bump the major number (to 2.0.0)" in verdict.reason


def test_a_feature_file_that_is_not_gherkin_is_one_line_naming_file_and_line(
    tmp_path: Path,
) -> None:
    folder = acceptance(
        tmp_path, "# The feature line is missing.\n" + FEATURE[len("Feature: ") :]
    )

    with pytest.raises(ScenarioError) as refused:
        describe_acceptance(folder)

    message = str(refused.value)
    assert message.startswith("scoring.feature:2: not valid Gherkin: expected: #EOF")
    assert message.endswith("got 'Scoring houses'")
    assert "\n" not in message


def test_snapshot_with_an_unreadable_feature_file_exits_with_one_line(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "package/tests/acceptance").mkdir(parents=True, exist_ok=True)
    (project / "package/tests/acceptance/broken.feature").write_text(
        "Scenario without a feature\n"
    )

    assert cli.main(["snapshot"]) == cli.EXIT_UNUSABLE

    error = capsys.readouterr().err
    assert error.startswith(
        "handoff: error: broken.feature:1: not valid Gherkin: expected"
    )
    assert error.count("\n") == 1


def test_the_contract_gate_fails_on_an_unreadable_feature_file_naming_it(
    project: Path,
) -> None:
    (project / "package/tests/acceptance/broken.feature").write_text(
        "Scenario: alone\n"
    )

    result = gate.contract_gate(config.load(project))

    assert not result.passed
    assert result.reason.startswith("broken.feature:1: not valid Gherkin: expected")
