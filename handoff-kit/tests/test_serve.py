"""`handoff serve`: the FastAPI app over a registry model, through FastAPI's test client.

The real server (uvicorn on a port, SIGTERM, fuzzing from the OpenAPI document)
runs in the template repository's slow tier, in generated projects.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import uvicorn
from conftest import MODEL_NAME, houses
from fastapi import FastAPI
from fastapi.testclient import TestClient

import handoff_kit
from handoff_kit import __version__, api, config, contracts, registry, serve
from handoff_kit.cli import main
from handoff_kit.registry import CANDIDATE, CHAMPION

CANDIDATE_URI = f"models:/{MODEL_NAME}@{CANDIDATE}"


@pytest.fixture
def served(project: Path) -> serve.Served:
    """The sample model, trained and registered as the candidate (file registry)."""
    assert main(["train"]) == 0
    return serve.load(config.load(project), CANDIDATE_URI)


@pytest.fixture
def client(settings: config.Settings, served: serve.Served) -> TestClient:
    return TestClient(serve.create_app(settings, served, max_body=4096))


def rows(count: int) -> list[dict[str, Any]]:
    return houses(count).drop(columns="sold").to_dict(orient="records")


def test_health_and_ready_name_the_model_the_contract_and_the_kit(
    client: TestClient, served: serve.Served
) -> None:
    health = client.get("/health")
    ready = client.get("/ready")

    assert health.json() == {"status": "ok"}
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ready",
        "model": MODEL_NAME,
        "version": "1",
        "alias": "candidate",
        "uri": f"models:/{MODEL_NAME}/1",
        "contract_version": "1.0.0",
        "kit_version": __version__,
    }
    for response in (health, ready):
        assert response.headers["X-Contract-Version"] == "1.0.0"


def test_train_records_the_api_the_version_serves(
    settings: config.Settings, served: serve.Served
) -> None:
    assert served.version.manifest.api == api.served_contract(settings.contract)


def test_predict_scores_a_batch_as_the_model_does_in_one_call(
    client: TestClient, served: serve.Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    model_predict = served.model.predict

    def counted(features: pd.DataFrame) -> pd.DataFrame:
        calls.append(len(features))
        return model_predict(features)

    monkeypatch.setattr(served.model, "predict", counted)
    batch = rows(50)

    response = client.post("/predict", json=batch)

    assert response.status_code == 200, response.text
    assert response.headers["X-Contract-Version"] == "1.0.0"
    expected = model_predict(pd.DataFrame(batch))
    assert response.json() == expected.to_dict(orient="records")
    assert calls == [50], "the batch was not scored in one call"


def test_other_properties_are_ignored_as_the_contract_filters_them(
    client: TestClient,
) -> None:
    response = client.post("/predict", json=[{"rooms": 2, "kind": "flat", "id": 9}])

    assert response.status_code == 200, response.text
    assert list(response.json()[0]) == ["score"]


@pytest.mark.parametrize(
    ("body", "failures"),
    [
        (
            [{"rooms": -1, "kind": "castle"}],
            [
                ("rooms", "greater_than_or_equal_to(0)"),
                ("kind", "isin(['flat', 'house'])"),
            ],
        ),
        ([{"rooms": "2", "kind": "flat"}], [("rooms", "dtype('int64')")]),
        ([{"rooms": 2}], [("kind", "column_in_dataframe")]),
        ([{"rooms": 2, "kind": None}], [("kind", "not_nullable")]),
    ],
    ids=["out-of-range", "wrong-type", "missing-column", "null"],
)
def test_a_request_that_breaks_the_contract_gets_422_naming_each_column_and_check(
    client: TestClient, body: list[dict[str, Any]], failures: list[tuple[str, str]]
) -> None:
    response = client.post("/predict", json=body)

    assert response.status_code == 422, response.text
    error = response.json()
    assert error["detail"].startswith("Features contract violated")
    assert [(f["column"], f["check"]) for f in error["failures"]] == failures
    assert response.headers["X-Contract-Version"] == "1.0.0"


@pytest.mark.parametrize(
    ("content", "status", "detail"),
    [
        (b"[{", 400, "the body is not JSON: "),
        (b'[{"rooms": NaN, "kind": "flat"}]', 400, "NaN is not a JSON number"),
        (b"[]", 422, "no rows to score: send at least one"),
        (b'{"rooms": 1}', 422, "the body must be a JSON array of rows"),
        (
            b"[" + b'{"rooms": 1, "kind": "flat"},' * 400 + b"{}]",
            413,
            "larger than 4096 bytes",
        ),
    ],
    ids=["malformed", "nan", "empty", "not-a-list", "oversized"],
)
def test_a_body_that_cannot_be_read_gets_its_documented_status(
    client: TestClient, content: bytes, status: int, detail: str
) -> None:
    response = client.post(
        "/predict", content=content, headers={"content-type": "application/json"}
    )

    assert response.status_code == status, response.text
    assert detail in response.json()["detail"]
    assert response.json()["failures"] == []


def test_an_oversized_body_without_a_declared_length_is_refused_while_read(
    client: TestClient,
) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b" " * 100

    response = client.post("/predict", content=chunks())

    assert response.status_code == 413
    assert "larger than 4096 bytes" in response.json()["detail"]


class Broken:
    """A model that breaks the output contract: scores above 1."""

    def __init__(self, rows: int | None = None) -> None:
        self.rows = rows

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        count = len(features) if self.rows is None else self.rows
        return pd.DataFrame({"score": [2.0] * count})


class Failing:
    """A model that fails on what it is given."""

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        msg = "cannot score\nthese rows"
        raise RuntimeError(msg)


@pytest.mark.parametrize(
    ("model", "reason"),
    [
        (
            Broken(),
            "the model's output broke the contract: "
            "score: less_than_or_equal_to(1) failed in 2 rows, e.g. 2.0, 2.0",
        ),
        (
            Broken(rows=1),
            "the model's output broke the contract: it returned 1 for 2 rows",
        ),
        (
            Failing(),
            "the model failed on the rows: RuntimeError: cannot score these rows",
        ),
    ],
    ids=["out-of-range", "too-few-rows", "model-error"],
)
def test_a_failing_model_or_broken_output_is_a_500_with_one_line_and_a_log_line(
    settings: config.Settings,
    served: serve.Served,
    caplog: pytest.LogCaptureFixture,
    model: Broken | Failing,
    reason: str,
) -> None:
    broken = serve.Served(model, served.version, None)
    client = TestClient(serve.create_app(settings, broken))

    with caplog.at_level(logging.ERROR, logger="handoff_kit.serve"):
        response = client.post("/predict", json=rows(2))

    assert response.status_code == 500
    assert response.json() == {
        "detail": reason,
        "failures": [],
    }
    [line] = [record.getMessage() for record in caplog.records]
    assert line == f"{MODEL_NAME} version 1 (candidate): {reason}"


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """A test double around the validator: the checks it runs, by schema."""
    ran: Counter[str] = Counter()
    check = contracts.Validator.check

    def counted(self: contracts.Validator, frame: pd.DataFrame) -> pd.DataFrame:
        ran[self.schema.__name__] += 1
        return check(self, frame)

    monkeypatch.setattr(contracts.Validator, "check", counted)
    return ran


@pytest.mark.parametrize("size", [1, 100])
def test_each_request_is_validated_once_on_input_and_once_on_output(
    client: TestClient, validations: Counter[str], size: int
) -> None:
    # The sample model validates its input and output itself, as the template's does.
    response = client.post("/predict", json=rows(size))

    assert response.status_code == 200
    assert validations == {"Features": 1, "Predictions": 1}, (
        f"each schema's checks should run once a request, not {dict(validations)}: the "
        "model's own validation of the server's frame, or the server's of the "
        "model's, is a second run"
    )


def test_output_the_model_leaves_unvalidated_is_validated_by_the_server_once(
    settings: config.Settings, served: serve.Served, validations: Counter[str]
) -> None:
    class Unchecked:
        def predict(self, features: pd.DataFrame) -> pd.DataFrame:
            return pd.DataFrame({"score": [0.5] * len(features)})

    client = TestClient(
        serve.create_app(settings, serve.Served(Unchecked(), served.version, None))
    )

    assert client.post("/predict", json=rows(3)).status_code == 200
    assert validations == {"Features": 1, "Predictions": 1}


def test_output_changed_after_the_model_validated_it_is_validated_again(
    settings: config.Settings, served: serve.Served
) -> None:
    class ChangesItsOutput:
        def predict(self, features: pd.DataFrame) -> pd.DataFrame:
            scored = served.model.predict(features)
            scored.loc[scored.index[0], "score"] = 7.0  # After its own validation.
            return scored

    model = serve.Served(ChangesItsOutput(), served.version, None)
    client = TestClient(serve.create_app(settings, model))

    response = client.post("/predict", json=rows(2))

    assert response.status_code == 500, "a changed frame must be checked again"
    assert (
        "score: less_than_or_equal_to(1) failed in 1 row" in response.json()["detail"]
    )


def test_the_served_openapi_document_is_the_contracts(
    client: TestClient, settings: config.Settings
) -> None:
    served = client.get("/openapi.json").json()

    assert served == api.document(settings)
    routes = {
        (path, method.lower())
        for route in client.app.routes  # type: ignore[attr-defined]
        if (path := getattr(route, "path", "")) in served["paths"]
        for method in getattr(route, "methods", ())
    }
    documented = {
        (path, method) for path, item in served["paths"].items() for method in item
    }
    assert documented <= routes, "a documented operation is not served"


# --- The command -----------------------------------------------------------------


def test_serve_loads_the_champion_by_default_and_runs_uvicorn_on_the_address(
    served: serve.Served,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # What `handoff promote` does once the gate passes (tested in test_cli.py).
    store = registry.open_registry(config.load(Path.cwd()))
    store.promote(served.version, by="ada@example.com", at="2026-01-02T03:04:05+00:00")
    started: dict[str, Any] = {}
    monkeypatch.setattr(
        "uvicorn.run", lambda app, **options: started.update(app=app, **options)
    )

    assert main(["serve", "--port", "8123", "--workers", "1"]) == 0

    assert started["host"] == "127.0.0.1"
    assert started["port"] == 8123
    assert "handoff_kit.serve" in started["log_config"]["loggers"]
    ready = TestClient(started["app"]).get("/ready").json()
    assert ready["alias"] == CHAMPION
    err = capsys.readouterr().err
    assert f"Loading models:/{MODEL_NAME}@champion." in err
    assert (
        f"Serving {MODEL_NAME} version 1 (candidate, champion) under contract 1.0.0 "
        "on http://127.0.0.1:8123"
    ) in err


def test_serve_starts_a_worker_per_core_by_default_each_loading_the_model(
    served: serve.Served,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(serve, "cores", lambda: 3)
    monkeypatch.delenv(serve.MODEL_VARIABLE, raising=False)
    monkeypatch.delenv(serve.MAX_BODY_VARIABLE, raising=False)
    started: list[uvicorn.Config] = []
    monkeypatch.setattr(serve, "tcp_socket", lambda options: socket.socket())
    monkeypatch.setattr(
        serve, "supervise", lambda options, sock: started.append(options)
    )
    uri = f"models:/{MODEL_NAME}/1"

    assert main(["serve", "--model", uri, "--max-body", "500"]) == 0

    [options] = started
    assert options.workers == 3, "one worker per core unless --workers says"
    assert options.factory is True
    assert options.app == "handoff_kit.serve:from_environment", (
        "each worker process builds its own app"
    )
    worker = TestClient(serve.from_environment())
    assert worker.get("/ready").json()["version"] == "1", (
        "a worker serves the model the command named"
    )
    too_large = worker.post("/predict", content=b"[" + b" " * 600 + b"]")
    assert too_large.status_code == 413, "a worker keeps the command's body limit"


def test_workers_started_without_a_body_limit_take_the_default(
    served: serve.Served,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(serve, "cores", lambda: 2)
    monkeypatch.delenv(serve.MODEL_VARIABLE, raising=False)
    monkeypatch.delenv(serve.MAX_BODY_VARIABLE, raising=False)
    monkeypatch.setattr(serve, "tcp_socket", lambda options: socket.socket())
    monkeypatch.setattr(serve, "supervise", lambda options, sock: None)

    assert main(["serve", "--model", f"models:/{MODEL_NAME}/1"]) == 0

    worker = TestClient(serve.from_environment())
    assert worker.get("/ready").status_code == 200, "a worker starts with no --max-body"
    limit = api.DEFAULT_MAX_BODY
    too_large = worker.post("/predict", content=b"[" + b" " * limit + b"]")
    assert too_large.status_code == 413, "a worker keeps the default body limit"


def test_the_workers_socket_turns_nagles_algorithm_off_on_every_connection() -> None:
    # Without it, each response on a kept-alive connection waits ~40 ms for the
    # client's delayed ACK (uvicorn#3149): asyncio sets TCP_NODELAY only on TCP sockets.
    options = uvicorn.Config(
        "handoff_kit.serve:from_environment", host="127.0.0.1", port=0
    )
    listening = serve.tcp_socket(options)
    accepted: list[int] = []

    class Report(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            sock = transport.get_extra_info("socket")
            accepted.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    async def connect() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Report, sock=listening)
        host, port = listening.getsockname()[:2]
        _, writer = await asyncio.open_connection(host, port)
        for _ in range(100):
            if accepted:
                break
            await asyncio.sleep(0.01)
        writer.close()
        server.close()
        await server.wait_closed()

    try:
        asyncio.run(connect())
    finally:
        listening.close()

    assert listening.proto == socket.IPPROTO_TCP
    assert accepted == [1], "an accepted connection keeps Nagle's algorithm on"


def test_serve_by_version_has_no_alias(
    settings: config.Settings, served: serve.Served
) -> None:
    by_version = serve.load(settings, f"models:/{MODEL_NAME}/1")

    assert by_version.alias is None
    assert by_version.version.version == "1"


def test_serve_without_a_champion_exits_1_saying_what_to_run(
    served: serve.Served, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve"]) == 1

    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error == (
        f"handoff: error: models:/{MODEL_NAME}@champion: no version has the alias "
        f"'champion' in the file registry {Path.cwd()}/models/{MODEL_NAME}/: run `make promote`"
    )


def test_serve_without_fastapi_says_which_extra_to_install(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # As if FastAPI were not installed: the module that needs it cannot be imported.
    monkeypatch.delattr(handoff_kit, "serve")
    monkeypatch.setitem(sys.modules, "handoff_kit.serve", None)

    assert main(["serve"]) == 1

    error = capsys.readouterr().err
    assert "`handoff serve` needs FastAPI and uvicorn" in error
    assert error.strip().endswith("depend on handoff-kit[serve]")


def test_the_served_json_round_trips(client: TestClient) -> None:
    response = client.post("/predict", json=rows(3))

    assert json.loads(response.content) == response.json()
    assert registry.CANDIDATE == CANDIDATE


class _Where:
    """The sample model, noting the thread each call runs on."""

    def __init__(self, model: registry.Scorer) -> None:
        self.model = model
        self.threads: list[int] = []

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        self.threads.append(threading.get_ident())
        return self.model.predict(features)


def _app_showing_its_loop(
    settings: config.Settings, served: serve.Served, model: _Where
) -> FastAPI:
    """The server of `model`, with a route that answers its event loop's thread."""
    app = serve.create_app(
        settings, dataclasses.replace(served, model=model), max_body=1 << 20
    )

    @app.get("/loop-thread")
    async def loop_thread() -> int:
        return threading.get_ident()

    return app


def test_a_small_request_is_scored_on_the_event_loop_and_a_large_one_beside_it(
    settings: config.Settings, served: serve.Served
) -> None:
    """A thread costs a small request more than its scoring; a large one in a thread
    leaves the event loop free for /health and the process's other connections."""
    model = _Where(served.model)
    app = _app_showing_its_loop(settings, served, model)
    small = json.dumps(rows(1))
    large = json.dumps(rows(1000))
    assert len(small) <= serve.INLINE_BODY < len(large)
    with TestClient(app) as client:
        loop = client.get("/loop-thread").json()
        for body in (small, large):
            answer = client.post(
                "/predict", content=body, headers={"content-type": "application/json"}
            )
            assert answer.status_code == 200, answer.text

    assert model.threads[0] == loop, "a small request was sent to a thread"
    assert model.threads[1] != loop, "a large request held the event loop"


class _Slow(_Where):
    """The sample model, slower than the loop may be held while `slow` is set."""

    slow = True

    def predict(self, features: pd.DataFrame) -> pd.DataFrame:
        if self.slow:
            time.sleep(serve.INLINE_SECONDS * 2)
        return super().predict(features)


def test_a_heavy_model_holds_the_event_loop_once_then_scores_in_a_thread(
    settings: config.Settings, served: serve.Served
) -> None:
    """Small requests of a model slower than INLINE_SECONDS go to a worker thread
    after the first, so /health is not held behind them; once a small request is
    quick again, the next is scored on the loop."""
    model = _Slow(served.model)
    app = _app_showing_its_loop(settings, served, model)
    with TestClient(app) as client:
        loop = client.get("/loop-thread").json()
        for slow in (True, True, True, False, False):
            model.slow = slow
            answer = client.post("/predict", json=rows(1))
            assert answer.status_code == 200, answer.text

    on_loop = [thread == loop for thread in model.threads]
    assert on_loop == [True, False, False, False, True], (
        "scored on the loop, request by request (first slow, then in a thread until "
        f"one is quick): {on_loop}"
    )
