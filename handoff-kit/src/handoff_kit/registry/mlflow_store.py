"""The MLflow registry: MLflow's tracking and model registry, embedded or on a server.

By default both live in the project: a SQLite file, mlflow.db, with the model
artifacts beside it in mlartifacts/ (both git-ignored). There is nothing to
start; `mlflow ui --backend-store-uri sqlite:///mlflow.db`, run in the project's
environment, browses them.
Set MLFLOW_TRACKING_URI (e.g. https://mlflow.example.com) and every command
uses that server instead; nothing else changes. A team shares one server: MLflow
numbers the versions of members who train at once, and each promotion is a tag of
its own, so promotions at once lose none of the history. A server that does not
answer fails the command in seconds, naming the URI.
"""

from __future__ import annotations

import io
import json
import logging
import os
import pickle
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion as MlflowVersion
from mlflow.exceptions import MlflowException
from mlflow.models import Model, ModelSignature
from mlflow.pyfunc.model import PythonModel, PythonModelContext
from mlflow.types import ColSpec
from mlflow.types import Schema as MlflowSchema

from handoff_kit.config import Settings
from handoff_kit.contracts import Schema
from handoff_kit.registry import Scorer, reachable
from handoff_kit.registry.mlflow_local import (
    ARTIFACTS,
    EMBEDDED_STORE,
    SCORER,
    SCORER_FILE,
    read_scorer,
    scorer_file,
)
from handoff_kit.registry.records import (
    CANDIDATE,
    CHAMPION,
    Columns,
    Manifest,
    ModelVersion,
    Promotion,
    RegistryError,
    Signature,
)

# The API the version serves (Manifest.api), as JSON.
API_TAG = "api_contract"
# The contract it was trained under (Manifest.contract): a run artifact, since a
# tag holds 8,000 characters at most.
CONTRACT_ARTIFACT = "contract.json"
# Aliases keep no history: each promotion is a version tag of its own,
# handoff.promotion.<nanoseconds>.<pid> = "<time> <who>", so that promotions at
# once never overwrite each other. Versions promoted by kit 0.2.0 have the older
# tag handoff.promotions, one "<time> <who>" line per promotion.
PROMOTION_TAG = "handoff.promotion."
PROMOTIONS_TAG = "handoff.promotions"
# MLflow's answers when a model, version or alias does not exist.
NOT_FOUND = {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}
# MLflow sets an alias by reading it, then inserting or updating it: when two
# members set one alias at once, both may insert, and the database refuses the
# later insert (BAD_REQUEST, MLflow's answer to any SQL error) or, in SQLite, the
# later write (TEMPORARILY_UNAVAILABLE). Tried again, it finds the alias and moves it.
ALIAS_RACES = {"BAD_REQUEST", "TEMPORARILY_UNAVAILABLE"}
ALIAS_ATTEMPTS = 4
# MLflow retries a failing request for minutes by default (7 retries, backoff
# factor 2): the kit's commands are interactive, so unless the user says
# otherwise it retries twice, a second apart.
HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
}
# What MLflow prints (not logs) when it registers a version; `handoff train` says it.
REGISTRY_CHATTER = (
    "Successfully registered model ",
    "Registered model ",
    "Created version ",
)


@contextmanager
def quiet() -> Iterator[None]:
    """MLflow's INFO lines (creating tables, the uv project it found) and its advice
    on its own choices (CloudPickle, pip's version) say nothing a `handoff` user can
    act on: keep MLflow's errors only, for the duration of one of our calls."""
    logger = logging.getLogger("mlflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


class ContractModel(PythonModel):
    """A project's model as an MLflow model, so MLflow's tools can serve it too.

    MLflow enforces the signature on input; the contract's own schemas validate
    the input again (with named errors) and the output, which MLflow does not check.
    The project's model is stored once, as the SCORER artifact, which the kit reads
    without MLflow (mlflow_local.py): this wrapper's pickle leaves it out, and
    loads it from there when MLflow loads the wrapper. Versions registered by kit
    0.2.0 hold the model inside the wrapper's pickle, and no SCORER.
    """

    def __init__(
        self, model: Scorer, inputs: type[Schema], outputs: type[Schema]
    ) -> None:
        self.model = model
        self.inputs = inputs
        self.outputs = outputs

    def __getstate__(self) -> dict[str, Any]:
        return {key: value for key, value in vars(self).items() if key != "model"}

    def load_context(self, context: PythonModelContext) -> None:
        if SCORER in context.artifacts:
            self.model = read_scorer(Path(context.artifacts[SCORER]))

    def predict(
        self,
        context: PythonModelContext | None,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        features = self.inputs.validated(model_input)
        return self.outputs.validated(self.model.predict(features))


class MlflowRegistry:
    """The project's registered model in MLflow, with aliases and tags."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.name = settings.model_name
        # MLFLOW_TRACKING_URI names a server; without it, the store is embedded in the project.
        server = os.environ.get("MLFLOW_TRACKING_URI")
        self.store = None if server else settings.root / EMBEDDED_STORE
        self.tracking_uri = server or f"sqlite:///{self.store}"
        if server:
            for name, value in HTTP_DEFAULTS.items():
                os.environ.setdefault(name, value)
            reachable(server)

    @cached_property
    def client(self) -> MlflowClient:
        # Created on first use: connecting creates the embedded store's tables.
        # The registry is the tracking server's unless MLFLOW_REGISTRY_URI says otherwise.
        with quiet():
            client = MlflowClient(tracking_uri=self.tracking_uri)
            client.search_experiments(max_results=1)  # Opens the store, quietly.
        return client

    def location(self) -> str:
        return f"the MLflow registry at {self.tracking_uri}"

    def register(
        self, model: Scorer, manifest: Manifest, card: str, example: pd.DataFrame
    ) -> ModelVersion:
        contract = self.settings.contract
        run_name = f"train {manifest.git_commit[:7]}"
        with (
            self._tracking(),
            mlflow.start_run(experiment_id=self._experiment_id(), run_name=run_name),
        ):
            mlflow.log_metrics(dict(manifest.metrics))
            mlflow.log_text(card, "model_card.md")
            if manifest.contract is not None:
                mlflow.log_dict(dict(manifest.contract), CONTRACT_ARTIFACT)
            printed = io.StringIO()
            with (
                redirect_stderr(printed),
                tempfile.TemporaryDirectory(prefix="handoff-") as folder,
            ):
                scorer = Path(folder, SCORER_FILE)
                scorer.write_bytes(pickle.dumps(model))
                info = mlflow.pyfunc.log_model(
                    name="model",
                    python_model=ContractModel(
                        model, contract.model_input, contract.model_output
                    ),
                    artifacts={SCORER: str(scorer)},
                    signature=to_mlflow(manifest.signature),
                    input_example=example,
                    # Pinned, so MLflow need not guess them (it would start a process).
                    pip_requirements=requirements(self.settings.distribution),
                    registered_model_name=self.name,
                )
        for line in printed.getvalue().splitlines():
            if not line.startswith(REGISTRY_CHATTER):
                print(line, file=sys.stderr)
        version = str(info.registered_model_version)
        for key, value in tags(manifest).items():
            self.client.set_model_version_tag(self.name, version, key, value)
        self.client.update_model_version(self.name, version, description=card)
        self._point(CANDIDATE, version)
        return self.get(version)

    def get(self, version: str) -> ModelVersion:
        if self.store is not None and not self.store.exists():
            # Nothing trained yet: say so, and do not create an empty store.
            msg = (
                f"{self.name} has no version {version}: nothing is registered in "
                f"{self.location()} yet; `make train` registers the first"
            )
            raise RegistryError(msg)
        try:
            found = self.client.get_model_version(self.name, version)
        except MlflowException as error:
            if error.error_code in NOT_FOUND:
                msg = f"{self.name} has no version {version} in {self.location()}"
                raise RegistryError(msg) from None
            raise
        return self._version(found)

    def find(self, alias: str) -> ModelVersion | None:
        if self.store is not None and not self.store.exists():
            return None  # Nothing trained yet: do not create an empty store.
        try:
            found = self.client.get_model_version_by_alias(self.name, alias)
        except MlflowException as error:
            if error.error_code in NOT_FOUND:
                return None
            raise
        return self._version(found)

    def card(self, version: ModelVersion) -> str:
        return str(
            self.client.get_model_version(self.name, version.version).description
        )

    def load(self, version: ModelVersion) -> Scorer:
        # The python_function flavour's pickle, read directly: mlflow.pyfunc.load_model
        # would check the environment (the model's pip requirements against every
        # installed distribution, Python's version), which the candidate gate does
        # with the environment lock instead, and wrap the model in layers unused here.
        with self._tracking(), tempfile.TemporaryDirectory() as folder:
            local = Path(
                mlflow.artifacts.download_artifacts(
                    artifact_uri=version.uri, dst_path=folder
                )
            )
            flavor = Model.load(local).flavors.get("python_function", {})
            pickled = local / str(flavor.get("python_model", "python_model.pkl"))
            wrapper: object = None
            if pickled.is_file():
                # Unpickling runs code: the registry holds this project's models.
                wrapper = pickle.loads(pickled.read_bytes())  # noqa: S301
            if not isinstance(wrapper, ContractModel):
                held = (
                    "no Python model"
                    if wrapper is None
                    else f"a {type(wrapper).__name__}"
                )
                msg = (
                    f"{version} was not registered by `handoff train`: it holds {held}"
                )
                raise RegistryError(msg)
            if not hasattr(wrapper, "model"):  # Stored apart, as SCORER.
                scorer = scorer_file(local)
                if scorer is None:
                    msg = f"{version} holds no model: its {SCORER} artifact is missing"
                    raise RegistryError(msg)
                wrapper.model = read_scorer(scorer)
        return wrapper.model

    def promote(self, version: ModelVersion, by: str, at: str) -> None:
        # Recorded first, then the alias moved. Two promotions at once may move
        # the alias in either order: each promoter then points it at the newest
        # promotion recorded, so the alias and the history end up agreeing.
        key = f"{PROMOTION_TAG}{time.time_ns()}.{os.getpid()}"
        self.client.set_model_version_tag(self.name, version.version, key, f"{at} {by}")
        self._point(CHAMPION, version.version)
        newest = self._history()[-1][2]
        if newest.version != version.version:
            self._point(CHAMPION, newest.version)

    def _point(self, alias: str, version: str) -> None:
        """Point the alias at the version, again if another member's move collided."""
        for attempt in range(1, ALIAS_ATTEMPTS + 1):
            try:
                self.client.set_registered_model_alias(self.name, alias, version)
            except MlflowException as error:
                if error.error_code not in ALIAS_RACES or attempt == ALIAS_ATTEMPTS:
                    raise
                time.sleep(0.05 * attempt)
            else:
                return

    def promotions(self) -> list[Promotion]:
        return [promotion for _, _, promotion in self._history()]

    def _history(self) -> list[tuple[str, str, Promotion]]:
        """Every promotion as (time, tag, promotion), oldest first; the tag orders
        promotions recorded in the same second."""
        found = []
        for version in self.client.search_model_versions(f"name = '{self.name}'"):
            number = str(version.version)
            for key, value in version.tags.items():
                lines = value.splitlines() if key == PROMOTIONS_TAG else [value]
                if key == PROMOTIONS_TAG or key.startswith(PROMOTION_TAG):
                    for line in lines:
                        at, _, by = line.partition(" ")
                        found.append((at, key, Promotion(number, at, by)))
        return sorted(found, key=lambda entry: entry[:2])

    @contextmanager
    def _tracking(self) -> Iterator[None]:
        """Point MLflow's module-level functions at this registry, for a moment.

        They read a global URI, and setting it also sets MLFLOW_TRACKING_URI,
        which would make the next registry opened in this process a "server" one.
        """
        server = os.environ.get("MLFLOW_TRACKING_URI")
        mlflow.set_tracking_uri(self.tracking_uri)
        try:
            with quiet():
                yield
        finally:
            if server is None:
                os.environ.pop("MLFLOW_TRACKING_URI", None)

    def _experiment_id(self) -> str:
        experiment = self.client.get_experiment_by_name(self.name)
        if experiment is not None:
            return str(experiment.experiment_id)
        # A server stores artifacts where it is configured to; the embedded
        # store keeps them beside mlflow.db.
        location = (
            None if self.store is None else self.store.with_name(ARTIFACTS).as_uri()
        )
        try:
            return str(
                self.client.create_experiment(self.name, artifact_location=location)
            )
        except MlflowException as error:
            # Another member's first training created it a moment ago.
            experiment = self.client.get_experiment_by_name(self.name)
            if error.error_code != "RESOURCE_ALREADY_EXISTS" or experiment is None:
                raise
            return str(experiment.experiment_id)

    def _version(self, version: MlflowVersion) -> ModelVersion:
        info = mlflow.models.get_model_info(f"models:/{self.name}/{version.version}")
        metrics = (
            self.client.get_run(version.run_id).data.metrics if version.run_id else {}
        )
        recorded = version.tags
        manifest = Manifest(
            contract_version=recorded.get("contract_version", "none"),
            git_commit=recorded.get("git_commit", "unknown"),
            lock_hash=recorded.get("lock_hash", "none"),
            data_sources=tuple(
                filter(None, recorded.get("data_sources", "").split(","))
            ),
            metrics=metrics,
            signature=from_mlflow(info.signature),
            created_at=recorded.get("created_at", ""),
            kit_version=recorded.get("kit_version", ""),
            api=json.loads(recorded[API_TAG]) if API_TAG in recorded else None,
            trained_by=recorded.get("trained_by", ""),
            contract=self._contract(version.run_id),
        )
        return ModelVersion(
            self.name, str(version.version), manifest, tuple(sorted(version.aliases))
        )

    def _contract(self, run_id: str | None) -> dict[str, Any] | None:
        """The contract a run recorded; None for a run without one (an older kit's)."""
        if not run_id:
            return None
        with tempfile.TemporaryDirectory(prefix="handoff-") as folder:
            try:
                path = self.client.download_artifacts(run_id, CONTRACT_ARTIFACT, folder)
            except (MlflowException, OSError):
                return None
            contract: dict[str, Any] = json.loads(Path(path).read_text())
        return contract


def tags(manifest: Manifest) -> dict[str, str]:
    """The manifest as model version tags (metrics and signature are stored by MLflow)."""
    api = {} if manifest.api is None else {API_TAG: json.dumps(manifest.api)}
    return api | {
        "contract_version": manifest.contract_version,
        "git_commit": manifest.git_commit,
        "lock_hash": manifest.lock_hash,
        "data_sources": ",".join(manifest.data_sources),
        "created_at": manifest.created_at,
        "kit_version": manifest.kit_version,
        "trained_by": manifest.trained_by,
    }


def to_mlflow(signature: Signature) -> ModelSignature:
    def schema(columns: Columns) -> MlflowSchema:
        return MlflowSchema(
            [ColSpec(kind, name, required=required) for name, kind, required in columns]
        )

    return ModelSignature(
        inputs=schema(signature.inputs), outputs=schema(signature.outputs)
    )


def from_mlflow(signature: ModelSignature | None) -> Signature:
    """The recorded signature; a model logged without one has no columns."""
    if signature is None:
        return Signature((), ())

    def columns(schema: MlflowSchema | None) -> Columns:
        specs = schema.to_dict() if schema is not None else []
        return tuple((spec["name"], spec["type"], spec["required"]) for spec in specs)

    return Signature(columns(signature.inputs), columns(signature.outputs))


def requirements(distribution: str) -> list[str]:
    """The project's and the kit's run-time dependencies, pinned to the versions
    installed now: the model's honest dependency record."""
    pinned: dict[str, str] = {}
    for owner in (distribution, "handoff-kit"):
        try:
            required = metadata.requires(owner) or []
        except metadata.PackageNotFoundError:
            continue
        for requirement in required:
            name = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
            if name is None or name[0] in pinned:
                continue
            try:
                pinned[name[0]] = f"{name[0]}=={metadata.version(name[0])}"
            except metadata.PackageNotFoundError:
                continue  # An extra that was not installed.
    return sorted(pinned.values())
