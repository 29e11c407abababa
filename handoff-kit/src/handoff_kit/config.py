"""What is the project's own: `[tool.handoff]` in its pyproject.toml.

The kit knows nothing of any project until it reads this table. Every key
names something the project owns: its package, its contract module, how its
model is trained, where its records live.

    [tool.handoff]
    package = "churn_model"                       # the import name
    contracts = "churn_model.contracts"           # CONTRACT_VERSION, INPUTS, OUTPUTS, INTERFACES
    train = "churn_model.training:train"          # () -> handoff_kit.Trained[<model>]
    model-input = "churn_model.contracts:Features"
    model-output = "churn_model.contracts:Predictions"
    model-interface = "churn_model.contracts:Model"
    model-name = "churn-model"                     # the registry's name for the model
    registry = "mlflow"                            # or "files"
    package-dir = "package/src/churn_model"
    snapshot = "package/contracts.lock.json"
    catalog = "data/catalog"
    research = "research"
    acceptance = "package/tests/acceptance"
    report = "reports/handoff.md"
    openapi = "api/openapi.json"
    odcs = "contracts"                             # the ODCS files of `handoff contracts-export`
    contract-coverage-boundary = 100               # floors (percent) of the coverage row
    contract-coverage-fields = 80
    promotion-metric = "roc_auc"                   # held-out metric promotion guards
    promotion-goal = "maximize"                    # or "minimize" (a loss)
    promotion-tolerance = 0.01                     # how much worse it may get
    card-notes = "package/model_card.md"          # the team's sections of the model card
    id-column = "customer_id"                     # kept in predict's output (default: id, *_id)
    parity-calls = 3                               # calls `handoff extract` captures per function
    parity-rtol = 1e-9                             # parity tests' relative tolerance for floats

    [tool.handoff.waivers."coverage.report.fail_under"]   # a looser setting, waived
    value = 70                                            # (handoff_kit/loosened.py)
    reason = "the legacy loader has no tests yet"
    owner = "@maria"
    expires = 2027-03-01

A missing or wrong setting fails with one line naming the key and what would
be right (`ConfigError`).
"""

from __future__ import annotations

import importlib
import math
import re
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal, cast

if TYPE_CHECKING:
    from handoff_kit.contracts import Schema

PYPROJECT = "pyproject.toml"
TABLE = "[tool.handoff]"
REGISTRIES = ("mlflow", "files")
GOALS = ("maximize", "minimize")
# The sub-table of waivers for looser settings, which handoff_kit/loosened.py checks.
WAIVERS = "waivers"
# The sub-table of advisories `handoff audit` lets through (handoff_kit/audit.py).
AUDIT = "audit"
DEFAULT_TOLERANCE = 0.01
DEFAULT_PARITY_CALLS = 3
DEFAULT_PARITY_RTOL = 1e-9
# A dotted module path, then for objects ":" and an attribute name.
_MODULE = r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*"
_OBJECT = re.compile(rf"^{_MODULE}:[A-Za-z_]\w*$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

# key -> (what it must hold, default); None means the key is required.
KEYS: dict[str, tuple[str, str | None]] = {
    "package": ("the package's import name, e.g. 'churn_model'", None),
    "contracts": (
        "the contract module, e.g. 'churn_model.contracts', which defines "
        "CONTRACT_VERSION, INPUTS, OUTPUTS and INTERFACES",
        None,
    ),
    "train": ("'module:function' returning handoff_kit.Trained", None),
    "model-input": ("'module:Schema', the contract schema the model scores", None),
    "model-output": ("'module:Schema', the contract schema the model returns", None),
    "model-interface": ("'module:Protocol', the model interface", None),
    "model-name": ("the model's name in the registry, e.g. 'churn-model'", None),
    "registry": ("one of " + ", ".join(repr(r) for r in REGISTRIES), None),
    "package-dir": (
        "the package's source folder, e.g. 'package/src/churn_model'",
        None,
    ),
    "snapshot": ("the contract snapshot's path", "package/contracts.lock.json"),
    "catalog": ("the data catalog folder", "data/catalog"),
    "research": ("the research folder", "research"),
    "acceptance": ("the acceptance scenarios' folder", "package/tests/acceptance"),
    "interface-test": (
        "the test module whose annotations mypy checks against the interface",
        "package/tests/test_contracts.py",
    ),
    "report": ("where `handoff gate` writes its report", "reports/handoff.md"),
    "openapi": (
        "where `handoff openapi` writes the model API's OpenAPI document",
        "api/openapi.json",
    ),
    "odcs": (
        "the folder where `handoff contracts-export` writes the contract's ODCS files",
        "contracts",
    ),
    "contract-coverage-boundary": (
        "the lowest share (percent, 0-100) of the contract's boundaries (official "
        "sources, the model's input and output) that may lack no schema",
        "0",
    ),
    "contract-coverage-fields": (
        "the lowest share (percent, 0-100) of the boundaries' columns that must "
        "have a check beyond their type",
        "0",
    ),
    "lock": ("the environment lock file", "uv.lock"),
    # Empty: promotion compares no metric (the report says so).
    "promotion-metric": (
        "the held-out metric promotion compares with the champion's, e.g. 'roc_auc'",
        "",
    ),
    "promotion-goal": ("one of " + ", ".join(repr(g) for g in GOALS), "maximize"),
    "promotion-tolerance": (
        "how much worse than the champion's the metric may be, a number >= 0",
        str(DEFAULT_TOLERANCE),
    ),
    "card-notes": (
        "the team's sections of the model card (intended use, limitations, "
        "ethical considerations), a Markdown file",
        "package/model_card.md",
    ),
    "id-column": (
        "the input column `handoff predict` copies into its output, e.g. "
        "'customer_id' (empty: columns named id or *_id the contract does not use)",
        "",
    ),
    "parity-calls": (
        "how many calls of each moved function `handoff extract` captures for its "
        "parity test, a whole number >= 1",
        str(DEFAULT_PARITY_CALLS),
    ),
    "parity-rtol": (
        "the relative tolerance within which the parity tests' floats must match "
        "the notebook's, a number >= 0",
        str(DEFAULT_PARITY_RTOL),
    ),
}
# Numbers, checked apart from the strings.
NUMBER_KEYS = (
    "promotion-tolerance",
    "parity-calls",
    "parity-rtol",
    "contract-coverage-boundary",
    "contract-coverage-fields",
)
COVERAGE_KEYS = ("contract-coverage-boundary", "contract-coverage-fields")
# Keys whose value may be empty.
OPTIONAL_KEYS = ("id-column", "promotion-metric")
OBJECT_KEYS = ("train", "model-input", "model-output", "model-interface")


class ConfigError(Exception):
    """`[tool.handoff]` is missing, or a key is missing or wrong; one line says which."""


def _error(key: str, problem: str) -> ConfigError:
    meaning, _ = KEYS[key]
    return ConfigError(f"{PYPROJECT} {TABLE} {key}: {problem}; it must be {meaning}")


@dataclass(frozen=True)
class Contract:
    """The project's contract, imported: what the snapshot covers and the model's sides."""

    version: str
    inputs: tuple[type[Schema], ...]
    outputs: tuple[type[Schema], ...]
    interfaces: tuple[type, ...]
    model_input: type[Schema]
    model_output: type[Schema]
    model_interface: type


@dataclass(frozen=True)
class Settings:
    """`[tool.handoff]`, checked; paths are absolute, under `root`."""

    root: Path
    package: str
    contracts_module: str
    train_function: str
    model_input: str
    model_output: str
    model_interface: str
    model_name: str
    registry: Literal["mlflow", "files"]
    package_dir: Path
    snapshot: Path
    catalog: Path
    research: Path
    acceptance: Path
    interface_test: Path
    report: Path
    lock: Path
    openapi: Path
    promotion_metric: str = ""
    promotion_goal: Literal["maximize", "minimize"] = "maximize"
    promotion_tolerance: float = DEFAULT_TOLERANCE
    card_notes: Path | None = None
    id_column: str = ""
    parity_calls: int = DEFAULT_PARITY_CALLS
    parity_rtol: float = DEFAULT_PARITY_RTOL
    odcs: Path | None = None
    # Floors (percent) of contract coverage: boundaries with a schema, checked columns.
    coverage_boundary: float = 0.0
    coverage_fields: float = 0.0
    # From [project]: the distribution's name and its one-line description.
    distribution: str = ""
    description: str = ""

    @cached_property
    def contract(self) -> Contract:
        """Import the contract module and the model's schemas and interface."""
        # pandera loads here, with the contract: commands that need none start without it.
        import pandera.pandas as pa  # noqa: PLC0415

        module = _import(self.contracts_module, "contracts")
        version = getattr(module, "CONTRACT_VERSION", None)
        if not isinstance(version, str):
            raise _error(
                "contracts", f"{self.contracts_module} has no CONTRACT_VERSION string"
            )
        groups = {}
        for name in ("INPUTS", "OUTPUTS", "INTERFACES"):
            value = getattr(module, name, None)
            if not isinstance(value, tuple):
                problem = f"{self.contracts_module}.{name} is missing or not a tuple"
                raise _error("contracts", problem)
            groups[name] = value
        for name in ("INPUTS", "OUTPUTS"):
            for schema in groups[name]:
                if not (
                    isinstance(schema, type) and issubclass(schema, pa.DataFrameModel)
                ):
                    problem = (
                        f"{self.contracts_module}.{name} holds {schema!r}, not a schema"
                    )
                    raise _error("contracts", problem)
        return Contract(
            version=version,
            inputs=groups["INPUTS"],
            outputs=groups["OUTPUTS"],
            interfaces=groups["INTERFACES"],
            model_input=self._schema("model-input", self.model_input),
            model_output=self._schema("model-output", self.model_output),
            model_interface=self._type("model-interface", self.model_interface),
        )

    @property
    def contracts_dir(self) -> Path:
        """Where the contract's ODCS files are (`odcs` in [tool.handoff])."""
        return self.odcs if self.odcs is not None else self.root / "contracts"

    def trainer(self) -> Callable[[], Any]:
        """The project's training function."""
        found = _object("train", self.train_function)
        if not callable(found):
            raise _error("train", f"{self.train_function} is not a function")
        return cast("Callable[[], Any]", found)

    def _schema(self, key: str, path: str) -> type[Schema]:
        from handoff_kit.contracts import Schema  # noqa: PLC0415  # pandera loads here.

        found = self._type(key, path)
        if not issubclass(found, Schema):
            problem = f"{path} is not a contract schema (a handoff_kit.Schema)"
            raise _error(key, problem)
        return found

    @staticmethod
    def _type(key: str, path: str) -> type:
        found = _object(key, path)
        if not isinstance(found, type):
            raise _error(key, f"{path} is not a class")
        return found


def _import(module: str, key: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        problem = f"cannot import {module!r} ({error}); is the project installed (make setup)?"
        raise _error(key, problem) from None


def _object(key: str, path: str) -> object:
    module, _, name = path.partition(":")
    found = getattr(_import(module, key), name, None)
    if found is None:
        raise _error(key, f"{module} has no {name!r}")
    return found


def find_root(start: Path) -> Path:
    """The nearest folder from `start` upwards whose pyproject.toml has [tool.handoff]."""
    for folder in [start, *start.parents]:
        candidate = folder / PYPROJECT
        if candidate.is_file() and "handoff" in read_toml(candidate).get("tool", {}):
            return folder
    msg = (
        f"no {PYPROJECT} with a {TABLE} table in {start} or above: "
        "run the command in a Handoff project"
    )
    raise ConfigError(msg)


def read_toml(path: Path) -> dict[str, Any]:
    """A TOML file's tables; not valid TOML is a ConfigError naming the file."""
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        msg = f"{path}: not valid TOML ({error})"
        raise ConfigError(msg) from None


def load(start: Path | None = None) -> Settings:
    """The settings of the project in `start` (default: the current folder) or above."""
    root = find_root((start or Path.cwd()).resolve())
    pyproject = read_toml(root / PYPROJECT)
    return from_table(root, pyproject["tool"]["handoff"], pyproject.get("project", {}))


def from_table(
    root: Path, table: dict[str, Any], project: dict[str, Any] | None = None
) -> Settings:
    """Check a `[tool.handoff]` table; the first problem found is the error."""
    unknown = sorted(set(table) - set(KEYS) - {WAIVERS, AUDIT})
    if unknown:
        keys = ", ".join([*KEYS, WAIVERS, AUDIT])
        msg = f"{PYPROJECT} {TABLE} has an unknown key {unknown[0]!r} (keys: {keys})"
        raise ConfigError(msg)
    tolerance = _tolerance(table.get("promotion-tolerance", DEFAULT_TOLERANCE))
    calls, rtol = _parity(table)
    floors = [_floor(key, table.get(key, 0)) for key in COVERAGE_KEYS]
    values: dict[str, str] = {}
    for key, (_, default) in KEYS.items():
        value = table.get(key, default)
        if value is None:
            raise _error(key, "missing")
        if key in NUMBER_KEYS:
            continue
        if not isinstance(value, str) or (
            not value.strip() and key not in OPTIONAL_KEYS
        ):
            raise _error(key, f"got {value!r}")
        values[key] = value
    for key in OBJECT_KEYS:
        if not _OBJECT.match(values[key]):
            raise _error(key, f"{values[key]!r} is not 'module:name'")
    for key in ("package", "contracts"):
        if not re.fullmatch(_MODULE, values[key]):
            raise _error(key, f"{values[key]!r} is not a module name")
    if values["registry"] not in REGISTRIES:
        raise _error("registry", f"got {values['registry']!r}")
    if values["promotion-goal"] not in GOALS:
        raise _error("promotion-goal", f"got {values['promotion-goal']!r}")
    if not _NAME.match(values["model-name"]):
        raise _error("model-name", f"{values['model-name']!r} is not a plain name")
    return Settings(
        root=root,
        package=values["package"],
        contracts_module=values["contracts"],
        train_function=values["train"],
        model_input=values["model-input"],
        model_output=values["model-output"],
        model_interface=values["model-interface"],
        model_name=values["model-name"],
        registry=cast("Literal['mlflow', 'files']", values["registry"]),
        package_dir=root / values["package-dir"],
        snapshot=root / values["snapshot"],
        catalog=root / values["catalog"],
        research=root / values["research"],
        acceptance=root / values["acceptance"],
        interface_test=root / values["interface-test"],
        report=root / values["report"],
        lock=root / values["lock"],
        openapi=root / values["openapi"],
        promotion_metric=values["promotion-metric"].strip(),
        promotion_goal=cast(
            "Literal['maximize', 'minimize']", values["promotion-goal"]
        ),
        promotion_tolerance=tolerance,
        card_notes=root / values["card-notes"],
        id_column=values["id-column"].strip(),
        parity_calls=calls,
        parity_rtol=rtol,
        odcs=root / values["odcs"],
        coverage_boundary=floors[0],
        coverage_fields=floors[1],
        distribution=str((project or {}).get("name", "")),
        description=str((project or {}).get("description", "")),
    )


def _parity(table: dict[str, Any]) -> tuple[int, float]:
    """parity-calls, a whole number >= 1, and parity-rtol, a number >= 0."""
    rtol = _number("parity-rtol", table.get("parity-rtol", DEFAULT_PARITY_RTOL))
    calls = _number("parity-calls", table.get("parity-calls", DEFAULT_PARITY_CALLS))
    if not isinstance(calls, int) or calls < 1:
        raise _error("parity-calls", f"got {calls!r}")
    return calls, float(rtol)


def _floor(key: str, value: object) -> float:
    """A coverage floor: a percentage, 0 to 100."""
    floor = float(_number(key, value))
    if floor > 100:  # noqa: PLR2004  # A percentage.
        raise _error(key, f"got {value!r}")
    return floor


def _tolerance(value: object) -> float:
    return float(_number("promotion-tolerance", value))


def _number(key: str, value: object) -> int | float:
    # A finite TOML number >= 0; bool is an int in Python, and no number.
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not (math.isfinite(value) and value >= 0)
    ):
        raise _error(key, f"got {value!r}")
    return value


def python() -> str:
    """The interpreter that runs the kit: the gates run tools with it."""
    return sys.executable
