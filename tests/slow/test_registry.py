"""The model registry as the hand-off point, in generated projects: train, gate, promote, serve.

Each flow runs the project's own make targets (the handoff kit's `handoff` command), as
a data scientist and an ML engineer would: against MLflow's embedded SQLite store,
against a real `mlflow server` named by MLFLOW_TRACKING_URI, and against the file
registry of model_registry=files.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ANSWER_SETS, REPO, Project, answers, new_project
from tests.slow import servers

pytestmark = pytest.mark.slow

GOLDEN_SAMPLE = "package/tests/acceptance/golden_sample.csv"
# The kit every generated project carries in standards/handoff-kit, at this version.
KIT_VERSION = tomllib.loads((REPO / "handoff-kit/pyproject.toml").read_text())["project"]["version"]


@pytest.fixture(scope="module")
def mlflow_project(template_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The default answers (example, MLflow), set up and never trained before this module."""
    return new_project(template_dir, tmp_path_factory.mktemp("registry-mlflow"), {})


@pytest.fixture(scope="module")
def files_project(template_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The contrasting answers: model_registry=files, no example, ruff, Python 3.11."""
    given = ANSWER_SETS["contrast"]
    assert given["model_registry"] == "files"
    return new_project(template_dir, tmp_path_factory.mktemp("registry-files"), given)


def slug(project: Project) -> str:
    return str(answers(project.path)["project_slug"])


def python(project: Project, script: str) -> str:
    """Run a script in the project's environment; return its standard output."""
    return project.run("uv", "run", "--frozen", "python", "-c", script).stdout


def handoff(project: Project, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """The kit's `handoff` command in the project's environment."""
    return project.run("uv", "run", "--frozen", "handoff", *args, check=check)


def candidate_gates(project: Project) -> str:
    """The handoff report of the registry's two gates only (test_contract runs them all
    on fresh projects)."""
    return handoff(project, "gate", "--only", "candidate", "--only", "candidate-acceptance").stdout


def report_rows(output: str) -> dict[str, tuple[str, str]]:
    """The handoff report's table: gate -> (result, reason)."""
    rows = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split(" | ")]
        if (
            line.startswith("| ")
            and len(cells) == 3
            and cells[1] in {"pass", "FAIL", "not exercised"}
        ):
            rows[cells[0]] = (cells[1], cells[2])
    return rows


def predict(
    project: Project, model: str, rows: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return handoff(project, "predict", "--model", model, "--input", rows, check=check)


def scored(result: subprocess.CompletedProcess[str]) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(result.stdout)))


def golden_rows(project: Project) -> int:
    return len((project.path / GOLDEN_SAMPLE).read_text().splitlines()) - 1


def promote_under_contract_2(project: Project) -> subprocess.CompletedProcess[str]:
    """`make promote` after a breaking contract change (CONTRACT_VERSION 1.0.0 -> 2.0.0),
    before anyone retrained; the change is undone afterwards."""
    package = answers(project.path)["package_name"]
    contracts = project.path / f"package/src/{package}/contracts/__init__.py"
    text = contracts.read_text()
    assert 'CONTRACT_VERSION = "1.0.0"' in text, "the contract version moved: update this test"
    contracts.write_text(text.replace('CONTRACT_VERSION = "1.0.0"', 'CONTRACT_VERSION = "2.0.0"'))
    try:
        return project.make("promote", check=False)
    finally:
        project.restore()


# --- MLflow, embedded: a SQLite file in the project --------------------------------


@pytest.fixture(scope="module")
def trained(mlflow_project: Project) -> str:
    """`make train` once, after checking what a fresh project says; returns its output."""
    fresh = candidate_gates(mlflow_project)
    assert report_rows(fresh)["Registry candidate"] == (
        "not exercised",
        "not exercised: no candidate yet (`make train` registers one)",
    ), "a fresh project's handoff does not say that the candidate gates were not exercised"
    refused = mlflow_project.make("promote", check=False)
    assert refused.returncode != 0
    assert "there is no candidate. `make train` registers one" in refused.stdout
    assert not (mlflow_project.path / "mlflow.db").exists(), "asking created a store"

    result = mlflow_project.make("train")
    return result.stdout + result.stderr


def test_make_train_shows_progress_and_registers_the_candidate(
    mlflow_project: Project, trained: str
) -> None:
    name = slug(mlflow_project)
    package = answers(mlflow_project.path)["package_name"]
    assert f"Training the model ({package}.training:train)." in trained
    assert "Learned from customers." in trained
    assert "Metrics: roc_auc " in trained
    assert (
        f"Registering the model in the MLflow registry at sqlite:///{mlflow_project.path}/mlflow.db"
        in trained
    )
    assert f"Registered {name} version 1 as the new candidate (models:/{name}/1)." in trained
    for chatter in [" INFO mlflow", "CloudPickle", "pip version", "Successfully registered"]:
        assert chatter not in trained, f"MLflow's {chatter!r} floods make train:\n{trained}"
    assert (mlflow_project.path / "mlflow.db").is_file()
    assert (mlflow_project.path / "mlartifacts").is_dir(), "the artifacts are not beside the store"
    status = mlflow_project.run("git", "status", "--porcelain").stdout
    assert not status, f"the embedded store is not git-ignored:\n{status}"


def test_the_registered_version_records_contract_commit_lock_kit_data_metrics_and_card(
    mlflow_project: Project, trained: str
) -> None:
    name = slug(mlflow_project)
    recorded = json.loads(
        python(
            mlflow_project,
            "import json, mlflow\n"
            "from handoff_kit import config, registry\n"
            f"mlflow.set_tracking_uri('sqlite:///mlflow.db')\n"
            "client = mlflow.MlflowClient()\n"
            f"version = client.get_model_version_by_alias('{name}', 'candidate')\n"
            f"info = mlflow.models.get_model_info(f'models:/{name}/{{version.version}}')\n"
            "kit = registry.open_registry(config.load()).find('candidate')\n"
            "print(json.dumps({'tags': version.tags, 'card': version.description,\n"
            "    'metrics': client.get_run(version.run_id).data.metrics,\n"
            "    'inputs': info.signature.inputs.to_dict(),\n"
            "    'outputs': info.signature.outputs.to_dict(),\n"
            "    'manifest_kit_version': kit.manifest.kit_version}))\n",
        )
    )

    tags = recorded["tags"]
    assert tags["contract_version"] == "1.0.0"
    head = mlflow_project.run("git", "rev-parse", "HEAD").stdout.strip()
    assert tags["git_commit"] == head
    lock = hashlib.sha256((mlflow_project.path / "uv.lock").read_bytes()).hexdigest()
    assert tags["lock_hash"] == f"sha256:{lock}"
    assert tags["data_sources"] == "customers"
    assert tags["kit_version"] == KIT_VERSION, "the version does not record the kit that trained it"
    assert recorded["manifest_kit_version"] == KIT_VERSION, "the kit does not read it back"
    assert {"roc_auc", "accuracy", "brier_score"} <= set(recorded["metrics"])
    # The signature comes from the contract schemas, dtype by dtype, not from the data.
    assert recorded["inputs"] == [
        {"type": "long", "name": "tenure_months", "required": True},
        {"type": "double", "name": "monthly_charges", "required": True},
        {"type": "string", "name": "contract_type", "required": True},
        {"type": "long", "name": "support_calls", "required": True},
    ]
    assert recorded["outputs"] == [
        {"type": "double", "name": "churn_probability", "required": True},
        {"type": "boolean", "name": "churned", "required": True},
    ]
    card = recorded["card"]
    assert card.startswith(f"# Model card: {name}")
    assert "## Input: Features" in card
    assert "## Output: Predictions" in card
    assert f"| customers | @{name}-data-science | silver |" in card, "no data source with its owner"
    assert "| roc_auc |" in card
    assert f"| Handoff kit | {KIT_VERSION} |" in card
    assert "| Model | ChurnModel |" in card
    assert (
        "## Evaluation data\n\n20% of the customers (1000 rows), held out at random "
        "(stratified by churned, seed 0); the model never saw them.\n" in card
    )
    assert "Decision threshold: 0.5." in card
    assert "## Ethical considerations\n\nNot written yet: the team writes it" in card


def test_make_handoff_checks_the_candidate_loaded_from_the_registry(
    mlflow_project: Project, trained: str
) -> None:
    name = slug(mlflow_project)

    rows = report_rows(mlflow_project.make("handoff").stdout)

    outcome, reason = rows["Registry candidate"]
    assert outcome == "pass", reason
    assert reason.startswith(f"{name} version 1 (candidate)")
    assert "contract 1.0.0 is compatible with the code's 1.0.0" in reason
    assert "its signature matches the contract schemas" in reason
    assert "trained with the project's environment lock" in reason
    assert rows["Acceptance on the candidate"] == (
        "pass",
        f"scenarios pass against models:/{name}/1",
    )


@pytest.fixture(scope="module")
def promoted(mlflow_project: Project, trained: str) -> str:
    return mlflow_project.make("promote").stdout


def test_make_promote_moves_the_champion_and_predict_serves_it_by_alias(
    mlflow_project: Project, promoted: str
) -> None:
    name = slug(mlflow_project)
    assert f"Promoted {name} version 1 to champion (was none)." in promoted
    assert "Champions so far (oldest first):\n  version 1  " in promoted

    # The golden sample with an id column, which the predictions keep.
    golden = (mlflow_project.path / GOLDEN_SAMPLE).read_text().splitlines()
    rows = mlflow_project.path / "rows.csv"
    with_ids = [f"customer_id,{golden[0]}", *(f"c{i},{row}" for i, row in enumerate(golden[1:]))]
    rows.write_text("\n".join(with_ids) + "\n")
    try:
        result = predict(mlflow_project, f"models:/{name}@champion", "rows.csv")
    finally:
        rows.unlink()

    predictions = scored(result)
    assert len(predictions) == golden_rows(mlflow_project)
    assert list(predictions[0]) == ["customer_id", "churn_probability", "churned"]
    assert [row["customer_id"] for row in predictions[:2]] == ["c0", "c1"]
    assert all(0.0 <= float(row["churn_probability"]) <= 1.0 for row in predictions)


def test_bad_input_to_predict_is_refused_with_the_contracts_named_error(
    mlflow_project: Project, promoted: str
) -> None:
    bad = mlflow_project.path / "bad.csv"
    bad.write_text("tenure_months,monthly_charges,contract_type\n-3,70.0,monthly\n")
    try:
        result = predict(
            mlflow_project, f"models:/{slug(mlflow_project)}@champion", "bad.csv", check=False
        )
    finally:
        bad.unlink()

    assert result.returncode == 1, result.stderr
    error = result.stderr.strip().splitlines()[-1]
    assert "bad.csv: cannot be scored: Features contract violated (3 failures)" in error
    assert "support_calls: missing column (column_in_dataframe)" in error
    assert "tenure_months: greater_than_or_equal_to(0) failed" in error
    assert "contract_type: isin" in error
    assert not result.stdout, "bad input was scored"


def test_a_candidate_under_an_incompatible_contract_version_is_refused_by_make_promote(
    mlflow_project: Project, promoted: str
) -> None:
    name = slug(mlflow_project)
    mlflow_project.make("train")  # Version 2, under contract 1.0.0.

    result = promote_under_contract_2(mlflow_project)

    assert result.returncode != 0
    assert (
        f"Refused: the champion stays version 1. {name} version 2 (candidate) cannot be promoted:"
        in result.stdout
    )
    assert (
        "trained under contract 1.0.0, incompatible with the code's 2.0.0 "
        "(another major version): retrain it with `make train`"
    ) in result.stdout
    champion = python(
        mlflow_project,
        "import mlflow\nmlflow.set_tracking_uri('sqlite:///mlflow.db')\n"
        f"print(mlflow.MlflowClient().get_model_version_by_alias('{name}', 'champion').version)",
    )
    assert champion.strip() == "1", "champion moved although the promotion was refused"


# --- MLflow, on a server: MLFLOW_TRACKING_URI -----------------------------------------


@pytest.fixture
def mlflow_server(mlflow_project: Project, tmp_path: Path) -> Iterator[str]:
    """A real `mlflow server` from the project's environment on 127.0.0.1, stopped afterwards."""
    with servers.mlflow_server(
        mlflow_project.path / ".venv/bin/mlflow",
        f"sqlite:///{tmp_path / 'server.db'}",
        tmp_path,
        env=mlflow_project.env,
    ) as url:
        yield url


def test_the_same_flow_runs_against_an_mlflow_server_named_by_the_environment(
    mlflow_project: Project, promoted: str, mlflow_server: str
) -> None:
    name = slug(mlflow_project)
    store = mlflow_project.path / "mlflow.db"
    before = store.stat().st_mtime_ns
    mlflow_project.env["MLFLOW_TRACKING_URI"] = mlflow_server
    try:
        trained = mlflow_project.make("train")
        handoff = report_rows(mlflow_project.make("handoff").stdout)
        promoted_there = mlflow_project.make("promote").stdout
        predictions = scored(predict(mlflow_project, f"models:/{name}@champion", GOLDEN_SAMPLE))
    finally:
        del mlflow_project.env["MLFLOW_TRACKING_URI"]

    assert f"Registering the model in the MLflow registry at {mlflow_server}." in trained.stderr
    # The server's registry starts empty: its first version, whatever the embedded one holds.
    assert f"Registered {name} version 1 as the new candidate" in trained.stderr
    assert handoff["Registry candidate"][0] == "pass", handoff["Registry candidate"]
    assert handoff["Acceptance on the candidate"][0] == "pass", handoff[
        "Acceptance on the candidate"
    ]
    assert f"Promoted {name} version 1 to champion (was none)." in promoted_there
    assert len(predictions) == golden_rows(mlflow_project)
    assert store.stat().st_mtime_ns == before, "the embedded store was used, not the server"


# --- model_registry=files: versioned folders under models/ ----------------------------


@pytest.fixture(scope="module")
def file_flow(files_project: Project) -> dict[str, str]:
    """handoff (fresh), train, handoff, promote: each command's output, by name."""
    return {
        "fresh": candidate_gates(files_project),
        "train": files_project.make("train").stderr,
        "handoff": files_project.make("handoff").stdout,
        "promote": files_project.make("promote").stdout,
    }


def test_the_file_registry_runs_the_same_flow(
    files_project: Project, file_flow: dict[str, str]
) -> None:
    name = slug(files_project)

    predictions = scored(predict(files_project, f"models:/{name}@champion", GOLDEN_SAMPLE))

    assert report_rows(file_flow["fresh"])["Registry candidate"][0] == "not exercised"
    assert "Learned from data made in code." in file_flow["train"]
    home = files_project.path / "models" / name
    assert f"Registering the model in the file registry {home}/." in file_flow["train"]
    assert (
        f"Registered {name} version 1 as the new candidate (models:/{name}/1)."
        in file_flow["train"]
    )
    handoff = report_rows(file_flow["handoff"])
    assert handoff["Registry candidate"][0] == "pass", handoff["Registry candidate"]
    assert handoff["Acceptance on the candidate"] == (
        "pass",
        f"scenarios pass against models:/{name}/1",
    )
    assert f"Promoted {name} version 1 to champion (was none)." in file_flow["promote"]
    assert len(predictions) == golden_rows(files_project)
    assert list(predictions[0]) == ["score"]


def test_the_file_registry_keeps_a_manifest_with_the_kit_version_a_card_and_the_aliases(
    files_project: Project, file_flow: dict[str, str]
) -> None:
    name = slug(files_project)
    version = files_project.path / "models" / name / "1"

    manifest = json.loads((version / "manifest.json").read_text())
    assert manifest["contract_version"] == "1.0.0"
    assert manifest["git_commit"] == files_project.run("git", "rev-parse", "HEAD").stdout.strip()
    lock = hashlib.sha256((files_project.path / "uv.lock").read_bytes()).hexdigest()
    assert manifest["lock_hash"] == f"sha256:{lock}"
    assert "brier_score" in manifest["metrics"]
    assert manifest["kit_version"] == KIT_VERSION, "the version does not record the kit"
    assert manifest["signature"] == {
        "inputs": [["signal", "double", True]],
        "outputs": [["score", "double", True]],
    }
    card = (version / "model_card.md").read_text()
    assert card.startswith(f"# Model card: {name}")
    assert f"| Handoff kit | {KIT_VERSION} |" in card
    registry = json.loads((files_project.path / "models" / name / "registry.json").read_text())
    assert registry["aliases"]["champion"] == "1"
    assert registry["promotions"][0]["version"] == "1"


def test_the_file_registry_refuses_an_incompatible_candidate(
    files_project: Project, file_flow: dict[str, str]
) -> None:
    index = files_project.path / "models" / slug(files_project) / "registry.json"
    champion = json.loads(index.read_text())["aliases"]["champion"]
    files_project.make("train")

    result = promote_under_contract_2(files_project)

    assert result.returncode != 0
    assert "trained under contract 1.0.0, incompatible with the code's 2.0.0" in result.stdout
    assert json.loads(index.read_text())["aliases"]["champion"] == champion, (
        "champion moved although the promotion was refused"
    )


def test_make_promote_asks_for_a_flag_for_uncommitted_code_and_a_new_major_contract(
    files_project: Project, file_flow: dict[str, str]
) -> None:
    name = slug(files_project)
    index = files_project.path / "models" / name / "registry.json"
    champion = json.loads(index.read_text())["aliases"]["champion"]
    package = answers(files_project.path)["package_name"]
    contracts = files_project.path / f"package/src/{package}/contracts/__init__.py"
    text = contracts.read_text()
    # A breaking contract change, trained before it is committed.
    contracts.write_text(text.replace('CONTRACT_VERSION = "1.0.0"', 'CONTRACT_VERSION = "2.0.0"'))
    try:
        files_project.make("train")
        refused = files_project.make("promote", check=False)
        allowed = files_project.make("promote", "ALLOW_DIRTY=1", "ALLOW_MAJOR=1")
    finally:
        files_project.restore()

    assert refused.returncode != 0
    lines = refused.stdout.splitlines()
    assert f"Refused: the champion stays version {champion}." in lines
    dirty = next(line for line in lines if "uncommitted code" in line)
    assert dirty.endswith(
        "with changes not in git): nobody can rebuild it. Commit, then `make train` again; "
        "or promote it anyway with `handoff promote --allow-dirty` (`make promote ALLOW_DIRTY=1`)."
    )
    assert (
        "  - the champion would move from contract 1.0.0 to 2.0.0, another major version: "
        "whoever calls the champion breaks. Tell them first; or promote it anyway with "
        "`handoff promote --allow-major` (`make promote ALLOW_MAJOR=1`)." in lines
    )
    assert "Promoting anyway (--allow-dirty): " in allowed.stdout
    assert "Promoting anyway (--allow-major): the champion would move from contract 1.0.0" in (
        allowed.stdout
    )
    assert json.loads(index.read_text())["aliases"]["champion"] != champion
