"""Training: the official source `houses`, a held-out fifth, two metrics."""

from __future__ import annotations

from handoff_kit import Trained, catalog
from sample_model.contracts import Features
from sample_model.model import RateModel

SOURCES = ("houses",)
TARGET = "sold"


def train() -> Trained[RateModel]:
    """Fit on four fifths of the houses; score the fifth the model never saw."""
    rows = catalog.load("houses")
    held_out = rows.index % 5 == 0
    features = Features.validated(rows.drop(columns=TARGET))
    model = RateModel().fit(features[~held_out], rows.loc[~held_out, TARGET])
    score = model.predict(features[held_out])["score"]
    truth = rows.loc[held_out, TARGET].astype("float64")
    metrics = {
        "brier_score": float(((score - truth) ** 2).mean()),
        "accuracy": float(((score > 0.5) == (truth > 0.5)).mean()),
    }
    return Trained(
        model,
        metrics,
        sources=SOURCES,
        example=features.head(3),
        evaluation=f"Every fifth house ({held_out.sum()} rows), held out from training.",
        threshold=0.5,
    )
