"""The model's HTTP API, derived from the contract: never written by hand.

`document(settings)` is the OpenAPI 3.1 description of what `handoff serve`
serves: `POST /predict` takes a JSON array of rows whose properties are the
model-input schema's columns (JSON types, required, nullable, and the checks
JSON Schema can say: ranges as minimum/maximum, `isin` as enum, string
patterns and lengths) and returns the model-output schema's rows likewise;
`/health` and `/ready` say whether the process is up and which model it serves.
`info.version` is the contract version. `handoff openapi` writes the document
to the committed file (api/openapi.json) and the handoff gate fails when that
file differs from what the contract produces.

`rows_frame` turns a parsed request body into the frame the contract validates,
with every failure named by column and check as the contract names them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from handoff_kit.compat import Snapshot, describe_schema
from handoff_kit.config import Contract, Settings
from handoff_kit.contracts import (
    ContractViolation,
    Failure,
    Schema,
    Validator,
    validator,
)
from handoff_kit.registry.records import COLUMN_TYPES

OPENAPI = "3.1.0"
CONTRACT_HEADER = "X-Contract-Version"
PREDICT, HEALTH, READY = "/predict", "/health", "/ready"
# Request bodies larger than this are refused with 413, unless the server says otherwise.
DEFAULT_MAX_BODY = 1_048_576
INT64 = (-(2**63), 2**63 - 1)

# MLflow column types (records.COLUMN_TYPES) -> JSON Schema.
_JSON_TYPES: dict[str, dict[str, Any]] = {
    "boolean": {"type": "boolean"},
    "integer": {"type": "integer", "format": "int32"},
    "long": {"type": "integer", "format": "int64"},
    "float": {"type": "number", "format": "float"},
    "double": {"type": "number", "format": "double"},
    "string": {"type": "string"},
    "datetime": {"type": "string", "format": "date-time"},
}
_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": INT64}


class ApiError(ValueError):
    """The contract has a column the API cannot describe in JSON; one line says which."""


# --- The document ----------------------------------------------------------------


def dtype_name(dtype: object) -> str:
    """pandas' string dtype names its storage (python or pyarrow): both are str."""
    name = str(dtype)
    return "str" if name.startswith("string") else name


def column_type(schema: type[Schema], name: str, dtype: object) -> str:
    """The column's MLflow type, the name the registry's signature uses too."""
    kind = COLUMN_TYPES.get(dtype_name(dtype))
    if kind is None:
        msg = f"{schema.__name__}.{name}: no JSON type for dtype {dtype}; use one of {', '.join(COLUMN_TYPES)}"
        raise ApiError(msg)
    return kind


def _in_range(stats: dict[str, Any]) -> dict[str, Any]:
    low = "minimum" if stats["include_min"] else "exclusiveMinimum"
    high = "maximum" if stats["include_max"] else "exclusiveMaximum"
    return {low: stats["min_value"], high: stats["max_value"]}


def _str_length(stats: dict[str, Any]) -> dict[str, Any]:
    lengths = {"minLength": stats.get("min_value"), "maxLength": stats.get("max_value")}
    return {key: value for key, value in lengths.items() if value is not None}


# The contract's built-in checks (pandera's names and statistics) that JSON Schema
# can say, as its keywords; the server runs every check either way.
KEYWORDS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "greater_than": lambda s: {"exclusiveMinimum": s["min_value"]},
    "greater_than_or_equal_to": lambda s: {"minimum": s["min_value"]},
    "less_than": lambda s: {"exclusiveMaximum": s["max_value"]},
    "less_than_or_equal_to": lambda s: {"maximum": s["max_value"]},
    "in_range": _in_range,
    "isin": lambda s: {"enum": list(s["allowed_values"])},
    "notin": lambda s: {"not": {"enum": list(s["forbidden_values"])}},
    "equal_to": lambda s: {"const": s["value"]},
    "not_equal_to": lambda s: {"not": {"const": s["value"]}},
    "str_matches": lambda s: {"pattern": "^(?:" + str(s["pattern"]) + ")"},
    "str_contains": lambda s: {"pattern": str(s["pattern"])},
    "str_startswith": lambda s: {"pattern": "^" + re.escape(str(s["string"]))},
    "str_endswith": lambda s: {"pattern": re.escape(str(s["string"])) + "$"},
    "str_length": _str_length,
}


def _bounds(checks: dict[str, Any]) -> dict[str, Any]:
    """JSON Schema keywords for the checks JSON Schema can express."""
    keywords: dict[str, Any] = {}
    for name, stats in checks.items():
        if name not in KEYWORDS:
            continue  # Said in the property's description instead.
        for key, value in KEYWORDS[name](stats).items():
            if key in keywords:  # Two patterns, say: both must hold.
                keywords.setdefault("allOf", []).append({key: value})
            else:
                keywords[key] = value
    return keywords


def _property(kind: str, dtype: str, spec: Snapshot) -> dict[str, Any]:
    """One column as a JSON Schema property."""
    prop: dict[str, Any] = dict(_JSON_TYPES[kind])
    prop |= _bounds(spec["checks"])
    if dtype in _INT_RANGES:
        # What the column's integers can hold, where the contract says less.
        low, high = _INT_RANGES[dtype]
        if "minimum" not in prop and "exclusiveMinimum" not in prop:
            prop["minimum"] = low
        if "maximum" not in prop and "exclusiveMaximum" not in prop:
            prop["maximum"] = high
    unchecked = sorted(set(spec["checks"]) - KEYWORDS.keys())
    if unchecked:
        prop["description"] = "Also checked by the contract: " + ", ".join(unchecked)
    if spec["nullable"]:
        prop["type"] = [prop["type"], "null"]
        if "enum" in prop:
            prop["enum"] = [*prop["enum"], None]
    return prop


def row_schema(schema: type[Schema]) -> dict[str, Any]:
    """A contract schema's row as a JSON Schema object."""
    pandera_schema = schema.to_schema()
    described = describe_schema(schema, "input")["columns"]
    properties = {}
    for name, column in pandera_schema.columns.items():
        kind = column_type(schema, str(name), column.dtype)
        properties[str(name)] = _property(
            kind, dtype_name(column.dtype), described[str(name)]
        )
    required = [
        str(name) for name, column in pandera_schema.columns.items() if column.required
    ]
    strict = pandera_schema.strict is True
    description = " ".join((schema.__doc__ or schema.__name__).split())
    if not strict:
        description += " Other properties are ignored."
    row: dict[str, Any] = {
        "title": schema.__name__,
        "description": description,
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": not strict,
    }
    return row


def _response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A response with a JSON body and the contract version header."""
    return {
        "description": description,
        "headers": {
            CONTRACT_HEADER: {"$ref": f"#/components/headers/{CONTRACT_HEADER}"}
        },
        "content": {"application/json": {"schema": schema}},
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description: str) -> dict[str, Any]:
    return _response(description, _ref("Error"))


_ERROR = {
    "title": "Error",
    "description": "What is wrong; for a request that breaks the contract, each failing column and check.",
    "type": "object",
    "properties": {
        "detail": {"type": "string", "description": "What is wrong, in one line."},
        "failures": {
            "type": "array",
            "items": {"$ref": "#/components/schemas/Failure"},
        },
    },
    "required": ["detail", "failures"],
}
_FAILURE = {
    "title": "Failure",
    "description": "One broken rule of the contract.",
    "type": "object",
    "properties": {
        "column": {"type": "string"},
        "check": {
            "type": "string",
            "description": "The contract's name for the check, e.g. greater_than_or_equal_to(0), "
            "dtype('int64'), not_nullable, column_in_dataframe (missing) or "
            "column_in_schema (not in the contract).",
        },
        "rows": {"type": "integer", "description": "How many rows fail it."},
        "examples": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["column", "check", "rows", "examples"],
}
_HEALTH = {
    "title": "Health",
    "type": "object",
    "properties": {"status": {"type": "string", "const": "ok"}},
    "required": ["status"],
}
_READY = {
    "title": "Ready",
    "description": "The model this server scores with.",
    "type": "object",
    "properties": {
        "status": {"type": "string", "const": "ready"},
        "model": {"type": "string", "description": "The model's name in the registry."},
        "version": {"type": "string", "description": "Its registry version."},
        "alias": {
            "type": ["string", "null"],
            "description": "The alias it was loaded by (champion, candidate), if any.",
        },
        "uri": {"type": "string"},
        "contract_version": {"type": "string"},
        "kit_version": {"type": "string"},
    },
    "required": [
        "status",
        "model",
        "version",
        "alias",
        "uri",
        "contract_version",
        "kit_version",
    ],
}


_FIXED = {"Error", "Failure", "Health", "Ready"}


def document(settings: Settings) -> dict[str, Any]:
    """The OpenAPI document of the project's model API, from its contract."""
    contract = settings.contract
    features, predictions = contract.model_input, contract.model_output
    request, response = features.__name__, predictions.__name__
    if request == response or {request, response} & _FIXED:
        msg = (
            f"{request} and {response}: the model's input and output schemas need "
            f"two names other than {', '.join(sorted(_FIXED))}"
        )
        raise ApiError(msg)
    title = settings.distribution or settings.model_name
    predict = {
        "operationId": "predict",
        "summary": "Score rows: one prediction per row, in the order given",
        "description": (
            f"A JSON array of {request} rows, scored in one call. The rows are "
            "validated against the contract before the model sees them, and the "
            "predictions before they are returned."
        ),
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"type": "array", "items": _ref(request), "minItems": 1}
                }
            },
        },
        "responses": {
            "200": _response(
                f"One {response} row per request row, in order.",
                {"type": "array", "items": _ref(response)},
            ),
            "400": _error("The body is not JSON."),
            "413": _error("The body is larger than the server accepts."),
            "422": _error(
                "The body breaks the contract: each failing column and check is named."
            ),
            "500": _error(
                "The model failed, or its output broke the contract: nothing is returned."
            ),
        },
    }
    return {
        "openapi": OPENAPI,
        "info": {
            "title": f"{title} API",
            "version": contract.version,
            "description": (
                f"Scores rows with the registry model {settings.model_name}. "
                "Generated by `handoff openapi` from the contract: `info.version` is "
                f"its CONTRACT_VERSION, and every response carries it in the "
                f"{CONTRACT_HEADER} header."
            ),
        },
        "paths": {
            PREDICT: {"post": predict},
            HEALTH: {
                "get": {
                    "operationId": "health",
                    "summary": "The process is up",
                    "responses": {"200": _response("Up.", _ref("Health"))},
                }
            },
            READY: {
                "get": {
                    "operationId": "ready",
                    "summary": "The model is loaded: which one, under which contract",
                    "responses": {"200": _response("Loaded.", _ref("Ready"))},
                }
            },
        },
        "components": {
            "schemas": {
                request: row_schema(features),
                response: row_schema(predictions),
                "Error": _ERROR,
                "Failure": _FAILURE,
                "Health": _HEALTH,
                "Ready": _READY,
            },
            "headers": {
                CONTRACT_HEADER: {
                    "description": "The contract version the server validates with.",
                    "required": True,
                    "schema": {"type": "string"},
                }
            },
        },
    }


def served_contract(contract: Contract) -> Snapshot:
    """The part of the contract the API serves, as compat.describe records contracts:
    `compat.compare` classifies its changes as breaking or compatible for the API's
    consumers, as it does for the contract itself."""
    return {
        "version": contract.version,
        "schemas": {
            "request": describe_schema(contract.model_input, "input"),
            "response": describe_schema(contract.model_output, "output"),
        },
        "interfaces": {},
    }


def dumps(openapi: dict[str, Any]) -> str:
    """The document as the committed file holds it."""
    return json.dumps(openapi, indent=2, ensure_ascii=False) + "\n"


# --- Drift: the committed file against the contract ------------------------------


def differences(old: Any, new: Any, where: str = "") -> Iterator[str]:  # noqa: ANN401  # JSON values.
    """Each place where two JSON documents differ, as `path: old -> new`."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(old.keys() | new.keys(), key=str):
            path = f"{where}.{key}" if where else str(key)
            if key not in new:
                yield f"{path}: removed"
            elif key not in old:
                yield f"{path}: added ({_short(new[key])})"
            else:
                yield from differences(old[key], new[key], path)
    elif old != new:
        yield f"{where or '(document)'}: {_short(old)} -> {_short(new)}"


_SHORT = 60  # Characters of a value shown in a difference or a failure.


def _short(value: Any) -> str:  # noqa: ANN401  # JSON values.
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= _SHORT else text[: _SHORT - 3] + "..."


@dataclass(frozen=True)
class Drift:
    """Whether the committed document is what the contract produces, and if not, where."""

    path: Path
    changes: tuple[str, ...]
    missing: bool = False

    @property
    def passed(self) -> bool:
        return not self.changes and not self.missing


def drift(settings: Settings) -> Drift:
    """Compare the committed document with the contract's."""
    expected = document(settings)
    path = settings.openapi
    if not path.is_file():
        return Drift(path, (), missing=True)
    try:
        committed = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        return Drift(path, (f"not JSON: {error}",))
    return Drift(path, tuple(differences(committed, expected)))


def drift_reason(found: Drift, root: Path) -> str:
    """One line: what differs, and what to do."""
    shown = found.path.relative_to(root)
    if found.missing:
        return f"no {shown}: run `make openapi` and commit it"
    count = f"{len(found.changes)} difference{'s' if len(found.changes) > 1 else ''}"
    first = found.changes[0]
    more = f" (and {len(found.changes) - 1} more)" if len(found.changes) > 1 else ""
    return (
        f"{shown} differs from what the contract produces ({count}: {first}{more}): "
        "review the API change, then run `make openapi` and commit it"
    )


# --- Requests: JSON rows into the frame the contract validates -------------------


class RequestError(ValueError):
    """The body is not what the API takes; `failures` names columns and checks."""

    def __init__(self, detail: str, failures: list[Failure] | None = None) -> None:
        self.detail = detail
        self.failures = failures or []
        super().__init__(detail)


def _reject_constant(name: str) -> float:
    msg = f"{name} is not a JSON number"
    raise ValueError(msg)


def parse(body: bytes) -> Any:  # noqa: ANN401  # JSON values.
    """The JSON body, strictly: NaN and Infinity are not JSON."""
    return json.loads(body, parse_constant=_reject_constant)


def _as_int(value: Any) -> int | None:  # noqa: ANN401  # JSON values.
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if INT64[0] <= value <= INT64[1] else None
    if (
        isinstance(value, float) and value.is_integer()
    ):  # JSON Schema: 3.0 is an integer.
        return _as_int(int(value))
    return None


def _as_float(value: Any) -> float | None:  # noqa: ANN401  # JSON values.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return float(value)
    except OverflowError:
        return None


def _as_bool(value: Any) -> bool | None:  # noqa: ANN401  # JSON values.
    return value if isinstance(value, bool) else None


def _as_str(value: Any) -> str | None:  # noqa: ANN401  # JSON values.
    return value if isinstance(value, str) else None


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "boolean": _as_bool,
    "integer": _as_int,
    "long": _as_int,
    "float": _as_float,
    "double": _as_float,
    "string": _as_str,
    "datetime": _as_str,
}


@dataclass(frozen=True)
class _Column:
    name: str
    kind: str
    dtype: str
    nullable: bool
    required: bool


@dataclass(frozen=True)
class RowReader:
    """Reads request rows for one contract schema into a frame with its dtypes."""

    schema: type[Schema]
    columns: tuple[_Column, ...]
    strict: bool
    validator: Validator

    @classmethod
    def of(cls, schema: type[Schema]) -> RowReader:
        pandera_schema = schema.to_schema()
        columns = tuple(
            _Column(
                str(name),
                column_type(schema, str(name), column.dtype),
                dtype_name(column.dtype),
                bool(column.nullable),
                bool(column.required),
            )
            for name, column in pandera_schema.columns.items()
        )
        return cls(schema, columns, pandera_schema.strict is True, validator(schema))

    def frame(self, body: Any) -> pd.DataFrame:  # noqa: ANN401  # JSON values.
        """The rows of `body` as a frame the contract has validated, or RequestError."""
        if not isinstance(body, list):
            msg = (
                "the body must be a JSON array of rows (objects), one per row to score"
            )
            raise RequestError(msg)
        if not body:
            raise RequestError("no rows to score: send at least one")
        for number, row in enumerate(body):
            if not isinstance(row, dict):
                msg = f"row {number} is not a JSON object: each row maps column names to values"
                raise RequestError(msg)
        failures: list[Failure] = []
        data: dict[str, Any] = {}
        for column in self.columns:
            values, failed = self._column(column, body)
            failures += failed
            if values is not None and not failed:
                data[column.name] = values
        if self.strict:
            known = {column.name for column in self.columns}
            extra: dict[str, list[int]] = {}
            for number, row in enumerate(body):
                for key in row.keys() - known:
                    extra.setdefault(key, []).append(number)
            failures += [
                Failure(key, "column_in_schema", len(rows), _row_numbers(rows))
                for key, rows in sorted(extra.items())
            ]
        frame = pd.DataFrame(data, index=pd.RangeIndex(len(body)))
        try:
            validated = self.validator.validated(frame)
        except ContractViolation as violation:
            # Columns already refused above are missing from the frame: said once.
            named = {failure.column for failure in failures}
            failures += [f for f in violation.failures if f.column not in named]
        else:
            if not failures:
                return validated
        count = f"{len(failures)} failure{'s' if len(failures) > 1 else ''}"
        raise RequestError(
            f"{self.schema.__name__} contract violated ({count})", failures
        )

    def _column(
        self, column: _Column, body: list[dict[str, Any]]
    ) -> tuple[Any, list[Failure]]:
        """The column's values with its dtype, or None when it is absent from every row."""
        missing = [n for n, row in enumerate(body) if column.name not in row]
        if len(missing) == len(body) and not column.required:
            return None, []
        if missing and column.required:
            check = Failure(
                column.name, "column_in_dataframe", len(missing), _row_numbers(missing)
            )
            return None, [check]
        convert = _CONVERTERS[column.kind]
        values: list[Any] = []
        nulls: list[int] = []
        wrong: list[Any] = []
        for number, row in enumerate(body):
            raw = row.get(column.name)
            if raw is None:
                nulls.append(number)
                values.append(None)
                continue
            value = convert(raw)
            if value is None:
                wrong.append(raw)
            values.append(value)
        failures = []
        dtype = f"dtype('{column.dtype}')"
        if wrong:
            examples = tuple(_short(value) for value in wrong[:3])
            failures.append(Failure(column.name, dtype, len(wrong), examples))
        if nulls and not column.nullable:
            failures.append(
                Failure(column.name, "not_nullable", len(nulls), _row_numbers(nulls))
            )
        if failures:
            return None, failures
        try:
            return _typed(column, values), []
        except ValueError as error:  # A string that is no ISO 8601 time.
            examples = (" ".join(str(error).split())[:_SHORT],)
            return None, [Failure(column.name, dtype, 1, examples)]


def _typed(column: _Column, values: list[Any]) -> Any:  # noqa: ANN401  # pandas arrays.
    """The values in the column's dtype (nulls as the dtype's missing value)."""
    if column.kind == "datetime":
        return pd.to_datetime(pd.Series(values, dtype=object), format="ISO8601")
    if column.kind == "string":
        return values  # pandas' own string dtype.
    if None in values:
        # Integer and boolean dtypes have no missing value: pandas decides.
        return pd.Series(values).to_numpy()
    return np.asarray(values, dtype=column.dtype)


def _row_numbers(rows: list[int]) -> tuple[str, ...]:
    return tuple(f"row {number}" for number in rows[:3])


def failure_json(failure: Failure) -> dict[str, Any]:
    return {
        "column": failure.column,
        "check": failure.check,
        "rows": failure.rows,
        "examples": list(failure.examples),
    }


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A frame's rows as JSON values: nulls as None, times in ISO 8601."""
    names = [str(name) for name in frame.columns]
    columns = [_json_values(frame.iloc[:, place]) for place in range(len(names))]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def _json_values(series: pd.Series) -> list[Any]:
    """A column's values as JSON values, column at once where NumPy holds them."""
    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "biuf":
        values: list[Any] = series.tolist()
        if dtype.kind == "f" and not np.isfinite(series.to_numpy()).all():
            values = [value if math.isfinite(value) else None for value in values]
        return values
    return [
        _json_value(value)
        for value in series.astype(object).where(series.notna(), None).tolist()
    ]


def _json_value(value: Any) -> Any:  # noqa: ANN401  # JSON values.
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps_rows(rows: list[dict[str, Any]]) -> bytes:
    """Rows as a JSON response body."""
    return json.dumps(rows, ensure_ascii=False, allow_nan=False).encode()
