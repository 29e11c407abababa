"""What a project's training function gives the kit to register."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic

import pandas as pd
from typing_extensions import TypeVar

from handoff_kit.registry import Scorer

# `Trained` alone stands for Trained[Scorer]: it type-checks, and the gate's
# interface row asks for the model's class.
ModelT = TypeVar("ModelT", bound=Scorer, default=Scorer)


@dataclass(frozen=True)
class Trained(Generic[ModelT]):
    """What a project's training function returns (`train` in [tool.handoff]), as
    `Trained[TheModelClass]`: the gate checks with mypy that the class satisfies
    the contract's interface.

    model: the fitted model;
    metrics: held-out evaluation, by name;
    sources: the catalog sources it learned from (none: made in code);
    example: a few valid input rows, stored with the version as an example request;
    evaluation: the data the metrics come from, in a sentence (the split, its size);
    threshold: the decision threshold the metrics used, for a classifier.
    The model card shows them all.
    """

    model: ModelT
    metrics: dict[str, float]
    sources: tuple[str, ...] = ()
    example: pd.DataFrame = field(default_factory=pd.DataFrame)
    evaluation: str = ""
    threshold: float | None = None
