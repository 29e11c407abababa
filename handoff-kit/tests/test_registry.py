"""The model registry, either backend: versions, aliases, records, loading and promotion.

Each test runs against the file registry and against MLflow's (embedded, SQLite);
a backend's registry is shared by the module's tests, so they assert on what they
added, never on what the registry held before.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pandas as pd
import pytest
from conftest import MODEL_NAME, build_project, fitted, houses, manifest

from handoff_kit import config, gate, registry
from handoff_kit.registry import (
    CANDIDATE,
    CHAMPION,
    ModelVersion,
    Promotion,
    Registry,
    RegistryError,
)
from handoff_kit.registry.file_store import FileRegistry
from handoff_kit.registry.records import contract_signature
from sample_model.model import RateModel

# MLflow takes seconds to import and to open a store: one worker runs them all.
pytestmark = pytest.mark.xdist_group("mlflow")
MLFLOW = pytest.param("mlflow", marks=pytest.mark.mlflow)

CARD = "# Model card\n\nA test model.\n"
EXAMPLE = houses(3).drop(columns="sold")


@pytest.fixture(scope="module", params=["files", MLFLOW])
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> config.Settings:
    """The settings of a project with the file registry, or with MLflow's."""
    if request.param == "mlflow":
        return config.load(request.getfixturevalue("mlflow_project"))
    return config.load(build_project(tmp_path_factory.mktemp("files") / "project"))


@pytest.fixture(scope="module")
def store(backend: config.Settings) -> Registry:
    return registry.open_registry(backend)


@pytest.fixture(scope="module")
def model() -> RateModel:
    return fitted()


def register(
    store: Registry, settings: config.Settings, **changes: object
) -> ModelVersion:
    return store.register(fitted(), manifest(settings, **changes), CARD, EXAMPLE)


def test_a_new_version_becomes_the_candidate_with_its_records(
    store: Registry, backend: config.Settings
) -> None:
    version = register(store, backend)

    assert store.find(CANDIDATE) == version
    assert CANDIDATE in version.aliases
    assert version.name == MODEL_NAME
    assert version.uri == f"models:/{MODEL_NAME}/{version.version}"
    assert version.manifest == manifest(backend)
    assert version.manifest.signature == contract_signature(backend.contract)
    assert store.card(version) == CARD


def test_a_version_records_the_contract_it_was_trained_under_and_reads_it_back(
    store: Registry, backend: config.Settings
) -> None:
    contract = gate.current_contract(backend)

    recorded = register(store, backend, contract=contract)
    older = register(store, backend)

    assert store.get(recorded.version).manifest.contract == contract
    assert store.get(older.version).manifest.contract is None, (
        "a version that recorded no contract (an older kit's) must read as None"
    )


def test_versions_count_up_and_the_candidate_moves_to_the_newest(
    store: Registry, backend: config.Settings
) -> None:
    first = register(store, backend)
    second = register(store, backend, contract_version="1.1.0")

    assert int(second.version) == int(first.version) + 1
    assert store.find(CANDIDATE) == second
    assert CANDIDATE not in store.get(first.version).aliases
    assert store.get(first.version).manifest.contract_version == "1.0.0"
    assert store.get(second.version).manifest.contract_version == "1.1.0"


def test_the_loaded_model_predicts_what_the_trained_one_did(
    store: Registry, backend: config.Settings, model: RateModel
) -> None:
    version = register(store, backend)

    loaded = registry.load(f"models:/{MODEL_NAME}/{version.version}", backend)

    pd.testing.assert_frame_equal(loaded.predict(EXAMPLE), model.predict(EXAMPLE))


def test_promotion_moves_the_champion_and_keeps_the_history(
    store: Registry, backend: config.Settings
) -> None:
    first = register(store, backend)
    second = register(store, backend)

    store.promote(first, by="ada@example.com", at="2026-01-01T00:00:00+00:00")
    store.promote(second, by="bob@example.com", at="2026-02-01T00:00:00+00:00")
    store.promote(first, by="ada@example.com", at="2026-03-01T00:00:00+00:00")

    champion = store.find(CHAMPION)
    assert champion is not None
    assert champion.version == first.version
    assert CHAMPION in champion.aliases
    assert store.promotions()[-3:] == [
        Promotion(first.version, "2026-01-01T00:00:00+00:00", "ada@example.com"),
        Promotion(second.version, "2026-02-01T00:00:00+00:00", "bob@example.com"),
        Promotion(first.version, "2026-03-01T00:00:00+00:00", "ada@example.com"),
    ]


def test_a_missing_alias_is_none_and_a_missing_version_an_error(
    store: Registry,
) -> None:
    assert store.find("nonexistent") is None
    with pytest.raises(RegistryError) as refused:
        store.get("999")
    assert (
        str(refused.value) == f"{MODEL_NAME} has no version 999 in {store.location()}"
    )


@pytest.mark.parametrize(
    ("uri", "error"),
    [
        ("models/model.pkl", f"'models/model.pkl' is not a model URI: use models:/{MODEL_NAME}@champion (by alias) or models:/{MODEL_NAME}/1 (by version)"),
        (f"models:/{MODEL_NAME}", f"'models:/{MODEL_NAME}' is not a model URI: use models:/{MODEL_NAME}@champion (by alias) or models:/{MODEL_NAME}/1 (by version)"),
        ("models:/another-model@champion", f"models:/another-model@champion: this project's registry holds {MODEL_NAME!r}, not 'another-model'"),
        (f"models:/{MODEL_NAME}@nonexistent", f"models:/{MODEL_NAME}@nonexistent: no version has the alias 'nonexistent' in {{location}}"),
        (f"models:/{MODEL_NAME}/999", f"{MODEL_NAME} has no version 999 in {{location}}"),
    ],
    ids=["path", "no-alias", "other-model", "unknown-alias", "unknown-version"],
)  # fmt: skip
def test_a_uri_naming_no_model_here_is_refused_with_the_reason(
    store: Registry, uri: str, error: str
) -> None:
    with pytest.raises(RegistryError) as refused:
        registry.resolve(store, uri, MODEL_NAME)

    assert str(refused.value) == error.format(location=store.location())


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (f"models:/{MODEL_NAME}@champion", (MODEL_NAME, "alias", "champion")),
        (f"models:/{MODEL_NAME}/12", (MODEL_NAME, "version", "12")),
    ],
)
def test_model_uris_name_a_version_or_an_alias(
    uri: str, expected: tuple[str, str, str]
) -> None:
    assert registry.parse_uri(uri, MODEL_NAME) == expected


# --- Without a trained model ------------------------------------------------------


@pytest.mark.parametrize(
    ("alias", "hint"),
    [(CANDIDATE, ": run `make train`"), (CHAMPION, ": run `make promote`")],
)
def test_an_empty_registry_says_which_command_makes_the_alias(
    settings: config.Settings, alias: str, hint: str
) -> None:
    store = registry.open_registry(settings)

    with pytest.raises(RegistryError) as refused:
        registry.resolve(store, f"models:/{MODEL_NAME}@{alias}", MODEL_NAME)

    assert str(refused.value).endswith(
        f"no version has the alias {alias!r} in {store.location()}{hint}"
    )


def test_an_empty_project_has_no_candidate_and_asking_creates_nothing(
    settings: config.Settings,
) -> None:
    before = sorted(settings.root.rglob("*"))

    assert registry.open_registry(settings).find(CANDIDATE) is None
    assert registry.open_registry(settings).promotions() == []
    assert sorted(settings.root.rglob("*")) == before


# --- The file registry's folders -----------------------------------------------------


def test_the_file_registry_keeps_a_folder_per_version_and_an_index(
    settings: config.Settings,
) -> None:
    store = FileRegistry(settings)
    version = register(store, settings)

    folder = settings.root / "models" / MODEL_NAME / version.version
    assert sorted(p.name for p in folder.iterdir()) == [
        "example.csv", "manifest.json", "model.pkl", "model_card.md",
    ]  # fmt: skip
    pd.testing.assert_frame_equal(pd.read_csv(folder / "example.csv"), EXAMPLE)
    index = json.loads((folder.parent / "registry.json").read_text())
    assert index == {"aliases": {"candidate": "1"}, "promotions": []}
    assert store.location() == f"the file registry {folder.parent}/"


def test_a_folder_without_a_manifest_is_an_aborted_run_and_its_number_is_skipped(
    settings: config.Settings,
) -> None:
    store = FileRegistry(settings)
    (settings.root / "models" / MODEL_NAME / "1").mkdir(parents=True)

    assert register(store, settings).version == "2"
    with pytest.raises(RegistryError, match="has no version 1"):
        store.get("1")


def test_loading_a_file_that_is_not_the_contracts_model_is_refused(
    settings: config.Settings,
) -> None:
    store = FileRegistry(settings)
    version = register(store, settings)
    model_file = settings.root / "models" / MODEL_NAME / "1/model.pkl"
    model_file.write_bytes(pickle.dumps({"not": "a model"}))

    with pytest.raises(RegistryError, match=r"model.pkl holds a dict, not a Model$"):
        store.load(version)


def test_the_current_folders_project_is_the_default(project: Path) -> None:
    settings = config.load(project)
    version = register(FileRegistry(settings), settings)

    assert isinstance(registry.load(version.uri), RateModel)
