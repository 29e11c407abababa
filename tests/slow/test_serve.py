"""`make serve` in generated projects: the real server, on 127.0.0.1, on a free port.

One project per registry answer (MLflow, embedded; the file registry), trained and
promoted once, serves its champion for every test of the module: the golden sample
over HTTP equals `handoff predict`, schemathesis fuzzes it from its OpenAPI document,
each kind of bad request gets its documented status and body, and SIGTERM stops it.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import select
import signal
import subprocess
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.conftest import REPO, Project, answers
from tests.slow.servers import free_port
from tests.slow.test_registry import GOLDEN_SAMPLE, predict

pytestmark = pytest.mark.slow

# The answer set of each registry: MLflow (the defaults) and folders (the contrast set).
REGISTRIES = {"mlflow": "default", "files": "contrast"}
# Bounded fuzzing: test cases per operation in each schemathesis phase.
FUZZ_EXAMPLES = 20
# The server's default body limit.
ONE_MIB = 1_048_576
# Bodies above this wait for an early answer before they are sent (Server.request).
LARGE = 65_536


@pytest.fixture(scope="module", params=list(REGISTRIES))
def project(request: pytest.FixtureRequest, set_up_project: Callable[[str], Project]) -> Project:
    """The session's project of each registry (shared with the other slow tests), with
    a trained and promoted champion."""
    project = set_up_project(REGISTRIES[request.param])
    assert answers(project.path)["model_registry"] == request.param
    project.make("train")
    project.make("promote")
    return project


@dataclass
class Server:
    """`make serve` running in its own process group, and what it logged."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def request(
        self, method: str, path: str, body: bytes | None = None
    ) -> tuple[int, dict[str, str], Any]:
        """(status, headers, JSON body) of one request; 4xx and 5xx included.

        Before a large body it waits a moment for an early answer, as a client
        sending `Expect: 100-continue` does: the server refuses a body by its
        declared length (413) and closes, which would break a client still writing.
        """
        address = urllib.parse.urlsplit(self.url)
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
        try:
            connection.putrequest(method, path)
            connection.putheader("content-type", "application/json")
            connection.putheader("content-length", str(len(body or b"")))
            connection.endheaders()
            if body and len(body) > LARGE:
                answered, _, _ = select.select([connection.sock], [], [], 1.0)
                if not answered:
                    connection.send(body)
            elif body:
                connection.send(body)
            response = connection.getresponse()
            return response.status, dict(response.headers), json.loads(response.read())
        finally:
            connection.close()

    def post(self, rows: Any) -> tuple[int, dict[str, str], Any]:
        return self.request("POST", "/predict", json.dumps(rows).encode())

    def output(self) -> str:
        return self.log.read_text()


@pytest.fixture(scope="module")
def server(project: Project, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`make serve PORT=<free port>`: the champion, on 127.0.0.1 (the default host)."""
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["make", "--no-print-directory", "serve", f"PORT={port}"],
            cwd=project.path, env=project.env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    running = Server(process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + 120
    while True:
        try:
            if running.request("GET", "/ready")[0] == 200:
                break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            pytest.fail(f"make serve did not become ready:\n{running.output()}")
        time.sleep(0.5)
    yield running
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def golden(project: Project) -> pd.DataFrame:
    return pd.read_csv(project.path / GOLDEN_SAMPLE)


def test_ready_names_the_champion_the_contract_and_the_kit(
    project: Project, server: Server
) -> None:
    slug = answers(project.path)["project_slug"]

    status, headers, ready = server.request("GET", "/ready")

    assert status == 200
    assert ready["model"] == slug
    assert (ready["version"], ready["alias"]) == ("1", "champion")
    assert ready["contract_version"] == "1.0.0"
    assert ready["kit_version"], "no kit version"
    assert headers["x-contract-version"] == "1.0.0"
    health_status, _, health = server.request("GET", "/health")
    assert (health_status, health) == (200, {"status": "ok"})
    assert f"Serving {slug} version 1 (candidate, champion)" in server.output()
    assert f"on http://127.0.0.1:{server.url.rsplit(':', 1)[1]}" in server.output()


def test_the_golden_sample_over_http_scores_as_predict_does(
    project: Project, server: Server
) -> None:
    slug = answers(project.path)["project_slug"]
    rows = golden(project).to_dict(orient="records")

    status, _, scored = server.post(rows)

    assert status == 200, scored
    expected = pd.read_csv(
        io.StringIO(predict(project, f"models:/{slug}@champion", GOLDEN_SAMPLE).stdout)
    )
    assert scored == expected.to_dict(orient="records"), "HTTP and predict disagree"


def test_the_served_api_is_the_committed_document(project: Project, server: Server) -> None:
    status, _, served = server.request("GET", "/openapi.json")

    assert status == 200
    assert served == json.loads((project.path / "api/openapi.json").read_text())


def test_schemathesis_finds_no_5xx_and_every_4xx_documented(
    project: Project, server: Server, tmp_path: Path
) -> None:
    """Property-based fuzzing from the served document, valid and invalid requests:
    every response must be documented (status, headers, body schema), none a 5xx."""
    result = subprocess.run(
        [str(REPO / ".venv/bin/schemathesis"), "run", f"{server.url}/openapi.json",
         "--checks", "all", "--phases", "coverage,fuzzing",
         "--max-examples", str(FUZZ_EXAMPLES), "--seed", "14", "--no-color",
         "--generation-database", "none", "--request-timeout", "30"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip

    assert result.returncode == 0, f"schemathesis found issues:\n{result.stdout[-6000:]}"
    assert "No issues found" in result.stdout, result.stdout[-3000:]
    generated = int(result.stdout.split(" generated,")[0].rsplit(maxsplit=1)[-1])
    assert generated >= 3 * 2, f"too few cases generated ({generated}):\n{result.stdout}"


def oversized(row: dict[str, Any]) -> bytes:
    """A JSON array of `row` just over the server's default body limit."""
    count = ONE_MIB // len(json.dumps(row)) + 1
    body = json.dumps([row] * count).encode()
    assert len(body) > ONE_MIB
    return body


def contract_failures(body: Any) -> list[tuple[str, str]]:
    return [(failure["column"], failure["check"]) for failure in body["failures"]]


def test_each_bad_request_gets_its_documented_status_and_body(
    project: Project, server: Server
) -> None:
    valid = golden(project).head(2).to_dict(orient="records")
    column = next(iter(valid[0]))  # The first input column: an integer or float.
    document = json.loads((project.path / "api/openapi.json").read_text())
    responses = document["paths"]["/predict"]["post"]["responses"]
    cases = {
        "malformed JSON": (b'[{"', 400, []),
        "wrong type": (json.dumps([{**valid[0], column: "many"}]).encode(), 422, [column]),
        "missing column": (
            json.dumps([{k: v for k, v in valid[0].items() if k != column}]).encode(),
            422,
            [column],
        ),
        "null": (json.dumps([{**valid[0], column: None}]).encode(), 422, [column]),
        "out of range": (json.dumps([{**valid[0], column: -1}]).encode(), 422, [column]),
        "empty list": (b"[]", 422, []),
        "oversized body": (oversized(valid[0]), 413, []),
    }
    seen = {}
    for name, (body, _, columns) in cases.items():
        status, headers, answer = server.request("POST", "/predict", body)
        seen[name] = status
        assert str(status) in responses, f"{name}: status {status} is not documented"
        assert set(answer) == {"detail", "failures"}, f"{name}: undocumented body {answer}"
        assert [c for c, _ in contract_failures(answer)] == columns, f"{name}: {answer}"
        assert headers["x-contract-version"] == "1.0.0", name
        assert "Traceback" not in answer["detail"], name
    assert seen == {name: expected for name, (_, expected, _) in cases.items()}
    # An extra column is what the contract filters out: scored, not refused.
    status, _, scored = server.post([{**valid[0], "customer_id": "c-1"}])
    assert status == 200, scored
    assert len(scored) == 1


def test_sigterm_stops_the_server_cleanly(server: Server) -> None:
    """Last in the module: it stops the server the other tests used."""
    os.killpg(server.process.pid, signal.SIGTERM)

    server.process.wait(timeout=60)

    # uvicorn's graceful stop: requests in flight finish, the app shuts down.
    output = server.output()
    assert "Shutting down" in output, output[-2000:]
    assert "Application shutdown complete." in output, output[-2000:]
    assert "Finished server process" in output, output[-2000:]
    assert "Traceback" not in output, output[-4000:]
    with pytest.raises(ConnectionRefusedError):
        server.request("GET", "/health")
