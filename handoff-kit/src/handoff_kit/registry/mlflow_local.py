"""The embedded MLflow registry, read without MLflow: the model a version holds.

Importing MLflow and opening its store take seconds, more than the rest of
`handoff predict`. The embedded store is a SQLite file (mlflow.db) with the
model artifacts in a folder beside it, and a version registered by `handoff
train` keeps the project's model as an artifact of its own (SCORER), pickled
as the model it is. So a command that only loads a model reads the store
directly: read-only, the way MLflow's SQL store resolves an alias or a
version number (the default workspace; a deleted version is no version).

It answers only when it is certain; otherwise None, and the caller asks MLflow,
whose answers and errors stay the reference: MLflow's settings name another
store or a workspace, there is no store, no such alias or version (MLflow says
so in its words), a version not READY, a version an older kit registered (no
SCORER artifact), a store whose tables differ, any SQLite error.
"""

from __future__ import annotations

import os
import pickle
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote, urlparse

import yaml

if TYPE_CHECKING:
    from handoff_kit.registry import Scorer

# The embedded store: a SQLite file, with the artifacts in a folder beside it.
EMBEDDED_STORE = "mlflow.db"
ARTIFACTS = "mlartifacts"
# The artifact of the python_function flavour that holds the project's model.
SCORER = "scorer"
SCORER_FILE = "scorer.pkl"
# A version's MLflow model description (YAML), in its folder.
MLMODEL = "MLmodel"
# MLflow's settings that may point its client elsewhere than the project's store:
# when one is set, MLflow reads the registry.
MLFLOW_ELSEWHERE = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_REGISTRY_URI",
    "MLFLOW_ENABLE_WORKSPACES",
    "MLFLOW_WORKSPACE",
)
# MLflow's SQL store: its single workspace, the stage of a deleted version
# (STAGE_DELETED_INTERNAL), a usable version's status, and the alias it resolves
# to the newest version instead of reading its aliases table.
WORKSPACE = "default"
DELETED = "Deleted_Internal"
READY = "READY"
LATEST = "latest"
# Where a version is, by alias or by number: MLflow's get_model_version_by_alias
# and get_model_version, in SQL.
WHERE = {
    "alias": """
        SELECT v.version, v.status, v.storage_location
        FROM registered_model_aliases AS a
        JOIN model_versions AS v
          ON v.workspace = a.workspace AND v.name = a.name AND v.version = a.version
        WHERE a.workspace = ? AND a.name = ? AND a.alias = ? AND v.current_stage != ?
    """,
    "version": """
        SELECT version, status, storage_location
        FROM model_versions
        WHERE workspace = ? AND name = ? AND version = ? AND current_stage != ?
    """,
}


@dataclass(frozen=True)
class Found:
    """A version in the embedded store, and the local folder of its MLflow model."""

    version: str
    folder: Path


def embedded() -> bool:
    """Whether MLflow would use the project's own store: none of its settings says otherwise."""
    return not any(os.environ.get(name) for name in MLFLOW_ELSEWHERE)


def load(
    root: Path, name: str, kind: Literal["alias", "version"], which: str
) -> Scorer | None:
    """The model the version holds, from the embedded store of the project at
    `root` (the caller checks `embedded()`); None when the store cannot say for certain."""
    found = find(root / EMBEDDED_STORE, name, kind, which)
    scorer = None if found is None else scorer_file(found.folder)
    return None if scorer is None else read_scorer(scorer)


def find(
    store: Path, name: str, kind: Literal["alias", "version"], which: str
) -> Found | None:
    """The READY version an alias or a number names, as MLflow would find it, with
    its model's folder on this machine; None for anything else."""
    if (kind == "alias" and which.lower() == LATEST) or not store.is_file():
        return None
    key: str | int = which if kind == "alias" else int(which)
    try:
        with closing(
            sqlite3.connect(f"{store.resolve().as_uri()}?mode=ro", uri=True)
        ) as database:
            row = database.execute(
                WHERE[kind], (WORKSPACE, name, key, DELETED)
            ).fetchone()
    except (sqlite3.Error, OverflowError):
        return None
    if row is None or row[1] != READY or not isinstance(row[2], str):
        return None
    location = urlparse(row[2])
    if location.scheme != "file" or location.netloc not in {"", "localhost"}:
        return None
    folder = Path(unquote(location.path))
    return Found(str(row[0]), folder) if folder.is_dir() else None


def scorer_file(folder: Path) -> Path | None:
    """The SCORER artifact of the MLflow model in `folder`, as its MLmodel names it;
    None when it has none (a version registered by an older kit, or by other means)."""
    try:
        description = yaml.safe_load((folder / MLMODEL).read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    path = _dig(description, "flavors", "python_function", "artifacts", SCORER, "path")
    if not isinstance(path, str):
        return None
    file = folder / path
    return file if file.is_file() else None


def read_scorer(file: Path) -> Scorer:
    """The project's model, from its SCORER artifact."""
    # Unpickling runs code: the registry holds this project's models.
    model: Scorer = pickle.loads(file.read_bytes())  # noqa: S301
    return model


def _dig(tree: object, *keys: str) -> Any:  # noqa: ANN401  # Whatever the YAML holds.
    """tree[keys[0]][keys[1]]..., or None where a level is missing or not a mapping."""
    for key in keys:
        if not isinstance(tree, dict):
            return None
        tree = tree.get(key)
    return tree
