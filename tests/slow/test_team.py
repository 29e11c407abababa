"""A team sharing one registry: PostgreSQL behind MLflow's tracking server, two members.

The members are two clones of one committed generated project, each with its own git
identity and environment (`make setup`), both pointing MLFLOW_TRACKING_URI at a real
`mlflow server` whose records are in a real PostgreSQL (Debian's package, in a
temporary folder, on 127.0.0.1). They train at the same time, then one runs the full
handoff, both promote at the same time, and both serve the champion; the records are
read back through MLflow's own client. The file registry gets the same races, between
processes sharing one checkout.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.conftest import REPO, Project, answers, run, tool_env
from tests.slow import servers

pytestmark = pytest.mark.slow

GOLDEN_SAMPLE = "package/tests/acceptance/golden_sample.csv"
MEMBERS = ("alice@example.com", "bob@example.com")
REGISTERED = re.compile(r"Registered (?P<name>\S+) version (?P<version>\d+) as the new candidate")


@dataclass
class Team:
    url: str
    members: dict[str, Project]
    name: str


def clone(origin: Project, root: Path, email: str, **env: str) -> Project:
    """A member's own clone of `origin`, signed with `email`, set up with `make setup`."""
    folder = root / email.partition("@")[0]
    (home := root / f"{folder.name}-home").mkdir(parents=True)
    run(["git", "clone", "-q", str(origin.path), str(folder)], cwd=root, env=origin.env)
    member = Project(folder, {**tool_env(home), **env})
    member.run("git", "config", "user.email", email)
    member.make("setup")
    return member


def at_once(projects: Sequence[Project], *command: str) -> list[subprocess.CompletedProcess[str]]:
    """`command` started in every project at the same moment; each one's result, in order."""
    started = [
        subprocess.Popen(
            command,
            cwd=p.path,
            env=p.env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for p in projects
    ]
    results = []
    for process in started:
        out, err = process.communicate(timeout=600)
        results.append(subprocess.CompletedProcess(command, process.returncode, out, err))
    return results


def succeeded(results: list[subprocess.CompletedProcess[str]], what: str) -> None:
    for result in results:
        assert result.returncode == 0, (
            f"{what} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )


@pytest.fixture(scope="module")
def team_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """MLflow's tracking server from the template repository's environment, which has
    PostgreSQL's driver, with its records in a PostgreSQL of its own."""
    folder = tmp_path_factory.mktemp("team-server")
    with (
        servers.postgres("mlflow") as database,
        servers.mlflow_server(REPO / ".venv/bin/mlflow", database, folder) as url,
    ):
        yield url


@pytest.fixture(scope="module")
def team(
    set_up_project: Callable[[str], Project],
    team_server: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Team:
    origin = set_up_project("default")
    root = tmp_path_factory.mktemp("team")
    members = {
        email: clone(origin, root, email, MLFLOW_TRACKING_URI=team_server) for email in MEMBERS
    }
    return Team(team_server, members, str(answers(origin.path)["project_slug"]))


@pytest.fixture(scope="module")
def trained(team: Team) -> dict[str, str]:
    """Both members' `make train`, at the same time: each one's version, by member."""
    results = at_once(list(team.members.values()), "make", "--no-print-directory", "train")
    succeeded(results, "make train")
    versions = {}
    for email, result in zip(team.members, results, strict=True):
        found = REGISTERED.search(result.stderr)
        assert found, f"{email}'s make train registered nothing:\n{result.stderr}"
        versions[email] = found["version"]
    return versions


def test_members_training_at_once_get_a_version_each_with_complete_records(
    team: Team, trained: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # MLflow resolves a run's model files through the global tracking URI.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", team.url)
    client = MlflowClient(team.url)

    assert sorted(trained.values()) == ["1", "2"], f"versions by member: {trained}"
    for email, number in trained.items():
        member = team.members[email]
        version = client.get_model_version(team.name, number)
        tags = version.tags
        assert tags["trained_by"] == email, f"version {number} does not say {email} trained it"
        assert tags["git_commit"] == member.run("git", "rev-parse", "HEAD").stdout.strip()
        assert tags["contract_version"] == "1.0.0"
        assert tags["lock_hash"].startswith("sha256:")
        assert tags["data_sources"] == "customers"
        assert f"| Trained by | {email} |" in version.description, "the card does not say who"
        assert {"roc_auc", "accuracy"} <= set(client.get_run(version.run_id).data.metrics)
        files = [f.path for f in client.list_artifacts(version.run_id, "model")]
        assert "model/MLmodel" in files, f"version {number}'s model files are not on the server"
    candidate = client.get_model_version_by_alias(team.name, "candidate")
    assert candidate.version in trained.values()


@pytest.fixture(scope="module")
def promoted(team: Team, trained: dict[str, str]) -> dict[str, str]:
    """One member's full `make handoff`, then both members' `make promote` at the same time."""
    alice = team.members[MEMBERS[0]]
    handoff = alice.make("handoff", check=False)
    results = at_once(list(team.members.values()), "make", "--no-print-directory", "promote")
    succeeded(results, "make promote")
    said = {email: result.stdout for email, result in zip(team.members, results, strict=True)}
    return {"handoff": handoff.stdout, **said}


def test_the_full_handoff_passes_on_the_shared_candidate(
    team: Team, promoted: dict[str, str]
) -> None:
    rows = [line for line in promoted["handoff"].splitlines() if line.startswith("| ")]
    failed = [row for row in rows if " | FAIL | " in row]
    assert rows, f"make handoff printed no report:\n{promoted['handoff'][-3000:]}"
    assert not failed, "\n".join(failed)
    assert any(row.startswith("| Registry candidate | pass |") for row in rows)


def test_promotions_at_once_leave_the_champion_on_the_candidate_and_both_in_the_history(
    team: Team, promoted: dict[str, str]
) -> None:
    client = MlflowClient(team.url)
    candidate = client.get_model_version_by_alias(team.name, "candidate").version

    for email in MEMBERS:
        assert (
            f"Promoted {team.name} version {candidate} to champion (was none)." in (promoted[email])
        ), f"{email}'s promotion did not race the other's:\n{promoted[email]}"
    aliases = client.get_registered_model(team.name).aliases
    assert aliases == {"candidate": candidate, "champion": candidate}, (
        f"champion is not on the one gated version: {aliases}"
    )
    tags = client.get_model_version(team.name, candidate).tags
    history = [v for k, v in tags.items() if k.startswith("handoff.promotion.")]
    assert sorted(line.partition(" ")[2] for line in history) == sorted(MEMBERS), (
        f"the promotion history lost a promotion: {history}"
    )
    listed = promoted[MEMBERS[0]] + promoted[MEMBERS[1]]
    assert f"  version {candidate}  " in listed.split("Champions so far (oldest first):")[-1]


def test_every_member_serves_the_champion(team: Team, promoted: dict[str, str]) -> None:
    for email, member in team.members.items():
        result = member.run(
            "uv", "run", "--frozen", "handoff", "predict",
            "--model", f"models:/{team.name}@champion", "--input", GOLDEN_SAMPLE,
        )  # fmt: skip
        predictions = list(csv.DictReader(io.StringIO(result.stdout)))
        expected = len((member.path / GOLDEN_SAMPLE).read_text().splitlines()) - 1
        assert len(predictions) == expected, f"{email} got {len(predictions)} predictions"


def test_an_unreachable_tracking_server_fails_make_train_in_seconds_with_one_line(
    team: Team,
) -> None:
    member = team.members[MEMBERS[0]]
    uri = f"http://127.0.0.1:{servers.free_port()}"
    env = {**member.env, "MLFLOW_TRACKING_URI": uri}
    started = time.monotonic()

    result = run(["make", "--no-print-directory", "train"], cwd=member.path, env=env, check=False)

    took = time.monotonic() - started
    assert result.returncode != 0
    assert took < 10, f"make train took {took:.0f} s to give up on {uri}"
    said = [line for line in result.stderr.splitlines() if not line.startswith("make: ***")]
    assert len(said) == 1, f"not one line:\n{result.stderr}"
    assert said[0].startswith(f"handoff: error: cannot reach the MLflow tracking server at {uri}")
    assert "Training the model" not in result.stdout + result.stderr, "it trained first"


# --- The file registry: processes sharing one checkout ----------------------------


@pytest.fixture(scope="module")
def files_checkout(
    set_up_project: Callable[[str], Project], tmp_path_factory: pytest.TempPathFactory
) -> Project:
    """A clone of the file-registry project (model_registry=files), set up."""
    origin = set_up_project("contrast")
    return clone(origin, tmp_path_factory.mktemp("files-team"), MEMBERS[0])


def test_file_registry_processes_at_once_get_distinct_versions_and_one_history(
    files_checkout: Project,
) -> None:
    name = str(answers(files_checkout.path)["project_slug"])
    index = files_checkout.path / "models" / name / "registry.json"
    processes = [files_checkout] * 3

    trained = at_once(processes, "make", "--no-print-directory", "train")
    succeeded(trained, "make train")
    promoted = at_once(processes[:2], "make", "--no-print-directory", "promote")
    succeeded(promoted, "make promote")

    versions = sorted(REGISTERED.search(r.stderr)["version"] for r in trained)  # type: ignore[index]
    assert versions == ["1", "2", "3"], f"three trainings registered versions {versions}"
    for number in versions:
        manifest = json.loads((index.parent / number / "manifest.json").read_text())
        assert manifest["trained_by"] == MEMBERS[0]
    recorded = json.loads(index.read_text())
    said = "".join(r.stdout + r.stderr for r in trained + promoted)
    assert len(recorded["promotions"]) == sum("to champion (was" in r.stdout for r in promoted), (
        f"a promotion is missing from the history: {recorded['promotions']}"
    )
    assert recorded["aliases"]["champion"] == recorded["promotions"][-1]["version"]
    assert recorded["aliases"]["champion"] == recorded["aliases"]["candidate"]
    waited = [
        line for line in said.splitlines() if line.startswith("Waiting for the file registry")
    ]
    for line in waited:
        assert re.search(
            r": \S+ on \S+ \(pid \d+: handoff (train|promote)\) is writing to it\.$", line
        ), line
