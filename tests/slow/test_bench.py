"""`make bench` end to end, in its quick mode over the cheap sections (about 30 s).

It checks that the benchmark runs and reports, never how fast anything was.
"""

from __future__ import annotations

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
    args = f"--quick --sections generation update --output {output}"

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
    assert "Sections not run: green, checks, validation." in report
    assert re.search(r"^- CPU: .+, \d+ cores", report, re.M), "the machine is named"
    assert "Generation vs Copier's floor" in report
