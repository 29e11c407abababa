"""The MLflow registry's own ways: embedded or on a server, MLflow's serving, its records."""

from __future__ import annotations

import io
import logging
import os
import socket
import threading
import time
import warnings
from contextlib import redirect_stderr
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, HTTPServer
from importlib import metadata
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from conftest import (
    MODEL_NAME,
    build_project,
    fitted,
    houses,
    manifest,
    write_pyproject,
)
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import BAD_REQUEST, RESOURCE_DOES_NOT_EXIST
from mlflow.pyfunc.model import PythonModel, PythonModelContext

from handoff_kit import ContractViolation, api, config, registry
from handoff_kit.cli import main
from handoff_kit.registry import (
    CANDIDATE,
    CHAMPION,
    ModelVersion,
    Promotion,
    RegistryError,
    mlflow_store,
)
from handoff_kit.registry.mlflow_store import (
    PROMOTIONS_TAG,
    ContractModel,
    MlflowRegistry,
    from_mlflow,
    requirements,
    to_mlflow,
)
from handoff_kit.registry.records import Signature
from sample_model.contracts import Features, Predictions

# MLflow takes seconds to import and to open a store: one worker runs them all.
pytestmark = [pytest.mark.xdist_group("mlflow"), pytest.mark.mlflow]

EXAMPLE = houses(3).drop(columns="sold")


class Foreign(PythonModel):
    """A model logged with MLflow's own tools, not with `handoff train`."""

    def predict(
        self,
        context: PythonModelContext | None,
        model_input: pd.DataFrame,
        params: object = None,
    ) -> pd.DataFrame:
        return model_input


@pytest.fixture(scope="module")
def settings(mlflow_project: Path) -> config.Settings:
    return config.load(mlflow_project)


@pytest.fixture(scope="module")
def store(settings: config.Settings) -> MlflowRegistry:
    return MlflowRegistry(settings)


class Recorder(logging.Handler):
    """Every record MLflow's loggers emit."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.levelname} {record.name}: {record.getMessage()}")


@pytest.fixture(scope="module")
def registering(
    store: MlflowRegistry, settings: config.Settings
) -> tuple[ModelVersion, str]:
    """The first version registered, and what MLflow logged or printed meanwhile."""
    recorder = Recorder()
    logging.getLogger("mlflow").addHandler(recorder)
    printed = io.StringIO()
    try:
        with redirect_stderr(printed):
            version = store.register(fitted(), manifest(settings), "# Card\n", EXAMPLE)
    finally:
        logging.getLogger("mlflow").removeHandler(recorder)
    return version, printed.getvalue() + "\n".join(recorder.lines)


@pytest.fixture(scope="module")
def candidate(registering: tuple[ModelVersion, str]) -> ModelVersion:
    return registering[0]


def test_registering_keeps_mlflows_info_lines_and_advice_out_of_the_output(
    registering: tuple[ModelVersion, str],
) -> None:
    _, printed = registering

    for chatter in [
        " INFO mlflow",
        "CloudPickle",
        "Failed to resolve installed pip version",
        "Successfully registered model",
        "Created version",
    ]:
        assert chatter not in printed, f"MLflow printed {chatter!r}:\n{printed}"
    assert logging.getLogger("mlflow").level != logging.ERROR, (
        "MLflow stays quiet after"
    )


def test_the_project_opens_mlflows_registry_embedded_in_it(
    settings: config.Settings, mlflow_project: Path
) -> None:
    store = registry.open_registry(settings)

    assert isinstance(store, MlflowRegistry)
    assert (
        store.location()
        == f"the MLflow registry at sqlite:///{mlflow_project}/mlflow.db"
    )


def test_mlflow_tracking_uri_names_a_server_instead(
    settings: config.Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    probed: list[str] = []
    monkeypatch.setattr(mlflow_store, "reachable", probed.append)  # No network here.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "https://mlflow.example.com")

    store = MlflowRegistry(settings)

    assert store.store is None
    assert store.location() == "the MLflow registry at https://mlflow.example.com"
    assert probed == ["https://mlflow.example.com"], "the server was not probed first"


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_server_fails_in_seconds_with_one_line_naming_it(
    mlflow_project: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    uri = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(mlflow_project)
    started = time.monotonic()

    status = main(["train"])

    took = time.monotonic() - started
    assert status == 1
    assert took < 10, f"an unreachable server took {took:.0f} s to report"
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        f"handoff: error: cannot reach the MLflow tracking server at {uri} "
        "(MLFLOW_TRACKING_URI): [Errno 111] Connection refused; start the server, "
        "fix MLFLOW_TRACKING_URI, or unset it to use the project's own registry"
    ], "not one line naming the URI (or training started before the registry answered)"


class Refusing(BaseHTTPRequestHandler):
    """A server that answers, but not as MLflow: 501 to everything."""

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


def test_any_answer_from_the_server_counts_as_reachable_and_retries_are_bounded(
    settings: config.Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in mlflow_store.HTTP_DEFAULTS:
        monkeypatch.setenv(name, "unset")
        monkeypatch.delenv(name)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "7")  # The user's choice.
    server = HTTPServer(("127.0.0.1", 0), Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    uri = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    try:
        store = MlflowRegistry(settings)
    finally:
        server.shutdown()

    assert store.tracking_uri == uri
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "2", (
        "MLflow would retry an unanswering server for minutes"
    )
    assert os.environ["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"] == "7", (
        "the user's setting was lost"
    )


def test_asking_a_project_that_never_trained_creates_no_store(tmp_path: Path) -> None:
    root = build_project(tmp_path / "project")
    write_pyproject(root, registry="mlflow")

    assert MlflowRegistry(config.load(root)).find(CANDIDATE) is None
    assert not (root / "mlflow.db").exists()


def test_registering_and_loading_leave_the_environment_as_it_was(
    store: MlflowRegistry, candidate: ModelVersion
) -> None:
    store.load(candidate)

    assert "MLFLOW_TRACKING_URI" not in os.environ, (
        "the next registry would be a server"
    )
    assert (store.settings.root / "mlartifacts").is_dir(), "artifacts beside mlflow.db"


def test_a_model_loads_without_mlflows_environment_checks(
    store: MlflowRegistry, candidate: ModelVersion, monkeypatch: pytest.MonkeyPatch
) -> None:
    def checked(*args: object, **kwargs: object) -> None:
        msg = "mlflow.pyfunc.load_model checks the environment against the model's"
        raise AssertionError(msg)

    monkeypatch.setattr(mlflow.pyfunc, "load_model", checked)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # No dependency or version warning either.
        model = store.load(candidate)

    pd.testing.assert_frame_equal(model.predict(EXAMPLE), fitted().predict(EXAMPLE))


def test_a_server_named_in_the_environment_stays_named(
    store: MlflowRegistry,
    candidate: ModelVersion,
    settings: config.Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.tracking_uri)
    server = MlflowRegistry(settings)

    assert isinstance(server.load(candidate), type(fitted()))
    assert os.environ["MLFLOW_TRACKING_URI"] == store.tracking_uri


def test_mlflows_own_serving_validates_with_the_contract(
    store: MlflowRegistry, candidate: ModelVersion
) -> None:
    with store._tracking():
        served = mlflow.pyfunc.load_model(candidate.uri)

    scores = served.predict(EXAMPLE)

    pd.testing.assert_frame_equal(scores, fitted().predict(EXAMPLE))
    with pytest.raises(ContractViolation, match="kind: isin"):
        served.predict(EXAMPLE.assign(kind="castle"))


def test_the_wrapper_checks_input_and_output_with_the_contract_schemas() -> None:
    wrapper = ContractModel(fitted(), Features, Predictions)

    assert list(wrapper.predict(None, EXAMPLE).columns) == ["score"]
    with pytest.raises(ContractViolation, match="rooms: greater_than_or_equal_to"):
        wrapper.predict(None, EXAMPLE.assign(rooms=-1))


def test_a_model_logged_by_other_means_has_no_records_and_is_refused(
    store: MlflowRegistry,
) -> None:
    with store._tracking(), mlflow.start_run(experiment_id=store._experiment_id()):
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=Foreign(),
            registered_model_name=MODEL_NAME,
            pip_requirements=[],
        )
    version = store.get(str(info.registered_model_version))

    assert version.manifest.contract_version == "none"
    assert version.manifest.data_sources == ()
    assert version.manifest.signature == Signature((), ())
    with pytest.raises(
        RegistryError,
        match=r"was not registered by `handoff train`: it holds a Foreign$",
    ):
        store.load(version)


def test_a_signature_survives_mlflows_form(settings: config.Settings) -> None:
    signature = manifest(settings).signature

    assert from_mlflow(to_mlflow(signature)) == signature
    assert from_mlflow(None) == Signature((), ())


def test_a_version_records_its_dependencies_pinned_to_what_is_installed() -> None:
    pinned = requirements("sample-project")  # Not installed: the kit's alone.

    assert f"pandas=={metadata.version('pandas')}" in pinned
    assert f"pandera=={metadata.version('pandera')}" in pinned
    assert pinned == sorted(pinned)


def test_a_projects_and_the_kits_shared_dependencies_are_pinned_once() -> None:
    pinned = requirements("handoff-kit")

    assert len(pinned) == len(set(pinned))
    assert sum(pin.startswith("pandas==") for pin in pinned) == 1


def test_a_version_records_the_api_it_serves_and_reads_it_back(
    store: MlflowRegistry, settings: config.Settings
) -> None:
    served = api.served_contract(settings.contract)

    version = store.register(
        fitted(), manifest(settings, api=served), "# Card\n", EXAMPLE
    )

    assert store.get(version.version).manifest.api == served


def test_a_version_asked_of_an_empty_project_is_refused_without_making_a_store(
    tmp_path: Path,
) -> None:
    root = build_project(tmp_path / "fresh")
    write_pyproject(root, registry="mlflow")

    with pytest.raises(RegistryError) as refused:
        MlflowRegistry(config.load(root)).get("1")

    assert str(refused.value) == (
        f"{MODEL_NAME} has no version 1: nothing is registered in the MLflow registry "
        f"at sqlite:///{root}/mlflow.db yet; `make train` registers the first"
    )
    assert not (root / "mlflow.db").exists()


def test_promotions_at_once_leave_the_champion_on_the_newest_and_keep_both(
    store: MlflowRegistry, settings: config.Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = store.register(fitted(), manifest(settings), "# Card\n", EXAMPLE)
    theirs = store.register(fitted(), manifest(settings), "# Card\n", EXAMPLE)
    at = "2025-05-01T00:00:00+00:00"  # The same second: the order recorded decides.
    move_alias = store.client.set_registered_model_alias
    raced: list[str] = []

    def racing(name: str, alias: str, version: str) -> None:
        # Another member's whole promotion lands between recording mine and moving the alias.
        if not raced:
            raced.append(version)
            store.promote(theirs, by="bob@example.com", at=at)
        move_alias(name, alias, version)

    monkeypatch.setattr(store.client, "set_registered_model_alias", racing)
    store.promote(mine, by="ada@example.com", at=at)

    champion = store.find(CHAMPION)
    assert champion is not None
    assert champion.version == theirs.version, "the alias and the history disagree"
    assert store.promotions()[-2:] == [
        Promotion(mine.version, at, "ada@example.com"),
        Promotion(theirs.version, at, "bob@example.com"),
    ], "a promotion is missing, or out of order"


def test_an_alias_move_that_collides_with_another_members_is_made_again(
    store: MlflowRegistry, settings: config.Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    move_alias = store.client.set_registered_model_alias
    moves: list[str] = []

    def colliding(name: str, alias: str, version: str) -> None:
        # As a PostgreSQL server answers when another member inserted the alias first.
        moves.append(version)
        if len(moves) == 1:
            msg = 'duplicate key value violates unique constraint "registered_model_alias_pk"'
            raise MlflowException(msg, error_code=BAD_REQUEST)
        move_alias(name, alias, version)

    monkeypatch.setattr(store.client, "set_registered_model_alias", colliding)
    registered = store.register(fitted(), manifest(settings), "# Card\n", EXAMPLE)

    assert len(moves) == 2, f"the alias was moved {len(moves)} times, not twice"
    candidate = store.find(CANDIDATE)
    assert candidate is not None
    assert candidate.version == registered.version, (
        "the candidate is not the new version"
    )


@pytest.mark.parametrize(
    ("error_code", "moves"),
    [(RESOURCE_DOES_NOT_EXIST, 1), (BAD_REQUEST, mlflow_store.ALIAS_ATTEMPTS)],
    ids=["not-a-collision", "collides-every-time"],
)
def test_an_alias_move_the_registry_keeps_refusing_fails_after_bounded_attempts(
    store: MlflowRegistry,
    settings: config.Settings,
    monkeypatch: pytest.MonkeyPatch,
    error_code: int,
    moves: int,
) -> None:
    version = store.register(fitted(), manifest(settings), "# Card\n", EXAMPLE)
    tried: list[str] = []

    def refusing(name: str, alias: str, version: str) -> None:
        tried.append(version)
        raise MlflowException("refused", error_code=error_code)

    monkeypatch.setattr(store.client, "set_registered_model_alias", refusing)
    monkeypatch.setattr(mlflow_store.time, "sleep", lambda seconds: None)
    with pytest.raises(MlflowException, match="refused"):
        store.promote(version, by="ada@example.com", at="2025-05-01T00:00:00+00:00")
    assert len(tried) == moves, f"{len(tried)} attempts, not {moves}"


def test_promotions_recorded_by_kit_0_2_0_stay_in_the_history(
    store: MlflowRegistry, settings: config.Settings
) -> None:
    old = store.register(fitted(), manifest(settings), "# Card\n", EXAMPLE)
    lines = "2020-01-01T00:00:00+00:00 ada@example.com\n2020-02-01T00:00:00+00:00 bob"
    store.client.set_model_version_tag(MODEL_NAME, old.version, PROMOTIONS_TAG, lines)

    assert store.promotions()[:2] == [
        Promotion(old.version, "2020-01-01T00:00:00+00:00", "ada@example.com"),
        Promotion(old.version, "2020-02-01T00:00:00+00:00", "bob"),
    ]


def test_a_first_training_that_races_another_uses_the_experiment_it_made(
    store: MlflowRegistry, settings: config.Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    raced = MlflowRegistry(replace(settings, model_name="raced-model"))
    made = raced.client.create_experiment("raced-model")
    look_up = raced.client.get_experiment_by_name
    looks: list[str] = []

    def too_early(name: str) -> object:
        # The first look comes before the other member created it.
        looks.append(name)
        return None if len(looks) == 1 else look_up(name)

    monkeypatch.setattr(raced.client, "get_experiment_by_name", too_early)

    assert raced._experiment_id() == made
    assert len(looks) == 2
