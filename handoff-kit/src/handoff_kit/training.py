"""What a project's training function gives the kit to register."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from handoff_kit.registry import Scorer


@dataclass(frozen=True)
class Trained:
    """What a project's training function returns (`train` in [tool.handoff]).

    model: the fitted model, which satisfies the contract's interface;
    metrics: held-out evaluation, by name;
    sources: the catalog sources it learned from (none: made in code);
    example: a few valid input rows, stored with the version as an example request;
    evaluation: the data the metrics come from, in a sentence (the split, its size);
    threshold: the decision threshold the metrics used, for a classifier.
    The model card shows them all.
    """

    model: Scorer
    metrics: dict[str, float]
    sources: tuple[str, ...] = ()
    example: pd.DataFrame = field(default_factory=pd.DataFrame)
    evaluation: str = ""
    threshold: float | None = None
