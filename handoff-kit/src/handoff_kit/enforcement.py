"""Contract tests derived from the contract itself, which the team cannot delete.

For every schema the contract lists (INPUTS and OUTPUTS):

- rows drawn from pandera's own hypothesis strategy for the schema are accepted;
- for each column and each of its rules (present, not null, its dtype, unique, and
  every check), a valid row changed to break that one rule is refused, and the
  refusal names the column and the check; a strict schema refuses an unknown column.

The breaking value comes from each check's `name` and `statistics`, the form
pandera's own io module reads (schema_statistics), never from the project's
source. The contract snapshot's rules count too: a check, a `nullable=False` or a
required column the snapshot records and the code dropped is still tried, so a
weakened schema fails here until the change is reviewed and recorded
(`make contract-snapshot`). A rule whose breaking value cannot be derived (a custom
check, a regex column name, dataframe-wide checks) is listed, never skipped silently.

Drawing is seeded (hypothesis' `derandomize`), so every run tries the same rows.
"""

from __future__ import annotations

import math
import re
import tempfile
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaError, SchemaErrorReason, SchemaErrors

from handoff_kit.contracts import ContractViolation, Schema, _failures

Snapshot = dict[str, Any]
Change = Callable[[pd.DataFrame], pd.DataFrame]

# Hypothesis examples per schema, and rows in each.
EXAMPLES = 10
ROWS = 5
# The name of a column no contract has, for a strict schema to refuse.
UNKNOWN_COLUMN = "not_in_the_contract"
# Failures of a whole column, whose failure case is the column's name.
_COLUMN_REASONS = (
    SchemaErrorReason.COLUMN_NOT_IN_DATAFRAME,
    SchemaErrorReason.COLUMN_NOT_IN_SCHEMA,
)
# Strings tried, in order, for one that a string check refuses.
_STRINGS = ("", " ", "!", "0", "a", "Z", "~~~~", "\n", "not in the contract")


@dataclass(frozen=True)
class Rule:
    """One rule of one column, as pandera names it in a failure."""

    schema: str
    column: str
    check: str  # pandera's name: greater_than_or_equal_to, not_nullable, dtype, ...
    shown: str  # as the report shows it: greater_than_or_equal_to(0)
    # From the snapshot only: the agreed contract has it, the code no longer does.
    recorded: bool = False

    def __str__(self) -> str:
        where = f"{self.schema}.{self.column}"
        if self.recorded:
            return f"{where}: {self.shown} (in the contract snapshot, not in the code)"
        return f"{where}: {self.shown}"


@dataclass(frozen=True)
class Breach:
    """A valid frame changed to break one rule; `value` says how, for the report."""

    rule: Rule
    value: str
    change: Change


@dataclass(frozen=True)
class Enforcement:
    """What the derived tests found: problems fail the gate; the rest informs."""

    problems: tuple[str, ...]
    refused: tuple[str, ...]
    underived: tuple[str, ...]
    accepted: int  # valid rows drawn and accepted
    schemas: int

    @property
    def passed(self) -> bool:
        return not self.problems


@dataclass
class _Found:
    breaches: list[Breach] = field(default_factory=list)
    underived: list[str] = field(default_factory=list)


# --- Breaking values, from each check's statistics --------------------------------


class _Underivable(Exception):  # noqa: N818  # Says what happened, as a value would.
    """No value breaks this check, or none the kit can derive from its statistics."""


def _integer(series: pd.Series) -> bool:
    return pd.api.types.is_integer_dtype(series) and not pd.api.types.is_bool_dtype(
        series
    )


def _step(value: object, direction: int, *, integer: bool) -> object:
    """The nearest value past `value` in `direction` (-1 below, +1 above)."""
    if isinstance(value, bool) or value is None:
        raise _Underivable
    if isinstance(value, int | float):
        if integer:
            return math.ceil(value) - 1 if direction < 0 else math.floor(value) + 1
        moved = value + direction
        return moved if moved != value else math.nextafter(value, direction * math.inf)
    if isinstance(value, datetime | date | pd.Timestamp):
        return value + direction * timedelta(days=1)
    raise _Underivable


def _at(value: object, direction: int, *, integer: bool) -> object:
    """`value` itself, which a strict bound (gt, lt) refuses; for an integer
    column, the nearest integer on the refused side."""
    if integer and isinstance(value, float) and not value.is_integer():
        return math.floor(value) if direction < 0 else math.ceil(value)
    return value


def _string(refuses: Callable[[str], bool]) -> str:
    for candidate in _STRINGS:
        if refuses(candidate):
            return candidate
    raise _Underivable


def _not_in(values: Iterable[object], *, integer: bool) -> object:
    listed = list(values)
    numbers = [
        v for v in listed if isinstance(v, int | float) and not isinstance(v, bool)
    ]
    if numbers and len(numbers) == len(listed):
        return _step(max(numbers), 1, integer=integer)
    if all(isinstance(v, str) for v in listed):
        return _string(lambda candidate: candidate not in listed)
    raise _Underivable


def _in_range(stats: Mapping[str, Any], integer: bool) -> object:
    if stats.get("min_value") is not None:
        below = _step if stats.get("include_min", True) else _at
        return below(stats["min_value"], -1, integer=integer)
    above = _step if stats.get("include_max", True) else _at
    return above(stats["max_value"], 1, integer=integer)


def _equal_to(stats: Mapping[str, Any], integer: bool) -> object:
    if isinstance(stats["value"], str):
        return _string(lambda candidate: candidate != stats["value"])
    return _step(stats["value"], 1, integer=integer)


def _notin(stats: Mapping[str, Any], integer: bool) -> object:
    forbidden = list(stats["forbidden_values"])
    if not forbidden:
        raise _Underivable
    return forbidden[0]


def _affix(stats: Mapping[str, Any], suffix: bool) -> str:
    affix = str(stats["string"])
    if not affix:
        raise _Underivable
    if suffix:
        return _string(lambda candidate: not candidate.endswith(affix))
    return _string(lambda candidate: not candidate.startswith(affix))


def _str_length(stats: Mapping[str, Any], integer: bool) -> str:
    exact, low, high = (stats.get(k) for k in ("exact_value", "min_value", "max_value"))
    if exact is not None:
        return "a" * (int(exact) + 1)
    if low:
        return "a" * (int(low) - 1)
    if high is not None:
        return "a" * (int(high) + 1)
    raise _Underivable


def _pattern(stats: Mapping[str, Any], *, anchored: bool) -> str:
    pattern = re.compile(stats["pattern"])
    find = pattern.match if anchored else pattern.search
    return _string(lambda candidate: find(candidate) is None)


# Check name (pandera's, as in its statistics) -> a value it refuses, from the
# check's statistics and whether the column holds integers.
_BREAKERS: dict[str, Callable[[Mapping[str, Any], bool], object]] = {
    "greater_than_or_equal_to": lambda s, i: _step(s["min_value"], -1, integer=i),
    "greater_than": lambda s, i: _at(s["min_value"], -1, integer=i),
    "less_than_or_equal_to": lambda s, i: _step(s["max_value"], 1, integer=i),
    "less_than": lambda s, i: _at(s["max_value"], 1, integer=i),
    "in_range": _in_range,
    "equal_to": _equal_to,
    "not_equal_to": lambda s, _: s["value"],
    "isin": lambda s, i: _not_in(s["allowed_values"], integer=i),
    "notin": _notin,
    "str_matches": lambda s, _: _pattern(s, anchored=True),
    "str_contains": lambda s, _: _pattern(s, anchored=False),
    "str_startswith": lambda s, _: _affix(s, suffix=False),
    "str_endswith": lambda s, _: _affix(s, suffix=True),
    "str_length": _str_length,
}


def breaking_value(name: str, stats: Mapping[str, Any], series: pd.Series) -> object:
    """A value the check `name` with these statistics refuses, for `series`'s dtype.

    Raises _Underivable for a check the kit does not know, or cannot break."""
    breaker = _BREAKERS.get(name)
    if breaker is None:
        raise _Underivable
    return breaker(stats, _integer(series))


# --- The rules of a schema, and a breach of each ----------------------------------


def _with_value(column: str, value: object) -> Change:
    """Set the first row's `column` to `value`, keeping the column's dtype; a
    value the dtype cannot hold is underivable (the dtype refuses it already)."""

    def change(frame: pd.DataFrame) -> pd.DataFrame:
        changed = frame.copy()
        series = changed[column].copy()
        series.iloc[0] = value
        if series.dtype != frame[column].dtype:
            raise _Underivable
        changed[column] = series
        return changed

    return change


def _with_null(column: str) -> Change:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        changed = frame.copy()
        series = changed[column]
        # NumPy's integers and booleans hold no null: a caller's column turns object.
        if series.dtype.kind in "iub":
            series = series.astype("object")
        series = series.copy()
        series.iloc[0] = None
        changed[column] = series
        return changed

    return change


def _with_wrong_dtype(column: str) -> Change:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        changed = frame.copy()
        series = changed[column]
        if pd.api.types.is_bool_dtype(series):
            changed[column] = series.astype("int64")
        elif _integer(series):
            changed[column] = series.astype("float64") + 0.5
        elif pd.api.types.is_numeric_dtype(
            series
        ) or pd.api.types.is_datetime64_any_dtype(series):
            changed[column] = series.astype("object").map(str)
        else:
            changed[column] = pd.Series(range(len(series)), index=series.index)
        return changed

    return change


def _without(column: str) -> Change:
    return lambda frame: frame.drop(columns=column)


def _with_duplicate(column: str) -> Change:
    def change(frame: pd.DataFrame) -> pd.DataFrame:
        changed = frame.copy()
        series = changed[column].copy()
        series.iloc[1] = series.iloc[0]
        changed[column] = series
        return changed

    return change


def _with_unknown_column(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(**{UNKNOWN_COLUMN: 0})


def _recorded(snapshot: Snapshot | None, schema: str) -> Mapping[str, Any]:
    """The columns the snapshot records for `schema` (none without a snapshot)."""
    if snapshot is None:
        return {}
    columns = snapshot.get("schemas", {}).get(schema, {}).get("columns", {})
    return columns if isinstance(columns, dict) else {}


def _show(name: str, stats: Mapping[str, Any]) -> str:
    values = ", ".join(str(value) for value in stats.values() if value is not None)
    return f"{name}({values})"


def _column_breaches(
    schema: str,
    column: pa.Column,
    recorded: Mapping[str, Any],
    series: pd.Series,
    coerced: bool,
) -> _Found:
    name = str(column.name)
    found = _Found()
    if column.required or recorded.get("required") is True:
        rule = Rule(
            schema, name, "column_in_dataframe", "required", not column.required
        )
        found.breaches.append(Breach(rule, "the column left out", _without(name)))
    if not column.nullable or recorded.get("nullable") is False:
        rule = Rule(schema, name, "not_nullable", "not_nullable", column.nullable)
        found.breaches.append(Breach(rule, f"{name}=null", _with_null(name)))
    if column.dtype is not None:
        if coerced:
            found.underived.append(
                f"{schema}.{name}: dtype('{column.dtype}') (coerce=True converts a "
                "wrong dtype instead of refusing it)"
            )
        else:
            rule = Rule(schema, name, "dtype", f"dtype('{column.dtype}')")
            found.breaches.append(
                Breach(rule, f"{name} of another dtype", _with_wrong_dtype(name))
            )
    if column.unique:
        rule = Rule(schema, name, "field_uniqueness", "unique")
        found.breaches.append(Breach(rule, f"{name} repeated", _with_duplicate(name)))
    checks = [
        (check.name, check.statistics, str(check.error or ""), False)
        for check in column.checks
    ]
    names = {check.name for check in column.checks}
    checks += [
        (check, stats, "", True)
        for check, stats in dict(recorded.get("checks") or {}).items()
        if check not in names
    ]
    for check, stats, error, from_snapshot in checks:
        shown = error or _show(check, stats or {})
        try:
            value = breaking_value(check, stats or {}, series)
        except (_Underivable, KeyError, TypeError, re.error):
            found.underived.append(
                f"{schema}.{name}: {shown} (no breaking value from its statistics)"
            )
            continue
        rule = Rule(schema, name, check, shown, from_snapshot)
        found.breaches.append(
            Breach(rule, f"{name}={value!r}", _with_value(name, value))
        )
    return found


def breaches(
    model: type[pa.DataFrameModel], valid: pd.DataFrame, snapshot: Snapshot | None
) -> _Found:
    """Every rule of `model` (and of its snapshot), each with a change of `valid`
    that breaks it alone; what cannot be derived is listed."""
    schema = model.to_schema()
    name = model.__name__
    recorded = _recorded(snapshot, name)
    found = _Found()
    for column_name, column in schema.columns.items():
        label = str(column_name)
        if column.regex:
            found.underived.append(
                f"{name}.{label}: a regex column name (no column to break)"
            )
            continue
        part = _column_breaches(
            name,
            column,
            recorded.get(label, {}),
            valid[label],
            bool(column.coerce or schema.coerce),
        )
        found.breaches += part.breaches
        found.underived += part.underived
    if schema.strict is True:
        rule = Rule(name, UNKNOWN_COLUMN, "column_in_schema", "strict=True")
        found.breaches.append(
            Breach(rule, f"an unknown column {UNKNOWN_COLUMN!r}", _with_unknown_column)
        )
    found.underived += [
        f"{name}: dataframe check {check.name} (no column to break)"
        for check in schema.checks
    ]
    if schema.index is not None and getattr(schema.index, "checks", None):
        found.underived.append(f"{name}: index checks (not derived)")
    return found


# --- Running them ------------------------------------------------------------------


def refusal(
    model: type[pa.DataFrameModel], frame: pd.DataFrame
) -> list[tuple[str, str]] | None:
    """(column, check) for every rule validation names, or None when it accepts
    `frame`. A project's Schema validates as its code does (`validated`)."""
    with warnings.catch_warnings():
        # A check with raise_warning=True warns instead of refusing: accepted.
        warnings.simplefilter("ignore")
        try:
            if issubclass(model, Schema):
                model.validated(frame)
            else:
                model.validate(frame, lazy=True)
        except ContractViolation as violation:
            return [(failure.column, failure.check) for failure in violation.failures]
        except SchemaErrors as errors:
            return [(f.column, f.check) for f in _failures(errors.failure_cases)]
        except SchemaError as error:  # A team's validate(), not lazy.
            check = str(getattr(error.check, "name", None) or error.check)
            column = str(getattr(error.schema, "name", ""))
            if error.reason_code in _COLUMN_REASONS:  # It names the column.
                column = str(error.failure_cases)
            return [(column, check)]
        except Exception as error:  # Refused, but naming no column and check.
            return [("", f"{type(error).__name__}: {error}")]
    return None


def draw(
    model: type[pa.DataFrameModel], examples: int, rows: int
) -> list[pd.DataFrame]:
    """Frames from pandera's hypothesis strategy for `model`, the same every run."""
    from hypothesis import HealthCheck, Phase, configuration, given, settings  # noqa: PLC0415

    frames: list[pd.DataFrame] = []

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        # Slow or filtered draws are fine (a custom check without a strategy filters
        # pandera's rows; how many pass the health check's count depends on load);
        # a strategy that finds no valid row at all fails (Unsatisfiable).
        suppress_health_check=[
            HealthCheck.filter_too_much,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )
    @given(model.strategy(size=rows))
    def collect(frame: pd.DataFrame) -> None:
        frames.append(frame)

    # Hypothesis keeps caches in ./.hypothesis: never in the project (nor the kit).
    with (
        tempfile.TemporaryDirectory(prefix="handoff-hypothesis-") as home,
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        configuration.set_hypothesis_home_dir(home)
        try:
            collect()
        finally:
            configuration.set_hypothesis_home_dir(None)
    return frames


def _named(rule: Rule, names: list[tuple[str, str]]) -> bool:
    """Whether a refusal names the rule's column and check (any check of the column
    for a rule only the snapshot records: the contract asked for the refusal)."""
    return any(
        column == rule.column
        and (rule.recorded or check.split("(", 1)[0] == rule.check)
        for column, check in names
    )


def _refusals(names: list[tuple[str, str]]) -> str:
    return ", ".join(
        f"{column}: {check}" if column else check for column, check in names
    )


def enforce(
    models: Iterable[type[pa.DataFrameModel]],
    snapshot: Snapshot | None = None,
    examples: int = EXAMPLES,
    rows: int = ROWS,
) -> Enforcement:
    """Try every schema: drawn rows accepted, each rule broken alone and refused."""
    try:
        import hypothesis  # noqa: F401, PLC0415  # pandera's strategies need it.
    except ImportError:
        missing = (
            "hypothesis is not installed: the handoff kit's dev extra installs it "
            "(`make setup`)"
        )
        return Enforcement((missing,), (), (), 0, 0)
    problems: list[str] = []
    refused: list[str] = []
    underived: list[str] = []
    accepted = 0
    listed = list(dict.fromkeys(models))
    for model in listed:
        name = model.__name__
        try:
            frames = draw(model, examples, max(rows, 2))
        except Exception as error:  # pandera or hypothesis says why.
            reason = " ".join(str(error).split())[:200] or type(error).__name__
            problems.append(
                f"{name}: pandera's strategy draws no valid rows ({reason}): give "
                "a custom check a strategy (register_check_method(strategy=...))"
            )
            continue
        for frame in frames:
            names = refusal(model, frame)
            if names is not None:
                problems.append(
                    f"{name}: refused rows its own rules allow (drawn by pandera's "
                    f"strategy): {_refusals(names)}"
                )
                break
            accepted += len(frame)
        found = breaches(model, frames[0], snapshot)
        underived += found.underived
        for breach in found.breaches:
            try:
                broken = breach.change(frames[0])
            except (_Underivable, TypeError, ValueError):
                underived.append(
                    f"{breach.rule} ({breach.value} does not fit its dtype)"
                )
                continue
            names = refusal(model, broken)
            if names is None:
                problems.append(f"{breach.rule} did not refuse {breach.value}")
            elif not _named(breach.rule, names):
                problems.append(
                    f"{breach.rule}: {breach.value} was refused without naming the "
                    f"column and check (it named {_refusals(names)})"
                )
            else:
                refused.append(f"{breach.rule} refused {breach.value}")
    return Enforcement(
        tuple(problems), tuple(refused), tuple(underived), accepted, len(listed)
    )
