"""The data catalog: every data source the project knows, one YAML file each.

data/catalog/<name>.yml says what a source is, who owns it, how refined it is
(tier) and whether production may use it (status). A project's package loads
data only through `load`, and only from official sources; the handoff gate fails
a package module that reads any other way (see rules/reads.py).

A source's location is a local CSV or Parquet file, a file in an object store
(`s3://bucket/key.parquet`, through fsspec and s3fs), a PostgreSQL table or query
(`postgresql://host/db` with `table:` or `query:`, through SQLAlchemy and psycopg)
or a DuckDB file's table or query (`data/warehouse.duckdb`). Each kind needs its
extra of the kit (s3, sql, duckdb), imported only when an entry uses it.
Credentials never appear in a catalog file: `credentials_env` names the
environment variables that hold them. A source that cannot be reached fails in one
line naming it and its owner, within seconds (CONNECT_TIMEOUT).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal, get_args
from urllib.parse import urlsplit

import pandas as pd
import yaml

from handoff_kit import config
from handoff_kit.contracts import ContractViolation, Schema

Schemas = Mapping[str, type[Schema]]

Tier = Literal["bronze", "silver", "gold"]
Status = Literal["official", "unofficial"]
Kind = Literal["file", "object store", "postgresql", "duckdb"]

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
# Fields an entry may add: field -> what it must hold.
OPTIONAL: dict[str, str] = {
    "table": "the table a database location holds the rows in (schema.table or table)",
    "query": "the SQL query that selects the rows from a database location",
    "credentials_env": "the environment variable (or a list of them) that holds the "
    "source's credentials: for a PostgreSQL source, its URL with user and password",
    "id_column": "the column that identifies a row, named in data-check reports",
    "known_issues": "a list of problems found in the data, each with what, "
    "found_by, date and status (open or fixed)",
}
ISSUE_FIELDS = ("what", "found_by", "date", "status")
ISSUE_STATUSES = ("open", "fixed")
READERS: dict[str, Callable[[Any], pd.DataFrame]] = {
    ".csv": pd.read_csv,
    ".parquet": pd.read_parquet,
}
# Seconds to wait for a database or object store to answer a connection.
CONNECT_TIMEOUT = 3
_SQL_SCHEMES = {"postgresql", "postgres"}
_DATABASE_SUFFIXES = {".duckdb"}
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# What each kind needs installed: the kit's extra and what it brings.
_EXTRAS = {
    "postgresql": "handoff-kit[sql] (SQLAlchemy and psycopg)",
    "duckdb": "handoff-kit[duckdb]",
    "object store": "handoff-kit[s3] (fsspec and s3fs)",
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
class KnownIssue:
    """A problem someone found in a source's data, recorded in its catalog entry."""

    what: str
    found_by: str
    date: str
    status: str

    @property
    def open(self) -> bool:
        return self.status == "open"

    def __str__(self) -> str:
        return f"{self.what} (found by {self.found_by}, {self.date}; {self.status})"


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
    table: str | None = None
    query: str | None = None
    credentials_env: tuple[str, ...] = ()
    id_column: str | None = None
    known_issues: tuple[KnownIssue, ...] = ()

    @property
    def official(self) -> bool:
        return self.status == "official"

    @property
    def kind(self) -> Kind:
        return source_kind(self.location)

    @property
    def where(self) -> str:
        """The location, with the table or query a database location reads."""
        if self.table is not None:
            return f"{self.location}, table {self.table}"
        if self.query is not None:
            return f"{self.location}, query {' '.join(self.query.split())}"
        return self.location

    @property
    def open_issues(self) -> tuple[KnownIssue, ...]:
        return tuple(issue for issue in self.known_issues if issue.open)


def source_kind(location: str) -> Kind:
    """What kind of source `location` is, by its URI scheme or file suffix."""
    scheme = urlsplit(location).scheme.partition("+")[0]
    if scheme in _SQL_SCHEMES:
        return "postgresql"
    if Path(urlsplit(location).path).suffix in _DATABASE_SUFFIXES:
        return "duckdb"
    if "://" in location:
        return "object store"
    return "file"


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
    unknown = sorted(set(entry) - set(FIELDS) - set(OPTIONAL))
    if unknown:
        msg = (
            f"{file}: unknown field {unknown[0]!r} (fields: {', '.join(FIELDS)}; "
            f"optional: {', '.join(OPTIONAL)})"
        )
        raise CatalogError(msg)
    if entry["name"] != file.stem:
        msg = f"{file}: field 'name' must match the file name ({file.stem!r}), got {entry['name']!r}"
        raise CatalogError(msg)
    if entry["schema"] is not None and entry["schema"] not in schemas:
        msg = f"{file}: field 'schema' names no contract schema: {entry['schema']!r} (known: {', '.join(schemas)})"
        raise CatalogError(msg)
    for field in ("table", "query", "id_column"):
        if field in entry:
            _check_field(file, entry, field, OPTIONAL[field])
    _check_location(file, entry)
    required = {key: entry[key] for key in FIELDS}
    return Source(
        **required,
        file=file,
        table=entry.get("table"),
        query=entry.get("query"),
        credentials_env=_credentials_env(file, entry.get("credentials_env")),
        id_column=entry.get("id_column"),
        known_issues=_known_issues(file, entry.get("known_issues")),
    )


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


def _check_location(file: Path, entry: dict[str, Any]) -> None:
    """A database location reads a table or a query; a file reads neither; no
    location holds a password."""
    location = entry["location"]
    if urlsplit(location).password:
        msg = (
            f"{file}: field 'location' holds a password: a credential in git stays in "
            "its history; put the URL with its credentials in an environment variable "
            "and name the variable in credentials_env"
        )
        raise CatalogError(msg)
    kind = source_kind(location)
    given = [field for field in ("table", "query") if field in entry]
    if kind in {"postgresql", "duckdb"} and len(given) != 1:
        msg = (
            f"{file}: a {kind} location needs a table or a query (one of them): "
            "add `table: <name>` or `query: <SQL>`"
        )
        raise CatalogError(msg)
    if kind in {"file", "object store"} and given:
        msg = f"{file}: field {given[0]!r} is for database locations (postgresql://, .duckdb); {location!r} is a file"
        raise CatalogError(msg)


def _credentials_env(file: Path, value: object) -> tuple[str, ...]:
    names = [value] if isinstance(value, str) else value
    if value is None:
        return ()
    if not isinstance(names, list) or not all(
        isinstance(name, str) and _ENV_NAME.fullmatch(name) for name in names
    ):
        msg = (
            f"{file}: field 'credentials_env' must name environment variables "
            f"(WAREHOUSE_URL, or a list of names), never hold credentials, got {value!r}"
        )
        raise CatalogError(msg)
    return tuple(names)


def _known_issues(file: Path, value: object) -> tuple[KnownIssue, ...]:
    if value is None:
        return ()
    shape = (
        f"{file}: field 'known_issues' must be {OPTIONAL['known_issues']}; e.g. "
        "- {what: ..., found_by: ..., date: 2026-12-01, status: open}"
    )
    if not isinstance(value, list):
        raise CatalogError(shape)
    issues = []
    for number, item in enumerate(value, 1):
        if not isinstance(item, dict) or sorted(item) != sorted(ISSUE_FIELDS):
            msg = f"{shape}; issue {number} has {sorted(item) if isinstance(item, dict) else item!r}"
            raise CatalogError(msg)
        if item["status"] not in ISSUE_STATUSES:
            msg = f"{file}: known issue {number}: status must be one of {', '.join(ISSUE_STATUSES)}, got {item['status']!r}"
            raise CatalogError(msg)
        issues.append(KnownIssue(**{key: str(item[key]) for key in ISSUE_FIELDS}))
    return tuple(issues)


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
    frame = read(source, settings.root)
    if source.schema is None:
        return frame
    try:
        return schemas[source.schema].validated(frame)
    except ContractViolation as violation:
        raise StaleSource(source, violation) from None


def read(source: Source, root: Path) -> pd.DataFrame:
    """The rows of `source` as they are, unvalidated; a local path is from `root`.

    Raises CatalogError, in one line naming the source and its owner, when the
    source cannot be reached or read.
    """
    kind = source.kind
    if kind == "file":
        return _read_file(source, root)
    environment = _environment(source)
    try:
        if kind == "postgresql":
            return _read_postgresql(source, environment)
        if kind == "duckdb":
            return _read_duckdb(source, root)
        return _read_object(source)
    except ImportError as error:
        msg = (
            f"{source.file}: reading {kind} sources needs {_EXTRAS[kind]}: add the "
            f"extra to the project's dependencies ({error})"
        )
        raise CatalogError(msg) from None
    except _Unreadable as error:
        msg = (
            f"{source.name!r} (owner {source.owner}) cannot be read from "
            f"{source.where}: {error}"
        )
        raise CatalogError(msg) from None


class _Unreadable(Exception):  # noqa: N818  # Internal: read() words it.
    """A source's driver failed; the message is the cause, in one line."""


def _cause(error: BaseException) -> str:
    """A driver's error in one line: SQLAlchemy's wrapped error without its SQL
    and link, botocore's without its retries."""
    error = getattr(error, "orig", None) or error
    text = " ".join(str(error).split()) or type(error).__name__
    return text[:300]


def _environment(source: Source) -> dict[str, str]:
    """The credentials the entry names, from the environment; one line names the
    missing ones."""
    missing = [name for name in source.credentials_env if not os.environ.get(name)]
    if missing:
        msg = (
            f"{source.name!r} (owner {source.owner}) needs the environment variable "
            f"{', '.join(missing)} ({source.file.name}'s credentials_env): set it to "
            "the source's credentials (ask its owner), never in a catalog file"
        )
        raise CatalogError(msg)
    return {name: os.environ[name] for name in source.credentials_env}


def _read_file(source: Source, root: Path) -> pd.DataFrame:
    path = root / source.location
    reader = READERS.get(path.suffix)
    if reader is None:
        msg = f"{source.file}: no reader for {path.suffix!r} files (known: {', '.join(READERS)})"
        raise CatalogError(msg)
    if not path.exists():
        raise CatalogError(_no_data(source))
    try:
        return reader(path)
    except (OSError, ValueError) as error:  # pandas' parser errors are ValueErrors.
        msg = f"{_stale(source)} cannot be read: {error}{_refresh(source)}"
        raise CatalogError(msg) from None


def _read_postgresql(source: Source, environment: dict[str, str]) -> pd.DataFrame:
    """A table or query through SQLAlchemy and psycopg, in a read-only transaction."""
    import sqlalchemy as sa  # noqa: PLC0415  # The sql extra, only when used.

    url = sa.make_url(source.location)
    if len(source.credentials_env) == 1:
        given = sa.make_url(environment[source.credentials_env[0]])
        if (given.host, given.port, given.database) != (
            url.host,
            url.port,
            url.database,
        ):
            msg = (
                f"{source.name!r}: {source.credentials_env[0]} names "
                f"{given.host}:{given.port}/{given.database}, not the catalog's "
                f"{source.location}: set it to this source's URL with its credentials"
            )
            raise CatalogError(msg)
        url = given
    url = url.set(drivername="postgresql+psycopg")
    engine = sa.create_engine(
        url,
        connect_args={
            "connect_timeout": CONNECT_TIMEOUT,
            "options": "-c default_transaction_read_only=on",
        },
        poolclass=sa.pool.NullPool,
    )
    try:
        with engine.connect() as connection:
            if source.query is not None:
                return pd.read_sql_query(sa.text(source.query), connection)
            schema, _, table = (
                source.table.rpartition(".") if source.table else ("", "", "")
            )
            return pd.read_sql_table(table, connection, schema=schema or None)
    except (sa.exc.SQLAlchemyError, ValueError) as error:
        raise _Unreadable(_cause(error)) from None
    finally:
        engine.dispose()


def _read_duckdb(source: Source, root: Path) -> pd.DataFrame:
    """A table or query of a DuckDB file, opened read-only."""
    import duckdb  # noqa: PLC0415  # The duckdb extra, only when used.

    path = root / source.location
    if not path.exists():
        raise CatalogError(_no_data(source))
    try:
        with duckdb.connect(str(path), read_only=True) as connection:
            relation = (
                connection.sql(source.query)
                if source.query is not None
                else connection.table(str(source.table))
            )
            frame: pd.DataFrame = relation.df()
            return frame
    except duckdb.Error as error:
        raise _Unreadable(_cause(error)) from None


def _read_object(source: Source) -> pd.DataFrame:
    """A CSV or Parquet file at an fsspec URI (s3://...): credentials and endpoint
    from the environment (AWS_ACCESS_KEY_ID, AWS_ENDPOINT_URL...), as botocore reads
    them; connections time out, and fail without retries."""
    import fsspec  # type: ignore[import-untyped]  # noqa: PLC0415  # The s3 extra.

    suffix = Path(urlsplit(source.location).path).suffix
    reader = READERS.get(suffix)
    if reader is None:
        msg = f"{source.file}: no reader for {suffix!r} files (known: {', '.join(READERS)})"
        raise CatalogError(msg)
    scheme = urlsplit(source.location).scheme
    # A new filesystem each time: fsspec's cached one keeps the endpoint and
    # credentials the environment had when it was made.
    options: dict[str, Any] = {"skip_instance_cache": True}
    if scheme in {"s3", "s3a"}:
        options["config_kwargs"] = {
            "connect_timeout": CONNECT_TIMEOUT,
            "read_timeout": CONNECT_TIMEOUT,
            "retries": {"total_max_attempts": 1},
        }
    try:
        filesystem, path = fsspec.core.url_to_fs(source.location, **options)
        if hasattr(filesystem, "retries"):  # s3fs retries a timeout 5 times.
            filesystem.retries = 1
        opened: IO[bytes]
        with filesystem.open(path, "rb") as opened:
            return reader(opened)
    except FileNotFoundError:
        raise CatalogError(_no_data(source)) from None
    except Exception as error:  # fsspec's backends raise their own.
        raise _Unreadable(_cause(error)) from None


def _no_data(source: Source) -> str:
    return (
        f"{source.name!r} (owner {source.owner}) has no data at {source.location}: "
        f"{source.description}"
    )


def _stale(source: Source) -> str:
    return f"{source.location} (catalog source {source.name!r})"


def _refresh(source: Source) -> str:
    return f".\nRefresh the file from its source ({source.file.name} in the catalog says what it is), or change the contract and the source together."
