"""The data catalog: every data source the project knows, one YAML file each.

data/catalog/<name>.yml says what a source is, who owns it, how refined it is
(tier) and whether production may use it (status). A project's package loads
data only through `load`, and only from official sources; the handoff gate fails
a package module that reads any other way (see rules/reads.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import pandas as pd
import yaml

from handoff_kit import config
from handoff_kit.contracts import ContractViolation, Schema

Schemas = Mapping[str, type[Schema]]

Tier = Literal["bronze", "silver", "gold"]
Status = Literal["official", "unofficial"]

# The catalog file schema: field -> what it must hold.
FIELDS: dict[str, str] = {
    "name": "the source's name, the same as its file name",
    "description": "what the data is, in a sentence or two",
    "owner": "the data owner: the domain expert who answers for it",
    "tier": "one of " + ", ".join(get_args(Tier)),
    "status": "one of " + ", ".join(get_args(Status)),
    "location": "where the data is: a path from the project root or a URI",
    "schema": "the contract schema its rows follow, or null",
}
READERS: dict[str, Callable[[Path], pd.DataFrame]] = {
    ".csv": pd.read_csv,
    ".parquet": pd.read_parquet,
}


class CatalogError(ValueError):
    """A catalog file is malformed, or a source cannot be loaded."""


class StaleSource(ContractViolation):
    """A source's data no longer matches its schema: a local copy made before the
    contract changed, say. The message names the file and what to do."""

    def __init__(self, source: Source, violation: ContractViolation) -> None:
        super().__init__(violation.schema, violation.failures)
        self.args = (
            f"{_stale(source)} does not match its schema: {violation}{_refresh(source)}",
        )


@dataclass(frozen=True)
class Source:
    """One catalogued data source."""

    name: str
    description: str
    owner: str
    tier: Tier
    status: Status
    location: str
    schema: str | None
    file: Path

    @property
    def official(self) -> bool:
        return self.status == "official"


def read_source(file: Path, schemas: Schemas) -> Source:
    """Read and validate one catalog file; errors name the file and the field."""
    try:
        entry = yaml.safe_load(file.read_text())
    except yaml.YAMLError as error:
        msg = f"{file}: not valid YAML ({error})"
        raise CatalogError(msg) from None
    if not isinstance(entry, dict):
        msg = f"{file}: expected a mapping of fields ({', '.join(FIELDS)})"
        raise CatalogError(msg)
    for field, meaning in FIELDS.items():
        _check_field(file, entry, field, meaning)
    unknown = sorted(set(entry) - set(FIELDS))
    if unknown:
        msg = f"{file}: unknown field {unknown[0]!r} (fields: {', '.join(FIELDS)})"
        raise CatalogError(msg)
    if entry["name"] != file.stem:
        msg = f"{file}: field 'name' must match the file name ({file.stem!r}), got {entry['name']!r}"
        raise CatalogError(msg)
    if entry["schema"] is not None and entry["schema"] not in schemas:
        msg = f"{file}: field 'schema' names no contract schema: {entry['schema']!r} (known: {', '.join(schemas)})"
        raise CatalogError(msg)
    return Source(**entry, file=file)


def _check_field(file: Path, entry: dict[str, Any], field: str, meaning: str) -> None:
    if field not in entry:
        msg = f"{file}: field {field!r} is missing: {meaning}"
        raise CatalogError(msg)
    value = entry[field]
    if field == "schema" and value is None:
        return
    allowed = {"tier": get_args(Tier), "status": get_args(Status)}.get(field)
    if (
        not isinstance(value, str)
        or not value.strip()
        or (allowed and value not in allowed)
    ):
        msg = f"{file}: field {field!r} must be {meaning}, got {value!r}"
        raise CatalogError(msg)


def read_catalog(directory: Path, schemas: Schemas) -> dict[str, Source]:
    """Every source in the catalog `directory`, by name."""
    files = sorted([*directory.glob("*.yml"), *directory.glob("*.yaml")])
    sources = [read_source(file, schemas) for file in files]
    return {source.name: source for source in sources}


def contract_schemas(settings: config.Settings) -> dict[str, type[Schema]]:
    """The contract schemas a catalog entry may name: the contract's inputs and outputs."""
    contract = settings.contract
    return {model.__name__: model for model in (*contract.inputs, *contract.outputs)}


def load(name: str, settings: config.Settings | None = None) -> pd.DataFrame:
    """Load an official source, validated against its contract schema.

    Settings come from the project's [tool.handoff] (the current folder's); a
    source's location is a path from the project root, or a URI.
    """
    settings = settings or config.load()
    schemas = contract_schemas(settings)
    directory = settings.catalog
    sources = read_catalog(directory, schemas)
    if name not in sources:
        msg = f"{name!r} is not in the data catalog ({directory}): add a file for it"
        raise CatalogError(msg)
    source = sources[name]
    if not source.official:
        msg = (
            f"{name!r} is an unofficial source ({source.file}): production code uses "
            f"official sources only; ask its owner, {source.owner}, to make it official"
        )
        raise CatalogError(msg)
    path = settings.root / source.location
    reader = READERS.get(path.suffix)
    if reader is None:
        msg = f"{source.file}: no reader for {path.suffix!r} files (known: {', '.join(READERS)})"
        raise CatalogError(msg)
    if not path.exists():
        msg = f"{name!r} has no data at {source.location}: {source.description}"
        raise CatalogError(msg)
    try:
        frame = reader(path)
    except (OSError, ValueError) as error:  # pandas' parser errors are ValueErrors.
        msg = f"{_stale(source)} cannot be read: {error}{_refresh(source)}"
        raise CatalogError(msg) from None
    if source.schema is None:
        return frame
    try:
        return schemas[source.schema].validated(frame)
    except ContractViolation as violation:
        raise StaleSource(source, violation) from None


def _stale(source: Source) -> str:
    return f"{source.location} (catalog source {source.name!r})"


def _refresh(source: Source) -> str:
    return f".\nRefresh the file from its source ({source.file.name} in the catalog says what it is), or change the contract and the source together."
