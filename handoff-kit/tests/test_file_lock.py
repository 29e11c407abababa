"""The file registry's lock: every write holds it, and a writer that waits says who holds it.

The writers are other processes, as they are for a team sharing a checkout (a
second terminal, a scheduled job): forks of the test's, in the sample project.
"""

from __future__ import annotations

import getpass
import json
import multiprocessing
import socket
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from multiprocessing.managers import DictProxy
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Barrier as BarrierType
from multiprocessing.synchronize import Event as EventType
from pathlib import Path

import pytest
from conftest import MODEL_NAME, fitted, houses, manifest

from handoff_kit import config
from handoff_kit.registry import (
    CANDIDATE,
    CHAMPION,
    ModelVersion,
    RegistryError,
    file_store,
)
from handoff_kit.registry.file_store import FileRegistry

EXAMPLE = houses(3).drop(columns="sold")

# Forked, the writers start at once, with everything already imported.
FORK = multiprocessing.get_context("fork")


def hold(took: EventType, let_go: EventType) -> None:
    """Hold the registry's lock from `took` until `let_go`."""
    with FileRegistry(config.load())._locked():
        took.set()
        let_go.wait(60)


def train_and_promote(member: str, start: BarrierType, versions: DictProxy) -> None:
    """One team member's train and promote: register a version, then promote it."""
    settings = config.load()
    store = FileRegistry(settings)
    model, recorded = fitted(), manifest(settings, trained_by=member)
    start.wait(60)
    version = store.register(model, recorded, "# Card\n", EXAMPLE)
    store.promote(version, by=member, at=datetime.now(UTC).isoformat())
    versions[member] = version.version


@pytest.fixture
def holder(project: Path) -> Iterator[tuple[BaseProcess, EventType]]:
    """Another process holding the registry's lock until its event is set."""
    took, let_go = FORK.Event(), FORK.Event()
    process = FORK.Process(target=hold, args=(took, let_go))
    process.start()
    assert took.wait(30), "the holder never took the lock"
    try:
        yield process, let_go
    finally:
        let_go.set()
        process.join(30)


def holding(process: BaseProcess) -> str:
    """How a waiting writer names `process`: a fork of this one, so this command line."""
    command = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])
    return (
        f"{getpass.getuser()} on {socket.gethostname()} (pid {process.pid}: {command})"
    )


@pytest.fixture
def impatient(monkeypatch: pytest.MonkeyPatch) -> None:
    """Writers that report waiting at once and give up after half a second."""
    monkeypatch.setattr(file_store, "QUIET_WAIT", 0.05)
    monkeypatch.setattr(file_store, "LONGEST_WAIT", 0.5)


def test_a_writer_that_waits_says_who_holds_the_lock_then_writes(
    settings: config.Settings,
    project: Path,
    holder: tuple[BaseProcess, EventType],
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = FileRegistry(settings)
    model, recorded = fitted(), manifest(settings)
    process, let_go = holder
    release = threading.Timer(2.0, let_go.set)
    started = time.monotonic()
    release.start()

    version = store.register(model, recorded, "# Card\n", EXAMPLE)

    waited = time.monotonic() - started
    release.join()
    assert waited >= 1.5, f"the writer did not wait for the holder ({waited:.1f} s)"
    assert store.find(CANDIDATE) == version
    assert version.version == "1"
    assert capsys.readouterr().err.splitlines() == [
        f"Waiting for the file registry {project}/models/{MODEL_NAME}/: "
        f"{holding(process)} is writing to it."
    ], "the waiting writer did not say, on one line, who holds the lock"
    assert not store.holder.exists(), "the holder's name outlived its lock"


@pytest.fixture
def registered(settings: config.Settings) -> ModelVersion:
    """Version 1, registered before anyone holds the lock."""
    return FileRegistry(settings).register(
        fitted(), manifest(settings), "# Card\n", EXAMPLE
    )


@pytest.mark.usefixtures("impatient")
def test_every_write_waits_for_the_lock_and_gives_up_naming_its_holder(
    settings: config.Settings,
    registered: ModelVersion,
    holder: tuple[BaseProcess, EventType],
) -> None:
    store = FileRegistry(settings)
    index = store.index.read_text()
    folders = sorted(store.home.iterdir())
    writes = {
        "register": lambda: store.register(
            fitted(), manifest(settings), "# Card\n", EXAMPLE
        ),
        "promote": lambda: store.promote(registered, "ada@example.com", "now"),
    }

    for name, write in writes.items():
        with pytest.raises(RegistryError) as refused:
            write()
        assert str(refused.value) == (
            f"{store.location()} stayed locked for 0 s by {holding(holder[0])}: "
            "stop that process, or wait and try again"
        ), f"{name} did not name the lock's holder"

    assert sorted(store.home.iterdir()) == folders, (
        "a write went ahead without the lock"
    )
    assert store.index.read_text() == index, "the index changed without the lock"


def test_processes_training_and_promoting_at_once_get_distinct_versions_and_one_history(
    settings: config.Settings,
) -> None:
    members = [f"member{i}@example.com" for i in range(4)]
    start = FORK.Barrier(len(members))
    with FORK.Manager() as manager:
        shared = manager.dict()
        processes = [
            FORK.Process(target=train_and_promote, args=(member, start, shared))
            for member in members
        ]
        for process in processes:
            process.start()
        for process in processes:
            process.join(60)
        assert [process.exitcode for process in processes] == [0] * len(members), (
            "a member's process failed"
        )
        versions = dict(shared)

    store = FileRegistry(settings)
    assert sorted(versions.values(), key=int) == ["1", "2", "3", "4"], (
        f"members got versions {versions}, not one each"
    )
    for member, number in versions.items():
        assert store.get(number).manifest.trained_by == member, (
            f"version {number}'s records are not {member}'s"
        )
    history = store.promotions()
    assert sorted((p.by, p.version) for p in history) == sorted(versions.items()), (
        "a promotion is missing from the history"
    )
    champion = store.find(CHAMPION)
    assert champion is not None
    assert champion.version == history[-1].version, (
        "the champion is not the last promotion"
    )
    assert (
        json.loads(store.index.read_text())["aliases"][CANDIDATE] in versions.values()
    )
