"""What every registered model version records: the hand-off's paper trail.

A version carries its contract version, the commit and environment lock it was
trained from, the catalog sources it learned from, its metrics, and a signature
derived from the contract schemas (never inferred from data). `make handoff`
compares these with the code before `make promote` may make it the champion.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandera.pandas as pa

from handoff_kit.config import Contract

CANDIDATE = "candidate"
CHAMPION = "champion"

# pandas dtypes of the contract schemas -> MLflow column types (mlflow.types.DataType).
COLUMN_TYPES = {
    "bool": "boolean",
    "int32": "integer",
    "int64": "long",
    "float32": "float",
    "float64": "double",
    "str": "string",
    "datetime64[ns]": "datetime",
}

# (column, type, required) for each column, in schema order.
Columns = tuple[tuple[str, str, bool], ...]


class RegistryError(Exception):
    """A model or alias cannot be found, read or loaded; the message says why."""


@dataclass(frozen=True)
class Signature:
    """The model's input and output columns, as the contract schemas define them."""

    inputs: Columns
    outputs: Columns

    def differences(self, other: Signature) -> list[str]:
        """What differs from `other` (the contract's), in words; empty when equal."""
        found = []
        for side, mine, theirs in [
            ("input", self.inputs, other.inputs),
            ("output", self.outputs, other.outputs),
        ]:
            missing = [column for column in theirs if column not in mine]
            extra = [column for column in mine if column not in theirs]
            found += [
                f"{side} {_show(column)} is not in the model" for column in missing
            ]
            found += [
                f"{side} {_show(column)} is not in the contract" for column in extra
            ]
        return found

    def to_json(self) -> dict[str, list[list[Any]]]:
        return {"inputs": _listed(self.inputs), "outputs": _listed(self.outputs)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Signature:
        return cls(_columns(data["inputs"]), _columns(data["outputs"]))


def _show(column: tuple[str, str, bool]) -> str:
    name, kind, required = column
    return f"{name} ({kind}{'' if required else ', optional'})"


def _listed(columns: Columns) -> list[list[Any]]:
    return [list(column) for column in columns]


def _columns(data: list[list[Any]]) -> Columns:
    return tuple(
        (str(name), str(kind), bool(required)) for name, kind, required in data
    )


def schema_columns(schema: type[pa.DataFrameModel]) -> Columns:
    """A contract schema's columns with their MLflow types."""
    columns = []
    for name, column in schema.to_schema().columns.items():
        dtype = str(column.dtype)
        # pandas' string dtype names its storage (python or pyarrow): both are str.
        dtype = "str" if dtype.startswith("string") else dtype
        if dtype not in COLUMN_TYPES:
            msg = f"{schema.__name__}.{name}: no MLflow type for dtype {dtype}; add it to COLUMN_TYPES"
            raise RegistryError(msg)
        columns.append((str(name), COLUMN_TYPES[dtype], bool(column.required)))
    return tuple(columns)


def contract_signature(contract: Contract) -> Signature:
    """The signature every model must have: the model's input and output schemas."""
    return Signature(
        schema_columns(contract.model_input), schema_columns(contract.model_output)
    )


@dataclass(frozen=True)
class Manifest:
    """Everything recorded with a model version, except the model and its card."""

    contract_version: str
    git_commit: str
    lock_hash: str
    data_sources: tuple[str, ...]
    metrics: Mapping[str, float]
    signature: Signature
    created_at: str = ""
    # The handoff kit that trained and registered the model.
    kit_version: str = ""
    # The HTTP API it serves (api.served_contract): request and response columns.
    api: Mapping[str, Any] | None = None
    # Who trained it (see `who`): on a shared registry, which member's run it was.
    trained_by: str = ""
    # The contract it was trained under, as the snapshot records it (compat.describe):
    # the contract gate keeps the code compatible with the champion's.
    contract: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "contract_version": self.contract_version,
            "git_commit": self.git_commit,
            "lock_hash": self.lock_hash,
            "data_sources": list(self.data_sources),
            "metrics": dict(self.metrics),
            "signature": self.signature.to_json(),
            "created_at": self.created_at,
            "kit_version": self.kit_version,
            "api": self.api,
            "trained_by": self.trained_by,
            "contract": self.contract,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Manifest:
        return cls(
            contract_version=str(data["contract_version"]),
            git_commit=str(data["git_commit"]),
            lock_hash=str(data["lock_hash"]),
            data_sources=tuple(map(str, data["data_sources"])),
            metrics={str(k): float(v) for k, v in data["metrics"].items()},
            signature=Signature.from_json(data["signature"]),
            created_at=str(data.get("created_at", "")),
            kit_version=str(data.get("kit_version", "")),
            api=data.get("api"),
            trained_by=str(data.get("trained_by", "")),
            contract=data.get("contract"),
        )


@dataclass(frozen=True)
class ModelVersion:
    """One registered version of the model, with what it recorded."""

    name: str
    version: str
    manifest: Manifest
    aliases: tuple[str, ...] = ()

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    def __str__(self) -> str:
        aliases = f" ({', '.join(self.aliases)})" if self.aliases else ""
        return f"{self.name} version {self.version}{aliases}"


@dataclass(frozen=True)
class Promotion:
    """One move of the champion alias: which version, when and by whom."""

    version: str
    at: str
    by: str


def manifest_json(manifest: Manifest) -> str:
    return json.dumps(manifest.to_json(), indent=2, sort_keys=True) + "\n"


def lock_hash(lock: Path) -> str:
    """The environment lock's SHA-256, or "none" where there is no lock (a container)."""
    if not lock.is_file():
        return "none"
    return "sha256:" + hashlib.sha256(lock.read_bytes()).hexdigest()


def _git(*args: str, cwd: Path | None = None) -> str:
    """What a git command prints; git from PATH, as make finds it."""
    # The arguments are this module's literals, never user input.
    return subprocess.run(  # noqa: S603
        ["git", *args],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
        cwd=cwd,
    ).stdout.strip()


def git_commit(root: Path) -> str:
    """The commit the code comes from; "+dirty" when tracked files have changes."""
    try:
        head = _git("rev-parse", "HEAD", cwd=root)
        changes = _git("status", "--porcelain", "--untracked-files=no", cwd=root)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}+dirty" if changes else head


def who() -> str:
    """Who trains or promotes: the git user's email, else the login name."""
    try:
        email = _git("config", "user.email")
    except (OSError, subprocess.CalledProcessError):
        email = ""
    return email or getpass.getuser()
