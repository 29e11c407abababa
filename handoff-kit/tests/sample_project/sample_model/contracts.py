"""The sample project's contract: one input schema, one output schema, one interface."""

from __future__ import annotations

from typing import Protocol, Self, runtime_checkable

import pandas as pd
import pandera.pandas as pa
from pandera.typing import DataFrame, Series

from handoff_kit import Schema


class Features(Schema):
    """One row per house on the market."""

    rooms: Series[int] = pa.Field(ge=0)
    kind: Series[str] = pa.Field(isin=["flat", "house"])

    class Config:
        coerce = False  # A wrong dtype is refused, never converted.


class Predictions(Schema):
    """One score per house, in the order of the input."""

    score: Series[float] = pa.Field(ge=0, le=1)

    class Config:
        coerce = False
        strict = True


@runtime_checkable
class Model(Protocol):
    """A model that learns from features and scores them."""

    def fit(self, features: DataFrame[Features], target: pd.Series) -> Self: ...

    def predict(self, features: DataFrame[Features]) -> DataFrame[Predictions]: ...


CONTRACT_VERSION = "1.0.0"
INPUTS = (Features,)
OUTPUTS = (Predictions,)
INTERFACES = (Model,)
