"""`handoff data-check`: every catalogued source with a schema, checked against
it, and a report addressed to the source's owner.

The data scientist who finds that a source breaks its contract is rarely the one
who can fix it: the owner named in the catalog is. So each source gets its own
report, reports/data/<source>.md, written for that owner: every failing check
(pandera, lazy=True), how many rows fail it and the first failing rows by their
id column, where the data was read and when, the command that shows it again,
and the problems people recorded in the entry's known_issues that are still open.
An official source that breaks its contract, or cannot be read, fails the command.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import pandas as pd
from pandera.errors import SchemaErrors

from handoff_kit import catalog, config, contract_coverage
from handoff_kit.catalog import CatalogError, Source
from handoff_kit.contracts import failures_of

# Failing rows a report names per check.
ROWS_SHOWN = 10
COMMAND = "handoff data-check"
# Checks whose failure is the column or its type, not values in some rows.
_COLUMN_CHECKS = {
    "column_in_dataframe": "the column is missing",
    "column_in_schema": "a column the schema does not have",
}

Verdict = Literal["passed", "broken", "unreadable"]


class DataCheckError(ValueError):
    """The command cannot run: the catalog is malformed, or names no such source."""


@dataclass(frozen=True)
class FailedCheck:
    """One check a source's rows fail: how many rows, and the first ones' ids."""

    column: str
    check: str
    rows: int
    ids: tuple[str, ...]
    values: tuple[str, ...]


@dataclass(frozen=True)
class Outcome:
    """What checking one source found."""

    source: Source
    verdict: Verdict
    read_at: str
    rows: int = 0
    failures: tuple[FailedCheck, ...] = ()
    error: str = ""
    id_label: str = "row"
    report: Path = field(default=Path())

    @property
    def fails_the_command(self) -> bool:
        return self.source.official and self.verdict != "passed"


def checked_sources(
    settings: config.Settings, only: str | None = None
) -> tuple[list[Source], list[Source]]:
    """The sources to check (those with a schema, or the one named) and those
    without a schema, which nothing checks."""
    try:
        sources = catalog.read_catalog(
            settings.catalog, catalog.contract_schemas(settings)
        )
    except CatalogError as error:
        raise DataCheckError(str(error)) from None
    if only is not None:
        if only not in sources:
            msg = f"{only!r} is not in the data catalog ({settings.catalog}); known: {', '.join(sources) or 'none'}"
            raise DataCheckError(msg)
        if sources[only].schema is None:
            msg = f"{only!r} has no schema ({sources[only].file.name}): name the contract schema its rows follow, then check it"
            raise DataCheckError(msg)
        return [sources[only]], []
    with_schema = [source for source in sources.values() if source.schema]
    without = [source for source in sources.values() if not source.schema]
    return with_schema, without


def check_source(settings: config.Settings, source: Source) -> Outcome:
    """Read `source` and validate it against its schema, every check at once."""
    read_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    schema = catalog.contract_schemas(settings)[str(source.schema)]
    try:
        frame = catalog.read(source, settings.root)
    except CatalogError as error:
        return Outcome(
            source, "unreadable", read_at, error=" ".join(str(error).split())
        )
    id_column = source.id_column or settings.id_column
    labels = _labels(frame, id_column)
    id_label = id_column if id_column and id_column in frame else "row"
    try:
        schema.validate(frame, lazy=True)
    except SchemaErrors as errors:
        failures = _failed_checks(errors.failure_cases, labels)
        return Outcome(
            source, "broken", read_at, len(frame), failures, id_label=id_label
        )
    return Outcome(source, "passed", read_at, len(frame), id_label=id_label)


def _labels(frame: pd.DataFrame, id_column: str) -> pd.Series:
    """Each row's name in a report: its id column's value, else its row number."""
    if id_column and id_column in frame:
        return frame[id_column].astype(str)
    return pd.Series([str(n) for n in range(len(frame))], index=frame.index)


def _failed_checks(cases: pd.DataFrame, labels: pd.Series) -> tuple[FailedCheck, ...]:
    """Each failing column and check, with its rows named by `labels`."""
    return tuple(
        FailedCheck(
            failure.column,
            _COLUMN_CHECKS.get(failure.check, failure.check),
            len(failure.index),
            tuple(str(labels.get(i, i)) for i in failure.index[:ROWS_SHOWN]),
            () if failure.check in _COLUMN_CHECKS else failure.examples,
        )
        for failure in failures_of(cases)
    )


def markdown(outcome: Outcome, schema: str, settings: config.Settings) -> str:
    """The owner's report for one source."""
    source = outcome.source
    file = (
        source.file.relative_to(settings.root)
        if source.file.is_absolute() and source.file.is_relative_to(settings.root)
        else source.file
    )
    standing = (
        "official: the project's production code relies on it"
        if source.official
        else "unofficial: research/ uses it, production code may not"
    )
    verdict = {
        "passed": f"**Passed**: all {outcome.rows} rows follow the contract schema `{schema}`.",
        "broken": (
            f"**Broken**: {len(outcome.failures)} check{'s' if len(outcome.failures) != 1 else ''} "
            f"of the contract schema `{schema}` fail, in {outcome.rows} rows read."
        ),
        "unreadable": f"**Unreadable**: the data could not be read: {outcome.error}",
    }[outcome.verdict]
    lines = [
        f"# Data check: {source.name}",
        "",
        f"To: {source.owner}, owner of `{source.name}` ({file}).",
        "",
        verdict,
        "",
        f"- Source: {source.description.strip()} ({source.tier}, {standing}).",
        f"- Location: {source.where}",
        f"- Read: {outcome.read_at}",
        f"- Reproduce: `{COMMAND} {source.name}` (or `make data-check SOURCE={source.name}`) in the project",
    ]
    if outcome.failures:
        lines += [
            "",
            "## Failing checks",
            "",
            f"| Column | Check | Failing rows | First failing rows (by {outcome.id_label}) | Failing values |",
            "|---|---|---|---|---|",
        ]
        lines += [
            f"| {_cell(f.column)} | {_cell(f.check)} | {f.rows if f.rows or f.ids else '-'} "
            f"| {_cell(', '.join(f.ids)) or '-'} | {_cell(', '.join(f.values)) or '-'} |"
            for f in outcome.failures
        ]
    lines += ["", "## Open known issues", ""]
    lines += [f"- {issue}" for issue in source.open_issues] or ["None."]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def summary_line(outcome: Outcome, settings: config.Settings) -> str:
    """One line per source for the terminal."""
    source = outcome.source
    shown = outcome.report.relative_to(settings.root)
    standing = "official" if source.official else "unofficial"
    if outcome.verdict == "passed":
        what = f"passed ({outcome.rows} rows)"
    elif outcome.verdict == "broken":
        checks = ", ".join(
            f"{f.column}: {f.check} ({f.rows} rows)"
            if f.rows
            else f"{f.column}: {f.check}"
            for f in outcome.failures
        )
        what = f"BROKEN, {len(outcome.failures)} failing checks: {checks}"
    else:
        what = f"UNREADABLE: {outcome.error}"
    return f"{source.name} ({standing}, owner {source.owner}): {what}; report {shown}"


def run(settings: config.Settings, only: str | None = None) -> int:
    """Check the sources, write each owner's report, print a line per source;
    1 when an official source breaks its contract or cannot be read."""
    checked, unchecked = checked_sources(settings, only)
    folder = settings.report.parent / "data"
    folder.mkdir(parents=True, exist_ok=True)
    outcomes = []
    for source in checked:
        found = check_source(settings, source)
        outcome = Outcome(**{**found.__dict__, "report": folder / f"{source.name}.md"})
        outcome.report.write_text(markdown(outcome, str(source.schema), settings))
        outcomes.append(outcome)
        print(summary_line(outcome, settings))
    for source in unchecked:
        print(f"{source.name}: no schema, not checked ({source.file.name})")
    if only is None:  # The whole catalog: how much of it the contract covers.
        print()
        print(contract_coverage.markdown(contract_coverage.measure(settings)))
    print(*closing_lines(outcomes), sep="\n")
    return 1 if any(outcome.fails_the_command for outcome in outcomes) else 0


def closing_lines(outcomes: Sequence[Outcome]) -> list[str]:
    failing = [o.source.name for o in outcomes if o.fails_the_command]
    if failing:
        return [
            f"Official sources that break their contract or cannot be read: {', '.join(failing)}.",
            "Send each report to its owner (To: in the report); record what you found in the entry's known_issues.",
        ]
    return [
        f"{len(outcomes)} source{'s' if len(outcomes) != 1 else ''} checked; no official source breaks its contract."
    ]


def open_issues(sources: Sequence[Source]) -> list[str]:
    """The open known issues of every source, one line each, for the handoff
    report's debts."""
    return [
        f"`{source.name}` (owner {source.owner}): {issue}"
        for source in sources
        for issue in source.open_issues
    ]
