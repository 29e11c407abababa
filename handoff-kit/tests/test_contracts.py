"""Schema.validated: data checked against a contract schema, every failure named at once."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import pandas as pd
import pandera.pandas as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandera.errors import SchemaError, SchemaErrors
from pandera.typing import Series

from handoff_kit import ContractViolation, Failure, contracts
from handoff_kit.contracts import Schema, unkept_nulls
from sample_model.contracts import Features, Predictions


def rows(**columns: list[object]) -> pd.DataFrame:
    """Three valid feature rows, with `columns` replaced."""
    return pd.DataFrame(
        {"rooms": [1, 2, 3], "kind": ["flat", "house", "flat"], **columns}
    )


def violation(
    frame: pd.DataFrame, schema: type[Features | Predictions] = Features
) -> ContractViolation:
    with pytest.raises(ContractViolation) as refused:
        schema.validated(frame)
    return refused.value


def test_valid_rows_come_back_as_they_were() -> None:
    valid = Features.validated(rows())

    pd.testing.assert_frame_equal(valid, rows())


@pytest.mark.parametrize(
    ("column", "values", "line"),
    [
        ("rooms", [1, -1, 3], "rooms: greater_than_or_equal_to(0) failed in 1 row, e.g. -1"),
        ("kind", ["flat", "castle", "flat"], "kind: isin(['flat', 'house']) failed in 1 row, e.g. castle"),
    ],
    ids=["ge", "isin"],
)  # fmt: skip
def test_a_value_out_of_bounds_names_its_column_check_and_value(
    column: str, values: list[object], line: str
) -> None:
    refused = violation(rows(**{column: values}))

    [failure] = refused.failures
    assert failure.column == column
    assert failure.rows == 1
    assert str(refused) == f"Features contract violated (1 failure):\n  - {line}"


def test_every_failure_is_reported_at_once() -> None:
    frame = pd.DataFrame({"kind": ["flat", None, "boat"]})

    refused = violation(frame)

    assert refused.schema == "Features"
    assert {(f.column, f.check.split("(")[0]) for f in refused.failures} == {
        ("rooms", "column_in_dataframe"),
        ("kind", "not_nullable"),
        ("kind", "isin"),
    }
    assert str(refused).startswith("Features contract violated (3 failures):\n")
    assert "  - rooms: missing column (column_in_dataframe)" in str(refused)


def test_a_wrong_dtype_is_refused_not_coerced() -> None:
    refused = violation(rows(rooms=[1.0, 2.0, 3.0]))

    assert refused.failures == [Failure("rooms", "dtype('int64')", 1, ("float64",))]
    assert "rooms: dtype('int64') failed (found float64)" in str(refused)


def test_a_column_the_strict_output_does_not_know_is_refused() -> None:
    refused = violation(pd.DataFrame({"score": [0.5], "debug": [1]}), Predictions)

    assert str(refused) == (
        "Predictions contract violated (1 failure):\n"
        "  - debug: unexpected column (column_in_schema)"
    )


def test_a_failure_shows_at_most_three_examples() -> None:
    refused = violation(rows(rooms=[-1, -2, -3]).pipe(lambda f: pd.concat([f, f])))

    [failure] = refused.failures
    assert failure.rows == 6
    assert failure.examples == ("-1", "-2", "-3")


def test_a_contract_violation_is_a_value_error() -> None:
    assert issubclass(ContractViolation, ValueError)


DTYPES = [
    "int8", "int64", "uint32", "bool", "float32", "float64", "str",
    "datetime64[ns]", "Int64", "boolean",
]  # fmt: skip


def keeps_a_null(schema: type[Schema], dtype: str) -> bool:
    """Whether a column of `dtype` can hold a null the schema then accepts: pandas'
    and pandera's own verdicts, not the rule's."""
    try:
        nulls = pd.Series([None, None]).astype(dtype)
    except TypeError:
        return False  # NumPy's integers refuse a null outright.
    if not nulls.isna().all():
        return False  # NumPy's booleans turn it into False.
    try:
        schema.validate(pd.DataFrame({"value": nulls}))
    except SchemaError:
        return False
    return True


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_nullable_column_is_flagged_exactly_when_its_dtype_cannot_hold_a_null(
    dtype: str,
) -> None:
    row = type(
        "Row",
        (Schema,),
        {"__annotations__": {"value": Series[dtype]}, "value": pa.Field(nullable=True)},
    )

    flagged = unkept_nulls(row)

    assert bool(flagged) != keeps_a_null(row, dtype), f"{dtype}: flagged {flagged}"
    if flagged:
        assert flagged == [
            f"Row.value: nullable=True, but {dtype} cannot hold a null (one fails "
            f"dtype('{dtype}')); make it nullable=False, or give it a dtype with a "
            "missing value, e.g. float64"
        ]


def test_a_column_that_refuses_nulls_is_never_flagged() -> None:
    class Strict(Schema):
        count: Series[int]
        flag: Series[bool]

    assert unkept_nulls(Strict) == []


# --- Validated once: the validator and its mark -----------------------------------


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The validations that run, by schema name (a double around Validator.check)."""
    ran: list[str] = []
    check = contracts.Validator.check

    def counted(self: contracts.Validator, frame: pd.DataFrame) -> pd.DataFrame:
        ran.append(self.schema.__name__)
        return check(self, frame)

    monkeypatch.setattr(contracts.Validator, "check", counted)
    return ran


def test_a_validated_frame_is_not_validated_again_against_its_schema(
    checks: list[str],
) -> None:
    valid = Features.validated(rows())

    again = Features.validated(valid)

    assert again is valid
    assert checks == ["Features"], "the second validation should recognise the frame"
    assert valid.pandera.schema is not None, "marked as pandera marks what it validated"


@pytest.mark.parametrize(
    "change",
    [
        lambda frame: frame.loc.__setitem__((0, "rooms"), -1),
        lambda frame: frame.iloc.__setitem__((1, 0), -2),
        lambda frame: frame.__setitem__("rooms", [-1, -1, -1]),
        lambda frame: frame.__delitem__("kind"),
        lambda frame: setattr(frame, "columns", ["rooms", "type"]),
        lambda frame: frame.__setitem__("kind", ["flat", None, "castle"]),
    ],
    ids=["loc", "iloc", "column", "drop", "rename", "nulls"],
)
def test_a_frame_changed_after_validation_is_validated_again(
    change: Callable[[pd.DataFrame], object],
) -> None:
    valid = Features.validated(rows())

    change(valid)

    with pytest.raises(ContractViolation):
        Features.validated(valid)


def test_a_frame_validated_against_another_schema_or_copied_is_validated(
    checks: list[str],
) -> None:
    valid = Features.validated(rows())

    Features.validated(valid.copy())
    Features.validated(valid[["rooms", "kind"]])
    with pytest.raises(ContractViolation):
        Predictions.validated(valid)

    assert checks == ["Features"] * 3 + ["Predictions"]


def test_the_input_frame_is_left_as_it_was() -> None:
    given = rows()
    valid = Features.validated(given)

    valid.loc[0, "rooms"] = 9

    assert given.loc[0, "rooms"] == 1, "the validated frame is not the caller's frame"


class Coerced(Schema):
    rooms: Series[int] = pa.Field(ge=0)

    class Config:
        coerce = True
        strict = "filter"


def test_schemas_that_change_the_frame_are_validated_by_pandera_itself() -> None:
    assert not contracts.validator(Coerced).fast
    assert contracts.validator(Features).fast

    valid = Coerced.validated(pd.DataFrame({"rooms": ["1", "2"], "other": [0, 0]}))

    assert list(valid.columns) == ["rooms"]
    assert valid["rooms"].dtype == "int64"


@pytest.mark.parametrize(
    "frame",
    [
        rows(rooms=[1, -1, 3]),
        rows(rooms=[1.5, 2.0, 3.0]),
        rows(kind=["flat", None, "boat"]),
        pd.DataFrame({"kind": ["flat"]}),
        rows(extra=[1, 2, 3]),
    ],
    ids=["check", "dtype", "nulls", "missing", "extra"],
)
def test_the_validator_refuses_and_passes_exactly_what_pandera_does(
    frame: pd.DataFrame,
) -> None:
    try:
        expected: object = list(Features.to_schema().validate(frame, lazy=True).columns)
    except SchemaErrors as errors:
        expected = contracts._failures(errors.failure_cases)
    try:
        got: object = list(contracts.validator(Features).check(frame).columns)
    except ContractViolation as violation:
        got = violation.failures

    assert got == expected


# The built-in checks the validator runs on a column's values without pandas, and
# columns to run them on: each dtype with its values.
NUMBERS = st.one_of(st.integers(-3, 3), st.floats(-3, 3, allow_nan=False))
COLUMNS = {
    "int64": st.integers(-3, 3),
    "float64": st.floats(-3, 3),
    "bool": st.booleans(),
    "str": st.sampled_from(["a", "b", "c", "1"]),
}
# The dtypes that hold a null (NaN, or a missing string).
NULLS = {"float64", "str"}


@st.composite
def builtin_checks(draw: st.DrawFn, dtype: str) -> dict[str, object]:
    """One built-in check as pa.Field's keyword, with arguments the dtype compares to."""
    if dtype == "str":
        name = draw(st.sampled_from(["isin", "notin", "eq", "ne"]))
        if name in {"isin", "notin"}:
            return {
                name: draw(st.lists(st.sampled_from(["a", "b", "1", 1]), max_size=3))
            }
        return {name: draw(st.sampled_from(["a", "b"]))}
    low, high = sorted((draw(NUMBERS), draw(NUMBERS)))
    # pandera refuses an empty interval: a single point includes both ends.
    bounds = {
        "min_value": low,
        "max_value": high,
        "include_min": low == high or draw(st.booleans()),
        "include_max": low == high or draw(st.booleans()),
    }
    name = draw(
        st.sampled_from(["ge", "gt", "le", "lt", "eq", "ne", "in_range", "isin"])
    )
    if name == "in_range":
        return {"in_range": bounds}
    if name == "isin":
        return {"isin": draw(st.lists(NUMBERS, max_size=3))}
    return {name: low}


@st.composite
def columns_and_schemas(draw: st.DrawFn) -> tuple[pd.DataFrame, type[Schema]]:
    dtype = draw(st.sampled_from(sorted(COLUMNS)))
    values: list[object] = draw(st.lists(COLUMNS[dtype], min_size=1, max_size=5))
    if dtype in NULLS and draw(st.booleans()):
        values.insert(draw(st.integers(0, len(values))), None)
    frame = pd.DataFrame({"x": pd.Series(values, dtype=dtype)})
    field = pa.Field(
        nullable=draw(st.booleans()),
        ignore_na=draw(st.booleans()),
        **draw(builtin_checks(dtype)),  # type: ignore[arg-type]
    )
    kind = {"int64": int, "float64": float, "bool": bool, "str": str}[dtype]
    schema = type(
        "Drawn",
        (Schema,),
        {"__annotations__": {"x": Series[kind]}, "x": field},  # type: ignore[valid-type]
    )
    return frame, schema


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(columns_and_schemas())
def test_the_validator_gives_pandera_verdict_on_any_column_and_builtin_check(
    drawn: tuple[pd.DataFrame, type[Schema]],
) -> None:
    frame, schema = drawn
    try:
        schema.to_schema().validate(frame, lazy=True)
    except SchemaErrors:
        expected = False
    else:
        expected = True
    validator = contracts.Validator(schema)
    assert validator._passes(frame) is expected, (
        f"the validator's own checks say {not expected} where pandera says {expected} "
        f"for {schema.to_schema().columns['x']!r} on {frame['x'].tolist()!r}"
    )


def test_a_columns_dtype_is_named_once_not_on_every_validation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pandera's engine takes a tenth of a millisecond to name NumPy's bool (it tries
    to import geopandas first): a server validating each request must not pay it each time."""

    class Scored(Schema):
        churned: Series[bool]
        probability: Series[float]

    contracts.validator(Scored)  # Built once, as a server builds it when it starts.
    named: list[object] = []
    engine = contracts.pandas_engine.Engine
    original = engine.dtype
    monkeypatch.setattr(
        engine, "dtype", lambda dtype: named.append(dtype) or original(dtype)
    )
    contracts._dtype_check.cache_clear()
    for _ in range(3):
        Scored.validated(pd.DataFrame({"churned": [True], "probability": [0.5]}))

    assert len(named) == 2, (
        f"pandera named the columns' dtypes {len(named)} times: {named}"
    )


def test_a_schema_without_checks_validates_first_thing_in_a_process() -> None:
    """The validated frame is marked through pandera's DataFrame accessor, which pandera
    registers only on some of its paths: the kit registers it itself."""
    script = (
        "import pandas as pd\n"
        "from pandera.typing import Series\n"
        "from handoff_kit.contracts import Schema\n"
        "class Plain(Schema):\n"
        "    churned: Series[bool]\n"
        "print(len(Plain.validated(pd.DataFrame({'churned': [True]}))))\n"
    )
    ran = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )

    assert ran.returncode == 0, f"the first validation failed:\n{ran.stderr[-2000:]}"
    assert ran.stdout.strip() == "1"
