"""The team registry a project ships (model_registry=mlflow): PostgreSQL behind MLflow's
tracking server, as a compose file and its server image, and the README that explains it.

Static checks only: the compose file against the Compose Specification's JSON schema
(as check-jsonschema vendors it), its server image with hadolint. tests/slow/test_team.py
runs the same server on a real PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ANSWER_SETS, answers, run

MLFLOW = [name for name, given in ANSWER_SETS.items() if given.get("model_registry") != "files"]
FILES = [name for name in ANSWER_SETS if name not in MLFLOW]
TEAM = Path("standards/team-registry")
# The files differ between answer sets only by the project's slug: the validators
# (seconds each) run on one.
VALIDATED = MLFLOW[:1]


def compose(project: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((project / TEAM / "compose.yaml").read_text())
    return loaded


def team_section(project: Path) -> str:
    """README.md's section "Working as a team"; fails when there is none."""
    readme = (project / "README.md").read_text()
    heading = "\n## Working as a team\n"
    assert heading in readme, "README.md has no section 'Working as a team'"
    return readme.split(heading, 1)[1].split("\n## ", 1)[0]


def server_options(project: Path) -> dict[str, str]:
    """The `mlflow server` options of the compose file's mlflow service, by name."""
    command = compose(project)["services"]["mlflow"]["command"]
    assert command[:2] == ["mlflow", "server"], f"the mlflow service runs {command[:2]}"
    return dict(option.partition("=")[::2] for option in command[2:])


@pytest.mark.parametrize("name", VALIDATED)
def test_the_compose_file_follows_the_compose_specification(
    rendered: Mapping[str, Path], name: str
) -> None:
    run(
        ["check-jsonschema", "--builtin-schema", "vendor.compose-spec", "compose.yaml"],
        cwd=rendered[name] / TEAM,
    )


@pytest.mark.parametrize("name", MLFLOW)
def test_the_server_keeps_its_records_in_the_postgres_service_and_serves_the_artifacts(
    rendered: Mapping[str, Path], name: str
) -> None:
    project = rendered[name]
    services = compose(project)["services"]
    database = services["postgres"]["environment"]
    options = server_options(project)

    store = re.fullmatch(
        r"postgresql\+psycopg://(?P<user>\w+):\$\{POSTGRES_PASSWORD\}@postgres:5432/(?P<db>\w+)",
        options["--backend-store-uri"],
    )
    assert store, f"the backend store is not the postgres service: {options}"
    assert (store["user"], store["db"]) == (database["POSTGRES_USER"], database["POSTGRES_DB"]), (
        "the server logs in as another user, or to another database, than postgres creates"
    )
    assert database["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?"), (
        "the password is not the operator's own, or its absence is not an error"
    )
    assert "--serve-artifacts" in options, "members would need the artifact store's credentials"
    assert options["--artifacts-destination"].startswith("${MLFLOW_ARTIFACTS_DESTINATION:-")
    assert services["mlflow"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert compose(project)["name"] == f"{answers(project)['project_slug']}-registry"


@pytest.mark.parametrize("name", VALIDATED)
def test_the_server_image_has_mlflow_and_the_postgres_driver_pinned_and_passes_hadolint(
    rendered: Mapping[str, Path], name: str
) -> None:
    folder = rendered[name] / TEAM
    assert compose(rendered[name])["services"]["mlflow"]["build"]["context"] == "."
    dockerfile = (folder / "Dockerfile").read_text()
    pins = dict(re.findall(r"^ARG (MLFLOW_VERSION|PSYCOPG_VERSION)=(\S+)$", dockerfile, re.M))
    assert set(pins) == {"MLFLOW_VERSION", "PSYCOPG_VERSION"}, "MLflow or the driver unpinned"
    assert all(re.fullmatch(r"\d+\.\d+\.\d+", pin) for pin in pins.values()), pins
    assert '"psycopg[binary]==${PSYCOPG_VERSION}"' in dockerfile
    run(["hadolint", "--failure-threshold", "info", "Dockerfile"], cwd=folder)


@pytest.mark.parametrize("name", MLFLOW)
def test_the_servers_guide_says_how_a_team_runs_it_and_points_at_it(
    rendered: Mapping[str, Path], name: str
) -> None:
    section = team_section(rendered[name])
    assert f"[{TEAM}/README.md]({TEAM}/README.md)" in section, (
        "the README's team section does not point at the server's guide"
    )
    guide = (rendered[name] / TEAM / "README.md").read_text()

    assert f"docker compose -f {TEAM}/compose.yaml up" in guide
    assert "--backend-store-uri postgresql+psycopg://" in guide
    assert "--serve-artifacts --artifacts-destination" in guide
    assert "MLFLOW_TRACKING_URI=http://" in guide
    assert "`trained_by`" in guide, "the guide does not say who trained is recorded"
    assert "`handoff.promotion.<n>`" in guide, "nor where promotions are recorded"


@pytest.mark.parametrize("name", FILES)
def test_a_file_registry_project_ships_no_server_and_says_how_its_lock_works(
    rendered: Mapping[str, Path], name: str
) -> None:
    project = rendered[name]

    assert not (project / TEAM).exists(), "a file-registry project ships an MLflow server"
    assert f"models/{answers(project)['project_slug']}/registry.lock" in team_section(project)
