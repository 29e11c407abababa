"""Contract coverage: boundaries with a schema, columns with a check, where each
contract runs, and the floors [tool.handoff] may set."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import add_source, write_pyproject

from handoff_kit import config, contract_coverage, gate, loosened


def test_the_sample_project_is_fully_covered_and_says_where_each_contract_runs(
    settings: config.Settings,
) -> None:
    found = contract_coverage.measure(settings)
    enforced = {c.boundary.name: c.enforced for c in found.covered}

    assert found.boundaries == (3, 3), "houses, the model's input and output"
    # Features (houses and the model's input, counted once): rooms and kind are
    # checked; Predictions: score.
    assert found.fields == (3, 3)
    assert enforced == {
        "houses": ("train", "data-check"),
        "survey": (),
        "model-input": ("train", "predict", "serve", "batch"),
        "model-output": ("predict", "serve", "batch"),
    }, "training loads houses, whose schema is the model's input"
    assert contract_coverage.result(settings).passed


def test_an_official_source_without_a_schema_lowers_boundary_coverage(
    settings: config.Settings,
) -> None:
    add_source(settings.catalog, "prices", schema="null")

    found = contract_coverage.measure(settings)
    row = contract_coverage.result(settings)

    assert found.boundaries == (3, 4), "prices has no schema"
    assert found.fields == (3, 3), "a source without a schema has no columns to count"
    assert row.passed, "no floor is set, so the row reports and passes"
    assert row.reason == (
        "boundaries 3 of 4 have a schema (75%); columns 3 of 3 have a check beyond "
        "their type (100%)"
    )
    assert "| prices | source | **none** | - | nowhere |" in row.details
    assert "| survey | source (unofficial: not counted) | **none** |" in row.details


def test_coverage_below_a_floor_fails_the_row_naming_the_setting(
    project: Path, settings: config.Settings
) -> None:
    add_source(settings.catalog, "prices", schema="null")
    write_pyproject(
        project, contract_coverage_boundary=100, contract_coverage_fields=50
    )
    floored = config.load(project)

    row = contract_coverage.result(floored)

    assert not row.passed, "75% boundary coverage passed a 100% floor"
    assert row.reason.startswith(
        "boundary coverage 75% is below the floor 100% "
        "(contract-coverage-boundary in [tool.handoff]); boundaries 3 of 4"
    ), row.reason
    section = contract_coverage.markdown(contract_coverage.measure(floored))
    assert section.startswith("## Contract coverage\n\nBoundaries 3 of 4 have a schema")
    assert "Floors: boundaries 100%, fields 50%." in section
    names = [g.name for g in gate.gates(floored)]
    assert names.index("coverage") == names.index("odcs") + 1


@pytest.mark.parametrize("floor", [101, -1, "high", True])
def test_a_floor_must_be_a_percentage(project: Path, floor: object) -> None:
    write_pyproject(project, contract_coverage_fields=floor)

    with pytest.raises(config.ConfigError, match="contract-coverage-fields: got"):
        config.load(project)


def test_a_literal_catalog_load_is_found_however_the_loader_is_imported(
    tmp_path: Path,
) -> None:
    package = tmp_path / "package"
    package.mkdir()
    (package / "a.py").write_text(
        "from handoff_kit import catalog as c\nc.load('one')\n"
        "from handoff_kit.catalog import load as get\nget('two')\n"
        "import handoff_kit.catalog\nhandoff_kit.catalog.load('three')\n"
        "other.load('four')\n"
    )
    (package / "broken.py").write_text("def (\n")

    assert contract_coverage.loaded_sources(package) == {"one", "two", "three"}


def test_a_floor_below_the_templates_is_a_loosened_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    table = {
        "package": "p",
        "package-dir": "package/src/p",
        "promotion-metric": "m",
        "contract-coverage-boundary": 80,
    }

    def flagged() -> list[str]:
        return [found.setting for found in loosened.handoff_settings(table)]

    assert flagged() == [], (
        "the template sets no floor: a project's own is no loosening"
    )
    monkeypatch.setitem(loosened.TEMPLATE["handoff"], "contract-coverage-boundary", 100)
    assert flagged() == ["handoff.contract-coverage-boundary"], (
        "a floor under the template's passed as the standard"
    )


def test_a_malformed_catalog_fails_the_row_in_one_line(
    settings: config.Settings,
) -> None:
    (settings.catalog / "broken.yml").write_text("name: [\n")

    row = contract_coverage.result(settings)

    assert not row.passed
    assert row.reason.startswith("malformed catalog: ")
    assert "broken.yml" in row.reason
