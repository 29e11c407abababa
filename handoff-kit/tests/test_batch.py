"""`handoff score`'s scoring of each Arrow batch, its refusals and its checks before
Spark starts: plain pandas, the same contract and model as `handoff predict`.

The Spark job around them (session, read, write) runs in the template's slow tier,
in a generated project (tests/slow/test_spark.py).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import MODEL_NAME, fitted, houses

from handoff_kit import batch, config
from handoff_kit.batch import BatchError, Violation
from handoff_kit.cli import EXIT_UNUSABLE, main
from handoff_kit.contracts import Schema
from sample_model.contracts import Predictions

FAILURE_FIELDS = list(batch.FAILURE_FIELDS)


def rows_with_ids(count: int = 12) -> pd.DataFrame:
    frame = houses(count).drop(columns="sold")
    frame["house_id"] = range(100, 100 + count)
    return frame


def test_a_valid_batch_gets_predicts_predictions_with_the_kept_column(
    settings: config.Settings,
) -> None:
    model = fitted()
    rows = rows_with_ids()

    scored = batch.score_batch(rows, model, settings.contract, ["house_id"])

    expected = model.predict(settings.contract.model_input.validated(rows))
    assert list(scored.columns) == ["score", "house_id", *FAILURE_FIELDS]
    assert scored["score"].tolist() == expected["score"].tolist(), (
        "not predict's scores"
    )
    assert scored["house_id"].tolist() == rows["house_id"].tolist(), (
        "ids not kept in order"
    )
    assert scored[FAILURE_FIELDS].isna().all().all(), "a valid batch reports failures"


def test_a_batch_breaking_the_input_contract_gives_its_failures_counted_and_no_scores(
    settings: config.Settings,
) -> None:
    rows = rows_with_ids()
    rows.loc[:2, "kind"] = "castle"
    rows.loc[5, "rooms"] = -1

    scored = batch.score_batch(rows, fitted(), settings.contract, ["house_id"])

    failures = {
        (row["_handoff_schema"], row["_handoff_column"], row["_handoff_check"]): row
        for _, row in scored.iterrows()
    }
    assert set(failures) == {
        ("Features", "kind", "isin(['flat', 'house'])"),
        ("Features", "rooms", "greater_than_or_equal_to(0)"),
    }
    assert failures["Features", "kind", "isin(['flat', 'house'])"]["_handoff_rows"] == 3
    assert (
        failures["Features", "rooms", "greater_than_or_equal_to(0)"]["_handoff_rows"]
        == 1
    )
    assert scored[["score", "house_id"]].isna().all().all(), (
        "a refused batch was scored"
    )


def test_a_missing_column_or_a_wrong_dtype_counts_every_row_of_the_batch(
    settings: config.Settings,
) -> None:
    rows = rows_with_ids(7).drop(columns="kind")
    rows["rooms"] = rows["rooms"].astype("float64")

    scored = batch.score_batch(rows, fitted(), settings.contract, [])

    counted = dict(zip(scored["_handoff_column"], scored["_handoff_rows"], strict=True))
    assert counted == {"kind": 7, "rooms": 7}, (
        f"whole-batch failures miscounted: {counted}"
    )


def test_predictions_breaking_the_output_contract_are_refused_naming_the_output_schema(
    settings: config.Settings,
) -> None:
    class Broken:
        def predict(self, features: pd.DataFrame) -> pd.DataFrame:
            return pd.DataFrame({"score": [1.5] * len(features)})

    scored = batch.score_batch(rows_with_ids(4), Broken(), settings.contract, [])

    assert scored["_handoff_schema"].tolist() == ["Predictions"]
    assert scored["_handoff_check"].tolist() == ["less_than_or_equal_to(1)"]
    assert scored["_handoff_rows"].tolist() == [4]


def test_every_batch_of_a_partition_is_scored_in_turn(
    settings: config.Settings,
) -> None:
    batches = [rows_with_ids(3), rows_with_ids(5)]

    scored = list(batch.score_batches(iter(batches), fitted(), settings.contract, []))

    assert [len(frame) for frame in scored] == [3, 5]


def test_a_refusal_says_one_line_per_broken_rule_with_its_count() -> None:
    message = batch.refusal(
        [
            Violation("Features", "kind", "isin(['flat', 'house'])", 1200, "castle"),
            Violation("Features", "rooms", "column_in_dataframe", 5000, ""),
            Violation("Features", "rooms", "dtype('int64')", 5000, "float64"),
        ]
    )

    assert message.splitlines() == [
        "the input breaks the contract (3 rules); nothing was written:",
        "  - Features.kind: isin(['flat', 'house']) failed in 1200 row(s), e.g. castle",
        "  - Features.rooms: missing column, in 5000 row(s)",
        "  - Features.rooms: dtype('int64') failed in 5000 row(s), found float64",
    ]
    single = batch.refusal([Violation("Features", "rooms", "column_in_schema", 2, "")])
    assert "(1 rule)" in single
    assert "Features.rooms: unexpected column, in 2 row(s)" in single


def test_the_failure_rows_of_every_batch_add_up_to_one_violation_per_rule() -> None:
    # What the job observes while writing: the rows scored, and each batch's
    # failure rows (schema, column, check, rows, example), in no set order.
    observed = {
        "scored": 90,
        "failures": [
            ("Features", "rooms", "greater_than(0)", 3, "-1"),
            ("Features", "kind", "isin(['flat', 'house'])", 40, "castle"),
            ("Features", "rooms", "greater_than(0)", 2, "-4"),
        ],
    }

    with pytest.raises(BatchError) as refused:
        batch.checked(observed)

    assert str(refused.value).splitlines()[1:] == [
        "  - Features.kind: isin(['flat', 'house']) failed in 40 row(s), e.g. castle",
        "  - Features.rooms: greater_than(0) failed in 5 row(s), e.g. -1",
    ], "the batches' counts were not summed per rule, sorted, with the first example"


def test_a_job_without_failure_rows_reports_the_rows_it_scored() -> None:
    assert batch.checked({"scored": 1_000_000, "failures": []}) == 1_000_000


def test_the_spark_schema_comes_from_the_output_contract_then_kept_columns() -> None:
    ddl = batch.spark_schema(Predictions, [("house_id", "bigint")])

    assert ddl == (
        "`score` double, `house_id` bigint, `_handoff_schema` string, "
        "`_handoff_column` string, `_handoff_check` string, `_handoff_rows` bigint, "
        "`_handoff_example` string"
    )


def test_a_kept_column_named_like_a_prediction_is_refused() -> None:
    with pytest.raises(
        BatchError, match="--keep score: Predictions has a column of that name"
    ):
        batch.spark_schema(Predictions, [("score", "double")])


def test_an_output_dtype_spark_cannot_carry_is_refused() -> None:
    class Odd(Schema):
        when: pd.Timedelta

    with pytest.raises(BatchError, match=r"Odd.when has dtype timedelta64\[ns\]"):
        batch.spark_schema(Odd, [])


def test_the_output_is_staged_in_a_hidden_sibling(tmp_path: Path) -> None:
    staging = batch.staging_dir(tmp_path / "scores")

    assert staging.parent == tmp_path
    assert staging.name.startswith(".scores.")
    assert staging.name.endswith(".partial")


@pytest.mark.parametrize(
    ("location", "local"),
    [("data/in", True), ("file:///data/in", True), ("s3a://bucket/in", False)],
)
def test_plain_paths_and_file_uris_are_local(location: str, local: bool) -> None:
    assert batch.is_local(location) is local


def score(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    status = main(["score", *args])
    return status, capsys.readouterr().err


def test_score_reads_the_champion_by_default_and_reports_the_rows_scored(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["train"]) == 0
    assert main(["promote"]) == 0
    (project / "in").mkdir()
    jobs = []

    def job(*args: object) -> int:
        jobs.append(args)
        return 12

    monkeypatch.setattr(batch, "run_job", job)
    status, err = score(capsys, "in", "out", "--keep", "house_id")

    assert status == 0
    assert f"Scoring in with models:/{MODEL_NAME}@champion on Spark (local[*])." in err
    assert "Scored 12 rows into out." in err
    (_, _, job) = jobs[0]
    assert job == batch.Job("in", "out", ("house_id",), "local[*]")

    monkeypatch.setenv("SPARK_REMOTE", "sc://spark.example.com:15002")
    status, err = score(capsys, "in", "elsewhere", "--model", f"models:/{MODEL_NAME}/1")
    assert status == 0
    assert "on Spark Connect (sc://spark.example.com:15002)." in err


def test_score_refuses_a_missing_input_or_an_existing_output_before_spark_starts(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, err = score(capsys, "nowhere", "out")
    assert status == EXIT_UNUSABLE
    assert err.splitlines()[-1] == "handoff: error: nowhere: no such file or directory"

    (project / "in").mkdir()
    (project / "out").mkdir()
    status, err = score(capsys, "in", "out")
    assert status == EXIT_UNUSABLE
    assert err.splitlines()[-1] == (
        "handoff: error: out: already exists; remove it or choose another output"
    )


def test_score_without_a_champion_exits_1_before_spark_starts(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "in").mkdir()

    status, err = score(capsys, "in", "out")

    assert status == EXIT_UNUSABLE
    assert "no version has the alias 'champion'" in err.splitlines()[-1]
    assert "Traceback" not in err


def test_a_spark_error_is_told_by_its_python_error_line() -> None:
    error = RuntimeError(
        "[PYTHON_EXCEPTION] An exception was thrown from the Python worker.\n"
        "Traceback (most recent call last):\n"
        '  File "model.py", line 3, in predict\n'
        "KeyError: 'rooms'\n"
        "\tat org.apache.spark.api.python.BasePythonRunner.handlePythonException\n"
    )

    assert batch.last_line(error) == "KeyError: 'rooms'"
    assert batch.last_line(RuntimeError("Java gateway exited")) == "Java gateway exited"
    assert batch.last_line(RuntimeError("")) == "RuntimeError"
