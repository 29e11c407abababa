"""The Python daemon of a local Spark job (`spark.python.daemon.module`).

Spark forks a Python worker per task from a daemon. Its own daemon imports only
pyspark, so every worker then imports pandas, pandera, the kit and the model's
library (scikit-learn...) on its own: seconds of CPU each, on the cores that are
scoring. This daemon imports them once, before forking, so the workers start
with them loaded. HANDOFF_SPARK_PRELOAD names the model's modules
(comma-separated), which the driver sets from the loaded model.
"""

from __future__ import annotations

import importlib
import os

import pyspark.worker  # noqa: F401 - what each forked worker runs.
from pyspark import daemon

from handoff_kit.batch import PRELOAD  # With pandas, pyarrow, pandera, the contracts.

if __name__ == "__main__":  # pragma: no cover - Spark starts it, in the slow tier.
    for module in filter(None, os.environ.get(PRELOAD, "").split(",")):
        importlib.import_module(module)
    daemon.manager()
