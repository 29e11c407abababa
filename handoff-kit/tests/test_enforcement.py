"""Contract tests derived from the contract: every rule broken alone is refused by
name, and the rows pandera's strategy draws are accepted."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, cast

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest
from pandera.typing import DataFrame, Series

from handoff_kit import config, enforcement, gate
from handoff_kit.compat import describe_schema, write_snapshot
from handoff_kit.contracts import Schema


class Orders(Schema):
    """A contract with a rule of every kind the kit derives a breaking row for."""

    quantity: Series[int] = pa.Field(ge=1, le=100, unique=True)
    price: Series[float] = pa.Field(gt=0, lt=1000)
    discount: Series[float] = pa.Field(in_range={"min_value": 0, "max_value": 0.5})
    channel: Series[str] = pa.Field(isin=["web", "shop"])
    code: Series[str] = pa.Field(str_matches=r"^[A-Z]{2}\d{3}$", nullable=True)
    note: Series[str] = pa.Field(str_length={"min_value": 1, "max_value": 20})
    region: Series[str] = pa.Field(notin=["nowhere"], str_startswith="r")
    express: Series[bool]

    class Config:
        coerce = False
        strict = True


ORDERS_RULES = {
    # column: the rules each broken row must be refused by
    "quantity": {
        "column_in_dataframe",
        "not_nullable",
        "dtype",
        "field_uniqueness",
        "greater_than_or_equal_to",
        "less_than_or_equal_to",
    },
    "price": {
        "column_in_dataframe",
        "not_nullable",
        "dtype",
        "greater_than",
        "less_than",
    },
    "discount": {"column_in_dataframe", "not_nullable", "dtype", "in_range"},
    "channel": {"column_in_dataframe", "not_nullable", "dtype", "isin"},
    # nullable=True: no null row.
    "code": {"column_in_dataframe", "dtype", "str_matches"},
    "note": {"column_in_dataframe", "not_nullable", "dtype", "str_length"},
    "region": {
        "column_in_dataframe",
        "not_nullable",
        "dtype",
        "notin",
        "str_startswith",
    },
    "express": {"column_in_dataframe", "not_nullable", "dtype"},
    enforcement.UNKNOWN_COLUMN: {"column_in_schema"},
}


def tried(model: type[pa.DataFrameModel]) -> dict[str, set[str]]:
    """column -> the rules the kit broke, from its breaches of `model`."""
    valid = enforcement.draw(model, examples=1, rows=3)[0]
    found: dict[str, set[str]] = {}
    for breach in enforcement.breaches(model, valid, None).breaches:
        found.setdefault(breach.rule.column, set()).add(breach.rule.check)
    return found


def test_every_rule_of_every_column_is_broken_alone_and_refused_by_name() -> None:
    result = enforcement.enforce([Orders])

    assert result.passed, "\n".join(result.problems)
    assert tried(Orders) == ORDERS_RULES, "a rule was not tried, or one was invented"
    assert len(result.refused) == sum(len(rules) for rules in ORDERS_RULES.values())
    assert result.underived == ()
    assert "Orders.quantity: greater_than_or_equal_to(1) refused quantity=0" in (
        result.refused
    )
    assert "Orders.price: greater_than(0) refused price=0" in result.refused
    assert "Orders.channel: isin(['web', 'shop']) refused channel=''" in result.refused


def test_the_rows_pandera_draws_are_accepted_and_the_draw_is_the_same_every_run() -> (
    None
):
    first = enforcement.draw(Orders, examples=3, rows=4)
    again = enforcement.draw(Orders, examples=3, rows=4)

    assert len(first) == 3
    assert all(len(frame) == 4 for frame in first)
    assert all(enforcement.refusal(Orders, frame) is None for frame in first), (
        "pandera's strategy drew rows the schema refuses"
    )
    assert all(a.equals(b) for a, b in zip(first, again, strict=True)), (
        "the draw is not deterministic"
    )
    assert enforcement.enforce([Orders]).accepted == enforcement.EXAMPLES * 5


@pytest.mark.parametrize(
    ("check", "statistics", "dtype", "breaking"),
    [
        ("greater_than_or_equal_to", {"min_value": 0}, "int64", -1),
        ("greater_than_or_equal_to", {"min_value": 0.5}, "int64", 0),
        ("greater_than_or_equal_to", {"min_value": 0.0}, "float64", -1.0),
        ("greater_than", {"min_value": 0.5}, "int64", 0),
        ("less_than_or_equal_to", {"max_value": 1}, "float64", 2),
        ("less_than", {"max_value": 2.5}, "int64", 3),
        (
            "in_range",
            {"min_value": 0, "max_value": 1, "include_min": False, "include_max": True},
            "float64",
            0,
        ),
        ("in_range", {"min_value": None, "max_value": 9}, "int64", 10),
        ("equal_to", {"value": 3}, "int64", 4),
        ("equal_to", {"value": "a"}, "str", ""),
        ("not_equal_to", {"value": 7}, "int64", 7),
        ("isin", {"allowed_values": [1, 2]}, "int64", 3),
        ("isin", {"allowed_values": ["", " "]}, "str", "!"),
        ("notin", {"forbidden_values": ["x"]}, "str", "x"),
        ("str_matches", {"pattern": r"\d+"}, "str", ""),
        ("str_contains", {"pattern": "^$|a"}, "str", " "),
        ("str_endswith", {"string": "!"}, "str", ""),
        ("str_length", {"min_value": None, "max_value": 2}, "str", "aaa"),
        ("str_length", {"exact_value": 1}, "str", "aa"),
        (
            "greater_than_or_equal_to",
            {"min_value": pd.Timestamp("2026-01-01")},
            "datetime64[ns]",
            pd.Timestamp("2025-12-31"),
        ),
    ],
)
def test_the_breaking_value_comes_from_the_checks_statistics(
    check: str, statistics: dict[str, Any], dtype: str, breaking: object
) -> None:
    series = pd.Series([1, 2], dtype=dtype)

    assert enforcement.breaking_value(check, statistics, series) == breaking


def test_a_float_bound_too_large_to_step_by_one_steps_to_the_next_float() -> None:
    value = enforcement.breaking_value(
        "less_than_or_equal_to", {"max_value": 1e300}, pd.Series([1.0])
    )

    assert isinstance(value, float)
    assert value > 1e300


@pytest.mark.parametrize(
    ("check", "statistics"),
    [
        ("str_matches", {"pattern": ".*"}),  # Every string matches.
        ("isin", {"allowed_values": [True, False]}),
        ("greater_than_or_equal_to", {"min_value": "b"}),
        ("my_custom_check", {}),
    ],
)
def test_a_check_no_value_can_be_derived_for_says_so(
    check: str, statistics: dict[str, Any]
) -> None:
    with pytest.raises(enforcement._Underivable):
        enforcement.breaking_value(check, statistics, pd.Series(["a"]))


class Lenient(Schema):
    """Checks that look enforced and are not: a warning instead of a refusal."""

    visits: Series[int] = pa.Field(ge=0, raise_warning=True)
    plan: Series[str] = pa.Field(isin=["basic", "plus"])

    class Config:
        coerce = False


def test_a_check_that_does_not_refuse_fails_naming_schema_column_and_check() -> None:
    result = enforcement.enforce([Lenient])

    assert not result.passed
    assert result.problems == (
        "Lenient.visits: greater_than_or_equal_to(0) did not refuse visits=-1",
    )


def test_rules_removed_from_the_code_but_in_the_snapshot_are_still_tried() -> None:
    class Agreed(Schema):
        visits: Series[int] = pa.Field(ge=0)
        spend: Series[float]

        class Config:
            coerce = False

    class Weakened(Schema):  # ge=0 dropped, nulls allowed, since the snapshot.
        visits: Series[int]
        spend: Series[float] = pa.Field(nullable=True)

        class Config:
            coerce = False

    snapshot = {"schemas": {"Weakened": describe_schema(Agreed, "input")}}

    result = enforcement.enforce([Weakened], snapshot)

    assert result.problems == (
        "Weakened.visits: greater_than_or_equal_to(0) (in the contract snapshot, not "
        "in the code) did not refuse visits=-1",
        "Weakened.spend: not_nullable (in the contract snapshot, not in the code) did "
        "not refuse spend=null",
    )


def test_a_rule_only_the_snapshot_records_may_be_refused_by_another_check() -> None:
    class Tightened(Schema):  # ge=0 became isin: -1 is still refused.
        visits: Series[int] = pa.Field(isin=[1, 2, 3])

        class Config:
            coerce = False

    snapshot = {
        "schemas": {
            "Tightened": {
                "columns": {
                    "visits": {"checks": {"greater_than_or_equal_to": {"min_value": 0}}}
                }
            }
        }
    }

    result = enforcement.enforce([Tightened], snapshot)

    assert result.passed, result.problems
    assert (
        "Tightened.visits: greater_than_or_equal_to(0) (in the contract snapshot, not "
        "in the code) refused visits=-1" in result.refused
    )


class Filtering(Schema):
    """Validation that drops the rows breaking a rule instead of refusing them."""

    score: Series[float] = pa.Field(ge=0)

    class Config:
        coerce = False
        drop_invalid_rows = True


class Swallowing(Schema):
    """A team's validated() that lets anything through."""

    score: Series[float] = pa.Field(ge=0)

    @classmethod
    def validated(cls, frame: pd.DataFrame) -> DataFrame[Swallowing]:
        return cast("DataFrame[Swallowing]", frame)


class Refusing(Schema):
    """A team's validated() that refuses everything, naming nothing."""

    score: Series[float] = pa.Field(ge=0)

    @classmethod
    def validated(cls, frame: pd.DataFrame) -> DataFrame[Refusing]:
        raise ValueError("nope")


@pytest.mark.parametrize("model", [Filtering, Swallowing])
def test_validation_that_lets_a_breaking_row_through_fails_naming_the_rule(
    model: type[Schema],
) -> None:
    result = enforcement.enforce([model])

    assert not result.passed
    assert (
        f"{model.__name__}.score: greater_than_or_equal_to(0) did not refuse score=-1"
        in result.problems
    ), result.problems


def test_validation_that_refuses_the_drawn_valid_rows_fails() -> None:
    result = enforcement.enforce([Refusing])

    assert not result.passed
    assert result.problems[0] == (
        "Refusing: refused rows its own rules allow (drawn by pandera's strategy): "
        "ValueError: nope"
    )
    assert (
        "Refusing.score: greater_than_or_equal_to(0): score=-1 was refused without "
        "naming the column and check (it named ValueError: nope)" in result.problems
    )


def test_a_plain_pandera_model_is_tried_through_validate() -> None:
    class Plain(pa.DataFrameModel):
        size: Series[int] = pa.Field(ge=0)

    result = enforcement.enforce([Plain])

    assert result.passed, result.problems
    assert "Plain.size: greater_than_or_equal_to(0) refused size=-1" in result.refused


def test_rules_that_cannot_be_broken_from_statistics_are_listed_not_skipped() -> None:
    class Custom(Schema):
        ratio: Series[float] = pa.Field(coerce=True)
        word: Series[str] = pa.Field(str_matches=".*")
        even: Series[int] = pa.Field(ge=0)

        @pa.check("even")
        @classmethod
        def is_even(cls, series: pd.Series) -> pd.Series:
            return series % 2 == 0

        @pa.dataframe_check
        @classmethod
        def ordered(cls, frame: pd.DataFrame) -> bool:
            return True

    result = enforcement.enforce([Custom])

    assert result.passed, result.problems
    assert result.underived == (
        "Custom.ratio: dtype('float64') (coerce=True converts a wrong dtype instead "
        "of refusing it)",
        "Custom.word: str_matches('.*') (no breaking value from its statistics)",
        "Custom.even: is_even() (no breaking value from its statistics)",
        "Custom: dataframe check ordered (no column to break)",
    )


def test_a_breaking_value_the_columns_dtype_cannot_hold_is_listed() -> None:
    class Small(Schema):
        size: Series[np.uint8] = pa.Field(ge=0)

        class Config:
            coerce = False

    result = enforcement.enforce([Small])

    assert result.passed, result.problems
    assert result.underived == (
        "Small.size: greater_than_or_equal_to(0) (size=-1 does not fit its dtype)",
    )


def test_a_models_own_validate_that_stops_at_the_first_failure_still_names_it() -> None:
    class Eager(pa.DataFrameModel):
        size: Series[int] = pa.Field(ge=0)

        class Config:
            coerce = False

        @classmethod
        def validate(
            cls, check_obj: pd.DataFrame, *args: object, **kwargs: object
        ) -> pd.DataFrame:
            return super().validate(check_obj)  # Not lazy.

    result = enforcement.enforce([Eager])

    assert result.passed, result.problems
    assert "Eager.size: required refused the column left out" in result.refused
    assert "Eager.size: greater_than_or_equal_to(0) refused size=-1" in result.refused


def test_a_schema_pandera_cannot_draw_rows_for_fails_saying_why() -> None:
    class Impossible(Schema):
        size: Series[int] = pa.Field(ge=0)

        @pa.check("size")
        @classmethod
        def negative(cls, series: pd.Series) -> pd.Series:
            return series < 0

    result = enforcement.enforce([Impossible])

    assert not result.passed
    assert result.problems[0].startswith(
        "Impossible: pandera's strategy draws no valid rows ("
    )


def test_without_hypothesis_the_tests_fail_saying_what_installs_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(__import__("sys").modules, "hypothesis", None)

    result = enforcement.enforce([Orders])

    assert result.problems == (
        "hypothesis is not installed: the handoff kit's dev extra installs it "
        "(`make setup`)",
    )


# --- The gate's row ------------------------------------------------------------------


def test_the_gate_row_passes_the_sample_contract_counting_what_it_tried(
    settings: config.Settings,
) -> None:
    write_snapshot(settings.snapshot, gate.current_contract(settings))

    result = gate.enforcement_gate(settings)

    assert result.passed, result.details
    assert result.gate == "Contract enforced"
    assert result.reason.startswith("14 rules of 2 schemas, each broken alone, refused")
    assert "Features.rooms: greater_than_or_equal_to(0) refused rooms=-1" in (
        result.details
    )


def test_the_gate_row_fails_on_a_check_weakened_since_the_snapshot(
    settings: config.Settings,
) -> None:
    write_snapshot(settings.snapshot, gate.current_contract(settings))

    class Features(Schema):  # The sample's, ge=0 on rooms removed.
        rooms: Series[int]
        kind: Series[str] = pa.Field(isin=["flat", "house"])

        class Config:
            coerce = False

    contract = settings.contract
    vars(settings)["contract"] = replace(
        contract, inputs=(Features,), model_input=Features
    )

    result = gate.enforcement_gate(settings)

    assert not result.passed
    assert result.reason == (
        "Features.rooms: greater_than_or_equal_to(0) (in the contract snapshot, not "
        "in the code) did not refuse rooms=-1"
    )
