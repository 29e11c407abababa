"""The handoff kit: the machinery every Handoff project shares.

A project keeps its own code (contracts, model, training) in its package and
says where it is in [tool.handoff]; the kit brings the rest: contract schemas
that name what broke, the breaking-change rules and snapshot, the data catalog,
the handoff gate and its report, and the model registry (MLflow or folders).
The `handoff` command runs it all (see cli.py).
"""

from __future__ import annotations

from importlib import metadata

from handoff_kit.contracts import ContractViolation, Failure, Schema
from handoff_kit.training import Trained

__version__ = metadata.version("handoff-kit")

__all__ = ["ContractViolation", "Failure", "Schema", "Trained", "__version__"]
