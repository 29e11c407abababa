"""Servers the slow tier runs on 127.0.0.1 for a test and stops afterwards:
MLflow's tracking server, PostgreSQL (Debian's package) behind it, and a stub of
OSV's vulnerability API for `make audit`."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

import pytest

from tests.conftest import run


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def mlflow_server(
    mlflow: Path,
    backend_store: str,
    folder: Path,
    env: Mapping[str, str] | None = None,
    workers: int = 1,
) -> Iterator[str]:
    """`mlflow server` (the executable `mlflow`) on a free port of 127.0.0.1, with its
    records in `backend_store` and the model files served from `folder`/artifacts;
    yields its URL once it answers, and stops it afterwards."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # No job runner (eight processes for GenAI jobs a registry never runs).
    quiet = {**(env or os.environ), "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    log_path = folder / "server.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [str(mlflow), "server", "--host", "127.0.0.1", "--port", str(port),
             "--workers", str(workers), "--backend-store-uri", backend_store,
             "--serve-artifacts", "--artifacts-destination", str(folder / "artifacts")],
            cwd=folder, env=quiet, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"mlflow server did not start:\n{log_path.read_text()}")
                time.sleep(1)
            yield url
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=30)


def postgres_bin() -> Path | None:
    """The folder of Debian's PostgreSQL binaries (initdb, pg_ctl), newest version."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else None


@contextmanager
def postgres(database: str) -> Iterator[str]:
    """A PostgreSQL server of its own, in a temporary folder, listening on a free port of
    127.0.0.1 only, with `database` created; yields its URI and stops it afterwards.

    initdb refuses to run as root: as root, the server runs as Debian's `postgres` user.
    """
    binaries = postgres_bin()
    if binaries is None:
        pytest.skip("PostgreSQL is not installed (Debian package postgresql): run `make dev`")
    as_user: list[str] = []
    # Under /tmp itself: pytest's own temporary folders are private to root.
    folder = Path(tempfile.mkdtemp(prefix="handoff-postgres-"))
    if os.getuid() == 0:
        account = pwd.getpwnam("postgres")
        os.chown(folder, account.pw_uid, account.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    port = free_port()
    data, log = folder / "data", folder / "server.log"
    try:
        run([*as_user, str(binaries / "initdb"), "-D", str(data), "-U", "mlflow",
             "--auth=trust", "-E", "UTF8", "--no-sync"], cwd=folder)  # fmt: skip
        run([*as_user, str(binaries / "pg_ctl"), "-D", str(data), "-l", str(log), "-w",
             "-o", f"-h 127.0.0.1 -p {port} -k {folder}", "start"], cwd=folder)  # fmt: skip
        try:
            run([*as_user, str(binaries / "createdb"), "-h", "127.0.0.1", "-p", str(port),
                 "-U", "mlflow", database], cwd=folder)  # fmt: skip
            yield f"postgresql+psycopg://mlflow@127.0.0.1:{port}/{database}"
        finally:
            run([*as_user, str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "-w",
                 "stop"], cwd=folder)  # fmt: skip
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def osv_stub(advisory: Mapping[str, object]) -> Iterator[str]:
    """OSV's API as `uv audit --service-url` asks it: `advisory` (an OSV record)
    for the package its `affected` names, none for any other; yields the URL."""
    affected = advisory["affected"][0]["package"]["name"]  # type: ignore[index]

    class Stub(BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:
            """Quiet."""

        def answer(self, body: object) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:
            queries = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            found = {"vulns": [{"id": advisory["id"], "modified": advisory["modified"]}]}
            self.answer(
                {
                    "results": [
                        found if query["package"]["name"] == affected else {}
                        for query in queries["queries"]
                    ]
                }
            )

        def do_GET(self) -> None:
            self.answer(advisory)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
