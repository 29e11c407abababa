"""Contract schemas that say what broke: validate data, all failures at once.

A project's schemas subclass `Schema` (a pandera DataFrameModel) and validate
with `Schema.validated(frame)`, which raises `ContractViolation` listing every
failing column and check.

Each schema validates through one `Validator`, built from it once (`validator`).
It runs the schema's own pandera checks column by column, and pandera's whole
validation only when one fails (for its report of every failure) or when the
schema asks for what it does not run itself (coercion, parsers, defaults, an
index, regex columns). The frame it returns is marked as validated against the
schema: validating it again against the same schema costs nothing, so a model
may validate what a server already has. Under pandas' copy-on-write, any change
to a marked frame (a value, a column, its index) gives it new arrays or axes,
and the mark no longer matches: a changed frame is validated again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache, partial
from typing import Any, Self, cast

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.accessors import pandas_accessor  # noqa: F401  # Registers DataFrame.pandera.
from pandera.backends.register_checks import register_default_check_backends
from pandera.config import ValidationDepth, get_config_context
from pandera.engines import pandas_engine
from pandera.errors import SchemaErrors
from pandera.typing import DataFrame

# Checks whose failure case is the column itself, not a value in it.
_COLUMN_CHECKS = {
    "column_in_dataframe": "missing column",
    "column_in_schema": "unexpected column",
}
_EXAMPLES = 3
# NumPy's kinds with no missing value: signed and unsigned integers, booleans.
_NO_MISSING_VALUE = "iub"


@dataclass(frozen=True)
class Failure:
    """One broken rule: a column, the check it failed and a few failing values."""

    column: str
    check: str
    rows: int
    examples: tuple[str, ...]
    # The failing rows' index labels, each once, in order (none for a column's type).
    index: tuple[object, ...] = ()

    def __str__(self) -> str:
        if self.check in _COLUMN_CHECKS:
            return f"{self.column}: {_COLUMN_CHECKS[self.check]} ({self.check})"
        found = ", ".join(self.examples)
        if self.check.startswith("dtype("):
            return f"{self.column}: {self.check} failed (found {found})"
        rows = f"{self.rows} row{'' if self.rows == 1 else 's'}"
        return f"{self.column}: {self.check} failed in {rows}, e.g. {found}"


class ContractViolation(ValueError):  # noqa: N818  # Reads as what happened.
    """Data broke its contract; `failures` lists every broken rule."""

    def __init__(self, schema: str, failures: list[Failure]) -> None:
        self.schema = schema
        self.failures = failures
        count = f"{len(failures)} failure{'s' if len(failures) > 1 else ''}"
        lines = "\n".join(f"  - {failure}" for failure in failures)
        super().__init__(f"{schema} contract violated ({count}):\n{lines}")


class Schema(pa.DataFrameModel):
    """The base of every contract schema: validation that names what broke."""

    @classmethod
    def validated(cls, frame: pd.DataFrame) -> DataFrame[Self]:
        """Return `frame` checked against this schema, or raise ContractViolation.

        Validation is lazy, so one error lists every failing column and check.
        """
        return cast("DataFrame[Self]", validator(cls).validated(frame))


# pandas 3 always copies on write; pandas 2 only when asked to.
_COPY_ON_WRITE = int(pd.__version__.split(".")[0]) >= 3 or bool(  # noqa: PLR2004
    pd.get_option("mode.copy_on_write") is True
)
# Where a validated frame keeps its mark (an attribute of that frame object only:
# frames derived from it, even copies, are not marked).
_MARK = "_handoff_validated"


@dataclass(frozen=True)
class _Mark:
    """What a frame was when it passed: its axes and arrays (kept alive, so no new
    array can take one's identity), and a view of it, so that pandas copies an
    array before writing to it rather than changing it in place."""

    schema: type[pa.DataFrameModel]
    axes: tuple[object, object]
    arrays: tuple[object, ...]
    witness: pd.DataFrame

    @classmethod
    def of(cls, schema: type[pa.DataFrameModel], frame: pd.DataFrame) -> _Mark:
        return cls(schema, _axes(frame), _arrays(frame), frame.copy(deep=False))

    def matches(self, schema: type[pa.DataFrameModel], frame: pd.DataFrame) -> bool:
        return (
            schema is self.schema
            and all(a is b for a, b in zip(_axes(frame), self.axes, strict=True))
            and _same(_arrays(frame), self.arrays)
        )


def _axes(frame: pd.DataFrame) -> tuple[object, object]:
    return frame.index, frame.columns


def _arrays(frame: pd.DataFrame) -> tuple[object, ...]:
    # pandas' block manager holds the frame's arrays; a write under copy-on-write
    # replaces the array it writes to.
    manager: Any = frame._mgr  # No public handle on the arrays.
    return tuple(block.values for block in manager.blocks)  # noqa: PD011  # A block's array, not a frame's.


def _same(now: tuple[object, ...], then: tuple[object, ...]) -> bool:
    return len(now) == len(then) and all(a is b for a, b in zip(now, then, strict=True))


class Validator:
    """A schema's validation, built once: `validated(frame)` returns the frame checked
    against the schema, or raises ContractViolation naming every failure."""

    def __init__(self, schema: type[pa.DataFrameModel]) -> None:
        self.schema = schema
        self.pandera = schema.to_schema()
        self.fast = _runs_itself(self.pandera)
        # Each column's checks with their functions bound to their arguments, once.
        self.columns = [
            (str(name), column, [_Bound.of(check) for check in column.checks])
            for name, column in self.pandera.columns.items()
        ]

    def validated(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The frame, validated: at once when it is marked as passing this schema and
        unchanged since; otherwise checked (`check`) and marked."""
        mark = frame.__dict__.get(_MARK) if isinstance(frame, pd.DataFrame) else None
        if isinstance(mark, _Mark) and mark.matches(self.schema, frame):
            return frame
        checked = self.check(frame)
        if _COPY_ON_WRITE and isinstance(checked, pd.DataFrame):
            object.__setattr__(checked, _MARK, _Mark.of(self.schema, checked))
        return checked

    def check(self, frame: pd.DataFrame) -> pd.DataFrame:
        """One validation of `frame` against every check of the schema."""
        if (
            self.fast
            and isinstance(frame, pd.DataFrame)
            and _validates_all()
            and self._passes(frame)
        ):
            passed = frame.copy(deep=not _COPY_ON_WRITE)
            return cast("pd.DataFrame", passed.pandera.add_schema(self.pandera))
        try:
            return cast("pd.DataFrame", self.schema.validate(frame, lazy=True))
        except SchemaErrors as errors:
            failures = _failures(errors.failure_cases)
            raise ContractViolation(self.schema.__name__, failures) from None

    def _passes(self, frame: pd.DataFrame) -> bool:
        """Whether every check passes; False sends the frame to pandera for its report."""
        schema = self.pandera
        # The columns by position: a lookup by name costs more than the checks of a row.
        found = dict(frame.items())
        if len(found) != len(frame.columns) or not all(
            isinstance(name, str) for name in found
        ):
            return False
        if schema.strict and not found.keys() <= schema.columns.keys():
            return False  # Extra columns: refused, or filtered out, by pandera.
        for name, column, checks in self.columns:
            if name not in found:
                if column.required:
                    return False
                continue
            if not _column_passes(column, checks, found[name]):
                return False
        return all(check(frame).check_passed for check in schema.checks)


# pandera's built-in checks that compare the column with their arguments and nothing
# else (`data >= min_value`): on a NumPy array they give what they give on the
# Series that holds it, without a Series made for each step.
_COMPARISONS = frozenset(
    {
        "equal_to",
        "not_equal_to",
        "greater_than",
        "greater_than_or_equal_to",
        "less_than",
        "less_than_or_equal_to",
        "in_range",
    }
)
# pandera's built-in membership checks (`data.isin(allowed_values)`,
# `~data.isin(forbidden_values)`): their argument, and whether a value must be in it.
_MEMBERSHIP = {"isin": ("allowed_values", True), "notin": ("forbidden_values", False)}
# NumPy's kinds the array path takes: booleans, integers, floats.
_ARRAY_KINDS = "biuf"
# Up to this many rows a membership check runs on Python's set, a fixed cost that
# pandas' hash table only beats on larger columns.
_SMALL = 1000


@dataclass(frozen=True)
class _Bound:
    """A column check and its function with its arguments, as pandera calls it."""

    check: pa.Check
    function: Callable[[Any], Any]
    # A built-in comparison's pandas function, which takes an array as it takes a
    # Series (pandera's dispatcher in front of it picks by the argument's type).
    compare: Callable[[Any], Any] | None = None
    # A built-in membership check's values, and whether a value must be one of them.
    members: frozenset[object] | None = None
    member: bool = True

    @classmethod
    def of(cls, check: pa.Check) -> _Bound:
        # pandera binds its built-in checks to pandas when it first checks a Series,
        # and looks the function up again on each call (Check.__call__): once here.
        register_default_check_backends(pd.Series)
        function = check._check_fn
        name = str(getattr(function, "__name__", ""))
        builtin = bool(name) and check.is_builtin_check(name)
        if builtin:
            function = check.get_builtin_check_fn(name)
        bound = cls(check, partial(function, **check._check_kwargs))
        if not builtin or check.element_wise:
            return bound
        by_type = getattr(function, "_function_registry", {})
        if name in _COMPARISONS and pd.Series in by_type:
            compare = partial(by_type[pd.Series], **check._check_kwargs)
            return replace(bound, compare=compare)
        if name in _MEMBERSHIP:
            argument, member = _MEMBERSHIP[name]
            try:
                members = frozenset(check._check_kwargs[argument])
            except (KeyError, TypeError):  # Values Python's set cannot hold.
                return bound
            return replace(bound, members=members, member=member)
        return bound

    def passes(self, series: pd.Series) -> bool:
        """pandera's verdict on the column (its check backend, without the failure
        cases it collects even when the check passes)."""
        check = self.check
        checked = series.dropna() if check.ignore_na and series.hasnans else series
        output = (
            checked.map(self.function) if check.element_wise else self.function(checked)
        )
        if isinstance(output, pd.Series):
            return bool(output.astype(bool).all() if output.empty else output.all())
        if isinstance(output, bool | np.bool_):
            return bool(output)
        return bool(check(series).check_passed)  # What pandera makes of the rest.

    def passes_values(self, values: np.ndarray[Any, Any], series: pd.Series) -> bool:
        """The verdict on the column's values without their nulls (a NumPy array of
        booleans or numbers), where the check allows; else on the Series (`passes`)."""
        if self.compare is not None:
            try:
                output = self.compare(values)
            except (TypeError, ValueError):
                return self.passes(series)  # pandas may compare what NumPy cannot.
            if isinstance(output, np.ndarray) and output.dtype == np.bool_:
                return bool(output.all())
        return self.passes(series)

    def passes_strings(self, series: pd.Series) -> bool:
        """The verdict on a column of strings with no null: a membership check of a
        few rows in Python's set, the rest on the Series (`passes`)."""
        members = self.members
        if members is not None and len(series) <= _SMALL:
            return all((value in members) is self.member for value in series.tolist())
        return self.passes(series)


def _column_passes(
    column: Any,  # noqa: ANN401  # pandera's Column.
    checks: list[_Bound],
    series: pd.Series,
) -> bool:
    if column.dtype is not None and not _dtype_matches(column.dtype, series.dtype):
        return False
    if column.unique and series.duplicated().any():
        return False
    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in _ARRAY_KINDS:
        return _values_pass(column, checks, series)
    if series.isna().any():
        return column.nullable and all(check.passes(series) for check in checks)
    if isinstance(dtype, pd.StringDtype):
        return all(check.passes_strings(series) for check in checks)
    return all(check.passes(series) for check in checks)


def _dtype_matches(wanted: Any, found: Any) -> bool:  # noqa: ANN401  # pandera's and pandas' dtypes.
    """pandera's dtype check of a column, kept for the pairs of dtypes seen lately:
    pandera's engine takes a tenth of a millisecond to name some dtypes (NumPy's
    bool: it first tries to import geopandas), on every validation of every frame."""
    try:
        return _dtype_check(wanted, found)
    except TypeError:  # A dtype that cannot be a key.
        return bool(wanted.check(pandas_engine.Engine.dtype(found)))


@lru_cache(maxsize=1024)
def _dtype_check(wanted: Any, found: Any) -> bool:  # noqa: ANN401  # pandera's and pandas' dtypes.
    return bool(wanted.check(pandas_engine.Engine.dtype(found)))


def _values_pass(
    column: Any,  # noqa: ANN401  # pandera's Column.
    checks: list[_Bound],
    series: pd.Series,
) -> bool:
    """`_column_passes` on the column's NumPy array: no Series made for each step,
    and a null only where a float is NaN."""
    values = series.to_numpy()
    nulls = np.isnan(values) if values.dtype.kind == "f" else None
    if nulls is not None and nulls.any():
        if not column.nullable:
            return False
        if not all(check.check.ignore_na for check in checks):
            return all(check.passes(series) for check in checks)
        values = values[~nulls]
    return all(check.passes_values(values, series) for check in checks)


def _validates_all() -> bool:
    """pandera's settings ask for every check (else pandera applies its settings)."""
    config = get_config_context()
    return (
        bool(config.validation_enabled)
        and not config.use_narwhals_backend
        and config.validation_depth
        in {
            None,
            ValidationDepth.SCHEMA_AND_DATA,
        }
    )


def _runs_itself(schema: pa.DataFrameSchema) -> bool:
    """Whether the Validator runs this schema's checks itself; else pandera does all.

    It runs dtype, nullability, uniqueness, required and strict columns and the
    checks of columns and of the frame; whatever changes the frame (coercion,
    parsers, defaults, added columns, dropped rows), and indexes, regex columns,
    column order and grouped checks are pandera's own."""
    whole = (
        schema.coerce
        or schema.parsers
        or schema.dtype is not None
        or schema.index is not None
        or schema.ordered
        or schema.unique
        or schema.unique_column_names
        or schema.add_missing_columns
        or schema.drop_invalid_rows
        or getattr(schema, "on_missing_columns", None) is not None
        or any(check.groupby is not None for check in schema.checks)
    )
    return not whole and all(
        not (
            column.coerce
            or column.parsers
            or column.regex
            or column.drop_invalid_rows
            or column.default is not None
            or getattr(column, "on_missing", None) is not None
            or any(check.groupby is not None for check in column.checks)
        )
        for column in schema.columns.values()
    )


_VALIDATORS: dict[type[pa.DataFrameModel], Validator] = {}


def validator(schema: type[pa.DataFrameModel]) -> Validator:
    """The schema's Validator, built on first use and kept."""
    found = _VALIDATORS.get(schema)
    if found is None:
        found = _VALIDATORS[schema] = Validator(schema)
    return found


def failures_of(cases: pd.DataFrame) -> list[Failure]:
    """pandera's failure cases (SchemaErrors.failure_cases) as one Failure per
    column and check, in order."""
    return _failures(cases)


def _failures(cases: pd.DataFrame) -> list[Failure]:
    failures: list[Failure] = []
    for (column, check), group in cases.groupby(
        ["column", "check"], sort=False, dropna=False
    ):
        if check in _COLUMN_CHECKS:
            # pandera names the schema in `column` and the column in `failure_case`.
            failures.extend(
                Failure(str(case), str(check), 0, ()) for case in group["failure_case"]
            )
            continue
        examples = tuple(str(case) for case in group["failure_case"].head(_EXAMPLES))
        index = tuple(group["index"].dropna().drop_duplicates())
        # A check of the whole frame has no column.
        name = column if isinstance(column, str) else "(the table)"
        failures.append(Failure(name, str(check), len(group), examples, index))
    return failures


def unkept_nulls(schema: type[pa.DataFrameModel]) -> list[str]:
    """The schema's columns that allow nulls in a dtype that cannot hold one.

    NumPy's integers and booleans have no missing value: a null makes the column
    float64 or object, which fails the dtype check, so `nullable=True` there is a
    promise validation never keeps (and the API schema would offer null in vain).
    """
    return [
        f"{schema.__name__}.{name}: nullable=True, but {column.dtype} cannot hold a "
        f"null (one fails dtype('{column.dtype}')); make it nullable=False, or give it "
        "a dtype with a missing value, e.g. float64"
        for name, column in schema.to_schema().columns.items()
        if column.nullable
        and isinstance(column.dtype.type, np.dtype)
        and column.dtype.type.kind in _NO_MISSING_VALUE
    ]
