"""`handoff serve`: the model over HTTP, with the API the contract defines.

A FastAPI app (`create_app`) served by uvicorn. `POST /predict` takes a JSON
array of rows, checks them against the contract's input schema before the
model sees them (422 naming each failing column and check), scores them in one
call, and checks the predictions against the output schema before returning
them (a broken output is a 500 with a one-line reason and a log line, never
wrong data). Bodies over the size limit get 413. `/health` answers while the
process is up, `/ready` names the model loaded; every response carries the
contract version in the X-Contract-Version header. `/openapi.json` is the
document api.py derives from the contract, the one `handoff openapi` commits.
uvicorn stops cleanly on SIGTERM or Ctrl-C: it finishes the requests in flight.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from handoff_kit import __version__, api, config, registry
from handoff_kit.config import Settings
from handoff_kit.contracts import ContractViolation, Validator, validator
from handoff_kit.registry import ModelVersion, Scorer

if TYPE_CHECKING:
    import uvicorn

LOG = logging.getLogger("handoff_kit.serve")
# What the workers uvicorn starts (--workers above 1) serve: the parent's choices.
MODEL_VARIABLE = "HANDOFF_SERVE_MODEL"
MAX_BODY_VARIABLE = "HANDOFF_SERVE_MAX_BODY"
# A body up to this size (about 200 rows of a tabular model) is scored on the event
# loop: handing it to a worker thread and back costs about a millisecond, a fifth of
# a 1-row request. A larger one is scored in a worker thread, so that the process
# answers /health and its other connections meanwhile.
INLINE_BODY = 16 * 1024
# ...but only while the last small body took at most this long to score: a heavy
# model holds the loop once, then small bodies go to a thread too, until one is
# quick again.
INLINE_SECONDS = 0.02


def cores() -> int:
    """The cores this process may run on: the default number of workers."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # Not on Linux.
        return os.cpu_count() or 1


@dataclass(frozen=True)
class Served:
    """The model a server scores with, and what /ready says about it."""

    model: Scorer
    version: ModelVersion
    alias: str | None


def load(settings: Settings, uri: str) -> Served:
    """The registry model `uri` names, as `handoff predict` loads it."""
    store = registry.open_registry(settings)
    version = registry.resolve(store, uri, settings.model_name)
    _, kind, which = registry.parse_uri(uri, settings.model_name)
    return Served(store.load(version), version, which if kind == "alias" else None)


class _RefusedError(Exception):
    """A response to send instead of predictions."""

    def __init__(
        self, status: int, detail: str, failures: list[Any] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.body = {"detail": detail, "failures": failures or []}


def create_app(
    settings: Settings, served: Served, max_body: int = api.DEFAULT_MAX_BODY
) -> FastAPI:
    """The HTTP app scoring with `served.model` under the project's contract."""
    contract = settings.contract
    document = api.document(settings)
    # Built once, here: the input's validator with the reader, the output's.
    reader = api.RowReader.of(contract.model_input)
    outputs = validator(contract.model_output)
    ready = {
        "status": "ready",
        "model": served.version.name,
        "version": served.version.version,
        "alias": served.alias,
        "uri": served.version.uri,
        "contract_version": contract.version,
        "kit_version": __version__,
    }
    app = FastAPI(
        title=document["info"]["title"],
        version=contract.version,
        redoc_url=None,
    )
    # The document is the contract's (api.py), not one FastAPI infers from the routes.
    app.openapi = lambda: document  # type: ignore[method-assign]

    app.add_middleware(_ContractHeader, version=contract.version)

    @app.get(api.HEALTH)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(api.READY)
    def is_ready() -> dict[str, Any]:
        return ready

    last_small = 0.0  # Seconds the last small body took to score.

    def score_small(body: bytes) -> bytes:
        nonlocal last_small
        start = time.perf_counter()
        try:
            return score(body)
        finally:
            last_small = time.perf_counter() - start

    def score(body: bytes) -> bytes:
        features = _features(reader, body)
        try:
            scored = served.model.predict(features)
        except Exception as error:  # The model's own failure: a 500 saying which.
            reason = f"{type(error).__name__}: {_one_line(error)}"
            raise _broken(served, f"the model failed on the rows: {reason}") from None
        predictions = _predictions(outputs, scored, len(features), served)
        return api.dumps_rows(api.records(predictions))

    @app.post(api.PREDICT)
    async def predict(request: Request) -> Response:
        declared = request.headers.get("content-length", "")
        try:
            if declared.isdigit() and int(declared) > max_body:
                raise _RefusedError(413, _too_large(max_body))
            body = bytearray()
            async for chunk in request.stream():
                body += chunk
                if len(body) > max_body:
                    raise _RefusedError(413, _too_large(max_body))
            data = bytes(body)
            if len(data) > INLINE_BODY:
                content = await run_in_threadpool(score, data)
            elif last_small <= INLINE_SECONDS:
                content = score_small(data)
            else:
                content = await run_in_threadpool(score_small, data)
        except _RefusedError as refused:
            return JSONResponse(refused.body, status_code=refused.status)
        return Response(content, media_type="application/json")

    return app


def _features(reader: api.RowReader, body: bytes) -> pd.DataFrame:
    """The request's rows as the contract's input frame, or a 400 or 422 saying why."""
    try:
        rows = api.parse(body)
    except ValueError as error:  # JSONDecodeError and NaN are ValueErrors.
        raise _RefusedError(400, f"the body is not JSON: {error}") from None
    try:
        return reader.frame(rows)
    except api.RequestError as error:
        failures = [api.failure_json(f) for f in error.failures]
        raise _RefusedError(422, error.detail, failures) from None


class _ContractHeader:
    """Adds the contract version to every response (plain ASGI: no extra task)."""

    def __init__(self, app: ASGIApp, version: str) -> None:
        self.app = app
        self.header = (api.CONTRACT_HEADER.lower().encode(), version.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), self.header]
            await send(message)

        await self.app(scope, receive, send_with_header)


def _predictions(
    outputs: Validator, scored: object, rows: int, served: Served
) -> pd.DataFrame:
    """The model's output, if it keeps the output contract: one row per input row."""
    if not isinstance(scored, pd.DataFrame) or len(scored) != rows:
        got = len(scored) if isinstance(scored, pd.DataFrame) else type(scored).__name__
        detail = (
            f"the model's output broke the contract: it returned {got} for {rows} rows"
        )
        raise _broken(served, detail)
    try:
        return outputs.validated(scored)
    except ContractViolation as violation:
        reason = "; ".join(str(failure) for failure in violation.failures)
        detail = f"the model's output broke the contract: {reason}"
        raise _broken(served, detail) from None


def _broken(served: Served, detail: str) -> _RefusedError:
    """A 500 for a model that failed or broke the output contract, logged as one line
    (no traceback): the caller gets no predictions rather than wrong ones."""
    LOG.error("%s: %s", served.version, detail)
    return _RefusedError(500, detail)


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())


def _too_large(limit: int) -> str:
    return f"the body is larger than {limit} bytes: send fewer rows per request"


def log_config() -> dict[str, Any]:
    """uvicorn's logging, with the kit's log lines in the same format."""
    from uvicorn.config import LOGGING_CONFIG  # noqa: PLC0415  # Only when serving.

    config: dict[str, Any] = {
        **LOGGING_CONFIG,
        "loggers": dict(LOGGING_CONFIG["loggers"]),
    }
    config["loggers"][LOG.name] = {
        "handlers": ["default"],
        "level": "INFO",
        "propagate": False,
    }
    return config


def from_environment() -> FastAPI:
    """The app of one of several workers: the model and body limit the parent chose
    (MODEL_VARIABLE, MAX_BODY_VARIABLE), in the project of the working directory."""
    settings = config.load()
    uri = os.environ[MODEL_VARIABLE]
    max_body = int(os.environ.get(MAX_BODY_VARIABLE, api.DEFAULT_MAX_BODY))
    return create_app(settings, load(settings, uri), max_body)


def run(  # noqa: PLR0913  # uvicorn's options, and what the workers load.
    app: FastAPI,
    host: str,
    port: int,
    *,
    workers: int = 1,
    uri: str = "",
    max_body: int = api.DEFAULT_MAX_BODY,
) -> None:
    """Serve until SIGTERM or Ctrl-C (uvicorn's signal handling: a graceful stop).

    One worker serves `app`; more are processes that each build their own app
    (`from_environment`) serving the model `uri` names, as `app` does."""
    import uvicorn  # noqa: PLC0415  # Only when serving.

    if workers <= 1:
        uvicorn.run(app, host=host, port=port, log_config=log_config())
        return
    os.environ[MODEL_VARIABLE] = uri
    os.environ[MAX_BODY_VARIABLE] = str(max_body)
    options = uvicorn.Config(
        f"{__name__}:{from_environment.__name__}",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_config=log_config(),
    )
    supervise(options, tcp_socket(options))


def tcp_socket(options: uvicorn.Config) -> socket.socket:
    """The socket uvicorn binds for its workers, known to be TCP.

    uvicorn opens it without naming the protocol (uvicorn#3149), so asyncio, which
    turns Nagle's algorithm off only on sockets that say TCP, leaves it on for every
    connection: each response on a kept-alive connection then waits about 40 ms for
    the client's delayed ACK. The same file descriptor, protocol named."""
    bound = options.bind_socket()
    sock = socket.socket(bound.family, bound.type, socket.IPPROTO_TCP, bound.detach())
    sock.set_inheritable(True)  # The workers inherit it, as uvicorn's own.
    return sock


def supervise(options: uvicorn.Config, sock: socket.socket) -> None:
    """uvicorn's supervisor: `options.workers` processes serving on `sock`, each
    restarted if it dies, all stopped on SIGTERM or Ctrl-C."""
    from uvicorn.supervisors import Multiprocess  # noqa: PLC0415

    Multiprocess(options, sockets=[sock]).run()
