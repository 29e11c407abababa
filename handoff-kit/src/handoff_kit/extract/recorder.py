"""The recorder `handoff extract` installs in the notebook's own kernel.

After the cell that defines a moved function runs, `wrap` replaces the function
in the notebook's namespace with one that records, for every call, the types of
its arguments and of what it returns, and stores the first calls (inputs before
the call, so a function that changes them cannot spoil them, and the output)
with `handoff_kit.parity.save`. `finish` writes what it saw to `record.json`.
"""

from __future__ import annotations

import functools
import inspect
import json
import shutil
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from handoff_kit import parity

RECORD = "record.json"


class Recorder:
    """What one notebook run saw of the moved functions."""

    def __init__(self, folder: Path, calls: int) -> None:
        self.folder = folder
        self.calls = calls
        self.functions: dict[str, dict[str, Any]] = {}
        self.problems: list[str] = []

    def wrap(self, namespace: MutableMapping[str, Any], names: list[str]) -> None:
        """Record the calls of the functions `names` in `namespace` from now on."""
        for name in names:
            function = namespace.get(name)
            if inspect.isfunction(function):
                namespace[name] = self._wrapped(name, function)

    def _wrapped(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        signature = inspect.signature(function)
        seen = self.functions.setdefault(
            name, {"calls": 0, "stored": 0, "params": {}, "returns": []}
        )

        @functools.wraps(function)
        def recorded(*args: Any, **kwargs: Any) -> Any:  # noqa: ANN401  # Any function.
            seen["calls"] += 1
            try:
                bound = signature.bind(*args, **kwargs)
            except TypeError:  # The call itself fails: let it.
                return function(*args, **kwargs)
            bound.apply_defaults()  # A default's type is the parameter's too.
            for param, value in bound.arguments.items():
                kind = signature.parameters[param].kind
                if kind is inspect.Parameter.VAR_POSITIONAL:
                    types = [describe(item) for item in value]
                elif kind is inspect.Parameter.VAR_KEYWORD:
                    types = [describe(item) for item in value.values()]
                else:
                    types = [describe(value)]
                _add(seen["params"].setdefault(param, []), *types)
            call = self._store_inputs(name, seen, args, kwargs)
            result = function(*args, **kwargs)
            _add(seen["returns"], describe(result))
            if call is not None:
                self._store_output(name, call, result)
            return result

        return recorded

    def _store_inputs(
        self,
        name: str,
        seen: dict[str, Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Path | None:
        if seen["stored"] >= self.calls:
            return None
        seen["stored"] += 1
        call = self.folder / name / str(seen["stored"])
        call.mkdir(parents=True, exist_ok=True)
        try:
            stored = {
                "function": name,
                "args": [parity.save(v, call, f"arg{i}") for i, v in enumerate(args)],
                "kwargs": {
                    k: parity.save(v, call, f"kw_{k}") for k, v in kwargs.items()
                },
            }
        except parity.UnstorableError as error:
            self.problems.append(f"`{name}` was called with {error}")
            shutil.rmtree(call)
            seen["stored"] -= 1
            return None
        (call / "inputs.json").write_text(json.dumps(stored))
        return call

    def _store_output(self, name: str, call: Path, result: object) -> None:
        stored = json.loads((call / "inputs.json").read_text())
        (call / "inputs.json").unlink()
        try:
            stored["output"] = parity.save(result, call, "output")
        except parity.UnstorableError as error:
            self.problems.append(f"`{name}` returned {error}")
            shutil.rmtree(call)
            return
        (call / parity.CALL).write_text(json.dumps(stored, indent=1) + "\n")

    def finish(self) -> None:
        """Write what the run saw for `handoff extract` to read."""
        record = {"functions": self.functions, "problems": self.problems}
        (self.folder / RECORD).write_text(json.dumps(record))


def _add(types: list[Any], *found: Any) -> None:  # noqa: ANN401  # JSON values.
    for one in found:
        if one not in types:
            types.append(one)


def describe(value: object) -> Any:  # noqa: ANN401, PLR0911  # JSON; a return per kind.
    """A value's type, as JSON the annotations are written from."""
    if value is None:
        return {"t": "None"}
    if isinstance(value, pd.DataFrame):
        return {"t": "DataFrame"}
    if isinstance(value, pd.Series):
        return {"t": "Series", "dtype": str(value.dtype)}
    if isinstance(value, np.ndarray):
        return {"t": "ndarray", "dtype": value.dtype.type.__name__}
    if isinstance(value, np.generic):
        return {"t": "numpy", "dtype": value.dtype.type.__name__}
    if isinstance(value, bool | int | float | str | bytes):
        return {"t": type(value).__name__}
    if isinstance(value, list | set | frozenset):
        items: list[Any] = []
        _add(items, *(describe(item) for item in value))
        return {"t": type(value).__name__, "of": items}
    if isinstance(value, tuple) and type(value) is tuple:
        return {"t": "tuple", "items": [describe(item) for item in value]}
    if isinstance(value, dict):
        keys: list[Any] = []
        values: list[Any] = []
        _add(keys, *(describe(key) for key in value))
        _add(values, *(describe(item) for item in value.values()))
        return {"t": "dict", "keys": keys, "values": values}
    kind = type(value)
    return {"t": "other", "name": f"{kind.__module__}.{kind.__qualname__}"}
