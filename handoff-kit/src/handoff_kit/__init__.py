"""The handoff kit: the machinery every Handoff project shares.

A project keeps its own code (contracts, model, training) in its package and
says where it is in [tool.handoff]; the kit brings the rest: contract schemas
that name what broke, the breaking-change rules and snapshot, the data catalog,
the handoff gate and its report, and the model registry (MLflow or folders).
The `handoff` command runs it all (see cli.py).

The public names below load on first use (PEP 562): `import handoff_kit`, and
every `handoff` command that needs no contract, starts without pandas or pandera.
"""

from __future__ import annotations

import importlib
import warnings
from importlib import metadata
from typing import TYPE_CHECKING

# pandera imports pyspark when it is installed (the `spark` extra), and pyspark
# warns about pandas 3 on import: advice for its users, not ours (see batch.py).
warnings.filterwarnings(
    "ignore", "PySpark does not yet fully support pandas", FutureWarning
)

if TYPE_CHECKING:
    from handoff_kit.contracts import ContractViolation, Failure, Schema
    from handoff_kit.training import Trained

__version__ = metadata.version("handoff-kit")

__all__ = ["ContractViolation", "Failure", "Schema", "Trained", "__version__"]

# Each public name, by the module that defines it.
_LAZY = {
    "ContractViolation": "handoff_kit.contracts",
    "Failure": "handoff_kit.contracts",
    "Schema": "handoff_kit.contracts",
    "Trained": "handoff_kit.training",
}


def __getattr__(name: str) -> object:
    """A public name, imported from its module the first time it is asked for."""
    if name not in _LAZY:
        # Not ours: `from handoff_kit import config` then imports the submodule.
        msg = f"module 'handoff_kit' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})
