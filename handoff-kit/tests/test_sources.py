"""Catalog sources beyond local files: DuckDB file tables, object stores (S3, served
here by moto on 127.0.0.1) and PostgreSQL (the template's slow tier runs a real
server: tests/slow/test_data_sources.py). Each loads validated, as a CSV does, and
each that cannot be reached fails in one line naming the source and its owner."""

from __future__ import annotations

import io
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from conftest import add_source, houses

from handoff_kit import ContractViolation, catalog, config
from handoff_kit.catalog import CatalogError, load, read_source

SCHEMAS = {"Features": object}
BUCKET = "warehouse"
# Written apart from the URLs it goes in: this file is in every project, whose
# `make hygiene` would rightly refuse a URL with a password.
FAKE = "hunter2"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_entry(settings: config.Settings, name: str, text: str) -> Path:
    file = settings.catalog / f"{name}.yml"
    file.write_text(
        f"name: {name}\ndescription: Houses.\nowner: ada@example.com\ntier: gold\n"
        f"status: official\nschema: Features\n{text}"
    )
    return file


def failed_in_one_line(settings: config.Settings, name: str) -> tuple[str, float]:
    started = time.monotonic()
    with pytest.raises(CatalogError) as refused:
        load(name, settings)
    took = time.monotonic() - started
    message = str(refused.value)
    assert "\n" not in message, f"the error is not one line: {message!r}"
    return message, took


# --- DuckDB ------------------------------------------------------------------------


@pytest.fixture
def warehouse(settings: config.Settings) -> Path:
    """A DuckDB file in the project with the houses, and a broken copy of them."""
    path = settings.root / "data/warehouse.duckdb"
    frame = houses()
    broken = frame.assign(rooms=[-1, *frame["rooms"][1:]])
    with duckdb.connect(str(path)) as connection:
        connection.execute("CREATE SCHEMA sales")
        connection.register("frame", frame)
        connection.register("broken", broken)
        connection.execute("CREATE TABLE sales.houses AS SELECT * FROM frame")
        connection.execute("CREATE TABLE broken_houses AS SELECT * FROM broken")
    return path


@pytest.mark.parametrize(
    "reads",
    ["table: sales.houses", "query: SELECT * FROM sales.houses WHERE rooms >= 0"],
)
def test_a_duckdb_table_or_query_loads_validated_like_a_csv(
    settings: config.Settings, warehouse: Path, reads: str
) -> None:
    write_entry(settings, "stock", f"location: data/warehouse.duckdb\n{reads}\n")

    pd.testing.assert_frame_equal(load("stock", settings), houses())


def test_a_duckdb_table_that_breaks_its_schema_is_refused(
    settings: config.Settings, warehouse: Path
) -> None:
    write_entry(
        settings, "stock", "location: data/warehouse.duckdb\ntable: broken_houses\n"
    )

    with pytest.raises(ContractViolation, match="rooms: greater_than_or_equal_to"):
        load("stock", settings)


def test_a_missing_duckdb_table_fails_in_one_line_naming_source_and_owner(
    settings: config.Settings, warehouse: Path
) -> None:
    write_entry(settings, "stock", "location: data/warehouse.duckdb\ntable: nowhere\n")

    message, _ = failed_in_one_line(settings, "stock")

    assert message.startswith(
        "'stock' (owner ada@example.com) cannot be read from "
        "data/warehouse.duckdb, table nowhere: "
    ), message
    assert "nowhere" in message


def test_a_missing_duckdb_file_says_there_is_no_data(
    settings: config.Settings,
) -> None:
    write_entry(settings, "stock", "location: data/none.duckdb\ntable: houses\n")

    message, _ = failed_in_one_line(settings, "stock")

    assert message == (
        "'stock' (owner ada@example.com) has no data at data/none.duckdb: Houses."
    )


# --- S3, served by moto ------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    """moto's S3 on a free port of 127.0.0.1, with the houses as CSV and Parquet."""
    from moto.server import ThreadedMotoServer  # noqa: PLC0415  # Seconds to import.

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    with pytest.MonkeyPatch.context() as patch:
        fake_s3(patch, url)
        import boto3  # noqa: PLC0415

        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        parquet = io.BytesIO()
        houses().to_parquet(parquet)
        client.put_object(Bucket=BUCKET, Key="houses.parquet", Body=parquet.getvalue())
        client.put_object(
            Bucket=BUCKET, Key="houses.csv", Body=houses().to_csv(index=False).encode()
        )
        yield url
    server.stop()


def fake_s3(patch: pytest.MonkeyPatch, url: str) -> None:
    """botocore's settings from the environment: moto's fake keys, the endpoint, and
    no instance metadata lookup (which would leave this machine)."""
    patch.setenv("AWS_ACCESS_KEY_ID", "testing")
    fake = "testing"  # moto takes any key
    patch.setenv("AWS_SECRET_ACCESS_KEY", fake)
    patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    patch.setenv("AWS_ENDPOINT_URL", url)


# moto and s3fs take seconds to import: `make kit-fast` leaves the s3 tests out.
@pytest.mark.s3
@pytest.mark.xdist_group("s3")
@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_an_object_store_file_loads_validated_like_a_local_one(
    settings: config.Settings,
    s3_server: str,
    monkeypatch: pytest.MonkeyPatch,
    suffix: str,
) -> None:
    fake_s3(monkeypatch, s3_server)
    write_entry(
        settings,
        "stock",
        f"location: s3://{BUCKET}/houses{suffix}\n"
        "credentials_env: [AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY]\n",
    )

    pd.testing.assert_frame_equal(load("stock", settings), houses())


@pytest.mark.s3
@pytest.mark.xdist_group("s3")
def test_a_missing_object_says_there_is_no_data(
    settings: config.Settings, s3_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_s3(monkeypatch, s3_server)
    write_entry(settings, "stock", f"location: s3://{BUCKET}/gone.parquet\n")

    message, _ = failed_in_one_line(settings, "stock")

    assert message == (
        f"'stock' (owner ada@example.com) has no data at s3://{BUCKET}/gone.parquet: Houses."
    )


@pytest.mark.s3
@pytest.mark.xdist_group("s3")
def test_an_unreachable_object_store_fails_in_one_line_within_seconds(
    settings: config.Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_s3(monkeypatch, f"http://127.0.0.1:{free_port()}")
    write_entry(settings, "stock", f"location: s3://{BUCKET}/houses.parquet\n")

    message, took = failed_in_one_line(settings, "stock")

    assert message.startswith(
        f"'stock' (owner ada@example.com) cannot be read from s3://{BUCKET}/houses.parquet: "
    ), message
    assert took < 10, f"an unreachable object store took {took:.1f} s to fail"


# --- PostgreSQL (a server that is not there; the slow tier runs a real one) ---------


def test_an_unreachable_database_fails_in_one_line_within_seconds(
    settings: config.Settings,
) -> None:
    location = f"postgresql://127.0.0.1:{free_port()}/sales"
    write_entry(settings, "stock", f"location: {location}\ntable: houses\n")

    message, took = failed_in_one_line(settings, "stock")

    assert message.startswith(
        f"'stock' (owner ada@example.com) cannot be read from {location}, table houses: "
    ), message
    assert took < 10, f"an unreachable database took {took:.1f} s to fail"


def test_a_credentials_variable_that_is_not_set_is_named(
    settings: config.Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WAREHOUSE_URL", raising=False)
    write_entry(
        settings,
        "stock",
        "location: postgresql://db.example.com/sales\ntable: houses\n"
        "credentials_env: WAREHOUSE_URL\n",
    )

    message, _ = failed_in_one_line(settings, "stock")

    assert message.startswith(
        "'stock' (owner ada@example.com) needs the environment variable WAREHOUSE_URL"
    ), message


def test_credentials_for_another_database_are_refused(
    settings: config.Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "WAREHOUSE_URL", "postgresql://me:" + FAKE + "@elsewhere.example.com/hr"
    )
    write_entry(
        settings,
        "stock",
        "location: postgresql://db.example.com/sales\ntable: houses\n"
        "credentials_env: WAREHOUSE_URL\n",
    )

    message, _ = failed_in_one_line(settings, "stock")

    assert (
        "WAREHOUSE_URL names elsewhere.example.com:None/hr, not the catalog's"
        in message
    )


def test_a_missing_extra_is_named(
    settings: config.Settings, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "duckdb", None)  # As if not installed.
    write_entry(settings, "stock", "location: data/warehouse.duckdb\ntable: broken\n")

    message, _ = failed_in_one_line(settings, "stock")

    assert "reading duckdb sources needs handoff-kit[duckdb]" in message, message


# --- What a catalog entry may say ---------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ("location: postgresql://me:" + FAKE + "@db/sales\ntable: t\n",
         "field 'location' holds a password"),
        ("location: postgresql://db/sales\n", "a postgresql location needs a table or a query"),
        ("location: data/w.duckdb\ntable: t\nquery: SELECT 1\n", "a duckdb location needs a table or a query (one of them)"),
        ("location: data/houses.csv\ntable: t\n", "field 'table' is for database locations"),
        ("location: x.csv\ncredentials_env: postgresql://me@db\n", "field 'credentials_env' must name environment variables"),
        ("location: x.csv\nknown_issues: [{what: w}]\n", "field 'known_issues' must be a list"),
        ("location: x.csv\nknown_issues:\n- {what: w, found_by: f, date: d, status: maybe}\n", "status must be one of open, fixed"),
        ("location: x.csv\nknown_issues: oops\n", "field 'known_issues' must be"),
    ],
    ids=["password", "no-table", "both", "table-of-file", "credentials", "issue-fields", "issue-status", "issues-text"],
)  # fmt: skip
def test_an_entry_that_cannot_say_how_to_read_is_refused(
    settings: config.Settings, fields: str, message: str
) -> None:
    file = write_entry(settings, "stock", fields)

    with pytest.raises(
        CatalogError, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        read_source(file, SCHEMAS)  # type: ignore[arg-type]


def test_known_issues_and_an_id_column_are_read(settings: config.Settings) -> None:
    file = write_entry(
        settings,
        "stock",
        "location: data/houses.csv\nid_column: house_id\nknown_issues:\n"
        "- {what: Rooms are negative for flats, found_by: bob, date: 2026-12-01, status: open}\n"
        "- {what: Duplicates, found_by: eve, date: 2026-11-02, status: fixed}\n",
    )

    source = read_source(file, SCHEMAS)  # type: ignore[arg-type]

    assert source.id_column == "house_id"
    assert [str(issue) for issue in source.open_issues] == [
        "Rooms are negative for flats (found by bob, 2026-12-01; open)"
    ]
    assert len(source.known_issues) == 2


@pytest.mark.parametrize(
    ("location", "kind"),
    [
        ("data/houses.csv", "file"),
        ("s3://bucket/houses.parquet", "object store"),
        ("postgresql://db/sales", "postgresql"),
        ("postgresql+psycopg://db/sales", "postgresql"),
        ("data/warehouse.duckdb", "duckdb"),
    ],
)
def test_a_locations_kind_follows_its_scheme_or_suffix(
    location: str, kind: str
) -> None:
    assert catalog.source_kind(location) == kind


def test_the_sample_catalog_still_reads(settings: config.Settings) -> None:
    add_source(settings.catalog, "more", location="data/more.csv")

    assert catalog.read_catalog(settings.catalog, catalog.contract_schemas(settings))
