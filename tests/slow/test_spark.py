"""Batch scoring on Apache Spark in a generated project: `make spark-setup`, then
`make score-batch` on a Parquet directory of a million rows in several files.

The rows come from the worked example's own generator (`data.py`), so they follow
the contract; Spark runs on two local cores with a modest driver memory, in this
process (`--master local[2]`), through Spark Connect (`SPARK_REMOTE=local[2]`), and
on a standalone cluster the project starts with pyspark's own scripts (`make
spark-cluster`: a master, a worker and a Spark Connect server on 127.0.0.1).
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import Project, answers
from tests.slow.servers import free_port

pytestmark = pytest.mark.slow

ROWS = 1_000_000
FILES = 8
SAMPLE = 2_000
# What `make score-batch` passes on: the id column, and two local cores.
SCORE_ARGS = "SCORE_ARGS=--keep customer_id --master local[2]"
# The JVM's heap (driver and executor in local mode); the Python workers are apart.
SPARK_MEMORY = "--driver-memory 1g pyspark-shell"


@pytest.fixture(scope="module")
def spark_project(set_up_project: Callable[[str], Project]) -> Project:
    """The default project (example, MLflow), trained, with `make spark-setup`. The
    candidate is scored (`make promote` would add its gate's time, not Spark's)."""
    if not shutil.which("java"):
        pytest.skip("Java is not installed (Debian's openjdk-17-jre-headless): run `make dev`")
    project = set_up_project("default")
    project.env["PYSPARK_SUBMIT_ARGS"] = SPARK_MEMORY
    project.make("train")
    project.make("spark-setup")
    return project


def python(project: Project, script: str) -> str:
    return project.run("uv", "run", "--frozen", "python", "-c", script).stdout


@pytest.fixture(scope="module")
def customers(spark_project: Project, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A million customers without their label, with an id, in several Parquet files."""
    folder = tmp_path_factory.mktemp("spark") / "customers"
    package = answers(spark_project.path)["package_name"]
    python(
        spark_project,
        "import numpy as np\n"
        f"from {package}.data import FEATURES, make_customers\n"
        f"from pathlib import Path\n"
        f"folder = Path({str(folder)!r}); folder.mkdir()\n"
        f"rows = make_customers({ROWS}, seed=7)[FEATURES]\n"
        f"rows.insert(0, 'customer_id', np.arange({ROWS}, dtype='int64'))\n"
        f"for i, part in enumerate(np.array_split(rows.index, {FILES})):\n"
        "    rows.loc[part].to_parquet(folder / f'part-{i}.parquet', index=False)\n",
    )
    return folder


def model(project: Project) -> str:
    return f"models:/{answers(project.path)['project_slug']}@candidate"


def score_batch(
    project: Project, source: Path, target: Path, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return project.make(
        "score-batch",
        f"INPUT={source}",
        f"OUTPUT={target}",
        f"MODEL={model(project)}",
        SCORE_ARGS,
        check=check,
    )


def leftovers(target: Path) -> list[str]:
    """What a job left beside its output: the output itself or a staging folder."""
    return sorted(p.name for p in target.parent.iterdir() if target.name in p.name)


def test_score_batch_scores_every_row_as_predict_does(
    spark_project: Project, customers: Path
) -> None:
    target = customers.parent / "scores"

    result = score_batch(spark_project, customers, target)

    assert f"Scored {ROWS} rows into {target}." in result.stderr, result.stderr[-3000:]
    assert leftovers(target) == ["scores"], "a staging folder was left behind"
    sample = customers.parent / "sample.parquet"
    predicted = customers.parent / "predicted.parquet"
    compared = python(
        spark_project,
        "import pandas as pd, subprocess, sys\n"
        f"rows = pd.read_parquet({str(customers / 'part-3.parquet')!r}).head({SAMPLE})\n"
        f"rows.to_parquet({str(sample)!r}, index=False)\n"
        "subprocess.run(['handoff', 'predict', '--model',\n"
        f"    {model(spark_project)!r},\n"
        f"    '--input', {str(sample)!r}, '--output', {str(predicted)!r}], check=True)\n"
        f"expected = pd.read_parquet({str(predicted)!r})\n"
        "expected['customer_id'] = rows['customer_id'].to_numpy()\n"
        f"scores = pd.read_parquet({str(target)!r})\n"
        "print(len(scores), scores['customer_id'].nunique(), list(scores.columns))\n"
        "joined = expected.merge(scores, on='customer_id', suffixes=('', '_spark'))\n"
        "print(len(joined), (joined['churned'] == joined['churned_spark']).all(),\n"
        "      (joined['churn_probability'] - joined['churn_probability_spark']).abs().max())\n",
    ).splitlines()

    count, ids, columns = compared[0].split(" ", 2)
    assert (int(count), int(ids)) == (ROWS, ROWS), "not one prediction per input row"
    assert columns == "['churn_probability', 'churned', 'customer_id']"
    joined, same_labels, largest_gap = compared[1].split()
    assert int(joined) == SAMPLE, "the sample's ids are not all in Spark's output"
    assert same_labels == "True", "Spark and predict disagree on `churned`"
    assert math.isclose(float(largest_gap), 0, abs_tol=1e-12), (
        f"Spark's probabilities differ from predict's by up to {largest_gap}"
    )


# What a job over the bad partition says, wherever Spark runs.
REFUSAL = [
    "handoff: error: the input breaks the contract (2 rules); nothing was written:",
    "  - Features.contract_type: isin(('month-to-month', 'one-year', 'two-year')) "
    "failed in 500 row(s), e.g. lifetime, lifetime, lifetime",
    "  - Features.tenure_months: greater_than_or_equal_to(0) failed in 3 row(s), e.g. -1, -1, -1",
]


@pytest.fixture(scope="module")
def with_bad_partition(spark_project: Project, customers: Path) -> Path:
    """Two of the good files (a quarter of the rows), and one whose rows break the contract."""
    package = answers(spark_project.path)["package_name"]
    planted = customers.parent / "with-bad-partition"
    planted.mkdir()
    for name in ("part-0.parquet", "part-1.parquet"):
        shutil.copy(customers / name, planted / name)
    python(
        spark_project,
        "import numpy as np\n"
        f"from {package}.data import FEATURES, make_customers\n"
        "rows = make_customers(5_000, seed=8)[FEATURES]\n"
        "rows.insert(0, 'customer_id', np.arange(5_000, dtype='int64'))\n"
        "rows.loc[:499, 'contract_type'] = 'lifetime'\n"
        "rows.loc[1000:1002, 'tenure_months'] = -1\n"
        f"rows.to_parquet({str(planted / 'part-bad.parquet')!r}, index=False)\n",
    )
    return planted


def refusal(result: subprocess.CompletedProcess[str]) -> list[str]:
    """The lines `handoff score` said about a refused job (make's own left out)."""
    said = result.stderr[result.stderr.index("handoff: error:") :].splitlines()
    return [line for line in said if not line.startswith("make")]


def test_a_bad_partition_is_refused_by_column_and_check_through_spark_connect(
    spark_project: Project, with_bad_partition: Path
) -> None:
    target = with_bad_partition.parent / "refused"

    # Through Spark Connect this time: SPARK_REMOTE=local starts a Connect server here.
    spark_project.env["SPARK_REMOTE"] = "local[2]"
    try:
        result = score_batch(spark_project, with_bad_partition, target, check=False)
    finally:
        del spark_project.env["SPARK_REMOTE"]

    assert result.returncode != 0, "a job over a bad partition succeeded"
    assert "on Spark Connect (local[2])." in result.stderr, "SPARK_REMOTE was not used"
    assert "Traceback" not in result.stderr
    assert refusal(result) == REFUSAL, result.stderr[-3000:]
    assert leftovers(target) == [], "a refused job left an output or staging folder"


def documented_cluster_steps(project: Project) -> list[str]:
    """The commands the generated README gives for a cluster on this machine."""
    readme = (project.path / "README.md").read_text()
    block = re.search(r"cluster on this machine.*?```bash\n(.*?)```", readme, re.S)
    assert block, "README.md does not show the steps to a Spark cluster on this machine"
    return [line.split("#")[0].strip() for line in block[1].splitlines()]


def test_a_standalone_cluster_scores_and_refuses_as_the_local_path_does(
    spark_project: Project, customers: Path, with_bad_partition: Path
) -> None:
    master, ui, connect = free_port(), free_port(), free_port()
    ports = [
        f"SPARK_MASTER_PORT={master}",
        f"SPARK_UI_PORT={ui}",
        f"SPARK_CONNECT_PORT={connect}",
        "SPARK_WORKER_MEMORY=1g",
        "SPARK_EXECUTOR_MEMORY=768m",
    ]
    remote = f"sc://127.0.0.1:{connect}"
    source = customers.parent / "cluster-input"
    source.mkdir()
    shutil.copy(customers / "part-2.parquet", source / "part-2.parquet")
    target = customers.parent / "cluster-scores"
    # The README's steps, with free ports for this test's cluster.
    assert documented_cluster_steps(spark_project) == [
        "make spark-setup",
        "make spark-cluster",
        "SPARK_REMOTE=sc://127.0.0.1:15002 make score-batch INPUT=data/customers/ "
        "OUTPUT=data/scores/",
        "make spark-cluster-stop",
    ]

    started = spark_project.make("spark-cluster", *ports)
    try:
        assert f"SPARK_REMOTE={remote} make score-batch" in started.stdout, started.stdout
        spark_project.env["SPARK_REMOTE"] = remote
        scored = score_batch(spark_project, source, target)
        refused = score_batch(
            spark_project, with_bad_partition, target.with_name("cluster-refused"), check=False
        )
        with urllib.request.urlopen(f"http://127.0.0.1:{ui}/json/", timeout=10) as answer:
            cluster = json.load(answer)
    finally:
        spark_project.env.pop("SPARK_REMOTE", None)
        stopped = spark_project.make("spark-cluster-stop", *ports, check=False)

    assert [app["name"] for app in cluster["activeapps"]] == ["Spark Connect server"]
    assert [w["state"] for w in cluster["workers"]] == ["ALIVE"], "no worker ran the jobs"
    assert f"on Spark Connect ({remote})." in scored.stderr, "SPARK_REMOTE was not used"
    assert f"Scored {ROWS // FILES} rows into {target}." in scored.stderr
    assert leftovers(target) == ["cluster-scores"], "a staging folder was left behind"
    compared = python(
        spark_project,
        "import pandas as pd, subprocess\n"
        f"rows = pd.read_parquet({str(source / 'part-2.parquet')!r}).head({SAMPLE})\n"
        f"rows.to_parquet({str(source.parent / 'cluster-sample.parquet')!r}, index=False)\n"
        "subprocess.run(['handoff', 'predict', '--model', "
        f"{model(spark_project)!r}, '--input',\n"
        f"    {str(source.parent / 'cluster-sample.parquet')!r}, '--output',\n"
        f"    {str(source.parent / 'cluster-predicted.parquet')!r}], check=True)\n"
        f"expected = pd.read_parquet({str(source.parent / 'cluster-predicted.parquet')!r})\n"
        "expected['customer_id'] = rows['customer_id'].to_numpy()\n"
        f"scores = pd.read_parquet({str(target)!r})\n"
        "joined = expected.merge(scores, on='customer_id', suffixes=('', '_spark'))\n"
        "print(len(scores), len(joined), (joined['churned'] == joined['churned_spark']).all(),\n"
        "      (joined['churn_probability'] - joined['churn_probability_spark']).abs().max())\n",
    ).split()
    assert compared[:3] == [str(ROWS // FILES), str(SAMPLE), "True"], (
        f"the cluster's scores are not predict's: {compared}"
    )
    assert math.isclose(float(compared[3]), 0, abs_tol=1e-12)
    assert refused.returncode != 0, "the cluster scored a bad partition"
    assert refusal(refused) == REFUSAL, refused.stderr[-3000:]
    assert leftovers(target.with_name("cluster-refused")) == [], "a refused job left files"
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    pids = spark_project.path / ".venv/spark-cluster/pids"
    assert not list(pids.glob("*.pid")), "make spark-cluster-stop left a Spark process"


def test_a_local_job_keeps_the_users_jvm_options_beside_the_kits(spark_project: Project) -> None:
    # A user's JVM options (a proxy, a trust store, ...) as spark-submit takes them.
    spark_project.env["PYSPARK_SUBMIT_ARGS"] = (
        "--driver-java-options -Dhandoff.user=kept " + SPARK_MEMORY
    )
    try:
        started = python(
            spark_project,
            "from handoff_kit.batch import session\n"
            "spark = session('local[1]')\n"
            "bean = spark.sparkContext._jvm.java.lang.management.ManagementFactory\n"
            "print('\\n'.join(bean.getRuntimeMXBean().getInputArguments()))\n"
            "spark.stop()\n",
        ).splitlines()
    finally:
        spark_project.env["PYSPARK_SUBMIT_ARGS"] = SPARK_MEMORY

    assert "-Dhandoff.user=kept" in started, f"the user's option was dropped: {started}"
    assert {"-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"} <= set(started), (
        f"the kit's local JVM options were dropped: {started}"
    )
