"""The file-based registry: one folder per version under models/, no server.

    models/<model-name>/
      registry.json      the aliases (candidate, champion) and every promotion
      registry.lock      held by whoever writes (a file lock: registering, promoting)
      registry.lock.holder   who holds it: user, host, process, command
      1/model.pkl        the model, pickled
      1/manifest.json    contract version, commit, lock hash, data, metrics, signature
      1/model_card.md    what the model predicts, for whom, from what
      1/example.csv      a few input rows, as an example of a valid request

models/ is git-ignored: share a version by copying its folder. A team that
shares many versions is better served by an MLflow registry server.

Every write takes the lock, so processes that train or promote at once (two
terminals, a scheduled job) get distinct versions and a complete history; one
that waits says who holds the lock. The operating system releases the lock of a
process that dies, so none is ever left stale.
"""

from __future__ import annotations

import getpass
import json
import os
import pickle
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
from filelock import FileLock, Timeout

from handoff_kit.config import Settings
from handoff_kit.registry import Scorer
from handoff_kit.registry.records import (
    CANDIDATE,
    CHAMPION,
    Manifest,
    ModelVersion,
    Promotion,
    RegistryError,
    manifest_json,
)

# Waiting longer than this for the lock is reported, with who holds it.
QUIET_WAIT = 1.0
# Then the writer waits this long at most before giving up with the holder named.
LONGEST_WAIT = 600.0


def holder() -> str:
    """This process, as a waiting writer is told about it."""
    command = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "?"
    return (
        f"{getpass.getuser()} on {socket.gethostname()} (pid {os.getpid()}: {command})"
    )


class FileRegistry:
    """Model versions in folders, aliases and promotions in registry.json."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.name = settings.model_name
        self.home = settings.root / "models" / self.name
        self.index = self.home / "registry.json"
        self.lock = self.home / "registry.lock"
        self.holder = self.home / "registry.lock.holder"

    def location(self) -> str:
        return f"the file registry {self.home}/"

    def register(
        self, model: Scorer, manifest: Manifest, card: str, example: pd.DataFrame
    ) -> ModelVersion:
        with self._locked():
            numbers = [int(path.name) for path in self._version_dirs()]
            version = str(max(numbers, default=0) + 1)
            folder = self.home / version
            folder.mkdir(parents=True)
            (folder / "model.pkl").write_bytes(pickle.dumps(model))
            (folder / "model_card.md").write_text(card)
            example.to_csv(folder / "example.csv", index=False)
            # The manifest is written last: a folder without one is an aborted run.
            (folder / "manifest.json").write_text(manifest_json(manifest))
            index = self._read_index()
            index["aliases"][CANDIDATE] = version
            self._write_index(index)
            return self.get(version)

    def get(self, version: str) -> ModelVersion:
        manifest = self.home / version / "manifest.json"
        if not manifest.is_file():
            msg = f"{self.name} has no version {version} in {self.location()}"
            raise RegistryError(msg)
        aliases = self._read_index()["aliases"]
        return ModelVersion(
            name=self.name,
            version=version,
            manifest=Manifest.from_json(json.loads(manifest.read_text())),
            aliases=tuple(sorted(a for a, v in aliases.items() if v == version)),
        )

    def find(self, alias: str) -> ModelVersion | None:
        version = self._read_index()["aliases"].get(alias)
        return None if version is None else self.get(version)

    def card(self, version: ModelVersion) -> str:
        return (self.home / version.version / "model_card.md").read_text()

    def load(self, version: ModelVersion) -> Scorer:
        path = self.home / version.version / "model.pkl"
        # Unpickling runs code: the registry holds only models this project trained.
        model: Scorer = pickle.loads(path.read_bytes())  # noqa: S301
        interface = self.settings.contract.model_interface
        if not isinstance(model, interface):
            msg = f"{path} holds a {type(model).__name__}, not a {interface.__name__}"
            raise RegistryError(msg)
        return model

    def promote(self, version: ModelVersion, by: str, at: str) -> None:
        with self._locked():
            index = self._read_index()
            index["aliases"][CHAMPION] = version.version
            index["promotions"].append({"version": version.version, "at": at, "by": by})
            self._write_index(index)

    def promotions(self) -> list[Promotion]:
        return [Promotion(**entry) for entry in self._read_index()["promotions"]]

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the registry's lock, saying who holds it when it must wait."""
        self.home.mkdir(parents=True, exist_ok=True)
        lock = FileLock(self.lock)
        try:
            lock.acquire(timeout=QUIET_WAIT)
        except Timeout:
            print(
                f"Waiting for {self.location()}: {self._holder()} is writing to it.",
                file=sys.stderr,
                flush=True,
            )
            try:
                lock.acquire(timeout=LONGEST_WAIT)
            except Timeout:
                msg = (
                    f"{self.location()} stayed locked for {LONGEST_WAIT:.0f} s by "
                    f"{self._holder()}: stop that process, or wait and try again"
                )
                raise RegistryError(msg) from None
        try:
            self.holder.write_text(holder() + "\n")
            yield
        finally:
            self.holder.unlink(missing_ok=True)
            lock.release()

    def _holder(self) -> str:
        try:
            return self.holder.read_text().strip() or "another process"
        except FileNotFoundError:  # It has just let go.
            return "another process"

    def _version_dirs(self) -> list[Path]:
        if not self.home.is_dir():
            return []
        return [path for path in self.home.iterdir() if path.name.isdigit()]

    def _read_index(self) -> dict[str, Any]:
        if not self.index.is_file():
            return {"aliases": {}, "promotions": []}
        index: dict[str, Any] = json.loads(self.index.read_text())
        return index

    def _write_index(self, index: dict[str, Any]) -> None:
        # Write then rename, so an interrupted write never leaves half a file.
        self.home.mkdir(parents=True, exist_ok=True)
        partial = self.index.with_suffix(".json.partial")
        partial.write_text(json.dumps(index, indent=2) + "\n")
        partial.replace(self.index)
