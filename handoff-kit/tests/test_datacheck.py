"""`handoff data-check`: each catalogued source with a schema checked, every failing
check found, and a report addressed to the source's owner."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import add_source, houses

from handoff_kit import cli, config, datacheck, gate
from handoff_kit.report import markdown

ISSUE = (
    "known_issues:\n"
    "- {what: Flats listed twice after the March import, found_by: bob@example.com, "
    "date: 2026-11-30, status: open}\n"
    "- {what: Empty kinds, found_by: eve@example.com, date: 2026-10-01, status: fixed}\n"
)


def plant(settings: config.Settings) -> None:
    """Houses with ids, three of them broken: rooms -1 (ids h3, h7), kind 'castle' (h7, h9)."""
    frame = houses(12).assign(house_id=[f"h{n}" for n in range(12)])
    frame.loc[[3, 7], "rooms"] = -1
    frame.loc[[7, 9], "kind"] = "castle"
    frame.to_csv(settings.root / "data/houses.csv", index=False)
    entry = settings.catalog / "houses.yml"
    entry.write_text(entry.read_text() + "id_column: house_id\n" + ISSUE)


def report(settings: config.Settings, name: str) -> str:
    return (settings.root / "reports/data" / f"{name}.md").read_text()


def test_a_clean_catalog_passes_and_writes_each_owner_a_report(
    settings: config.Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert datacheck.run(settings) == 0

    out = capsys.readouterr().out
    assert "houses (official, owner ada@example.com): passed (50 rows)" in out
    assert "survey: no schema, not checked (survey.yml)" in out
    assert "## Contract coverage\n\nBoundaries " in out, (
        "data-check prints contract coverage"
    )
    text = report(settings, "houses")
    assert "To: ada@example.com, owner of `houses` (data/catalog/houses.yml)." in text
    assert "**Passed**: all 50 rows follow the contract schema `Features`." in text
    assert "- Location: data/houses.csv" in text
    assert "- Reproduce: `handoff data-check houses`" in text
    assert not (settings.root / "reports/data/survey.md").exists()


def test_a_broken_official_source_fails_with_every_check_counted_and_its_rows_named(
    settings: config.Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    plant(settings)

    assert datacheck.run(settings) == 1, (
        "a broken official source must fail the command"
    )

    text = report(settings, "houses")
    assert (
        "**Broken**: 2 checks of the contract schema `Features` fail, in 12 rows read."
        in text
    )
    assert "| rooms | greater_than_or_equal_to(0) | 2 | h3, h7 | -1, -1 |" in text, text
    assert "| kind | isin(['flat', 'house']) | 2 | h7, h9 | castle, castle |" in text, (
        text
    )
    assert "First failing rows (by house_id)" in text
    assert "- Read: " in text
    out = capsys.readouterr().out
    assert "houses (official, owner ada@example.com): BROKEN, 2 failing checks" in out
    assert (
        "Official sources that break their contract or cannot be read: houses." in out
    )


def test_a_report_names_at_most_ten_rows_but_counts_them_all(
    settings: config.Settings,
) -> None:
    frame = houses(30).assign(rooms=-1)
    frame.to_csv(settings.root / "data/houses.csv", index=False)

    datacheck.run(settings)

    text = report(settings, "houses")
    row = next(line for line in text.splitlines() if line.startswith("| rooms"))
    assert row.startswith(
        "| rooms | greater_than_or_equal_to(0) | 30 | 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 |"
    ), row
    assert "(by row)" in text, "without an id column, rows are named by their number"


def test_a_missing_column_is_reported_without_rows(settings: config.Settings) -> None:
    pd.DataFrame({"rooms": [1]}).to_csv(settings.root / "data/houses.csv", index=False)

    datacheck.run(settings)

    assert "| kind | the column is missing | - | - | - |" in report(settings, "houses")


def test_a_broken_unofficial_source_is_reported_but_passes(
    settings: config.Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    add_source(settings.catalog, "survey", schema="Features")
    pd.DataFrame({"rooms": [-5], "kind": ["flat"]}).to_csv(
        settings.root / "data/survey.csv", index=False
    )

    assert datacheck.run(settings) == 0

    assert "**Broken**" in report(settings, "survey")
    assert (
        "survey (unofficial, owner bob@example.com): BROKEN" in capsys.readouterr().out
    )


def test_an_unreadable_official_source_fails_and_its_owner_is_told(
    settings: config.Settings,
) -> None:
    (settings.root / "data/houses.csv").unlink()

    assert datacheck.run(settings) == 1

    text = report(settings, "houses")
    assert (
        "**Unreadable**: the data could not be read: 'houses' (owner ada@example.com) has no data at data/houses.csv"
        in text
    )


def test_one_source_is_checked_when_named(
    settings: config.Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    add_source(settings.catalog, "other", location="data/missing.csv")

    assert cli.main(["data-check", "houses"]) == 0

    assert "other" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("nowhere", "handoff: error: 'nowhere' is not in the data catalog"),
        ("survey", "handoff: error: 'survey' has no schema (survey.yml)"),
    ],
)
def test_a_source_that_cannot_be_checked_is_one_line(
    project: Path, capsys: pytest.CaptureFixture[str], name: str, message: str
) -> None:
    assert cli.main(["data-check", name]) == 1

    err = capsys.readouterr().err
    assert err.startswith(message), err
    assert err.count("\n") == 1


def test_a_malformed_catalog_is_one_line(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "data/catalog/bad.yml").write_text("- a list\n")

    assert cli.main(["data-check"]) == 1

    assert "bad.yml: expected a mapping of fields" in capsys.readouterr().err


def test_an_open_known_issue_is_in_the_owners_report_and_the_handoffs_debts(
    settings: config.Settings,
) -> None:
    plant(settings)

    datacheck.run(settings)
    gate.run(settings, [])

    line = "Flats listed twice after the March import (found by bob@example.com, 2026-11-30; open)"
    owners = report(settings, "houses")
    handoff = settings.report.read_text()
    assert f"## Open known issues\n\n- {line}" in owners
    assert "Empty kinds" not in owners, "a fixed issue is no longer news to the owner"
    assert (
        "## Debts: open known issues of catalogued data\n\n"
        f"- `houses` (owner ada@example.com): {line}"
    ) in handoff
    assert "Empty kinds" not in handoff


def test_the_handoff_report_says_when_no_issue_is_open() -> None:
    text = markdown([], [])

    assert "## Debts: open known issues of catalogued data\n\nNone." in text
