"""A model in plain pandas: each kind of house scores the share sold in training."""

from __future__ import annotations

from typing import Self

import pandas as pd
from pandera.typing import DataFrame

from sample_model.contracts import Features, Predictions


class RateModel:
    """Scores a row with the share of its kind that sold; unseen kinds, the overall share."""

    def __init__(self) -> None:
        self.rates: dict[str, float] = {}
        self.overall: float | None = None

    def fit(self, features: DataFrame[Features], target: pd.Series) -> Self:
        valid = Features.validated(features)
        sold = target.astype("float64")
        rates = sold.groupby(valid["kind"].to_numpy()).mean()
        self.rates = {str(kind): float(rate) for kind, rate in rates.items()}
        self.overall = float(sold.mean())
        return self

    def predict(self, features: DataFrame[Features]) -> DataFrame[Predictions]:
        if self.overall is None:
            msg = "RateModel.predict was called before fit"
            raise RuntimeError(msg)
        valid = Features.validated(features)
        score = valid["kind"].map(self.rates).fillna(self.overall).astype("float64")
        return Predictions.validated(pd.DataFrame({"score": score}, index=valid.index))
