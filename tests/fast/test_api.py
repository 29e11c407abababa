"""The model's HTTP API in generated projects: api/openapi.json is what the kit derives
from the rendered contract, for every answer set, and the drift check sees a change.

The kit runs in this process on the rendered package (package/src on sys.path), as
`handoff openapi` would in the project; the server itself runs in the slow tier.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from handoff_kit import api

from tests.conftest import ANSWER_SETS, answers

NAMES = list(ANSWER_SETS)


@pytest.mark.parametrize("name", NAMES)
def test_the_committed_openapi_document_is_what_the_contract_produces(
    rendered: Mapping[str, Path], load_project: Any, name: str
) -> None:
    settings = load_project(rendered[name])

    found = api.drift(settings)

    assert found.passed, (
        f"api/openapi.json of {name} differs from the kit's document for its contract "
        "(update template/api/ from `handoff openapi` in a rendered project):\n"
        + "\n".join(found.changes or ("the file is missing",))
    )
    text = (rendered[name] / "api/openapi.json").read_text()
    assert text == api.dumps(api.document(settings)), "same content, different layout"


def schemas(project: Path) -> dict[str, Any]:
    document = json.loads((project / "api/openapi.json").read_text())
    return dict(document["components"]["schemas"])


def test_the_examples_api_has_its_columns_types_bounds_and_enums(
    rendered: Mapping[str, Path],
) -> None:
    features = schemas(rendered["default"])["Features"]
    predictions = schemas(rendered["default"])["Predictions"]
    properties = features["properties"]

    assert list(properties) == [
        "tenure_months", "monthly_charges", "contract_type", "support_calls",
    ]  # fmt: skip
    assert features["required"] == list(properties)
    assert properties["tenure_months"]["type"] == "integer"
    assert properties["tenure_months"]["minimum"] == 0
    assert properties["monthly_charges"] == {
        "type": "number", "format": "double", "exclusiveMinimum": 0,
    }  # fmt: skip
    assert properties["contract_type"] == {
        "type": "string", "enum": ["month-to-month", "one-year", "two-year"],
    }  # fmt: skip
    assert properties["support_calls"]["minimum"] == 0
    # The features filter other columns (ids, the label) out: ignored, not refused.
    assert features["additionalProperties"] is True
    assert predictions["properties"]["churn_probability"] == {
        "type": "number", "format": "double", "minimum": 0, "maximum": 1,
    }  # fmt: skip
    assert predictions["properties"]["churned"] == {"type": "boolean"}
    assert predictions["additionalProperties"] is False


@pytest.mark.parametrize("name", ["default", "contrast"])
def test_the_document_names_the_contract_version_and_the_project(
    rendered: Mapping[str, Path], name: str
) -> None:
    document = json.loads((rendered[name] / "api/openapi.json").read_text())
    given = answers(rendered[name])

    assert document["info"]["version"] == "1.0.0"
    assert document["info"]["title"] == f"{given['project_slug']} API"
    assert set(document["paths"]) == {"/predict", "/health", "/ready"}


def test_the_drift_check_fails_on_a_changed_schema(
    rendered: Mapping[str, Path], load_project: Any, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    shutil.copytree(rendered["default"], project)
    schemas_py = project / "package/src/churn_model/contracts/schemas.py"
    text = schemas_py.read_text()
    old = "    support_calls: Series[int] = pa.Field(ge=0)\n"
    assert old in text, "schemas.py changed: update this test"
    schemas_py.write_text(
        text.replace(old, "    support_calls: Series[int] = pa.Field(ge=0, le=50)\n")
    )
    settings = load_project(project)

    found = api.drift(settings)

    assert not found.passed, "a tightened check left api/openapi.json current"
    assert found.changes == (
        "components.schemas.Features.properties.support_calls.maximum: 9223372036854775807 -> 50",
    )
    assert api.drift_reason(found, project).startswith(
        "api/openapi.json differs from what the contract produces (1 difference: "
        "components.schemas.Features.properties.support_calls.maximum"
    )
