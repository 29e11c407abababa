"""Contract schemas that say what broke: validate data, all failures at once.

A project's schemas subclass `Schema` (a pandera DataFrameModel) and validate
with `Schema.validated(frame)`, which raises `ContractViolation` listing every
failing column and check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

import numpy as np
import pandas as pd
import pandera.pandas as pa
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
        try:
            return cls.validate(frame, lazy=True)
        except SchemaErrors as errors:
            failures = _failures(errors.failure_cases)
            raise ContractViolation(cls.__name__, failures) from None


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
