"""Catalog sources on real servers: PostgreSQL (Debian's, as the team-registry tests
start it), a DuckDB file, and S3 served by moto on 127.0.0.1. Each kind loads
validated and is reported by `handoff data-check`; a planted bad row in an official
source reaches its owner's report with the right counts and ids; a server that
accepts connections and never answers fails the load in one line within 10 s.

The project is the handoff kit's sample project (handoff-kit/tests/sample_project),
with the kit run in this process: no generated project, so no `make setup`.
"""

from __future__ import annotations

import importlib.util
import io
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

from tests.conftest import REPO
from tests.slow import servers

pytestmark = pytest.mark.slow

KIT_TESTS = REPO / "handoff-kit/tests"
BUCKET = "warehouse"
KINDS = ("pg_houses", "duck_houses", "s3_houses")
OWNER = "sales-data@example.com"


def kit_conftest() -> ModuleType:
    """The kit's test helpers (its sample project), importable from here."""
    sys.path[:0] = [str(KIT_TESTS / "sample_project")]
    spec = importlib.util.spec_from_file_location("kit_conftest", KIT_TESTS / "conftest.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def houses_with_ids() -> pd.DataFrame:
    frame = kit_conftest().houses(20)
    return frame.assign(house_id=[f"h{n:02}" for n in range(len(frame))])


def entry(name: str, fields: str) -> str:
    return (
        f"name: {name}\ndescription: The houses, from the sales warehouse.\n"
        f"owner: {OWNER}\ntier: gold\nstatus: official\nschema: Features\n"
        f"id_column: house_id\n{fields}"
    )


@pytest.fixture(scope="module")
def s3() -> Iterator[str]:
    """moto's S3 on 127.0.0.1, with the houses as Parquet; botocore's settings
    (fake keys, the endpoint, no instance metadata lookup) in the environment."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=servers.free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    with pytest.MonkeyPatch.context() as patch:
        fake = "testing"  # moto takes any key
        patch.setenv("AWS_ACCESS_KEY_ID", fake)
        patch.setenv("AWS_SECRET_ACCESS_KEY", fake)
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        patch.setenv("AWS_ENDPOINT_URL", f"http://{host}:{port}")
        import boto3

        boto3.client("s3").create_bucket(Bucket=BUCKET)
        yield f"http://{host}:{port}"
    server.stop()


def put_s3(frame: pd.DataFrame) -> None:
    import boto3

    body = io.BytesIO()
    frame.to_parquet(body, index=False)
    boto3.client("s3").put_object(Bucket=BUCKET, Key="houses.parquet", Body=body.getvalue())


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    """A PostgreSQL server of its own on 127.0.0.1, with the database `sales`."""
    with servers.postgres("sales") as url:
        yield url


def put_postgres(url: str, frame: pd.DataFrame) -> None:
    import sqlalchemy

    engine = sqlalchemy.create_engine(url)
    with engine.begin() as connection:
        frame.to_sql("houses", connection, schema="public", if_exists="replace", index=False)
    engine.dispose()


def put_duckdb(path: Path, frame: pd.DataFrame) -> None:
    import duckdb

    with duckdb.connect(str(path)) as connection:
        connection.register("frame", frame)
        connection.execute("CREATE OR REPLACE TABLE houses AS SELECT * FROM frame")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, database: str, s3: str) -> Iterator[Path]:
    """The kit's sample project with the houses in all three kinds of source, each
    official, owned by the sales team; WAREHOUSE_URL holds the database's URL."""
    from sqlalchemy import make_url

    root = kit_conftest().build_project(tmp_path_factory.mktemp("sources") / "project")
    url = make_url(database)
    location = f"postgresql://{url.host}:{url.port}/{url.database}"
    catalog = root / "data/catalog"
    (catalog / "pg_houses.yml").write_text(
        entry(
            "pg_houses",
            f"location: {location}\ntable: public.houses\ncredentials_env: WAREHOUSE_URL\n",
        )
    )
    (catalog / "duck_houses.yml").write_text(
        entry(
            "duck_houses",
            "location: data/warehouse.duckdb\nquery: SELECT * FROM houses ORDER BY house_id\n",
        )
    )
    (catalog / "s3_houses.yml").write_text(
        entry("s3_houses", f"location: s3://{BUCKET}/houses.parquet\n")
    )
    put_all(root, database, houses_with_ids())
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WAREHOUSE_URL", database)
        patch.chdir(root)
        yield root


def put_all(root: Path, database: str, frame: pd.DataFrame) -> None:
    put_postgres(database, frame)
    put_duckdb(root / "data/warehouse.duckdb", frame)
    put_s3(frame)


def settings(root: Path):  # handoff_kit.config.Settings, imported in the test
    from handoff_kit import config

    return config.load(root)


@pytest.mark.parametrize("name", KINDS)
def test_each_kind_of_source_loads_validated_like_a_csv(project: Path, name: str) -> None:
    from handoff_kit import catalog

    loaded = catalog.load(name, settings(project))

    pd.testing.assert_frame_equal(
        loaded.reset_index(drop=True), houses_with_ids(), check_dtype=False
    )


def test_data_check_reports_each_kind_to_its_owner(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from handoff_kit import datacheck

    assert datacheck.run(settings(project)) == 0, capsys.readouterr().out

    out = capsys.readouterr().out
    for name in KINDS:
        assert f"{name} (official, owner {OWNER}): passed (20 rows)" in out, out
        report = (project / f"reports/data/{name}.md").read_text()
        assert f"To: {OWNER}, owner of `{name}`" in report
        assert "**Passed**: all 20 rows follow the contract schema `Features`." in report


def test_a_planted_bad_row_in_each_official_source_reaches_its_owner_and_fails(
    project: Path, database: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from handoff_kit import datacheck

    planted = houses_with_ids()
    planted.loc[[4, 11], "rooms"] = -3
    planted.loc[11, "kind"] = "boat"
    put_all(project, database, planted)
    try:
        status = datacheck.run(settings(project))
    finally:
        put_all(project, database, houses_with_ids())

    assert status == 1, "official sources that break their contract must fail data-check"
    for name in KINDS:
        report = (project / f"reports/data/{name}.md").read_text()
        assert (
            "**Broken**: 2 checks of the contract schema `Features` fail, in 20 rows read."
            in report
        ), report
        assert "| rooms | greater_than_or_equal_to(0) | 2 | h04, h11 | -3, -3 |" in report, report
        assert "| kind | isin(['flat', 'house']) | 1 | h11 | boat |" in report, report
    out = capsys.readouterr().out
    assert f"pg_houses (official, owner {OWNER}): BROKEN, 2 failing checks" in out, out


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts connections and never answers: the worst
    kind of unreachable (a refused one fails at once)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield int(listener.getsockname()[1])


@pytest.mark.parametrize("kind", ["postgresql", "s3"])
def test_a_source_that_never_answers_fails_in_one_line_within_ten_seconds(
    project: Path, silent_port: int, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    from handoff_kit import catalog

    if kind == "postgresql":
        location = f"postgresql://127.0.0.1:{silent_port}/sales"
        fields = f"location: {location}\ntable: houses\n"
        shown = f"{location}, table houses"
    else:
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{silent_port}")
        shown = f"s3://{BUCKET}/houses.parquet"
        fields = f"location: {shown}\n"
    (project / "data/catalog/silent.yml").write_text(entry("silent", fields))
    try:
        started = time.monotonic()
        with pytest.raises(catalog.CatalogError) as refused:
            catalog.load("silent", settings(project))
        took = time.monotonic() - started
    finally:
        (project / "data/catalog/silent.yml").unlink()

    message = str(refused.value)
    assert "\n" not in message, f"not one line: {message!r}"
    assert message.startswith(f"'silent' (owner {OWNER}) cannot be read from {shown}: "), message
    assert took < 10, f"a {kind} source that never answers took {took:.1f} s to fail"
