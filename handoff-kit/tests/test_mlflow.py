"""The MLflow registry's own ways: embedded or on a server, MLflow's serving, its records."""

from __future__ import annotations

import io
import logging
import os
from contextlib import redirect_stderr
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
from mlflow.pyfunc.model import PythonModel, PythonModelContext

from handoff_kit import ContractViolation, api, config, registry
from handoff_kit.registry import CANDIDATE, ModelVersion, RegistryError
from handoff_kit.registry.mlflow_store import (
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
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "https://mlflow.example.com")

    store = MlflowRegistry(settings)

    assert store.store is None
    assert store.location() == "the MLflow registry at https://mlflow.example.com"


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
