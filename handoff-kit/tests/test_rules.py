"""The data rule: package/ reads official catalog sources only; research/ owes the rest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from handoff_kit import config
from handoff_kit.catalog import Source, contract_schemas, read_catalog
from handoff_kit.rules import research_debts, scan_package


@pytest.fixture
def sources(settings: config.Settings) -> dict[str, Source]:
    return read_catalog(settings.catalog, contract_schemas(settings))


def plant(path: Path, code: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(code)
    return path


def test_the_sample_package_reads_through_the_catalog_only(
    settings: config.Settings, sources: dict[str, Source]
) -> None:
    assert scan_package(settings.package_dir, sources, settings.root) == []


def test_reading_around_the_catalog_is_found_with_file_and_line(
    settings: config.Settings, sources: dict[str, Source]
) -> None:
    plant(
        settings.package_dir / "features.py",
        "import pandas as pd\n"
        "from handoff_kit import catalog\n"
        "from handoff_kit.catalog import load\n\n"
        'a = pd.read_csv("some/path.csv")\n'
        'b = catalog.load("survey")\n'
        'c = load("nowhere")\n'
        'd = pd.read_parquet("data/houses.csv")\n'
        'e = catalog.load("houses")\n'
        "f = pd.read_csv(a.columns[0])\n"
        "g = catalog.load(a.columns[0])\n",
    )

    findings = [
        str(f) for f in scan_package(settings.package_dir, sources, settings.root)
    ]

    module = "package/src/sample_model/features.py"
    assert findings == [
        f"{module}:5: reads data directly with pd.read_csv(): 'some/path.csv' is a path "
        "outside the data catalog; load an official source with catalog.load() instead",
        f"{module}:6: loads the unofficial source 'survey' "
        f"({settings.catalog / 'survey.yml'}); package/ uses official sources only",
        f"{module}:7: loads 'nowhere', which is not in the data catalog",
        f"{module}:8: reads data directly with pd.read_parquet(): 'data/houses.csv' is the "
        "official source 'houses'; load an official source with catalog.load() instead",
        f"{module}:10: reads data directly with pd.read_csv(): a path the gate cannot see; "
        "load an official source with catalog.load() instead",
    ]


def test_a_file_python_cannot_parse_is_a_finding_not_a_crash(
    settings: config.Settings, sources: dict[str, Source]
) -> None:
    plant(settings.package_dir / "broken.py", "x = 1\ndef broken(:\n")

    [finding] = scan_package(settings.package_dir, sources, settings.root)

    assert str(finding) == (
        "package/src/sample_model/broken.py:2: Python cannot parse it: invalid syntax"
    )


def test_a_package_outside_the_root_is_shown_by_its_full_path(
    tmp_path: Path, settings: config.Settings, sources: dict[str, Source]
) -> None:
    module = plant(
        tmp_path / "elsewhere/reader.py", 'import polars as pl\npl.read_csv("x.csv")\n'
    )

    [finding] = scan_package(module.parent, sources, settings.root)

    assert finding.file == module
    assert finding.line == 2
    assert "reads data directly with pl.read_csv()" in finding.message


def test_unofficial_sources_used_in_research_are_debts(
    settings: config.Settings, sources: dict[str, Source]
) -> None:
    research = settings.research
    plant(
        research / "scratch.py", 'import pandas as pd\npd.read_csv("data/survey.csv")\n'
    )
    notebook = {
        "cells": [
            {"cell_type": "markdown", "source": ["'houses' and 'survey' in prose"]},
            {"cell_type": "code", "source": ["load(", "'survey')"]},
        ]
    }
    plant(research / "nb.ipynb", json.dumps(notebook))
    plant(research / ".ipynb_checkpoints/nb-checkpoint.ipynb", json.dumps(notebook))
    plant(research / "clean.py", "print('houses')\n")
    plant(research / "notes.md", "We used 'survey'.\n")

    debts = [str(d) for d in research_debts(research, sources, settings.root)]

    owed = "`survey` (bronze, unofficial; owner bob@example.com) used in research/"
    assert debts == [f"{owed}nb.ipynb", f"{owed}scratch.py"]
