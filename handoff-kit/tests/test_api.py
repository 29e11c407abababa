"""The model API derived from the contract: the OpenAPI document, its drift check,
and the reading of JSON rows into the frame the contract validates."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pandera.pandas as pa
import pytest
from pandera.typing import Series

from handoff_kit import Schema, api, config
from handoff_kit.cli import main


def schemas(settings: config.Settings) -> dict[str, Any]:
    return dict(api.document(settings)["components"]["schemas"])


def test_the_request_rows_are_the_input_schemas_columns_with_types_bounds_and_enums(
    settings: config.Settings,
) -> None:
    features = schemas(settings)["Features"]

    assert features["type"] == "object"
    assert features["required"] == ["rooms", "kind"]
    assert features["properties"] == {
        "rooms": {
            "type": "integer",
            "format": "int64",
            "minimum": 0,
            "maximum": 2**63 - 1,
        },
        "kind": {"type": "string", "enum": ["flat", "house"]},
    }
    # strict=False: other properties are dropped, not refused.
    assert features["additionalProperties"] is True
    assert features["description"] == (
        "One row per house on the market. Other properties are ignored."
    )


def test_the_response_rows_are_the_output_schemas_and_strict_refuses_others(
    settings: config.Settings,
) -> None:
    predictions = schemas(settings)["Predictions"]

    assert predictions["properties"] == {
        "score": {"type": "number", "format": "double", "minimum": 0, "maximum": 1}
    }
    assert predictions["required"] == ["score"]
    assert predictions["additionalProperties"] is False


def test_the_document_says_the_contract_version_and_every_status_with_its_body(
    settings: config.Settings,
) -> None:
    document = api.document(settings)

    assert document["openapi"] == "3.1.0"
    assert document["info"]["version"] == "1.0.0"
    assert document["info"]["title"] == "sample-project API"
    assert set(document["paths"]) == {"/predict", "/health", "/ready"}
    predict = document["paths"]["/predict"]["post"]
    body = predict["requestBody"]["content"]["application/json"]["schema"]
    assert body == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/Features"},
        "minItems": 1,
    }
    responses = predict["responses"]
    assert set(responses) == {"200", "400", "413", "422", "500"}
    for status in ("400", "413", "422", "500"):
        schema = responses[status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Error"}, status
    every = [
        response
        for path in document["paths"].values()
        for operation in path.values()
        for response in operation["responses"].values()
    ]
    assert all("X-Contract-Version" in response["headers"] for response in every)


class Checked(Schema):
    """Every check JSON Schema can say, and one it cannot."""

    small: Series[int] = pa.Field(gt=0, lt=10)
    ranged: Series[float] = pa.Field(in_range={"min_value": 0, "max_value": 1})
    open_range: Series[float] = pa.Field(
        in_range={
            "min_value": 0,
            "max_value": 1,
            "include_min": False,
            "include_max": False,
        }
    )
    code: Series[str] = pa.Field(str_matches=r"[A-Z]{2}", str_length={"max_value": 2})
    prefix: Series[str] = pa.Field(str_startswith="a.", str_endswith="z")
    word: Series[str] = pa.Field(str_contains="o", notin=["no"], ne="off")
    fixed: Series[int] = pa.Field(eq=1)
    flag: Series[bool]
    maybe: Series[str] = pa.Field(isin=["a"], nullable=True)
    late: Series[pd.Timestamp]
    extra: Series[int] | None = pa.Field(ge=0)

    class Config:
        strict = True

    @pa.check("late")
    @classmethod
    def recent(cls, late: Series[pd.Timestamp]) -> Series[bool]:
        return late.dt.year > 2000


def test_each_expressible_check_becomes_its_json_schema_keyword() -> None:
    row = api.row_schema(Checked)
    props = row["properties"]

    assert props["small"] == {
        "type": "integer",
        "format": "int64",
        "exclusiveMinimum": 0,
        "exclusiveMaximum": 10,
    }
    assert props["ranged"]["minimum"] == 0
    assert props["ranged"]["maximum"] == 1
    assert props["open_range"]["exclusiveMinimum"] == 0
    assert props["open_range"]["exclusiveMaximum"] == 1
    assert props["code"]["pattern"] == "^(?:[A-Z]{2})"
    assert props["code"]["maxLength"] == 2
    assert props["prefix"] == {
        "type": "string",
        "pattern": "z$",
        "allOf": [{"pattern": "^a\\."}],
    }, "two checks of the same keyword must both hold"
    assert props["word"] == {
        "type": "string",
        "pattern": "o",
        "not": {"const": "off"},
        "allOf": [{"not": {"enum": ["no"]}}],
    }
    assert props["fixed"]["const"] == 1
    assert props["flag"] == {"type": "boolean"}
    assert props["maybe"] == {"type": ["string", "null"], "enum": ["a", None]}
    assert props["late"]["format"] == "date-time"
    assert props["late"]["description"] == "Also checked by the contract: recent"
    assert "extra" not in row["required"], "an optional column is required"
    assert row["additionalProperties"] is False


class Odd(Schema):
    when: Series[pd.CategoricalDtype]


def test_a_dtype_without_a_json_type_is_named() -> None:
    with pytest.raises(api.ApiError, match=r"Odd\.when: no JSON type for dtype"):
        api.row_schema(Odd)


class Error(Schema):
    score: Series[float]


def test_schemas_named_like_the_apis_own_are_refused(settings: config.Settings) -> None:
    # The contract is read once per settings: this one's output is named Error.
    settings.__dict__["contract"] = replace(settings.contract, model_output=Error)

    with pytest.raises(api.ApiError, match="need two names other than Error"):
        api.document(settings)


# --- Drift -----------------------------------------------------------------------


def test_openapi_writes_the_document_and_the_check_passes_on_it(
    settings: config.Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["openapi", "--check"]) == 1
    assert "no api/openapi.json: run `make openapi` and commit it" in (
        capsys.readouterr().err
    )

    assert main(["openapi"]) == 0

    written = json.loads(settings.openapi.read_text())
    assert written == api.document(settings)
    assert "Wrote api/openapi.json (the API of contract version 1.0.0): commit it." in (
        capsys.readouterr().out
    )
    assert main(["openapi", "--check"]) == 0
    assert api.drift(settings).passed


def test_the_drift_check_fails_on_a_changed_schema_and_says_where(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["openapi"]) == 0
    contracts = project / "package/src/sample_model/contracts.py"
    settings = config.load(project)
    document = api.document(settings)
    # What a tightened check in the contract does to the document.
    document["components"]["schemas"]["Features"]["properties"]["rooms"]["minimum"] = 1
    document["components"]["schemas"]["Features"]["properties"].pop("kind")
    settings.openapi.write_text(api.dumps(document))
    assert contracts.is_file()

    found = api.drift(settings)

    assert not found.passed
    assert found.changes == (
        'components.schemas.Features.properties.kind: added ({"type": "string", "enum": ["flat", "house"]})',
        "components.schemas.Features.properties.rooms.minimum: 1 -> 0",
    )
    assert main(["openapi", "--check"]) == 1
    error = capsys.readouterr().err
    assert (
        "api/openapi.json differs from what the contract produces (2 differences: "
        "components.schemas.Features.properties.kind: added"
    ) in error
    assert "review the API change, then run `make openapi` and commit it" in error


def test_a_committed_file_that_is_not_json_is_drift(settings: config.Settings) -> None:
    settings.openapi.parent.mkdir(parents=True)
    settings.openapi.write_text("{ not json")

    found = api.drift(settings)

    assert not found.passed
    assert found.changes[0].startswith("not JSON: ")


def test_differences_name_removed_and_changed_values() -> None:
    old = {"a": {"b": 1, "c": [1]}, "d": "x" * 80}
    new = {"a": {"b": 2}, "d": "y"}

    assert list(api.differences(old, new)) == [
        "a.b: 1 -> 2",
        "a.c: removed",
        f'd: "{"x" * 56}... -> "y"',
    ]
    assert list(api.differences(1, 2)) == ["(document): 1 -> 2"]


# --- Reading rows ----------------------------------------------------------------


@pytest.fixture
def reader(settings: config.Settings) -> api.RowReader:
    return api.RowReader.of(settings.contract.model_input)


def failures(reader: api.RowReader, body: object) -> list[str]:
    with pytest.raises(api.RequestError) as raised:
        reader.frame(body)
    return [str(failure) for failure in raised.value.failures]


def test_valid_rows_become_the_contracts_frame_without_other_properties(
    reader: api.RowReader,
) -> None:
    frame = reader.frame(
        [{"rooms": 2, "kind": "flat", "id": 7}, {"rooms": 3.0, "kind": "house"}]
    )

    assert list(frame.columns) == ["rooms", "kind"]
    assert frame["rooms"].tolist() == [2, 3]
    assert str(frame["rooms"].dtype) == "int64"


def test_every_broken_rule_of_a_request_is_named_by_column_and_check(
    reader: api.RowReader,
) -> None:
    assert failures(reader, [{"rooms": "two", "kind": None}]) == [
        "rooms: dtype('int64') failed (found \"two\")",
        "kind: not_nullable failed in 1 row, e.g. row 0",
    ]
    assert failures(reader, [{"rooms": -1, "kind": "castle"}, {"rooms": True}]) == [
        "rooms: dtype('int64') failed (found true)",
        "kind: missing column (column_in_dataframe)",
    ]
    assert failures(reader, [{"rooms": -1, "kind": "castle"}]) == [
        "rooms: greater_than_or_equal_to(0) failed in 1 row, e.g. -1",
        "kind: isin(['flat', 'house']) failed in 1 row, e.g. castle",
    ]
    assert failures(reader, [{"rooms": 2**70, "kind": "flat"}]) == [
        f"rooms: dtype('int64') failed (found {2**70})"
    ]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"rooms": 1}, "the body must be a JSON array of rows (objects)"),
        ([], "no rows to score: send at least one"),
        ([1], "row 0 is not a JSON object"),
    ],
    ids=["object", "empty", "not-rows"],
)
def test_a_body_that_is_not_rows_is_refused_saying_so(
    reader: api.RowReader, body: object, detail: str
) -> None:
    with pytest.raises(api.RequestError, match=re.escape(detail)) as raised:
        reader.frame(body)
    assert raised.value.failures == []


def test_a_strict_schema_refuses_other_columns_and_reads_every_json_type() -> None:
    reader = api.RowReader.of(Checked)
    row = {
        "small": 5,
        "ranged": 1,
        "open_range": 0.5,
        "code": "AB",
        "prefix": "a.z",
        "word": "on",
        "fixed": 1,
        "flag": True,
        "maybe": None,
        "late": "2026-01-02T03:04:05",
        "unknown": 1,
    }

    assert failures(reader, [row, {**row, "late": "2026-01-03", "other": 2}]) == [
        "other: unexpected column (column_in_schema)",
        "unknown: unexpected column (column_in_schema)",
    ]
    del row["unknown"]
    frame = reader.frame([row, {**row, "late": "2026-01-03T00:00:00", "maybe": "a"}])
    assert str(frame["late"].dtype).startswith("datetime64")
    assert frame["ranged"].tolist() == [1.0, 1.0]
    assert failures(reader, [{**row, "late": "soon"}])[0].startswith(
        "late: dtype('datetime64[ns]') failed"
    )
    assert failures(reader, [{**row, "ranged": 10**400}]) == [
        f"ranged: dtype('float64') failed (found {str(10**400)[:57]}...)"
    ]


def test_json_without_nan_and_records_with_nulls() -> None:
    with pytest.raises(ValueError, match="NaN is not a JSON number"):
        api.parse(b'[{"rooms": NaN}]')
    frame = pd.DataFrame(
        {"score": [0.5, float("nan")], "at": pd.to_datetime(["2026-01-02", None])}
    )

    rows = api.records(frame)

    assert rows == [
        {"score": 0.5, "at": "2026-01-02T00:00:00"},
        {"score": None, "at": None},
    ]
    assert json.loads(api.dumps_rows(rows)) == rows
