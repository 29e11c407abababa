"""The model interface: what every candidate model offers the production code.

mypy checks that the package's model satisfies this Protocol (see
package/tests/test_contracts.py), so a signature that drifts on either side
fails `make typecheck`.
"""

from __future__ import annotations

from typing import Protocol, Self, runtime_checkable

import pandas as pd
from pandera.typing import DataFrame

from .schemas import Features, Predictions


@runtime_checkable
class Model(Protocol):
    """A model that learns from features and scores them."""

    def fit(self, features: DataFrame[Features], target: pd.Series) -> Self:
        """Learn from `features` and the matching `target` values."""
        ...

    def predict(self, features: DataFrame[Features]) -> DataFrame[Predictions]:
        """Score every row of `features`: one prediction per row, same order."""
        ...
