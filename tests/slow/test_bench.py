"""`make bench` end to end in its quick mode over the cheap sections, and the
validation-throughput helper against a stand-in contract (about 30 s in all).

They check that the benchmark runs and reports, never how fast anything was.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def median_seconds(report: str, measure: str) -> float:
    """The median column of the table row whose measure starts with `measure`."""
    for line in report.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split(" | ")]
        if cells[0].startswith(measure):
            return float(cells[1].removesuffix(" s"))
    raise AssertionError(f"no row for {measure!r}")


def test_quick_bench_reports_generation_against_peers_and_the_update(tmp_path: Path) -> None:
    output = tmp_path / "results.md"
    env = {k: v for k, v in os.environ.items() if k != "CCDS_TEMPLATE"}
    args = f"--quick --sections size generation update --output {output}"

    result = subprocess.run(
        ["make", "--no-print-directory", "bench", f"BENCH_ARGS={args}"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, (
        f"make bench failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    report = output.read_text()
    assert result.stdout.strip().endswith(report.strip()), "the report is printed as written"
    for measure in (
        "Generate: `copier copy --defaults` of Handoff",
        "Generate: Copier floor",
        "Generate: `kedro new",
        "Update: `copier update --defaults --vcs-ref v0.2.0`",
    ):
        assert median_seconds(report, measure) > 0, f"{measure} has no time in:\n{report}"
    assert re.search(r"\dx Copier floor, \d+\.\d\dx Kedro", report), "ratios to the floor and Kedro"
    assert "not measured: CCDS_TEMPLATE unset" in report
    skipped = re.search(r"^Sections not run: (.+)\.$", report, re.MULTILINE)
    assert skipped, "the report does not say which sections it left out"
    left_out = set(skipped.group(1).split(", "))
    assert not left_out & {"size", "generation", "update"}, f"sections run but named: {left_out}"
    assert {"green", "checks", "serve", "image"} <= left_out, f"sections left out: {left_out}"
    sizes = re.findall(r"^\| (default|minimal) \(.+\) \| (\d+) \| (\d+) \| (\d+) \|$", report, re.M)
    assert [row[0] for row in sizes] == ["default", "minimal"], "no package sizes in the report"
    for _, source, tests, kit in sizes:
        assert 0 < int(source) <= 400, f"package/src has {source} lines"
        assert 0 < int(tests) <= 300, f"package/tests has {tests} lines"
        assert int(kit) > int(source), "the kit holds the machinery, not package/"
    assert re.search(r"^- CPU: .+, \d+ cores", report, re.M), "the machine is named"
    assert "Generation vs Copier's floor" in report


def validate(
    *args: str, cwd: Path = REPO, pythonpath: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """bench/validate.py in the bench environment, as bench/run.py runs it."""
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return subprocess.run(
        [
            "uv",
            "run",
            "--locked",
            "--group",
            "bench",
            "python",
            str(REPO / "bench" / "validate.py"),
            *args,
        ],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


CONTRACT = """
import pandera.pandas as pa
from pandera.typing import Series


class CustomerFeatures(pa.DataFrameModel):
    tenure_months: Series[int] = pa.Field(ge=0)
    contract_type: Series[str]


class Predictions(pa.DataFrameModel):
    churn_probability: Series[float] = pa.Field(ge=0, le=1)
"""


def test_validation_throughput_without_a_contract_uses_the_bench_schema_and_says_so() -> None:
    result = validate("--rows", "1000", "--repeat", "2")

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["schema"].startswith("CustomerFeatures in bench/validate.py")
    assert [r["rows"] for r in report["results"]] == [1000]
    assert len(report["results"][0]["seconds"]) == 2
    assert all(seconds > 0 for seconds in report["results"][0]["seconds"])


def test_validation_throughput_uses_the_projects_own_input_schema(tmp_path: Path) -> None:
    (tmp_path / "churn" / "contracts").mkdir(parents=True)
    (tmp_path / "churn" / "__init__.py").write_text("")
    (tmp_path / "churn" / "contracts" / "__init__.py").write_text(CONTRACT)

    result = validate("--package", "churn", "--rows", "1000", "--repeat", "1", pythonpath=tmp_path)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["schema"].startswith("churn.contracts.CustomerFeatures")


def test_validation_throughput_refuses_to_guess_between_two_input_schemas(tmp_path: Path) -> None:
    (tmp_path / "churn" / "contracts").mkdir(parents=True)
    (tmp_path / "churn" / "__init__.py").write_text("")
    (tmp_path / "churn" / "contracts" / "__init__.py").write_text(
        CONTRACT + "\n\nclass RawInput(CustomerFeatures):\n    pass\n"
    )

    result = validate("--package", "churn", "--rows", "1000", pythonpath=tmp_path)

    assert result.returncode != 0
    assert "expected exactly one whose name says input or features" in result.stderr
