"""The acceptance steps every Handoff project shares, as a pytest-bdd step library.

A project's step module loads it as a pytest plugin and keeps only its own steps:

    pytest_plugins = ("handoff_kit.steps",)
    scenarios("scoring.feature")

It defines, for the contract [tool.handoff] names:

- Given the candidate model: the registry model `make handoff` and `make promote`
  name (HANDOFF_MODEL_URI), else the `model_trained_here` fixture (by default the
  project's own `train`; a step module may define a quicker one);
- Given the golden sample of <rows>: golden_sample.csv beside the feature file;
- Given / But the "<column>" column is missing, has a blank value, holds a
  negative number, holds decimal numbers;
- When the candidate model scores them;
- Then every <row> gets exactly one prediction; every prediction conforms to the
  prediction schema; the input is refused, naming the "<column>" column and its
  "<check>" check; no <row> is scored.

A step the project defines itself with the same text wins (pytest-bdd takes the
definition closest to the test), so projects made before this library keep theirs.
The `assert_*` functions are the Then steps' assertions, for a project's own steps;
the acceptance gate counts a call to one as an assertion.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import numpy as np
import pandas as pd
import pytest
from pytest_bdd import given, parsers, then, when

from handoff_kit import config
from handoff_kit.candidate import candidate_under_test
from handoff_kit.contracts import ContractViolation
from handoff_kit.hollow_steps import KIT_ASSERTIONS
from handoff_kit.registry import Scorer
from handoff_kit.training import Trained

GOLDEN_SAMPLE = "golden_sample.csv"
# The assertions a project's own Then steps may call (the gate counts them).
ASSERTIONS = KIT_ASSERTIONS


@dataclass
class Scoring:
    """What the steps of one scenario share."""

    model: Scorer | None = None
    rows: pd.DataFrame = field(default_factory=pd.DataFrame)
    predictions: pd.DataFrame | None = None
    refusal: ContractViolation | None = None


@pytest.fixture(scope="module")
def handoff_settings(request: pytest.FixtureRequest) -> config.Settings:
    """[tool.handoff] of the project the scenarios are in."""
    return config.load(Path(request.path).parent)


@pytest.fixture
def scoring() -> Scoring:
    return Scoring()


@pytest.fixture
def model_trained_here(handoff_settings: config.Settings) -> Scorer:
    """The model a plain `pytest` run scores: what the project's `train` returns.
    A project's step module may define a quicker one under this name."""
    trained = handoff_settings.trainer()()
    if not isinstance(trained, Trained):
        msg = f"{handoff_settings.train_function} returned {type(trained).__name__}, not a Trained"
        raise TypeError(msg)
    return cast("Scorer", trained.model)


@pytest.fixture
def golden_sample_path(
    request: pytest.FixtureRequest, handoff_settings: config.Settings
) -> Path:
    """golden_sample.csv beside the scenario's feature file (else in the acceptance folder)."""
    scenario = getattr(request.function, "__scenario__", None)
    feature = getattr(getattr(scenario, "feature", None), "filename", None)
    folder = Path(feature).parent if feature else handoff_settings.acceptance
    return folder / GOLDEN_SAMPLE


# --- Given ------------------------------------------------------------------------


@given("the candidate model")
def candidate_model(
    scoring: Scoring, request: pytest.FixtureRequest, handoff_settings: config.Settings
) -> None:
    """The registry's candidate under `make handoff` and `make promote`; otherwise
    the model trained here (only then is it trained)."""
    registered = candidate_under_test(handoff_settings)
    scoring.model = (
        registered
        if registered is not None
        else cast("Scorer", request.getfixturevalue("model_trained_here"))
    )


@given(parsers.parse("the golden sample of {rows}"))
def golden_sample(scoring: Scoring, golden_sample_path: Path) -> None:
    scoring.rows = pd.read_csv(golden_sample_path)


@given(parsers.parse('the "{column}" column is missing'))
def drop_column(scoring: Scoring, column: str) -> None:
    scoring.rows = scoring.rows.drop(columns=column)


@given(parsers.parse('the "{column}" column has a blank value'))
def blank_value(scoring: Scoring, column: str) -> None:
    values = scoring.rows[column]
    # NumPy's integers and booleans hold no blank: as a caller's would, it turns.
    if values.dtype.kind in "iu":
        values = values.astype("float64")
    elif values.dtype.kind == "b":
        values = values.astype("object")
    scoring.rows[column] = values
    scoring.rows.loc[scoring.rows.index[0], column] = np.nan


@given(parsers.parse('the "{column}" column holds a negative number'))
def negative_value(scoring: Scoring, column: str) -> None:
    scoring.rows.loc[scoring.rows.index[0], column] = -1


@given(parsers.parse('the "{column}" column holds decimal numbers'))
def decimal_values(scoring: Scoring, column: str) -> None:
    scoring.rows[column] = scoring.rows[column] + 0.5


# --- When -------------------------------------------------------------------------


@when("the candidate model scores them")
def score(scoring: Scoring) -> None:
    """Unchecked rows, as a caller without a type checker would send them."""
    if scoring.model is None:
        msg = 'no model to score with: the scenario needs "Given the candidate model"'
        raise AssertionError(msg)
    try:
        scoring.predictions = scoring.model.predict(scoring.rows)
    except ContractViolation as refusal:
        scoring.refusal = refusal


# --- Then, and the assertions behind them -----------------------------------------


def assert_one_prediction_each(scoring: Scoring) -> None:
    assert scoring.refusal is None, f"the rows were refused: {scoring.refusal}"
    assert scoring.predictions is not None, "nothing was scored"
    assert scoring.predictions.index.equals(scoring.rows.index), (
        "the predictions are not one per row, in the rows' order"
    )


def assert_predictions_conform(scoring: Scoring, settings: config.Settings) -> None:
    assert scoring.predictions is not None, "nothing was scored"
    settings.contract.model_output.validated(scoring.predictions)


def assert_refused(scoring: Scoring, column: str, check: str) -> None:
    assert scoring.refusal is not None, "the bad input was scored instead of refused"
    assert any(
        failure.column == column and failure.check.startswith(check)
        for failure in scoring.refusal.failures
    ), f"expected {column} to fail {check}, got:\n{scoring.refusal}"


def assert_nothing_scored(scoring: Scoring) -> None:
    assert scoring.predictions is None, "bad input was scored"


@then(parsers.parse("every {row} gets exactly one prediction"))
def one_prediction_each(scoring: Scoring) -> None:
    assert_one_prediction_each(scoring)


@then("every prediction conforms to the prediction schema")
def predictions_conform(scoring: Scoring, handoff_settings: config.Settings) -> None:
    assert_predictions_conform(scoring, handoff_settings)


@then(
    parsers.parse(
        'the input is refused, naming the "{column}" column and its "{check}" check'
    )
)
def refused(scoring: Scoring, column: str, check: str) -> None:
    assert_refused(scoring, column, check)


@then(parsers.parse("no {row} is scored"))
def nothing_scored(scoring: Scoring) -> None:
    assert_nothing_scored(scoring)
