"""What every model version records, and the model card written from it."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pandera.pandas as pa
import pytest
from conftest import MODEL_NAME, manifest
from pandera.typing import Series

import sample_model.training
from handoff_kit import config
from handoff_kit.catalog import contract_schemas, read_catalog
from handoff_kit.registry import (
    CANDIDATE,
    CHAMPION,
    Manifest,
    ModelVersion,
    RegistryError,
)
from handoff_kit.registry.card import model_card
from handoff_kit.registry.records import (
    Signature,
    contract_signature,
    git_commit,
    lock_hash,
    manifest_json,
    schema_columns,
)


def test_the_signature_is_the_contracts_columns_with_mlflow_types(
    settings: config.Settings,
) -> None:
    assert contract_signature(settings.contract) == Signature(
        inputs=(("rooms", "long", True), ("kind", "string", True)),
        outputs=(("score", "double", True),),
    )


def test_a_dtype_without_an_mlflow_type_is_named() -> None:
    class Durations(pa.DataFrameModel):
        waited: Series[pa.Timedelta]

    with pytest.raises(
        RegistryError,
        match=r"^Durations.waited: no MLflow type for dtype timedelta64\[ns\]; add it to COLUMN_TYPES$",
    ):
        schema_columns(Durations)


def test_signature_differences_are_said_in_words() -> None:
    contract = Signature((("rooms", "long", True),), (("score", "double", True),))
    model = Signature(
        (("rooms", "double", True),),
        (("score", "double", True), ("why", "string", False)),
    )

    assert model.differences(contract) == [
        "input rooms (long) is not in the model",
        "input rooms (double) is not in the contract",
        "output why (string, optional) is not in the contract",
    ]
    assert contract.differences(contract) == []


def test_a_manifest_round_trips_through_json(settings: config.Settings) -> None:
    recorded = manifest(settings)

    text = manifest_json(recorded)

    assert Manifest.from_json(json.loads(text)) == recorded
    assert json.loads(text)["signature"]["inputs"] == [
        ["rooms", "long", True],
        ["kind", "string", True],
    ]


def test_a_manifest_from_before_the_kit_version_was_recorded_still_reads(
    settings: config.Settings,
) -> None:
    data = manifest(settings).to_json()
    del data["created_at"], data["kit_version"]

    old = Manifest.from_json(data)

    assert (old.created_at, old.kit_version) == ("", "")


def test_a_version_reads_as_its_name_number_and_aliases(
    settings: config.Settings,
) -> None:
    version = ModelVersion(MODEL_NAME, "3", manifest(settings), (CANDIDATE, CHAMPION))

    assert version.uri == f"models:/{MODEL_NAME}/3"
    assert str(version) == f"{MODEL_NAME} version 3 (candidate, champion)"
    assert (
        str(ModelVersion(MODEL_NAME, "4", manifest(settings)))
        == f"{MODEL_NAME} version 4"
    )


def test_the_lock_is_recorded_by_its_hash_or_as_none(tmp_path: Path) -> None:
    lock = tmp_path / "uv.lock"
    assert lock_hash(lock) == "none"

    lock.write_text("locked\n")

    assert lock_hash(lock) == "sha256:" + hashlib.sha256(b"locked\n").hexdigest()


def git(root: Path, *args: str) -> str:
    """git in `root`, without the developer's own settings (signing, hooks, ...)."""
    identity = ("-c", "user.name=Ada", "-c", "user.email=ada@example.com")
    isolated = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    done = subprocess.run(
        ["git", *identity, *args],
        cwd=root,
        env=isolated,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_the_commit_is_recorded_and_marked_dirty_when_tracked_files_changed(
    tmp_path: Path,
) -> None:
    assert git_commit(tmp_path) == "unknown", "not a git repository"
    git(tmp_path, "init", "--quiet")
    (tmp_path / "train.py").write_text("print('v1')\n")
    git(tmp_path, "add", "train.py")
    git(tmp_path, "commit", "--quiet", "-m", "v1")
    head = git(tmp_path, "rev-parse", "HEAD")

    (tmp_path / "untracked.txt").write_text("ignored by the record\n")
    assert git_commit(tmp_path) == head

    (tmp_path / "train.py").write_text("print('v2')\n")
    assert git_commit(tmp_path) == f"{head}+dirty"


# --- The model card --------------------------------------------------------------


def test_the_card_says_what_the_model_predicts_how_well_and_from_what(
    settings: config.Settings,
) -> None:
    sources = read_catalog(settings.catalog, contract_schemas(settings))

    card = model_card(settings, manifest(settings), [sources["houses"]])

    assert card.startswith(
        f"# Model card: {MODEL_NAME}\n\nScores houses on the market: will they sell?\n"
    )
    for row in [
        "| Contract version | 1.0.0 |",
        "| Trained from commit | `0123abc` |",
        "| Environment lock | `sha256:feed` |",
        "| Handoff kit | 0.2.0 |",
        "| Trained at | 2026-01-02T03:04:05+00:00 |",
        "| brier_score | 0.125 |",
        "### Input: Features\n\nOne row per house on the market.\n",
        "| kind | str | no | yes | isin(allowed_values=['flat', 'house']) |",
        "### Output: Predictions\n\nOne score per house, in the order of the input.\n",
        "| score | float64 | no | yes | greater_than_or_equal_to(min_value=0), less_than_or_equal_to(max_value=1) |",
        "| houses | ada@example.com | silver | Houses on the market, and whether they sold. |",
    ]:
        assert row in card


def test_a_card_without_sources_or_description_says_what_is_missing(
    project: Path,
) -> None:
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("description = ", "summary = "))
    settings = config.load(project)

    card = model_card(settings, manifest(settings, data_sources=()), [])

    assert "No description: set [project] description." in card
    assert "No catalogued source: the training data was made in code." in card


def test_the_card_follows_the_published_model_card_sections(
    settings: config.Settings,
) -> None:
    sources = read_catalog(settings.catalog, contract_schemas(settings))
    trained = sample_model.training.train()

    card = model_card(settings, manifest(settings), [sources["houses"]], trained)

    headings = [line for line in card.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Model details",
        "## Intended use",
        "## Training data",
        "## Evaluation data",
        "## Metrics",
        "## Limitations",
        "## Ethical considerations",
        "## Contract",
        "## Environment",
    ]
    assert "| Model | RateModel |" in card
    assert "Primary use: Scores houses on the market: will they sell?" in card
    assert (
        "## Evaluation data\n\nEvery fifth house (10 rows), held out from training.\n"
        in card
    )
    assert "Decision threshold: 0.5." in card
    assert (
        "## Ethical considerations\n\nNot written yet: the team writes it under '## "
        "Ethical considerations' in package/model_card.md, and the next `make train` "
        "copies it here.\n" in card
    )


def test_the_team_writes_intended_use_limitations_and_ethics_in_its_notes(
    settings: config.Settings,
) -> None:
    notes = settings.root / "package/model_card.md"
    notes.parent.mkdir(parents=True, exist_ok=True)
    notes.write_text(
        "# Notes for the model card\n\n## Limitations\n\nTrained on one city only.\n\n"
        "## Ethical considerations\n\nPrices are not a proxy for anyone's worth.\n\n"
        "## Something else\n\nNot copied.\n"
    )

    card = model_card(settings, manifest(settings), [])

    assert "## Limitations\n\nTrained on one city only.\n" in card
    assert (
        "## Ethical considerations\n\nPrices are not a proxy for anyone's worth.\n"
        in card
    )
    assert "Not copied." not in card
    assert "Not written yet: the team writes it under '## Intended use'" in card
    assert "Decision threshold: none recorded (Trained(threshold=...))." in card
    assert "Not described: the training function can say it" in card


def test_a_section_holding_only_the_templates_prompt_is_not_written_yet(
    settings: config.Settings,
) -> None:
    """package/model_card.md as the template generates it: headings and comments."""
    notes = settings.root / "package/model_card.md"
    notes.parent.mkdir(parents=True, exist_ok=True)
    notes.write_text(
        "# Notes for the model card\n\n## Intended use\n\n<!-- Who uses it, for what. -->\n"
        "\n## Limitations\n\n<!-- Where it fails. -->\nOne city only.\n"
    )

    card = model_card(settings, manifest(settings), [])

    assert "Not written yet: the team writes it under '## Intended use'" in card, (
        "a prompt in a comment was copied into the card as the team's text"
    )
    assert "## Limitations\n\nOne city only.\n" in card, "the team's text lost"
    assert "<!--" not in card, "a comment of the notes reached the card"
