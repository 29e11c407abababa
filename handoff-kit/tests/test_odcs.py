"""The contract as ODCS v3.1 files: each pandera check in its ODCS form, files
valid against the standard's JSON Schema (datacontract-cli's package data), the
export command, and the drift check the gate runs."""

from __future__ import annotations

import json
from dataclasses import replace
from importlib.metadata import distribution
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa
import pytest
import yaml
from conftest import add_source
from pandera.typing import Series

from handoff_kit import Schema, config, gate, odcs
from handoff_kit.cli import main

ODCS_SCHEMA = "datacontract/schemas/odcs-3.1.0.schema.json"


def odcs_errors(document: dict[str, Any]) -> list[str]:
    """What ODCS v3.1.0's JSON Schema (as datacontract-cli ships it) finds wrong."""
    jsonschema = pytest.importorskip("jsonschema")
    path = Path(str(distribution("datacontract-cli").locate_file(ODCS_SCHEMA)))
    schema = json.loads(path.read_text())
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [error.message for error in validator.iter_errors(document)]


class Checked(Schema):
    """Every check ODCS can say, and some it cannot."""

    small: Series[int] = pa.Field(gt=0, lt=10, unique=True)
    ranged: Series[float] = pa.Field(in_range={"min_value": 0, "max_value": 1})
    code: Series[str] = pa.Field(str_matches=r"[A-Z]{2}", str_length={"max_value": 2})
    word: Series[str] = pa.Field(notin=["no"], nullable=True)
    kind: Series[str] = pa.Field(isin=["a", "b"])
    late: Series[pd.Timestamp]
    extra: Series[int] | None = pa.Field(ge=0)

    @pa.check("late")
    @classmethod
    def recent(cls, late: Series[pd.Timestamp]) -> Series[bool]:
        return late.dt.year > 2000

    class Config:
        unique = ["small", "code"]  # noqa: RUF012  # pandera's Config.


def test_each_check_becomes_its_odcs_form() -> None:
    found = odcs.schema_object(Checked, "checked")
    props = {prop["name"]: prop for prop in found["properties"]}

    assert props["small"]["logicalType"] == "integer"
    assert props["small"]["logicalTypeOptions"] == {
        "format": "i64",
        "exclusiveMinimum": 0,
        "exclusiveMaximum": 10,
    }, "ranges are the logical type's options"
    assert props["small"]["unique"] is True
    assert [rule["metric"] for rule in props["small"]["quality"]] == [
        "duplicateValues"
    ], "uniqueness is a duplicateValues rule"
    assert props["ranged"]["logicalTypeOptions"] == {"minimum": 0, "maximum": 1}
    assert props["code"]["logicalTypeOptions"] == {"maxLength": 2}
    assert props["code"]["quality"][0]["arguments"] == {"pattern": "^(?:[A-Z]{2})"}
    assert props["kind"]["quality"][0]["metric"] == "invalidValues"
    assert props["kind"]["quality"][0]["arguments"] == {"validValues": ["a", "b"]}
    assert props["word"]["required"] is False, "a nullable column is not required"
    assert props["word"]["quality"][0]["type"] == "text", "notin has no ODCS rule"
    assert "notin" in props["word"]["quality"][0]["description"]
    assert props["late"]["logicalType"] == "timestamp"
    assert props["late"]["quality"][0]["type"] == "text"
    assert props["extra"]["customProperties"][0]["property"] == "columnOptional"
    assert found["quality"][0]["arguments"] == {"properties": ["small", "code"]}
    assert found["description"] == "Every check ODCS can say, and some it cannot."


def test_a_document_with_every_check_is_valid_odcs(settings: config.Settings) -> None:
    settings.__dict__["contract"] = replace(settings.contract, model_input=Checked)
    boundary = odcs.Boundary(odcs.MODEL_INPUT, "model input", Checked)

    document = odcs.document(settings, boundary)

    assert odcs_errors(document) == [], "the export breaks ODCS v3.1.0's JSON Schema"
    assert document["apiVersion"] == "v3.1.0"
    assert document["version"] == "1.0.0"


class Odd(Schema):
    when: Series[pd.CategoricalDtype]


def test_a_dtype_without_a_logical_type_is_named() -> None:
    with pytest.raises(odcs.ExportError, match=r"Odd\.when: no ODCS logical type"):
        odcs.schema_object(Odd, "odd")


def test_each_source_with_a_schema_and_the_models_sides_get_a_file(
    settings: config.Settings,
) -> None:
    files = odcs.export(settings)
    houses = yaml.safe_load(files[settings.contracts_dir / "houses.odcs.yaml"])

    assert sorted(path.name for path in files) == [
        "houses.odcs.yaml",
        "model-input.odcs.yaml",
        "model-output.odcs.yaml",
    ], "the unofficial survey has no schema, so no file"
    assert houses["team"]["members"] == [
        {"username": "ada@example.com", "role": "owner"}
    ]
    assert houses["status"] == "active"
    assert houses["tags"] == ["silver"]
    for path, text in files.items():
        assert odcs_errors(yaml.safe_load(text)) == [], f"{path.name} is not valid ODCS"
    assert odcs.export(settings) == files, "the same contract gives other bytes"


def test_a_source_named_like_a_models_side_is_refused(
    settings: config.Settings,
) -> None:
    add_source(settings.catalog, "model-input")

    with pytest.raises(odcs.ExportError, match="rename the source"):
        odcs.export(settings)


def test_the_export_writes_the_files_and_the_check_then_passes(
    settings: config.Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["contracts-export", "--check"]) == 1
    assert "contracts/houses.odcs.yaml: missing" in capsys.readouterr().err

    assert main(["contracts-export"]) == 0

    assert "Wrote contracts/ (houses.odcs.yaml, model-input.odcs.yaml, " in (
        capsys.readouterr().out
    )
    assert main(["contracts-export", "--check"]) == 0
    assert gate.odcs_gate(settings).passed


def test_the_gate_fails_on_a_changed_contract_and_names_the_file_and_field(
    settings: config.Settings,
) -> None:
    odcs.write(settings)
    # A new contract version, as a reviewed change would make it.
    changed = config.load(settings.root)
    changed.__dict__["contract"] = replace(settings.contract, version="1.1.0")

    found = gate.odcs_gate(changed)

    assert not found.passed, "a new contract version left the ODCS files current"
    assert found.reason.startswith(
        "contracts/ differs from what the contract produces (3 differences: "
        'contracts/houses.odcs.yaml: version: "1.0.0" -> "1.1.0"'
    ), found.reason
    assert "run `make contracts-export`" in found.reason


def test_a_stale_or_hand_edited_file_fails_the_check(settings: config.Settings) -> None:
    odcs.write(settings)
    stale = settings.contracts_dir / "gone.odcs.yaml"
    stale.write_text("name: gone\n")
    edited = settings.contracts_dir / "model-output.odcs.yaml"
    edited.write_text(edited.read_text().replace("# Generated", "#  Generated"))

    found = odcs.drift(settings)

    assert found.changes == (
        "contracts/gone.odcs.yaml: no boundary produces it",
        "contracts/model-output.odcs.yaml: same content, another layout",
    )
    odcs.write(settings)
    assert not stale.exists(), "the export leaves a file no boundary produces"
    assert odcs.drift(settings).passed


def test_differences_name_the_column_and_the_option_that_moved() -> None:
    old = {"schema": [{"name": "t", "properties": [{"name": "a", "x": 1}]}]}
    new = {
        "schema": [{"name": "t", "properties": [{"name": "a", "x": 2}, {"name": "b"}]}]
    }

    assert list(odcs.differences(old, new)) == [
        "schema[t].properties[a].x: 1 -> 2",
        "schema[t].properties[b]: added",
    ]
    assert list(odcs.differences(new, old)) == [
        "schema[t].properties[a].x: 2 -> 1",
        "schema[t].properties[b]: removed",
    ]
