"""The data catalog: its file schema, and a loader for official sources only."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import SOURCE, add_source

from handoff_kit import ContractViolation, catalog, config
from handoff_kit.catalog import (
    CatalogError,
    contract_schemas,
    load,
    read_catalog,
    read_source,
)
from sample_model.contracts import Features, Predictions

SCHEMAS = {"Features": Features}


def entry(**fields: str) -> str:
    """A valid catalog file's text for the source `rows`, with `fields` changed."""
    values = {"name": "rows", "description": "Rows.", "owner": "o", "tier": "gold",
              "status": "official", "location": "x", "schema": "null"}  # fmt: skip
    return SOURCE.format(**{**values, **fields})


def test_the_sample_catalog_is_valid(settings: config.Settings) -> None:
    sources = read_catalog(settings.catalog, contract_schemas(settings))

    assert sorted(sources) == ["houses", "survey"]
    houses = sources["houses"]
    assert houses.official
    assert houses.schema == "Features"
    assert houses.owner == "ada@example.com"
    assert houses.file == settings.catalog / "houses.yml"
    assert not sources["survey"].official
    assert sources["survey"].schema is None


def test_catalog_entries_may_name_the_contracts_inputs_and_outputs(
    settings: config.Settings,
) -> None:
    assert contract_schemas(settings) == {
        "Features": Features,
        "Predictions": Predictions,
    }


def test_yaml_files_count_with_either_suffix(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text(entry(name="a"))
    (tmp_path / "b.yaml").write_text(entry(name="b"))
    (tmp_path / "README.md").write_text("Not a source.")

    assert sorted(read_catalog(tmp_path, SCHEMAS)) == ["a", "b"]


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("description: x\n", "field 'name' is missing: the source's name, the same as its file name"),
        (entry(tier="platinum"), "field 'tier' must be one of bronze, silver, gold, got 'platinum'"),
        (entry(status="maybe"), "field 'status' must be one of official, unofficial"),
        (entry(location="''"), "field 'location' must be where the data is"),
        (entry(owner="3"), "field 'owner' must be the data owner: the domain expert who answers for it, got 3"),
        (entry(name="other"), "field 'name' must match the file name ('rows'), got 'other'"),
        (entry(schema="Nope"), "field 'schema' names no contract schema: 'Nope' (known: Features)"),
        (entry() + "colour: red\n", "unknown field 'colour' (fields: name, description, "),
        ("- a list\n", "expected a mapping of fields (name, description, owner, tier, status, location, schema)"),
        ("name: [unclosed\n", "not valid YAML"),
    ],
    ids=["missing", "tier", "status", "empty", "not-text", "name", "schema", "unknown", "list", "yaml"],
)  # fmt: skip
def test_a_malformed_entry_is_refused_naming_file_and_field(
    tmp_path: Path, text: str, field: str
) -> None:
    file = tmp_path / "rows.yml"
    file.write_text(text)

    with pytest.raises(CatalogError) as refused:
        read_source(file, SCHEMAS)

    assert str(refused.value).startswith(f"{file}: ")
    assert field in str(refused.value)


def test_an_official_source_loads_validated_by_its_schema(
    settings: config.Settings,
) -> None:
    houses = load("houses", settings)

    assert len(houses) == 50
    assert list(houses.columns) == ["rooms", "kind", "sold"]


def test_the_settings_default_to_the_current_folders_project(project: Path) -> None:
    assert len(load("houses")) == 50


def test_loaded_rows_that_break_their_schema_are_refused(
    settings: config.Settings,
) -> None:
    pd.DataFrame({"unrelated": [1]}).to_csv(
        settings.root / "data/houses.csv", index=False
    )

    with pytest.raises(ContractViolation, match="rooms: missing column"):
        load("houses", settings)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_a_source_without_schema_loads_as_it_is(
    settings: config.Settings, suffix: str
) -> None:
    add_source(settings.catalog, "notes", location=f"data/notes{suffix}", schema="null")
    frame = pd.DataFrame({"anything": [1, 2]})
    path = settings.root / f"data/notes{suffix}"
    frame.to_csv(path, index=False) if suffix == ".csv" else frame.to_parquet(path)

    pd.testing.assert_frame_equal(load("notes", settings), frame)


@pytest.mark.parametrize(
    ("name", "fields", "message"),
    [
        ("survey", {}, r"^'survey' is an unofficial source \(.*survey.yml\): production code uses official sources only; ask its owner, bob@example.com, to make it official$"),
        ("sheet", {"location": "data/sheet.xlsx"}, r"sheet.yml: no reader for '.xlsx' files \(known: .csv, .parquet\)$"),
        ("missing", {"location": "data/missing.csv"}, r"^'missing' \(owner ada@example.com\) has no data at data/missing.csv: Houses on the market, and whether they sold.$"),
        ("nowhere", None, r"^'nowhere' is not in the data catalog \(.*catalog\): add a file for it$"),
    ],
    ids=["unofficial", "format", "no-data", "not-catalogued"],
)  # fmt: skip
def test_the_loader_refuses_what_production_must_not_use(
    settings: config.Settings, name: str, fields: dict[str, str] | None, message: str
) -> None:
    if fields is not None:
        add_source(settings.catalog, name, **fields)

    with pytest.raises(CatalogError, match=message):
        catalog.load(name, settings)
