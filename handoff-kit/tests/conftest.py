"""A sample Handoff project, built in a temporary folder for each test that asks.

The project's own code is the real package in sample_project/sample_model
(importable for the whole session); the fixtures write what surrounds it: its
pyproject.toml with [tool.handoff], its data catalog and data, and a copy of the
package and its acceptance scenario where [tool.handoff] says they are.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from hypothesis.configuration import set_hypothesis_home_dir

from handoff_kit import config
from handoff_kit.registry import Manifest
from handoff_kit.registry.records import contract_signature
from sample_model.contracts import Features
from sample_model.model import RateModel

SAMPLE = Path(__file__).parent / "sample_project"

# hypothesis keeps what it found beside the other tools' caches, never in this folder,
# which every project copies.
set_hypothesis_home_dir(
    Path(__file__).parents[2] / ".tools" / "handoff-kit" / "hypothesis"
)
MODEL_NAME = "sample-model"

# [tool.handoff] of the sample project; tests change or drop keys.
HANDOFF: dict[str, str] = {
    "package": "sample_model",
    "package-dir": "package/src/sample_model",
    "contracts": "sample_model.contracts",
    "model-input": "sample_model.contracts:Features",
    "model-output": "sample_model.contracts:Predictions",
    "model-interface": "sample_model.contracts:Model",
    "train": "sample_model.training:train",
    "model-name": MODEL_NAME,
    "registry": "files",
}

SOURCE = """\
name: {name}
description: {description}
owner: {owner}
tier: {tier}
status: {status}
location: {location}
schema: {schema}
"""
# The catalog: an official source with a schema, an unofficial one without.
SOURCES = {
    "houses": {
        "description": "Houses on the market, and whether they sold.",
        "owner": "ada@example.com",
        "tier": "silver",
        "status": "official",
        "location": "data/houses.csv",
        "schema": "Features",
    },
    "survey": {
        "description": "What buyers said, scraped from a forum.",
        "owner": "bob@example.com",
        "tier": "bronze",
        "status": "unofficial",
        "location": "data/survey.csv",
        "schema": "null",
    },
}


def toml_value(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value).lower()


def write_pyproject(root: Path, drop: tuple[str, ...] = (), **changes: object) -> Path:
    """The sample project's pyproject.toml; `changes` use the keys' Python names
    (model_name for model-name), `drop` removes keys."""
    table = {**HANDOFF, **{key.replace("_", "-"): v for key, v in changes.items()}}
    lines = [
        "[project]",
        'name = "sample-project"',
        'description = "Scores houses on the market: will they sell?"',
        "",
        "[tool.handoff]",
        *(f"{key} = {toml_value(v)}" for key, v in table.items() if key not in drop),
    ]
    path = root / "pyproject.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def add_source(catalog: Path, name: str, **fields: str) -> Path:
    """A catalog file for `name`: the sample's fields for it (or for houses), changed."""
    catalog.mkdir(parents=True, exist_ok=True)
    file = catalog / f"{name}.yml"
    file.write_text(
        SOURCE.format(
            **{**SOURCES.get(name, SOURCES["houses"]), "name": name, **fields}
        )
    )
    return file


def houses(rows: int = 50) -> pd.DataFrame:
    """The official source's data: flats sell more often than houses."""
    return pd.DataFrame(
        {
            "rooms": [i % 5 + 1 for i in range(rows)],
            "kind": ["house" if i % 3 == 0 else "flat" for i in range(rows)],
            "sold": [i % 3 != 0 and i % 4 != 0 for i in range(rows)],
        }
    )


def build_project(root: Path) -> Path:
    """Write the whole sample project into `root`."""
    root.mkdir(parents=True, exist_ok=True)
    write_pyproject(root)
    for name in SOURCES:
        add_source(root / "data/catalog", name)
    houses().to_csv(root / "data/houses.csv", index=False)
    shutil.copytree(SAMPLE / "sample_model", root / "package/src/sample_model")
    shutil.copytree(SAMPLE / "acceptance", root / "package/tests/acceptance")
    (root / "research").mkdir()
    (root / "uv.lock").write_text("# the sample project's environment lock\n")
    return root


def fitted() -> RateModel:
    """The sample model, trained on all the houses."""
    rows = houses()
    return RateModel().fit(Features.validated(rows.drop(columns="sold")), rows["sold"])


def predict_without_mlflow(
    model: str, rows: Path, root: Path
) -> subprocess.CompletedProcess[str]:
    """`handoff predict` of `rows` in the project at `root`, in a fresh process of this
    interpreter in which `import mlflow` (or of any mlflow.*) raises ImportError."""
    script = (
        "import sys\n"
        "sys.modules['mlflow'] = None\n"
        "from handoff_kit.cli import main\n"
        f"sys.exit(main(['predict', '--model', {model!r}, '--input', {str(rows)!r}]))\n"
    )
    return subprocess.run(  # This interpreter, a script of the test's own.
        [sys.executable, "-c", script],
        cwd=root,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        capture_output=True,
        text=True,
        check=False,
    )


def manifest(settings: config.Settings, **changes: object) -> Manifest:
    """What `handoff train` records, for the sample contract, with `changes`."""
    recorded: dict[str, object] = {
        "contract_version": "1.0.0",
        "git_commit": "0123abc",
        "lock_hash": "sha256:feed",
        "data_sources": ("houses",),
        "metrics": {"brier_score": 0.125},
        "signature": contract_signature(settings.contract),
        "created_at": "2026-01-02T03:04:05+00:00",
        "kit_version": "0.2.0",
    }
    return Manifest(**{**recorded, **changes})


@pytest.fixture(scope="session", autouse=True)
def sample_package() -> Iterator[Path]:
    """The sample package imports in the processes the tests start (the acceptance
    scenarios) as it does in this one (`pythonpath` in pyproject.toml); MLflow never
    uses a server a developer's environment names."""
    with pytest.MonkeyPatch.context() as patch:
        path = os.environ.get("PYTHONPATH")
        patch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(SAMPLE), path])))
        # Plugins of the template repository's environment the scenarios never use.
        patch.setenv("PYTEST_ADDOPTS", "-p no:cookies -p no:anyio -p no:xdist")
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        yield SAMPLE


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The sample project, with the file registry, as the current folder."""
    root = build_project(tmp_path / "project")
    monkeypatch.chdir(root)
    return root


@pytest.fixture
def settings(project: Path) -> config.Settings:
    return config.load(project)


@pytest.fixture(scope="session")
def mlflow_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A sample project with the MLflow registry, shared by the session's tests:
    importing MLflow and creating its store take seconds, so it happens once."""
    root = build_project(tmp_path_factory.mktemp("mlflow") / "project")
    write_pyproject(root, registry="mlflow")
    return root
