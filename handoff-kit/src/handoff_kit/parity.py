"""Parity: the package's function still does what the notebook's did.

`handoff extract` captures calls of each moved function while the notebook runs
and stores them with `save`: DataFrames and Series as Parquet, numpy arrays as
`.npy`, scalars and containers as JSON (never pickle). The parity tests it
writes call `check`, which replays a captured call on the package's function
and compares the result with the notebook's: ints, strings, bools and
categories exactly; floats within the relative tolerance `parity-rtol` of
[tool.handoff]; DataFrames column by column, a mismatch naming the column, the
first differing row and both values.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

CALL = "call.json"
DEFAULT_RTOL = 1e-9
# Floats that should be zero differ by rounding only: below this they are equal.
ATOL = 1e-12
_SCALARS = (bool, int, float, str, type(None))


class UnstorableError(ValueError):
    """A value parity cannot store without pickle; the message names its type."""


def save(value: object, folder: Path, stem: str) -> Any:  # noqa: ANN401, PLR0911  # JSON; a return per kind.
    """Store `value` in `folder` (files named from `stem`); what `load` reads back."""
    if isinstance(value, pd.DataFrame):
        file = f"{stem}.parquet"
        _parquet(value, folder / file, stem)
        return {"frame": file}
    if isinstance(value, pd.Series):
        file = f"{stem}.parquet"
        _parquet(value.to_frame(name="values"), folder / file, stem)
        return {"series": file, "name": save(value.name, folder, f"{stem}.name")}
    if isinstance(value, np.ndarray):
        file = f"{stem}.npy"
        try:
            np.save(folder / file, value, allow_pickle=False)
        except ValueError:
            msg = f"a numpy array of dtype {value.dtype}"
            raise UnstorableError(msg) from None
        return {"array": file}
    if isinstance(value, np.generic) and value.dtype.kind in "biufU":
        return {"value": value.item(), "numpy": value.dtype.str}
    if isinstance(value, _SCALARS):
        return {"value": value}
    if isinstance(value, list | tuple):
        kind = "list" if isinstance(value, list) else "tuple"
        return {
            kind: [save(item, folder, f"{stem}.{i}") for i, item in enumerate(value)]
        }
    if isinstance(value, dict):
        return {
            "dict": [
                [save(key, folder, f"{stem}.k{i}"), save(item, folder, f"{stem}.{i}")]
                for i, (key, item) in enumerate(value.items())
            ]
        }
    raise UnstorableError(f"a value of type {_type_name(value)}")


def _parquet(frame: pd.DataFrame, path: Path, stem: str) -> None:
    try:
        frame.to_parquet(path)
    except (ValueError, TypeError, ImportError) as error:
        problem = " ".join(str(error).split())
        msg = f"a DataFrame Parquet cannot hold ({problem})"
        raise UnstorableError(msg) from None


def _type_name(value: object) -> str:
    kind = type(value)
    return f"{kind.__module__}.{kind.__qualname__}".removeprefix("builtins.")


def load(spec: Any, folder: Path) -> Any:  # noqa: ANN401, PLR0911  # JSON; a return per kind.
    """The value `save` stored as `spec` in `folder`."""
    if "frame" in spec:
        return pd.read_parquet(folder / spec["frame"])
    if "series" in spec:
        series = pd.read_parquet(folder / spec["series"])["values"]
        return series.rename(load(spec["name"], folder))
    if "array" in spec:
        return np.load(folder / spec["array"], allow_pickle=False)
    if "value" in spec:
        if "numpy" in spec:
            return np.dtype(spec["numpy"]).type(spec["value"])
        return spec["value"]
    if "list" in spec:
        return [load(item, folder) for item in spec["list"]]
    if "tuple" in spec:
        return tuple(load(item, folder) for item in spec["tuple"])
    return {load(key, folder): load(item, folder) for key, item in spec["dict"]}


def calls(folder: Path) -> list[Path]:
    """The captured calls of one function: a folder each, in the order they ran."""
    found = [path.parent for path in folder.glob(f"*/{CALL}")]
    return sorted(found, key=lambda path: int(path.name) if path.name.isdigit() else 0)


def check(
    function: Callable[..., object], call: Path, rtol: float | None = None
) -> None:
    """Replay the captured `call` on `function`; AssertionError names what differs."""
    recorded = json.loads((call / CALL).read_text())
    args = [load(spec, call) for spec in recorded["args"]]
    kwargs = {name: load(spec, call) for name, spec in recorded["kwargs"].items()}
    expected = load(recorded["output"], call)
    actual = function(*args, **kwargs)
    tolerance = read_rtol(call) if rtol is None else rtol
    name = recorded.get("function", "the function")
    assert_same(
        expected, actual, tolerance, f"{name}'s output (notebook call {call.name})"
    )


def read_rtol(start: Path) -> float:
    """`parity-rtol` of [tool.handoff] in the nearest pyproject.toml above `start`."""
    for folder in [start, *start.parents]:
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            table = tomllib.loads(pyproject.read_text()).get("tool", {})
            if "handoff" in table:
                return float(table["handoff"].get("parity-rtol", DEFAULT_RTOL))
    return DEFAULT_RTOL


def assert_same(  # noqa: PLR0912  # A branch per kind of value.
    expected: object, actual: object, rtol: float, where: str
) -> None:
    """Compare the notebook's value with the package's; AssertionError says where."""
    if isinstance(expected, pd.DataFrame):
        _expect_type(expected, actual, where)
        _same_frames(expected, cast("pd.DataFrame", actual), rtol, where)
    elif isinstance(expected, pd.Series):
        _expect_type(expected, actual, where)
        _same_columns(expected, cast("pd.Series[Any]", actual), rtol, where)
    elif isinstance(expected, np.ndarray):
        _same_arrays(expected, actual, rtol, where)
    elif isinstance(expected, float | np.floating):
        if not isinstance(actual, float | int | np.number) or isinstance(actual, bool):
            raise AssertionError(_differ(where, expected, actual))
        if not (
            math.isclose(expected, actual, rel_tol=rtol, abs_tol=ATOL)
            or (math.isnan(expected) and math.isnan(actual))
        ):
            raise AssertionError(_differ(where, expected, actual, rtol))
    elif isinstance(expected, list | tuple):
        _expect_type(expected, actual, where)
        items = list(actual)  # type: ignore[call-overload]
        if len(items) != len(expected):
            msg = f"{where} has {len(items)} items; the notebook's had {len(expected)}"
            raise AssertionError(msg)
        for i, (one, other) in enumerate(zip(expected, items, strict=True)):
            assert_same(one, other, rtol, f"{where}, item {i}")
    elif isinstance(expected, dict):
        _expect_type(expected, actual, where)
        mapping = dict(actual)  # type: ignore[call-overload]
        if list(mapping) != list(expected):
            msg = (
                f"{where} has keys {list(mapping)}; the notebook's had {list(expected)}"
            )
            raise AssertionError(msg)
        for key, one in expected.items():
            assert_same(one, mapping[key], rtol, f"{where}, key {key!r}")
    elif type(expected) is not type(actual) or expected != actual:
        raise AssertionError(_differ(where, expected, actual))


def _expect_type(expected: object, actual: object, where: str) -> None:
    if not isinstance(actual, type(expected)):
        msg = (
            f"{where} is a {_type_name(actual)}; the notebook's was a "
            f"{_type_name(expected)}"
        )
        raise AssertionError(msg)


def _plain(value: object) -> object:
    """A numpy scalar as the Python value it holds, for messages."""
    return value.item() if isinstance(value, np.generic) else value


def _differ(where: str, expected: object, actual: object, rtol: float = 0) -> str:
    within = f" (relative tolerance {rtol:g})" if rtol else ""
    return (
        f"{where} differs: the notebook had {_plain(expected)!r}, the package "
        f"returns {_plain(actual)!r}{within}"
    )


def _same_frames(
    expected: pd.DataFrame, actual: pd.DataFrame, rtol: float, where: str
) -> None:
    if list(actual.columns) != list(expected.columns):
        msg = (
            f"{where} has columns {list(actual.columns)}; the notebook's had "
            f"{list(expected.columns)}"
        )
        raise AssertionError(msg)
    _same_index(expected.index, actual.index, where)
    for column in expected.columns:
        _same_columns(
            expected[column], actual[column], rtol, f"{where}, column {column!r}"
        )


def _same_index(expected: pd.Index, actual: pd.Index, where: str) -> None:
    try:
        pd.testing.assert_index_equal(actual, expected, exact="equiv")
    except AssertionError as error:
        said = " ".join(str(error).split())
        raise AssertionError(f"{where}: the index differs: {said}") from None


def _same_columns(
    expected: pd.Series[Any], actual: pd.Series[Any], rtol: float, where: str
) -> None:
    """One column: exact unless it holds floats, then within `rtol`."""
    if len(actual) != len(expected):
        msg = f"{where} has {len(actual)} rows; the notebook's had {len(expected)}"
        raise AssertionError(msg)
    _same_index(expected.index, actual.index, where)
    if actual.dtype != expected.dtype:
        msg = f"{where} has dtype {actual.dtype}; the notebook's had {expected.dtype}"
        raise AssertionError(msg)
    floats = pd.api.types.is_float_dtype(expected.dtype)
    try:
        pd.testing.assert_series_equal(
            actual,
            expected,
            check_exact=not floats,
            rtol=rtol,
            atol=ATOL,
            check_names=False,
        )
    except AssertionError as error:
        row = _first_difference(expected, actual, rtol)
        if row is None:  # Not a value: pandas says what (categories, say).
            said = " ".join(str(error).split())
            raise AssertionError(f"{where} differs: {said}") from None
        within = f" (relative tolerance {rtol:g})" if floats else ""
        msg = (
            f"{where} differs first at row {row} (index {expected.index[row]!r}): "
            f"the notebook had {_plain(expected.iloc[row])!r}, the package returns "
            f"{_plain(actual.iloc[row])!r}{within}"
        )
        raise AssertionError(msg) from None


def _first_difference(
    expected: pd.Series[Any], actual: pd.Series[Any], rtol: float
) -> int | None:
    """The position of the first row that differs (for the message)."""
    left, right = expected.to_numpy(), actual.to_numpy()
    if pd.api.types.is_float_dtype(expected.dtype):
        same = np.isclose(right, left, rtol=rtol, atol=ATOL, equal_nan=True)
    else:
        both_missing = pd.isna(left) & pd.isna(right)
        same = both_missing | (left == right)
    differing = np.flatnonzero(~np.asarray(same, dtype=bool))
    return int(differing[0]) if len(differing) else None


def _same_arrays(expected: np.ndarray, actual: object, rtol: float, where: str) -> None:
    _expect_type(expected, actual, where)
    found = np.asarray(actual)
    if found.shape != expected.shape:
        msg = f"{where} has shape {found.shape}; the notebook's had {expected.shape}"
        raise AssertionError(msg)
    if found.dtype != expected.dtype:
        msg = f"{where} has dtype {found.dtype}; the notebook's had {expected.dtype}"
        raise AssertionError(msg)
    try:
        if expected.dtype.kind in "fc":
            np.testing.assert_allclose(found, expected, rtol=rtol, atol=ATOL)
        else:
            np.testing.assert_array_equal(found, expected)
    except AssertionError:
        flat_left, flat_right = expected.reshape(-1), found.reshape(-1)
        if expected.dtype.kind in "fc":
            same = np.isclose(
                flat_right, flat_left, rtol=rtol, atol=ATOL, equal_nan=True
            )
        else:
            same = flat_left == flat_right
        first = int(np.flatnonzero(~same)[0])
        at = np.unravel_index(first, expected.shape)
        position = tuple(int(i) for i in at)
        msg = (
            f"{where} differs first at {position}: the notebook had "
            f"{_plain(flat_left[first])!r}, the package returns "
            f"{_plain(flat_right[first])!r}"
        )
        raise AssertionError(msg) from None
