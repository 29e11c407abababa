"""The `handoff` command: train, predict, snapshot, promote and gate, and its errors."""

from __future__ import annotations

import io
import json
import runpy
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from conftest import (
    MODEL_NAME,
    add_source,
    fitted,
    houses,
    predict_without_mlflow,
    write_pyproject,
)

import sample_model.training
from handoff_kit import Trained, __version__, candidate, gate, registry
from handoff_kit.cli import EXIT_UNUSABLE, main
from handoff_kit.config import load
from handoff_kit.registry import CANDIDATE, ModelVersion
from handoff_kit.registry.records import contract_signature, lock_hash, who
from handoff_kit.report import Result

CANDIDATE_URI = f"models:/{MODEL_NAME}@{CANDIDATE}"


@pytest.fixture
def trained(project: Path) -> ModelVersion:
    """`handoff train` run in the sample project (file registry)."""
    assert main(["train"]) == 0
    found = registry.open_registry(load(project)).find(CANDIDATE)
    assert found is not None, "train registered no candidate"
    return found


@pytest.fixture
def rows_csv(tmp_path: Path) -> Path:
    path = tmp_path / "rows.csv"
    houses(20).drop(columns="sold").to_csv(path, index=False)
    return path


def predict(*args: str | Path) -> int:
    return main(["predict", *map(str, args)])


def unusable(capsys: pytest.CaptureFixture[str], *args: str | Path) -> str:
    """Run the command expecting exit status 1; return its one-line error, the last
    line on standard error (after the progress of `train`, if any)."""
    capsys.readouterr()
    assert main([*map(str, args)]) == EXIT_UNUSABLE
    captured = capsys.readouterr()
    assert not captured.out
    assert "Traceback" not in captured.err
    *progress, error = captured.err.splitlines()
    assert all(line.startswith("Training the model (") for line in progress), (
        captured.err
    )
    assert error.startswith("handoff: error: ")
    return error


# --- train ------------------------------------------------------------------------


def test_train_registers_the_candidate_with_its_records_and_card(
    trained: ModelVersion, project: Path
) -> None:
    recorded = trained.manifest
    settings = load(project)
    assert recorded.contract_version == "1.0.0"
    assert recorded.data_sources == ("houses",)
    assert set(recorded.metrics) == {"brier_score", "accuracy"}
    assert recorded.signature == contract_signature(settings.contract)
    assert recorded.lock_hash == lock_hash(project / "uv.lock")
    assert recorded.git_commit == "unknown", (
        "the sample project is not a git repository"
    )
    assert recorded.kit_version == __version__
    assert recorded.trained_by == who(), "the version does not record who trained it"
    assert recorded.contract == gate.current_contract(settings), (
        "the version does not record the contract it was trained under"
    )
    card = registry.open_registry(settings).card(trained)
    assert card.startswith(f"# Model card: {MODEL_NAME}\n\nScores houses on the market")
    assert "| Handoff kit | " + __version__ + " |" in card
    assert f"| Trained by | {who()} |" in card
    assert (
        "| rooms | int64 | no | yes | greater_than_or_equal_to(min_value=0) |" in card
    )
    assert "## Output: Predictions" in card
    assert (
        "| houses | ada@example.com | silver | Houses on the market, and whether they sold. |"
        in card
    )


def test_train_records_the_contract_without_acceptance_scenarios_it_cannot_read(
    project: Path,
) -> None:
    (project / "package/tests/acceptance/broken.feature").write_text("Not Gherkin\n")

    assert main(["train"]) == 0, "unreadable scenarios stopped the training"

    found = registry.open_registry(load(project)).find(CANDIDATE)
    assert found is not None
    assert found.manifest.contract is not None
    assert "acceptance" not in found.manifest.contract
    assert set(found.manifest.contract["schemas"]) == {"Features", "Predictions"}


def test_train_shows_its_progress_and_the_next_step(
    trained: ModelVersion, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train"]) == 0

    out, progress = capsys.readouterr()
    assert not out, "standard output is for data"
    assert (
        progress.splitlines()[0] == "Training the model (sample_model.training:train)."
    )
    assert "Learned from houses." in progress
    assert "Metrics: brier_score " in progress
    assert (
        f"Registered {MODEL_NAME} version 2 as the new candidate (models:/{MODEL_NAME}/2)."
        in progress
    )
    assert progress.endswith(
        "Next: `make handoff` checks it; `make promote` makes it the champion.\n"
    )


def test_training_data_made_in_code_is_said_so(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from_catalog = sample_model.training.train
    monkeypatch.setattr(
        sample_model.training, "train", lambda: replace(from_catalog(), sources=())
    )

    assert main(["train"]) == 0

    assert "Learned from data made in code." in capsys.readouterr().err
    card = (project / "models" / MODEL_NAME / "1/model_card.md").read_text()
    assert "No catalogued source: the training data was made in code." in card


@pytest.mark.parametrize(
    ("trainer", "expected"),
    [
        (lambda: {"model": None}, "sample_model.training:train returned a dict, not handoff_kit.Trained"),
        (lambda: Trained(fitted(), {}, sources=("nowhere",)), "the training data cannot be used: sample_model.training:train names 'nowhere', which is not in the data catalog ("),
    ],
    ids=["not-trained", "unknown-source"],
)  # fmt: skip
def test_a_training_function_that_breaks_its_promise_exits_1(
    project: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    trainer: Callable[[], object],
    expected: str,
) -> None:
    monkeypatch.setattr(sample_model.training, "train", trainer)

    assert expected in unusable(capsys, "train")


def test_training_data_that_breaks_its_schema_exits_1_naming_the_failure(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    houses().assign(rooms=-1).to_csv(project / "data/houses.csv", index=False)

    error = unusable(capsys, "train")

    assert error == (
        "handoff: error: the training data cannot be used: data/houses.csv (catalog "
        "source 'houses') does not match its schema: Features contract violated "
        "(1 failure): - rooms: greater_than_or_equal_to(0) failed in 50 rows, e.g. -1, "
        "-1, -1. Refresh the file from its source (houses.yml in the catalog says what "
        "it is), or change the contract and the source together."
    )


def test_a_stale_data_file_with_other_columns_stops_training_in_one_line(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A copy made before the contract renamed `kind`.
    stale = houses().rename(columns={"kind": "type"})
    stale.to_csv(project / "data/houses.csv", index=False)

    assert unusable(capsys, "train") == (
        "handoff: error: the training data cannot be used: data/houses.csv (catalog "
        "source 'houses') does not match its schema: Features contract violated "
        "(1 failure): - kind: missing column (column_in_dataframe). Refresh the file "
        "from its source (houses.yml in the catalog says what it is), or change the "
        "contract and the source together."
    )


def test_an_unreadable_data_file_stops_training_in_one_line(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "data/houses.csv").write_text("")

    assert unusable(capsys, "train") == (
        "handoff: error: the training data cannot be used: data/houses.csv (catalog "
        "source 'houses') cannot be read: No columns to parse from file. Refresh the "
        "file from its source (houses.yml in the catalog says what it is), or change "
        "the contract and the source together."
    )


def test_a_malformed_catalog_stops_training(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    add_source(project / "data/catalog", "houses", status="maybe")

    assert "field 'status' must be one of official, unofficial" in unusable(
        capsys, "train"
    )


# --- predict ----------------------------------------------------------------------


def test_predict_writes_one_csv_row_per_input_row_to_stdout(
    trained: ModelVersion, rows_csv: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert predict("--model", trained.uri, "--input", rows_csv) == 0

    predictions = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert list(predictions.columns) == ["score"]
    assert len(predictions) == 20
    assert predictions["score"].between(0.0, 1.0).all()


def test_predict_from_the_file_registry_runs_without_mlflow(
    trained: ModelVersion, rows_csv: Path, project: Path
) -> None:
    done = predict_without_mlflow(trained.uri, rows_csv, project)

    assert done.returncode == 0, f"predict needed MLflow: {done.stderr}"
    assert len(pd.read_csv(io.StringIO(done.stdout))) == 20


def test_predict_keeps_an_id_column_the_input_had_first_row_by_row(
    trained: ModelVersion, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = tmp_path / "rows.csv"
    houses(5).drop(columns="sold").assign(house_id=[f"h{i}" for i in range(5)]).to_csv(
        rows, index=False
    )

    assert predict("--model", trained.uri, "--input", rows) == 0

    predictions = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert list(predictions.columns) == ["house_id", "score"]
    assert list(predictions["house_id"]) == ["h0", "h1", "h2", "h3", "h4"]


def test_the_id_column_named_in_the_settings_is_the_one_kept(
    trained: ModelVersion,
    project: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write_pyproject(project, id_column="listing")
    rows = tmp_path / "rows.csv"
    houses(3).drop(columns="sold").assign(listing=[7, 8, 9], agent_id=1).to_csv(
        rows, index=False
    )

    assert predict("--model", trained.uri, "--input", rows) == 0

    predictions = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert list(predictions.columns) == ["listing", "score"]
    assert list(predictions["listing"]) == [7, 8, 9]


def test_parquet_in_and_out_by_alias(trained: ModelVersion, tmp_path: Path) -> None:
    rows = tmp_path / "rows.parquet"
    houses(10).drop(columns="sold").to_parquet(rows)
    output = tmp_path / "predictions.parquet"

    assert predict("--model", CANDIDATE_URI, "--input", rows, "--output", output) == 0

    assert len(pd.read_parquet(output)) == 10


def test_csv_output_to_a_file(
    trained: ModelVersion, rows_csv: Path, tmp_path: Path
) -> None:
    output = tmp_path / "predictions.csv"

    assert predict("--model", trained.uri, "--input", rows_csv, "--output", output) == 0

    assert len(pd.read_csv(output)) == 20


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda rows: rows.drop(columns="rooms"), "Features contract violated (1 failure): - rooms: missing column"),
        (lambda rows: rows.assign(kind="castle"), "kind: isin(['flat', 'house']) failed in 20 rows"),
        (lambda rows: rows.assign(rooms="many"), "rooms: dtype('int64') failed"),
    ],
    ids=["missing-column", "unknown-category", "text-for-a-number"],
)  # fmt: skip
def test_input_the_model_cannot_score_exits_1_with_the_contracts_error(
    trained: ModelVersion,
    rows_csv: Path,
    capsys: pytest.CaptureFixture[str],
    change: Callable[[pd.DataFrame], pd.DataFrame],
    expected: str,
) -> None:
    change(pd.read_csv(rows_csv)).to_csv(rows_csv, index=False)

    error = unusable(capsys, "predict", "--model", trained.uri, "--input", rows_csv)

    assert "rows.csv: cannot be scored: " in error
    assert expected in error


def test_unreadable_files_and_unknown_models_exit_1(
    trained: ModelVersion, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    model = trained.uri

    assert "empty.csv: unreadable: " in unusable(
        capsys, "predict", "--model", model, "--input", empty
    )
    assert "absent.csv: no such file" in unusable(
        capsys, "predict", "--model", model, "--input", tmp_path / "absent.csv"
    )
    assert "rows.xlsx: cannot read .xlsx files; use .csv or .parquet" in unusable(
        capsys, "predict", "--model", model, "--input", tmp_path / "rows.xlsx"
    )
    assert "cannot read suffix-less files" in unusable(
        capsys, "predict", "--model", model, "--input", tmp_path / "rows"
    )
    assert "is not a model URI" in unusable(
        capsys, "predict", "--model", "models/model.pkl", "--input", empty
    )
    assert "run `make promote`" in unusable(
        capsys, "predict", "--model", f"models:/{MODEL_NAME}@champion", "--input", empty
    )


# --- snapshot, gate, promote ------------------------------------------------------


def test_snapshot_records_the_contract_then_the_contract_gate_passes(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["snapshot"]) == 0
    assert capsys.readouterr().out == (
        "Wrote package/contracts.lock.json (contract version 1.0.0): commit it.\n"
    )
    snapshot = json.loads((project / "package/contracts.lock.json").read_text())
    assert sorted(snapshot["schemas"]) == ["Features", "Predictions"]

    assert main(["gate", "--only", "contract", "--only", "catalog"]) == 0

    report = (project / "reports/handoff.md").read_text()
    assert "**PASSED**: all 2 gates run passed." in report
    assert report in capsys.readouterr().out


def test_snapshot_refuses_to_record_a_breaking_change_at_the_same_major_version(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["snapshot"]) == 0
    path = project / "package/contracts.lock.json"
    recorded = json.loads(path.read_text())
    # As if the code had added a required input column since the snapshot.
    column = next(iter(recorded["schemas"]["Features"]["columns"]))
    del recorded["schemas"]["Features"]["columns"][column]
    path.write_text(json.dumps(recorded))
    before = path.read_text()
    capsys.readouterr()

    assert main(["snapshot"]) == EXIT_UNUSABLE

    error = capsys.readouterr().err
    assert error.startswith("Refused: package/contracts.lock.json stays as it is.")
    assert "bump the major number (to 2.0.0)" in error
    assert f"BREAKING    Features.{column}: required input column added" in error
    assert path.read_text() == before, "the refused snapshot was written anyway"


def test_the_gate_without_a_snapshot_fails_and_says_how_to_make_one(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["gate", "--only", "contract"]) == 1

    assert "no contract snapshot yet" in (project / "reports/handoff.md").read_text()


def test_promote_moves_the_champion_to_the_trained_candidate(
    trained: ModelVersion,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(
        candidate,
        "acceptance",
        lambda settings, version: Result("Acceptance", True, "passed"),
    )

    assert main(["promote"]) == 0

    assert (
        f"Promoted {MODEL_NAME} version 1 to champion (was none)."
        in capsys.readouterr().out
    )


def test_promote_passes_allow_dirty_and_allow_major_on(
    trained: ModelVersion,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[frozenset[str]] = []

    def promote(settings: object, allowed: frozenset[str]) -> int:
        asked.append(allowed)
        return 0

    monkeypatch.setattr(candidate, "promote", promote)

    assert main(["promote"]) == 0
    assert main(["promote", "--allow-dirty"]) == 0
    assert main(["promote", "--allow-major", "--allow-dirty"]) == 0

    assert asked == [
        frozenset(),
        frozenset({"--allow-dirty"}),
        frozenset({"--allow-dirty", "--allow-major"}),
    ]


def test_promote_without_a_candidate_exits_1(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["promote"]) == 1

    assert "Nothing to promote" in capsys.readouterr().out


# --- The command line itself ------------------------------------------------------


def test_outside_a_project_every_command_exits_1_saying_where_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)

    error = unusable(capsys, "train")

    assert "no pyproject.toml with a [tool.handoff] table in" in error


def test_a_wrong_setting_exits_1_naming_the_key(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_pyproject(project, train="sample_model.training:trian")

    error = unusable(capsys, "train")

    assert error == (
        "handoff: error: pyproject.toml [tool.handoff] train: sample_model.training has no "
        "'trian'; it must be 'module:function' returning handoff_kit.Trained"
    )


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["predict", "--model", CANDIDATE_URI],
        ["gate", "--only", "nonsense"],
        ["deploy"],
    ],
    ids=["no-command", "no-input", "unknown-gate", "unknown-command"],
)
def test_a_wrong_command_line_exits_2_with_the_usage(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)

    assert exit_.value.code == 2
    assert "usage: handoff" in capsys.readouterr().err


def test_python_dash_m_runs_the_command_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["handoff", "--version"])

    with pytest.raises(SystemExit) as exit_:
        runpy.run_module("handoff_kit", run_name="__main__")

    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"handoff {__version__}\n"
