"""The contract in the Open Data Contract Standard, in generated projects:
contracts/*.odcs.yaml are what the kit exports from the rendered contract, for
every answer set, and each validates against ODCS v3.1's JSON Schema as
datacontract-cli ships it (its package data, not a copy kept here).

`datacontract lint` itself runs in the slow tier (tests/slow/test_contract.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from importlib.metadata import distribution
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from handoff_kit import odcs

from tests.conftest import ANSWER_SETS

NAMES = list(ANSWER_SETS)
ODCS_SCHEMA = "datacontract/schemas/odcs-3.1.0.schema.json"


@cache
def odcs_validator() -> jsonschema.protocols.Validator:
    """ODCS v3.1.0's JSON Schema, from the datacontract-cli distribution's files."""
    path = Path(str(distribution("datacontract-cli").locate_file(ODCS_SCHEMA)))
    schema = json.loads(path.read_text())
    validator: type[jsonschema.protocols.Validator] = jsonschema.validators.validator_for(schema)
    return validator(schema)


@pytest.mark.parametrize("name", NAMES)
def test_the_committed_odcs_files_are_what_the_contract_produces_and_valid_odcs(
    rendered: Mapping[str, Path], load_project: Any, name: str
) -> None:
    settings = load_project(rendered[name])

    found = odcs.drift(settings)

    assert found.passed, (
        f"contracts/ of {name} differs from the kit's export of its contract "
        "(update template/contracts/ from `handoff contracts-export` in a rendered "
        "project):\n" + "\n".join(found.changes)
    )
    files = sorted((rendered[name] / "contracts").glob("*.odcs.yaml"))
    assert files, f"{name} has no ODCS files"
    for file in files:
        errors = [
            f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
            for error in odcs_validator().iter_errors(yaml.safe_load(file.read_text()))
        ]
        assert not errors, f"{name}: {file.name} is not valid ODCS v3.1.0:\n" + "\n".join(errors)


def test_the_examples_files_carry_owner_status_types_rules_and_version(
    rendered: Mapping[str, Path],
) -> None:
    folder = rendered["default"] / "contracts"
    names = sorted(file.name for file in folder.glob("*.odcs.yaml"))
    customers = yaml.safe_load((folder / "customers.odcs.yaml").read_text())
    columns = {prop["name"]: prop for prop in customers["schema"][0]["properties"]}

    # The unofficial exit survey has no schema: no file.
    assert names == [
        "customers.odcs.yaml",
        "customers_warehouse.odcs.yaml",
        "model-input.odcs.yaml",
        "model-output.odcs.yaml",
    ]
    assert customers["version"] == "1.0.0", "the contract version is CONTRACT_VERSION"
    assert customers["status"] == "active", "an official source is active"
    assert customers["team"]["members"] == [
        {"username": "@churn-model-data-science", "role": "owner"}
    ], "the owner is the catalog's"
    assert columns["tenure_months"]["logicalType"] == "integer"
    assert columns["tenure_months"]["required"] is True
    assert columns["monthly_charges"]["logicalTypeOptions"] == {"exclusiveMinimum": 0}
    assert columns["contract_type"]["quality"][0]["arguments"] == {
        "validValues": ["month-to-month", "one-year", "two-year"]
    }
    assert columns["churned"]["logicalType"] == "boolean"
