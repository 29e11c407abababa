"""`handoff score`: batch scoring of a Parquet directory with Apache Spark.

    handoff score INPUT OUTPUT [--model URI] [--keep COLUMN] [--master URL]

Spark reads INPUT (a Parquet file or directory, local or any URI the cluster
reads) and hands the rows to Python in Arrow batches; each batch is checked
against the contract's input schema, scored by the registry model and its
predictions checked against the output schema: the same pandas schemas, and
the same model, as `handoff predict`. Spark runs in this process (`--master`,
`local[*]` by default) or on a cluster through Spark Connect when SPARK_REMOTE
is set (`sc://host:15002`); the cluster's Python then needs the project's
package, which defines the model's class.

Nothing is written unless every batch passes: a run with violations fails
with one line per schema, column and check, counting the rows that broke it
in the whole input. The input is read and scored once: a local OUTPUT is
written to a hidden sibling folder while the job counts the failures, then
renamed, or removed if any rule broke, so a failed job never leaves a partial
one. A cluster URI cannot be renamed: there a first pass checks, a second writes.

The functions up to `score` are plain pandas (unit-tested without Spark); the
Spark glue after them runs in the slow tier, in a generated project.
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from handoff_kit import config, registry
from handoff_kit.contracts import ContractViolation, Failure, Schema

if TYPE_CHECKING:
    from pyspark.sql import DataFrame as SparkFrame
    from pyspark.sql import Observation, SparkSession
    from pyspark.sql.types import StructType

# Where a batch's violations go in the scored frame; null on scored rows.
FAILURE_FIELDS = {
    "_handoff_schema": "string",
    "_handoff_column": "string",
    "_handoff_check": "string",
    "_handoff_rows": "bigint",
    "_handoff_example": "string",
}
# Arrow batches of this many rows: fewer, larger batches spend less time in
# pandera's per-call overhead than Spark's default of 10 000.
BATCH_ROWS = 100_000
# A local job's JVM lives for one job of seconds: C1, the quick JIT compiler alone,
# and the serial collector spend a third less CPU than the server defaults, which
# pay back only in long-lived JVMs (measured in bench/results.md). Spark puts its
# default options before the user's own (spark.driver.extraJavaOptions, or
# spark-submit's --driver-java-options), which keep working and win where they differ.
LOCAL_JVM_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
# The modules handoff_kit.spark_daemon imports before forking a local job's workers.
PRELOAD = "HANDOFF_SPARK_PRELOAD"
PANDAS_NOTICE = "ignore:PySpark does not yet fully support pandas:FutureWarning"
# Contract dtypes (pandera's names) and the Spark SQL types that carry them.
SPARK_TYPES = {
    "int8": "tinyint",
    "int16": "smallint",
    "int32": "int",
    "int64": "bigint",
    "float32": "float",
    "float64": "double",
    "bool": "boolean",
    "str": "string",
    "string": "string",
    "datetime64[ns]": "timestamp",
}


class BatchError(Exception):
    """The job cannot run or was refused; the message says why (one or more lines)."""


@dataclass(frozen=True)
class Violation:
    """One broken rule over the whole input: rows counted across every batch."""

    schema: str
    column: str
    check: str
    rows: int
    example: str

    def __str__(self) -> str:
        if self.check == "column_in_dataframe":
            return f"{self.schema}.{self.column}: missing column, in {self.rows} row(s)"
        if self.check == "column_in_schema":
            return (
                f"{self.schema}.{self.column}: unexpected column, in {self.rows} row(s)"
            )
        found = (
            f"found {self.example}"
            if self.check.startswith("dtype(")
            else f"e.g. {self.example}"
        )
        return f"{self.schema}.{self.column}: {self.check} failed in {self.rows} row(s), {found}"


def refusal(violations: Sequence[Violation]) -> str:
    """What a refused job says: how many rows broke which rule, one line each."""
    total = len(violations)
    lines = "\n".join(f"  - {violation}" for violation in violations)
    return (
        f"the input breaks the contract ({total} rule{'s' if total > 1 else ''}); "
        f"nothing was written:\n{lines}"
    )


def spark_schema(output: type[Schema], kept: Sequence[tuple[str, str]]) -> str:
    """The scored frame's Spark DDL: the output schema's columns (from the contract,
    not written twice), the kept input columns, then the failure fields."""
    fields = []
    for name, column in output.to_schema().columns.items():
        dtype = str(column.dtype)
        if dtype not in SPARK_TYPES:
            msg = f"{output.__name__}.{name} has dtype {dtype}, which Spark scoring cannot carry"
            raise BatchError(msg)
        fields.append((str(name), SPARK_TYPES[dtype]))
    clash = {name for name, _ in kept} & {name for name, _ in fields}
    if clash:
        msg = f"--keep {sorted(clash)[0]}: {output.__name__} has a column of that name"
        raise BatchError(msg)
    fields += [*kept, *FAILURE_FIELDS.items()]
    return ", ".join(f"`{name}` {dtype}" for name, dtype in fields)


def _failure_rows(
    violation: ContractViolation, batch_rows: int, columns: Sequence[str]
) -> pd.DataFrame:
    """One row per failure of a batch, with empty prediction and kept columns.

    A value check counts its failing rows; a missing column or a wrong dtype
    makes the whole batch unusable, so it counts every row of it."""

    def rows(failure: Failure) -> int:
        return (
            failure.rows
            if failure.examples and not failure.check.startswith("dtype(")
            else batch_rows
        )

    frame = pd.DataFrame(
        {
            "_handoff_schema": [violation.schema] * len(violation.failures),
            "_handoff_column": [f.column for f in violation.failures],
            "_handoff_check": [f.check for f in violation.failures],
            "_handoff_rows": pd.array(
                [rows(f) for f in violation.failures], dtype="int64"
            ),
            "_handoff_example": [", ".join(f.examples) for f in violation.failures],
        }
    )
    for column in reversed(columns):
        frame.insert(0, column, pd.Series([None] * len(frame), dtype="object"))
    return frame


def score_batch(
    batch: pd.DataFrame,
    model: registry.Scorer,
    contract: config.Contract,
    keep: Sequence[str],
) -> pd.DataFrame:
    """Score one batch as `handoff predict` scores a file: input checked, model run,
    output checked. The predictions come with the kept columns and empty failure
    fields; a batch that breaks the contract gives its failure rows instead."""
    outputs = list(contract.model_output.to_schema().columns)
    try:
        features = contract.model_input.validated(batch)
        predictions = contract.model_output.validated(model.predict(features))
    except ContractViolation as violation:
        return _failure_rows(violation, len(batch), [*outputs, *keep])
    scored = predictions.reset_index(drop=True)
    for column in keep:
        scored[column] = batch[column].to_numpy()
    for name, dtype in FAILURE_FIELDS.items():
        scored[name] = pd.Series(
            [None] * len(scored), dtype="Int64" if dtype == "bigint" else "object"
        )
    return scored


def score_batches(
    batches: Iterable[pd.DataFrame],
    model: registry.Scorer,
    contract: config.Contract,
    keep: Sequence[str],
) -> Iterator[pd.DataFrame]:
    """What each Spark task runs (`mapInPandas`): every batch of its partition."""
    for batch in batches:
        yield score_batch(batch, model, contract, keep)


def checked(observed: Mapping[str, Any]) -> int:
    """How many rows were scored, from what the job observed while writing them
    (`scored`, and `failures`: every batch's failure rows); BatchError if any."""
    found: dict[tuple[str, str, str], tuple[int, str]] = {}
    for schema, column, check, rows, example in observed["failures"]:
        counted, first = found.get((schema, column, check), (0, example))
        found[schema, column, check] = (counted + int(rows), first)
    if found:
        raise BatchError(
            refusal([Violation(*key, *found[key]) for key in sorted(found)])
        )
    return int(observed["scored"])


def staging_dir(output: Path) -> Path:
    """A hidden sibling of `output`, where the job writes until it is complete."""
    return output.with_name(f".{output.name}.{uuid.uuid4().hex[:8]}.partial")


def is_local(location: str) -> bool:
    """A plain path, or a file: URI; anything else (s3a://, hdfs://) is the cluster's."""
    return "://" not in location or location.startswith("file:")


def local_path(location: str) -> Path:
    return Path(location.removeprefix("file://").removeprefix("file:"))


@dataclass(frozen=True)
class Job:
    """What to score and where: `handoff score`'s arguments."""

    source: str  # Parquet file or directory: a path, or a URI the cluster reads.
    target: str  # The Parquet directory to write; it must not exist.
    keep: tuple[str, ...] = ()  # Input columns copied beside the predictions.
    master: str = "local[*]"  # Where Spark runs when SPARK_REMOTE is unset.


def score(settings: config.Settings, model_uri: str, job: Job) -> int:
    """Score the Parquet rows of `job.source` into `job.target`; return how many."""
    if is_local(job.source) and not local_path(job.source).exists():
        msg = f"{job.source}: no such file or directory"
        raise BatchError(msg)
    if is_local(job.target) and local_path(job.target).exists():
        msg = f"{job.target}: already exists; remove it or choose another output"
        raise BatchError(msg)
    model = registry.load(model_uri, settings)
    return run_job(model, settings.contract, job)


# --- The Spark glue: it needs pyspark and Java, so the slow tier runs it, in a
# generated project (tests/slow/test_spark.py), and the kit's coverage leaves it out.


def run_job(  # pragma: no cover - Spark glue: the slow tier runs it.
    model: registry.Scorer, contract: config.Contract, job: Job
) -> int:
    """Run the scoring job on a Spark session; return how many rows were scored."""
    # A local job's Python daemon imports the model's module once for its workers.
    os.environ[PRELOAD] = type(model).__module__
    return _scored(session(job.master), model, contract, job)


def _scored(  # pragma: no cover - Spark glue: the slow tier runs it.
    spark: SparkSession, model: registry.Scorer, contract: config.Contract, job: Job
) -> int:
    """Score in one pass over the input: the write of the scored rows also counts
    them and gathers the failure rows (an Observation), so a refused job is known
    once the write is done, and its output, still in staging, is removed."""
    from pyspark.errors import PySparkException  # noqa: PLC0415
    from pyspark.sql import Observation  # noqa: PLC0415
    from pyspark.sql import functions as f  # noqa: PLC0415

    try:
        rows = spark.read.parquet(job.source)
        kept = [(column, _ddl(rows.schema, column)) for column in job.keep]
        schema = spark_schema(contract.model_output, kept)

        def scored_batches(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
            return score_batches(batches, model, contract, job.keep)

        failure = list(FAILURE_FIELDS)
        failed = f.col(failure[0]).isNotNull()
        scored = rows.mapInPandas(scored_batches, schema)
        columns = [column for column in scored.columns if column not in FAILURE_FIELDS]
        checks = Observation("handoff checks")
        observed = scored.observe(
            checks,
            f.count(f.when(~failed, 1)).alias("scored"),
            # Failure rows are a few per batch; collect_list skips the nulls.
            f.collect_list(f.when(failed, f.struct(*failure))).alias("failures"),
        )
        if is_local(job.target):
            return _write_checked(
                observed.filter(~failed).select(*columns), job.target, checks
            )
        # A cluster's storage has no rename: there the check is a pass that writes
        # nothing (Spark's noop format), and the write a second pass.
        observed.write.format("noop").mode("overwrite").save()
        count = checked(checks.get)
        scored.filter(~failed).select(*columns).write.parquet(job.target)
        return count
    except PySparkException as error:
        msg = f"Spark could not score {job.source}: {last_line(error)}"
        if "ModuleNotFoundError" in msg:
            msg += "; the workers' Python needs this project's package and the kit"
        raise BatchError(msg) from error
    finally:
        if not os.environ.get("SPARK_REMOTE"):
            spark.stop()


def session(master: str) -> SparkSession:  # pragma: no cover - Spark glue.
    """A Spark session: through Spark Connect when SPARK_REMOTE is set, else local."""
    try:
        from pyspark.sql import SparkSession  # noqa: PLC0415
    except ImportError:
        msg = "Spark is not installed: run `make spark-setup` (the kit's `spark` extra)"
        raise BatchError(msg) from None
    # Local Python workers (local[*], or SPARK_REMOTE=local) run this environment,
    # where the project's package is; a cluster's run its own.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    # pyspark's notice about pandas 3, once per worker; the lock pins pandas.
    os.environ["PYTHONWARNINGS"] = ",".join(
        filter(None, [os.environ.get("PYTHONWARNINGS"), PANDAS_NOTICE])
    )
    builder = SparkSession.builder.appName("handoff score")
    if os.environ.get("SPARK_REMOTE"):
        spark = builder.remote(os.environ["SPARK_REMOTE"]).getOrCreate()
    else:
        spark = (
            builder.master(master)
            .config("spark.driver.defaultJavaOptions", LOCAL_JVM_OPTIONS)
            .config("spark.python.daemon.module", "handoff_kit.spark_daemon")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(BATCH_ROWS))
    return spark


def _ddl(schema: StructType, column: str) -> str:  # pragma: no cover - Spark glue.
    if column not in schema.fieldNames():
        have = ", ".join(schema.fieldNames())
        msg = f"--keep {column}: the input has no such column (it has {have})"
        raise BatchError(msg)
    return str(schema[column].dataType.simpleString())


def _write_checked(  # pragma: no cover - Spark glue.
    frame: SparkFrame, target: str, checks: Observation
) -> int:
    """Write to a staging sibling, then rename it if the checks observed while
    writing found no violation: a refused or failed job leaves nothing behind."""
    final = local_path(target)
    staging = staging_dir(final)
    try:
        frame.write.parquet(str(staging))
        count = checked(checks.get)
        staging.rename(final)
        return count
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def last_line(error: BaseException) -> str:
    """The line of a Spark error that says what happened (the Python one, if any)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    errors = [line for line in lines if "Error:" in line or "Exception:" in line]
    return (errors or lines or [type(error).__name__])[-1]
