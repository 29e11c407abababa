"""The handoff kit: the machinery every Handoff project shares.

A project keeps its own code (contracts, model, training) in its package and
says where it is in [tool.handoff]; the kit brings the rest: contract schemas
that name what broke, the breaking-change rules and snapshot, the data catalog,
the handoff gate and its report, and the model registry (MLflow or folders).
The `handoff` command runs it all (see cli.py).
"""

from __future__ import annotations

import warnings
from importlib import metadata

# pandera imports pyspark when it is installed (the `spark` extra), and pyspark
# warns about pandas 3 on import: advice for its users, not ours (see batch.py).
warnings.filterwarnings(
    "ignore", "PySpark does not yet fully support pandas", FutureWarning
)

from handoff_kit.contracts import ContractViolation, Failure, Schema  # noqa: E402
from handoff_kit.training import Trained  # noqa: E402

__version__ = metadata.version("handoff-kit")

__all__ = ["ContractViolation", "Failure", "Schema", "Trained", "__version__"]
