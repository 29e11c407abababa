"""MLflow's embedded registry read without MLflow: what `handoff predict` and
`handoff score` load. It must find what MLflow's own client finds, load the same
model, and leave every other case (an older kit's versions, another store) to MLflow."""

from __future__ import annotations

import io
import pickle
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import mlflow
import pandas as pd
import pytest
from conftest import (
    MODEL_NAME,
    build_project,
    houses,
    manifest,
    predict_without_mlflow,
    write_pyproject,
)
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from handoff_kit import config, registry
from handoff_kit.registry import CANDIDATE, CHAMPION, ModelVersion, mlflow_local
from handoff_kit.registry.mlflow_local import EMBEDDED_STORE, MLMODEL, SCORER, Found
from handoff_kit.registry.mlflow_store import NOT_FOUND, ContractModel, MlflowRegistry
from sample_model.contracts import Features, Predictions
from sample_model.model import RateModel

# MLflow takes seconds to import and to open a store: one worker runs them all.
pytestmark = [pytest.mark.xdist_group("mlflow"), pytest.mark.mlflow]

EXAMPLE = houses(6).drop(columns="sold")
# What a reader may be asked: both aliases, and each version by number.
QUESTIONS: list[tuple[Literal["alias", "version"], str]] = [
    ("alias", CANDIDATE),
    ("alias", CHAMPION),
    *(("version", str(number)) for number in range(1, 5)),
]


def trained_on(rows: int) -> RateModel:
    """The sample model trained on the first `rows` houses: each differs."""
    data = houses(rows)
    return RateModel().fit(Features.validated(data.drop(columns="sold")), data["sold"])


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> config.Settings:
    """A project of this module's own: its tests delete and promote versions."""
    root = build_project(tmp_path_factory.mktemp("local") / "project")
    write_pyproject(root, registry="mlflow")
    return config.load(root)


@pytest.fixture(scope="module")
def store(settings: config.Settings) -> MlflowRegistry:
    return MlflowRegistry(settings)


@pytest.fixture(scope="module")
def client(store: MlflowRegistry) -> MlflowClient:
    return store.client


@pytest.fixture(scope="module")
def registered(store: MlflowRegistry, settings: config.Settings) -> ModelVersion:
    """A version `handoff train` registered."""
    return store.register(trained_on(30), manifest(settings), "# Card\n", EXAMPLE)


def register(store: MlflowRegistry, settings: config.Settings, rows: int) -> str:
    return store.register(
        trained_on(rows), manifest(settings), "# Card\n", EXAMPLE
    ).version


def mlflows_answer(
    client: MlflowClient, kind: Literal["alias", "version"], which: str
) -> str | None:
    """The version MLflow's client finds, or None where it finds none."""
    try:
        if kind == "alias":
            return str(client.get_model_version_by_alias(MODEL_NAME, which).version)
        return str(client.get_model_version(MODEL_NAME, which).version)
    except MlflowException as error:
        if error.error_code in NOT_FOUND:
            return None
        raise


def disagreements(
    store: MlflowRegistry, settings: config.Settings, step: str
) -> list[str]:
    """Where the reader and MLflow's client disagree: the version found, or the
    predictions of the model loaded."""
    found = []
    for kind, which in QUESTIONS:
        theirs = mlflows_answer(store.client, kind, which)
        mine = mlflow_local.find(
            settings.root / EMBEDDED_STORE, MODEL_NAME, kind, which
        )
        if (None if mine is None else mine.version) != theirs:
            found.append(
                f"after {step}, {which}: MLflow found {theirs}, the reader {mine}"
            )
        if mine is None or theirs is None:
            continue
        model = mlflow_local.load(settings.root, MODEL_NAME, kind, which)
        assert model is not None, f"after {step}: {which} did not load"
        expected = store.load(store.get(theirs)).predict(EXAMPLE)
        if not model.predict(EXAMPLE).equals(expected):
            found.append(f"after {step}, {which}: the models predict differently")
    return found


def test_the_reader_finds_what_mlflow_does_through_train_promote_train_and_delete(
    store: MlflowRegistry, settings: config.Settings
) -> None:
    found = []
    first = register(store, settings, rows=12)
    found += disagreements(store, settings, "a first train")
    store.promote(store.get(first), by="ada@example.com", at="2026-01-01T00:00:00Z")
    found += disagreements(store, settings, "a promotion")
    register(store, settings, rows=24)
    found += disagreements(store, settings, "a second train")
    deleted = register(store, settings, rows=40)
    store.client.delete_model_version(MODEL_NAME, deleted)
    found += disagreements(store, settings, f"version {deleted} was deleted")

    assert not found, "\n".join(found)
    assert mlflows_answer(store.client, "version", deleted) is None, (
        "MLflow still finds the deleted version: the last step tested nothing"
    )


def test_predict_from_the_embedded_store_runs_without_mlflow(
    store: MlflowRegistry,
    registered: ModelVersion,
    settings: config.Settings,
    tmp_path: Path,
) -> None:
    rows = tmp_path / "rows.csv"
    EXAMPLE.to_csv(rows, index=False)
    done = predict_without_mlflow(registered.uri, rows, settings.root)

    assert done.returncode == 0, f"predict needed MLflow: {done.stderr}"
    expected = store.load(registered).predict(EXAMPLE).reset_index(drop=True)
    pd.testing.assert_frame_equal(pd.read_csv(io.StringIO(done.stdout)), expected)


def test_a_version_stores_the_model_once_as_an_artifact_mlflows_serving_loads(
    store: MlflowRegistry, registered: ModelVersion
) -> None:
    found = mlflow_local.find(
        store.settings.root / EMBEDDED_STORE, MODEL_NAME, "version", registered.version
    )
    assert found is not None
    wrapper = pickle.loads((found.folder / "python_model.pkl").read_bytes())  # noqa: S301

    assert not hasattr(wrapper, "model"), "the model is stored twice"
    with store._tracking():
        served = mlflow.pyfunc.load_model(registered.uri)
    pd.testing.assert_frame_equal(
        served.predict(EXAMPLE), trained_on(30).predict(EXAMPLE)
    )


@pytest.fixture
def old_version(
    store: MlflowRegistry, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A version as kit 0.2.0 registered it: the model inside the wrapper's
    pickle, no SCORER artifact; the alias `old` points to it."""
    with monkeypatch.context() as patch:
        patch.delattr(ContractModel, "__getstate__")  # Pickled whole, as then.
        with store._tracking(), mlflow.start_run(experiment_id=store._experiment_id()):
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=ContractModel(trained_on(18), Features, Predictions),
                registered_model_name=MODEL_NAME,
                pip_requirements=[],
            )
    version = str(info.registered_model_version)
    store.client.set_registered_model_alias(MODEL_NAME, "old", version)
    yield version
    store.client.delete_registered_model_alias(MODEL_NAME, "old")


def test_a_version_an_older_kit_registered_loads_through_mlflow(
    old_version: str, settings: config.Settings
) -> None:
    uri = f"models:/{MODEL_NAME}@old"

    model = registry.load(uri, settings)

    assert mlflow_local.load(settings.root, MODEL_NAME, "alias", "old") is None, (
        "the reader loaded a version with no scorer artifact"
    )
    pd.testing.assert_frame_equal(
        model.predict(EXAMPLE), trained_on(18).predict(EXAMPLE)
    )


@pytest.mark.parametrize("setting", mlflow_local.MLFLOW_ELSEWHERE)
def test_mlflows_own_settings_leave_the_store_to_mlflow(
    setting: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(setting, "anything")

    assert not mlflow_local.embedded(), f"{setting} may name another store"


@pytest.mark.parametrize("setting", ["MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"])
def test_a_store_mlflows_settings_name_is_read_by_mlflow(
    setting: str,
    registered: ModelVersion,
    settings: config.Settings,
    store: MlflowRegistry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def unasked(*args: object) -> None:
        msg = f"the reader answered although {setting} is set"
        raise AssertionError(msg)

    monkeypatch.setattr(mlflow_local, "find", unasked)
    monkeypatch.setenv(setting, store.tracking_uri)  # This store, named.

    model = registry.load(registered.uri, settings)

    pd.testing.assert_frame_equal(
        model.predict(EXAMPLE), trained_on(30).predict(EXAMPLE)
    )


@pytest.fixture
def copied(store: MlflowRegistry, registered: ModelVersion, tmp_path: Path) -> Path:
    """A copy of the store, for the tests that break it."""
    copy = tmp_path / EMBEDDED_STORE
    shutil.copyfile(store.settings.root / EMBEDDED_STORE, copy)
    return copy


def ask(store: Path, version: str) -> Found | None:
    return mlflow_local.find(store, MODEL_NAME, "version", version)


def test_a_store_the_reader_cannot_read_for_certain_is_left_to_mlflow(
    copied: Path, registered: ModelVersion, tmp_path: Path
) -> None:
    number = registered.version
    assert ask(copied, number) is not None, "the copy is readable as it is"
    changes = {
        "a version not READY": "UPDATE model_versions SET status = 'PENDING_REGISTRATION'",
        "a remote location": "UPDATE model_versions SET storage_location = 's3://b/m'",
        "no location": "UPDATE model_versions SET storage_location = NULL",
        "a location that is gone": (
            "UPDATE model_versions SET storage_location = 'file:///nowhere/at/all'"
        ),
        "MLflow's tables changed": "ALTER TABLE model_versions RENAME COLUMN storage_location TO location",
    }
    answered = []
    for change, sql in changes.items():
        broken = tmp_path / f"{change}.db"
        shutil.copyfile(copied, broken)
        with sqlite3.connect(broken) as database:
            database.execute(sql)
        if ask(broken, number) is not None:
            answered.append(change)

    assert not answered, f"the reader answered despite {answered}"
    assert ask(tmp_path / "absent.db", number) is None
    assert ask(copied, "99999999999999999999999") is None, "too large for SQLite"
    assert mlflow_local.find(copied, MODEL_NAME, "alias", "Latest") is None, (
        "MLflow reads `latest` as the newest version, not as an alias"
    )


def test_a_model_folder_without_a_readable_scorer_is_left_to_mlflow(
    copied: Path, registered: ModelVersion, tmp_path: Path
) -> None:
    found = ask(copied, registered.version)
    assert found is not None
    folder = tmp_path / "model"
    shutil.copytree(found.folder, folder)
    described = (folder / MLMODEL).read_text()
    assert mlflow_local.scorer_file(folder) is not None, "the copy is readable"

    unreadable = []
    for change, text in {
        "not YAML": "flavors: [unclosed",
        "no python_function flavor": "flavors: {}\n",
        "no scorer": described.replace(f"{SCORER}:", "other:"),
    }.items():
        (folder / MLMODEL).write_text(text)
        if mlflow_local.scorer_file(folder) is not None:
            unreadable.append(change)
    (folder / MLMODEL).write_text(described)
    next(folder.rglob("scorer.pkl")).unlink()

    assert not unreadable, f"a scorer was found despite {unreadable}"
    assert mlflow_local.scorer_file(folder) is None, "the artifact's file is gone"
    assert mlflow_local.scorer_file(tmp_path) is None, "no MLmodel at all"


def test_a_version_whose_scorer_artifact_is_gone_is_refused_in_one_line(
    store: MlflowRegistry, settings: config.Settings
) -> None:
    version = register(store, settings, rows=20)
    found = mlflow_local.find(
        settings.root / EMBEDDED_STORE, MODEL_NAME, "version", version
    )
    assert found is not None
    next(found.folder.rglob(mlflow_local.SCORER_FILE)).unlink()

    with pytest.raises(registry.RegistryError) as refused:
        registry.load(f"models:/{MODEL_NAME}/{version}", settings)

    assert str(refused.value) == (
        f"{MODEL_NAME} version {version} (candidate) holds no model: "
        "its scorer artifact is missing"
    )
