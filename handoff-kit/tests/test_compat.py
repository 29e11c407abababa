"""The breaking-change rules, case by case, on real pandera schemas, and the gate's verdicts."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import pandera.pandas as pa
import pytest
from pandera.typing import Series

from handoff_kit.compat import (
    Change,
    Snapshot,
    check_direction,
    compare,
    describe,
    describe_interface,
    describe_schema,
    judge,
    major,
    may_record,
    read_snapshot,
    write_snapshot,
)


class Rows(pa.DataFrameModel):
    amount: Series[float] = pa.Field(ge=0)
    kind: Series[str] = pa.Field(isin=["a", "b"])
    note: Series[str] | None = pa.Field(nullable=True)


Base = Rows  # Tests define a changed `Rows` locally, on top of this one.


class Scorer(Protocol):
    def score(self, rows: int) -> float: ...


def snapshot(
    inputs: dict[str, type[pa.DataFrameModel]] | None = None,
    outputs: dict[str, type[pa.DataFrameModel]] | None = None,
    interface: type = Scorer,
    version: str = "1.0.0",
) -> Snapshot:
    """What `make contract-snapshot` records, for the schemas and interface given."""
    schemas = {name: describe_schema(m, "input") for name, m in (inputs or {}).items()}
    schemas |= {
        name: describe_schema(m, "output") for name, m in (outputs or {}).items()
    }
    return {
        "version": version,
        "schemas": schemas,
        "interfaces": {"Scorer": describe_interface(interface)},
    }


def changes(old: Snapshot, new: Snapshot) -> list[tuple[str, bool]]:
    return [(f"{c.where}: {c.what}", c.breaking) for c in compare(old, new)]


def test_identical_contracts_have_no_changes() -> None:
    assert compare(snapshot({"Rows": Rows}), snapshot({"Rows": Rows})) == []


def test_removing_an_input_column_is_breaking() -> None:
    class Rows(pa.DataFrameModel):  # `kind` is gone.
        amount: Series[float] = pa.Field(ge=0)
        note: Series[str] | None = pa.Field(nullable=True)

    found = changes(snapshot({"Rows": Base}), snapshot({"Rows": Rows}))

    assert found == [("Rows.kind: column removed (or renamed)", True)]


def test_adding_an_optional_input_column_is_compatible() -> None:
    class Rows(Base):
        channel: Series[str] | None

    assert changes(snapshot({"Rows": Base}), snapshot({"Rows": Rows})) == [
        ("Rows.channel: optional input column added", False)
    ]


def test_adding_a_required_input_column_is_breaking() -> None:
    class Rows(Base):
        channel: Series[str]

    assert changes(snapshot({"Rows": Base}), snapshot({"Rows": Rows})) == [
        ("Rows.channel: required input column added", True)
    ]


def test_changing_a_dtype_is_breaking() -> None:
    class Rows(Base):
        amount: Series[int] = pa.Field(ge=0)

    [(what, breaking)] = changes(snapshot({"Rows": Base}), snapshot({"Rows": Rows}))
    assert what.startswith("Rows.amount: dtype changed from float64 to int64")
    assert breaking


def test_making_an_optional_input_required_is_breaking() -> None:
    class Rows(Base):
        note: Series[str] = pa.Field(nullable=True)

    assert changes(snapshot({"Rows": Base}), snapshot({"Rows": Rows})) == [
        ("Rows.note: optional column made required", True)
    ]


def test_making_a_required_input_optional_is_compatible() -> None:
    class Rows(pa.DataFrameModel):
        amount: Series[float] = pa.Field(ge=0)
        kind: Series[str] | None = pa.Field(isin=["a", "b"])
        note: Series[str] | None = pa.Field(nullable=True)

    assert changes(snapshot({"Rows": Base}), snapshot({"Rows": Rows})) == [
        ("Rows.kind: column made optional", False)
    ]


@pytest.mark.parametrize(
    ("checks", "breaking"),
    [
        ({"ge": 1}, True),  # tightened
        ({"gt": 0}, True),  # ge removed (looser), gt added (tighter)
        ({"ge": -1}, False),  # loosened
        ({}, False),  # check removed
        ({"ge": 0, "le": 100}, True),  # check added
    ],
    ids=["raised-minimum", "exclusive-minimum", "lowered-minimum", "removed", "added"],
)
def test_tightening_an_input_check_is_breaking_and_loosening_is_not(
    checks: dict[str, Any], *, breaking: bool
) -> None:
    class Rows(Base):
        amount: Series[float] = pa.Field(**checks)

    found = changes(snapshot({"Rows": Base}), snapshot({"Rows": Rows}))

    assert found, "the change went unnoticed"
    assert any(flag for _, flag in found) == breaking, found


def test_narrowing_allowed_values_is_breaking_and_widening_is_not() -> None:
    class Narrow(Base):
        kind: Series[str] = pa.Field(isin=["a"])

    class Wide(Base):
        kind: Series[str] = pa.Field(isin=["a", "b", "c"])

    [(narrow, narrow_breaks)] = changes(
        snapshot({"Rows": Base}), snapshot({"Rows": Narrow})
    )
    [(wide, wide_breaks)] = changes(snapshot({"Rows": Base}), snapshot({"Rows": Wide}))
    assert "check isin tightened" in narrow
    assert narrow_breaks
    assert "check isin loosened" in wide
    assert not wide_breaks


def test_refusing_nulls_in_an_input_is_breaking() -> None:
    class Rows(Base):
        note: Series[str] | None = pa.Field(nullable=False)

    assert changes(snapshot({"Rows": Base}), snapshot({"Rows": Rows})) == [
        ("Rows.note: nulls refused", True)
    ]


class Output(pa.DataFrameModel):
    score: Series[float] = pa.Field(ge=0, le=1)


def test_for_outputs_a_new_column_or_a_tighter_check_is_compatible() -> None:
    class Tighter(pa.DataFrameModel):
        score: Series[float] = pa.Field(ge=0, le=0.5)
        label: Series[bool]

    found = changes(
        snapshot(outputs={"Output": Output}), snapshot(outputs={"Output": Tighter})
    )

    assert ("Output.label: output column added", False) in found
    assert [flag for _, flag in found] == [False, False]


def test_for_outputs_a_looser_check_or_a_removed_column_is_breaking() -> None:
    class Looser(pa.DataFrameModel):
        score: Series[float] = pa.Field(ge=-1, le=1)

    class Fewer(pa.DataFrameModel):
        pass

    [(looser, looser_breaks)] = changes(
        snapshot(outputs={"Output": Output}), snapshot(outputs={"Output": Looser})
    )
    assert "greater_than_or_equal_to loosened" in looser
    assert looser_breaks
    assert changes(
        snapshot(outputs={"Output": Output}), snapshot(outputs={"Output": Fewer})
    ) == [("Output.score: column removed (or renamed)", True)]


def test_removing_or_adding_a_schema() -> None:
    assert changes(snapshot({"Rows": Rows}), snapshot()) == [
        ("Rows: schema removed", True)
    ]
    assert changes(snapshot(), snapshot({"Rows": Rows})) == [
        ("Rows: schema added", False)
    ]


def test_changing_or_removing_an_interface_method_is_breaking() -> None:
    class Drifted(Protocol):
        def score(self, rows: str) -> float: ...

    class Grown(Protocol):
        def score(self, rows: int) -> float: ...
        def explain(self) -> str: ...

    class Empty(Protocol):
        pass

    drifted = changes(snapshot(), snapshot(interface=Drifted))
    grown = changes(snapshot(), snapshot(interface=Grown))
    empty = changes(snapshot(), snapshot(interface=Empty))

    assert drifted == [
        ("Scorer.score: signature changed from (self, rows: 'int') -> 'float' "
         "to (self, rows: 'str') -> 'float'", True)
    ]  # fmt: skip
    assert grown == [("Scorer.explain: method added", True)]
    assert empty == [("Scorer.score: method removed", True)]


@pytest.mark.parametrize(
    ("old", "new", "direction"),
    [
        ({"min_value": 0, "max_value": 1, "include_min": True, "include_max": True},
         {"min_value": 0, "max_value": 1, "include_min": False, "include_max": True}, "tightened"),
        ({"min_value": 0, "max_value": 1, "include_min": True, "include_max": True},
         {"min_value": 0, "max_value": 2, "include_min": True, "include_max": True}, "loosened"),
        ({"min_value": 0, "max_value": 1, "include_min": True, "include_max": True},
         {"min_value": 1, "max_value": 2, "include_min": True, "include_max": True}, "changed"),
    ],
    ids=["exclusive-bound", "wider", "shifted"],
)  # fmt: skip
def test_range_checks_are_ordered_by_both_bounds(
    old: Snapshot, new: Snapshot, direction: str
) -> None:
    assert check_direction("in_range", old, new) == direction


def test_allowed_values_in_another_order_are_unchanged() -> None:
    assert (
        check_direction(
            "isin", {"allowed_values": ["a", "b"]}, {"allowed_values": ["b", "a"]}
        )
        == "unchanged"
    )


def test_checks_that_cannot_be_ordered_count_as_changed() -> None:
    assert check_direction(
        "notin", {"forbidden_values": [1]}, {"forbidden_values": [1, 2]}
    ) == ("tightened")
    assert (
        check_direction("isin", {"allowed_values": [1]}, {"allowed_values": [2]})
        == "changed"
    )
    assert (
        check_direction("str_matches", {"pattern": "a"}, {"pattern": "b"}) == "changed"
    )
    assert (
        check_direction("less_than", {"max_value": 5}, {"max_value": 4}) == "tightened"
    )


def test_removing_an_interface_is_breaking_and_adding_one_is_not() -> None:
    with_scorer = snapshot()
    without = {**with_scorer, "interfaces": {}}

    assert changes(with_scorer, without) == [("Scorer: interface removed", True)]
    assert changes(without, with_scorer) == [("Scorer: interface added", False)]


def test_the_snapshot_describes_every_schema_by_role_and_every_interface() -> None:
    described = describe("1.2.3", [Rows], [Output], [Scorer])

    assert described == snapshot({"Rows": Rows}, {"Output": Output}, version="1.2.3")
    assert described["schemas"]["Rows"]["columns"]["kind"] == {
        "dtype": "str",
        "nullable": False,
        "required": True,
        "checks": {"isin": {"allowed_values": ["a", "b"]}},
    }
    assert described["interfaces"]["Scorer"] == {
        "score": "(self, rows: 'int') -> 'float'"
    }


def test_a_change_reads_as_breaking_or_compatible() -> None:
    assert str(Change("Rows.kind", "column removed", breaking=True)).startswith(
        "BREAKING"
    )
    assert str(Change("Rows.x", "added", breaking=False)).startswith("compatible")


# --- The gate's verdicts ----------------------------------------------------------


def test_the_gate_passes_when_code_and_snapshot_agree() -> None:
    verdict = judge(snapshot({"Rows": Rows}), snapshot({"Rows": Rows}))

    assert verdict.passed
    assert "1.0.0" in verdict.reason


def test_a_breaking_change_without_a_major_bump_fails_and_names_the_column() -> None:
    class Rows(pa.DataFrameModel):
        amount: Series[float] = pa.Field(ge=0)

    verdict = judge(snapshot({"Rows": Base}), snapshot({"Rows": Rows}, version="1.1.0"))

    assert not verdict.passed
    assert "breaking change without a major version bump" in verdict.reason
    assert "Rows.kind" in verdict.reason
    assert any(c.breaking and c.where == "Rows.kind" for c in verdict.changes)


def test_a_breaking_change_with_a_major_bump_still_needs_a_fresh_snapshot() -> None:
    class Rows(pa.DataFrameModel):
        amount: Series[float] = pa.Field(ge=0)

    new = snapshot({"Rows": Rows}, version="2.0.0")

    stale = judge(snapshot({"Rows": Base}), new)
    assert not stale.passed
    assert "make contract-snapshot" in stale.reason
    assert judge(new, new).passed


def test_a_compatible_change_needs_a_fresh_snapshot() -> None:
    class Rows(Base):
        channel: Series[str] | None

    verdict = judge(snapshot({"Rows": Base}), snapshot({"Rows": Rows}))

    assert not verdict.passed
    assert "make contract-snapshot" in verdict.reason
    assert [c.breaking for c in verdict.changes] == [False]


def test_a_version_that_is_not_semver_or_a_missing_snapshot_fails() -> None:
    assert not judge(
        snapshot({"Rows": Rows}), snapshot({"Rows": Rows}, version="v1")
    ).passed
    assert "no contract snapshot" in judge(None, snapshot({"Rows": Rows})).reason


def test_a_snapshot_with_a_broken_version_or_a_version_going_back_fails() -> None:
    broken = judge(snapshot({"Rows": Rows}, version="one"), snapshot({"Rows": Rows}))
    backwards = judge(
        snapshot({"Rows": Rows}, version="2.0.0"), snapshot({"Rows": Rows})
    )

    assert not broken.passed
    assert "the snapshot's version 'one' is not a semantic version" in broken.reason
    assert not backwards.passed
    assert "older than the snapshot's 2.0.0" in backwards.reason


# --- Recording a snapshot cannot bless what the gate refuses ------------------------


def test_recording_refuses_a_breaking_change_at_the_snapshots_major_version() -> None:
    class Rows(pa.DataFrameModel):
        amount: Series[float] = pa.Field(ge=0)

    verdict = may_record(
        snapshot({"Rows": Base}), snapshot({"Rows": Rows}, version="1.1.0")
    )

    assert not verdict.passed
    assert verdict.reason.startswith("2 breaking changes at CONTRACT_VERSION 1.1.0")
    assert "bump the major number (to 2.0.0)" in verdict.reason
    assert "agreeing it with the other team first" in verdict.reason
    assert [c.where for c in verdict.changes] == ["Rows.kind", "Rows.note"]


def test_recording_accepts_a_breaking_change_under_a_new_major_version() -> None:
    class Rows(pa.DataFrameModel):
        amount: Series[float] = pa.Field(ge=0)

    new = snapshot({"Rows": Rows}, version="2.0.0")

    assert may_record(snapshot({"Rows": Base}), new).passed
    assert judge(new, new).passed


@pytest.mark.parametrize(
    ("old", "new"),
    [(None, "1.0.0"), ("1.0.0", "1.0.0"), ("1.0.0", "1.1.0")],
    ids=["first snapshot", "unchanged", "compatible change"],
)
def test_recording_accepts_a_first_snapshot_and_compatible_changes(
    old: str | None, new: str
) -> None:
    class Rows(Base):
        channel: Series[str] | None

    before = None if old is None else snapshot({"Rows": Base}, version=old)

    assert may_record(before, snapshot({"Rows": Rows}, version=new)).passed


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        ("1.0.0", "v2", "is not a semantic version"),
        ("one", "1.0.0", "the snapshot's version 'one'"),
        ("2.0.0", "1.9.0", "older than the snapshot's 2.0.0"),
    ],
)
def test_recording_refuses_unusable_versions(old: str, new: str, problem: str) -> None:
    verdict = may_record(
        snapshot({"Rows": Rows}, version=old), snapshot({"Rows": Rows}, version=new)
    )

    assert not verdict.passed
    assert problem in verdict.reason


@pytest.mark.parametrize(
    ("version", "number"), [("1.0.0", 1), ("12.3.4", 12), ("0.1.0", 0)]
)
def test_the_major_number_is_the_first_of_three(version: str, number: int) -> None:
    assert major(version) == number


def test_a_snapshot_round_trips_through_its_file(tmp_path: Path) -> None:
    path = tmp_path / "contracts.lock.json"
    assert read_snapshot(path) is None

    write_snapshot(path, snapshot({"Rows": Rows}))

    assert read_snapshot(path) == snapshot({"Rows": Rows})
