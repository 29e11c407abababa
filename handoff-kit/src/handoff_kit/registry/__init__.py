"""The model registry: where research hands trained models to production.

`handoff train` registers each new model version under the alias `candidate`;
`handoff promote` moves the alias `champion` to it once the handoff gate passes;
production loads a model by alias, e.g. `models:/churn-model@champion`.

Two backends, chosen by `registry` in [tool.handoff]:
- "mlflow" (mlflow_store.py): MLflow's registry, a SQLite file in the project by
  default, or the server that MLFLOW_TRACKING_URI names;
- "files" (file_store.py): a folder per version under models/, with a manifest
  and the aliases in models/<model-name>/registry.json.
"""

from __future__ import annotations

import os
import re
from typing import Any, Literal, Protocol

import pandas as pd

from handoff_kit import config
from handoff_kit.registry.records import (
    CANDIDATE,
    CHAMPION,
    Manifest,
    ModelVersion,
    Promotion,
    RegistryError,
)

__all__ = [
    "CANDIDATE",
    "CHAMPION",
    "Manifest",
    "ModelVersion",
    "Promotion",
    "Registry",
    "RegistryError",
    "Scorer",
    "load",
    "open_registry",
    "parse_uri",
    "reachable",
    "resolve",
]

# How long a tracking server has to answer the first request.
REACHABLE_WITHIN = 5.0
# models:/<name>@<alias> or models:/<name>/<version>, as MLflow writes them.
MODEL_URI = re.compile(
    r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[\w-]+)|/(?P<version>\d+))$"
)


class Scorer(Protocol):
    """What the kit needs of a model: it scores a frame of features."""

    def predict(self, features: Any) -> pd.DataFrame:  # noqa: ANN401  # The project's schema types.
        """One prediction per row of `features`, in the same order."""
        ...


class Registry(Protocol):
    """What train, the gate, promote and predict need of a registry."""

    def location(self) -> str:
        """Where the registry is, for messages."""
        ...

    def register(
        self, model: Scorer, manifest: Manifest, card: str, example: pd.DataFrame
    ) -> ModelVersion:
        """Store a new version with its records and make it the candidate."""
        ...

    def get(self, version: str) -> ModelVersion:
        """A version by number; RegistryError when there is none."""
        ...

    def find(self, alias: str) -> ModelVersion | None:
        """The version an alias points to, or None."""
        ...

    def card(self, version: ModelVersion) -> str:
        """The version's model card (Markdown)."""
        ...

    def load(self, version: ModelVersion) -> Scorer:
        """The model object of a version, ready to predict."""
        ...

    def promote(self, version: ModelVersion, by: str, at: str) -> None:
        """Point `champion` at `version` and record the promotion."""
        ...

    def promotions(self) -> list[Promotion]:
        """Every promotion so far, oldest first: the history of champions."""
        ...


def open_registry(settings: config.Settings) -> Registry:
    """The registry of the project `settings` describe."""
    if settings.registry == "mlflow":
        # A server that does not answer is reported before MLflow's import.
        reachable(os.environ.get("MLFLOW_TRACKING_URI", ""))
        # Importing MLflow takes seconds: only commands that use it pay for it.
        from handoff_kit.registry.mlflow_store import MlflowRegistry  # noqa: PLC0415

        return MlflowRegistry(settings)
    from handoff_kit.registry.file_store import FileRegistry  # noqa: PLC0415

    return FileRegistry(settings)


def reachable(uri: str) -> None:
    """Fail in seconds, naming `uri`, when an HTTP tracking server does not answer.

    MLflow itself would retry for minutes and end with a traceback. Any HTTP
    answer counts: whether the server lets this user in is MLflow's to say.
    """
    if not uri.startswith(("http://", "https://")):
        return  # A database or a folder: MLflow's own errors name it.
    import urllib.error  # noqa: PLC0415  # Only a server's commands need HTTP.
    import urllib.request  # noqa: PLC0415

    try:
        health = f"{uri.rstrip('/')}/health"
        # The URI is the user's own setting, http(s) only (checked above).
        with urllib.request.urlopen(health, timeout=REACHABLE_WITHIN):  # noqa: S310
            pass
    except urllib.error.HTTPError:
        pass
    except (OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        msg = (
            f"cannot reach the MLflow tracking server at {uri} (MLFLOW_TRACKING_URI): "
            f"{reason}; start the server, fix MLFLOW_TRACKING_URI, or unset it to "
            "use the project's own registry"
        )
        raise RegistryError(msg) from None


def parse_uri(
    uri: str, model_name: str
) -> tuple[str, Literal["alias", "version"], str]:
    """(name, "alias" or "version", which one) of a models:/ URI."""
    match = MODEL_URI.match(uri)
    if match is None:
        msg = (
            f"{uri!r} is not a model URI: use models:/{model_name}@{CHAMPION} "
            f"(by alias) or models:/{model_name}/1 (by version)"
        )
        raise RegistryError(msg)
    if match["alias"]:
        return match["name"], "alias", match["alias"]
    return match["name"], "version", match["version"]


def named(uri: str, model_name: str) -> tuple[Literal["alias", "version"], str]:
    """("alias" or "version", which one) of a models:/ URI naming this project's model."""
    name, kind, which = parse_uri(uri, model_name)
    if name != model_name:
        msg = f"{uri}: this project's registry holds {model_name!r}, not {name!r}"
        raise RegistryError(msg)
    return kind, which


def resolve(registry: Registry, uri: str, model_name: str) -> ModelVersion:
    """The version a models:/ URI names, or RegistryError saying why there is none."""
    kind, which = named(uri, model_name)
    if kind == "version":
        return registry.get(which)
    found = registry.find(which)
    if found is None:
        hints = {CANDIDATE: ": run `make train`", CHAMPION: ": run `make promote`"}
        msg = f"{uri}: no version has the alias {which!r} in {registry.location()}{hints.get(which, '')}"
        raise RegistryError(msg)
    return found


def load(uri: str, settings: config.Settings | None = None) -> Scorer:
    """Load the model a models:/ URI names, from the project's registry.

    MLflow's embedded store is read without MLflow when that is certain
    (mlflow_local.py): a command that only scores starts seconds sooner.
    """
    settings = settings or config.load()
    if settings.registry == "mlflow":
        from handoff_kit.registry import mlflow_local  # noqa: PLC0415

        if mlflow_local.embedded():
            kind, which = named(uri, settings.model_name)
            model = mlflow_local.load(settings.root, settings.model_name, kind, which)
            if model is not None:
                return model
    registry = open_registry(settings)
    return registry.load(resolve(registry, uri, settings.model_name))
