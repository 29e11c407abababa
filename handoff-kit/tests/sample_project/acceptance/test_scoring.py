"""The sample project's acceptance scenario: the registry's model scores real rows."""

from __future__ import annotations

import os

import pandas as pd

from handoff_kit import registry
from handoff_kit.candidate import MODEL_URI_VARIABLE


def test_the_model_scores_every_row_between_0_and_1() -> None:
    model = registry.load(os.environ[MODEL_URI_VARIABLE])

    scores = model.predict(pd.DataFrame({"rooms": [1, 4], "kind": ["flat", "house"]}))

    assert len(scores) == 2
    assert scores["score"].between(0, 1).all()
