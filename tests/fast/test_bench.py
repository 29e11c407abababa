"""bench/run.py's pure parts: statistics, Markdown, ordering of runs, its command line.

The benchmark itself is a script (`make bench`), never a timed test.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import REPO

SCRIPT = REPO / "bench" / "run.py"


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_run", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


bench = load_bench()


@pytest.mark.parametrize(
    ("samples", "median", "minimum", "maximum"),
    [
        ([3.0, 1.0, 2.0], 2.0, 1.0, 3.0),
        ([4.0, 1.0, 3.0, 2.0], 2.5, 1.0, 4.0),
        ([5.0], 5.0, 5.0, 5.0),
    ],
    ids=["odd", "even", "single"],
)
def test_stats_give_median_min_max_and_run_count(samples, median, minimum, maximum) -> None:
    stats = bench.Stats.of(samples)

    assert (stats.median, stats.minimum, stats.maximum, stats.runs) == (
        median,
        minimum,
        maximum,
        len(samples),
    )


def test_stats_of_no_samples_is_an_error_not_a_zero() -> None:
    with pytest.raises(ValueError, match="no samples"):
        bench.Stats.of([])


def test_markdown_table_has_header_separator_and_escaped_cells() -> None:
    table = bench.markdown_table(["A", "B"], [["1", "x | y"], ["2", ""]])

    assert table.splitlines() == [
        "| A | B |",
        "| --- | --- |",
        "| 1 | x \\| y |",
        "| 2 |  |",
    ]


def test_markdown_table_refuses_a_row_of_the_wrong_width() -> None:
    with pytest.raises(ValueError, match="has 1 cells, header has 2"):
        bench.markdown_table(["A", "B"], [["only one"]])


def test_timing_table_shows_ratios_and_says_why_a_row_was_not_measured() -> None:
    rows = [
        bench.Row("Ours", bench.Stats.of([2.0, 3.0, 4.0]), ratios={"floor": 1.5, "Kedro": 0.75}),
        bench.Row("Peer", None, "not measured: CCDS_TEMPLATE unset"),
    ]

    lines = bench.timing_table(rows).splitlines()

    assert lines[2] == "| Ours | 3.00 s | 2.00 s | 4.00 s | 3 | 1.50x floor, 0.75x Kedro |"
    assert lines[3] == "| Peer | not measured |  |  |  | not measured: CCDS_TEMPLATE unset |"


@pytest.mark.parametrize(
    ("value", "verdict"), [(1.2, "met"), (1.25, "met"), (1.3, "MISSED")], ids=str
)
def test_target_line_says_whether_the_target_was_met(value, verdict) -> None:
    line = bench.target_line("Generation vs floor", value, 1.25, "x")

    assert line == f"- Generation vs floor: {value:.2f}x (target ≤ 1.25x): {verdict}"


def test_runs_alternate_between_contenders_and_warm_up_rounds_are_dropped() -> None:
    calls: list[str] = []

    def contender(name: str, seconds: float):
        def measure() -> float:
            calls.append(name)
            return seconds + len(calls)  # Each call returns a distinct value.

        return measure

    samples = bench.alternate({"a": contender("a", 0), "b": contender("b", 100)}, runs=2, warmup=1)

    assert calls == ["a", "b", "a", "b", "a", "b"]
    assert samples == {"a": [3, 5], "b": [104, 106]}


def test_check_gates_are_read_from_the_makefile(tmp_path: Path) -> None:
    (tmp_path / "Makefile").write_text(
        "check: format-check lint test ## Run every check.\nformat-check lint test:\n\t@true\n"
    )

    assert bench.check_gates(tmp_path, {"PATH": "/usr/bin:/bin"}) == [
        "format-check",
        "lint",
        "test",
    ]


def test_check_gates_are_the_checks_make_check_runs_at_once(tmp_path: Path) -> None:
    (tmp_path / "Makefile").write_text(
        "CHECKS := lint test\ncheck: ## Run every check.\n\t@$(MAKE) -j2 $(CHECKS)\n"
        "lint test:\n\t@true\n"
    )

    assert bench.check_gates(tmp_path, {"PATH": "/usr/bin:/bin"}) == ["lint", "test"]


def test_help_lists_the_quick_mode_and_the_sections() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stderr
    assert "--quick" in result.stdout
    assert "--sections" in result.stdout
    assert "CCDS_TEMPLATE" in result.stdout


def test_percentiles_are_nearest_rank_samples() -> None:
    samples = [float(n) for n in range(1, 101)]

    assert bench.percentile(samples, 0.5) == 50.0
    assert bench.percentile(samples, 0.99) == 99.0
    assert bench.percentile([3.0], 0.99) == 3.0
    with pytest.raises(ValueError, match="no samples"):
        bench.percentile([], 0.5)


def test_the_serving_table_gives_throughput_latency_and_our_ratio_per_batch_size() -> None:
    loads = [
        bench.Load("ours", 1, (0.001, 0.001, 0.002, 0.004)),
        bench.Load("theirs", 1, (0.004, 0.004, 0.004, 0.004)),
        bench.Load("ours", 100, (0.01, 0.01)),
    ]

    table = bench.serving_table(loads, "ours", "theirs").splitlines()

    assert table[0] == "| Server | Rows per request | Requests | Requests/s | p50 ms | p99 ms |"
    assert table[2] == "| ours | 1 | 4 | 500 | 1.0 | 4.0 |"
    assert table[3] == "| theirs | 1 | 4 | 250 | 4.0 | 4.0 |"
    assert table[5] == "| ratio: ours / theirs | 1 |  | 2.00x |  |  |"
    assert len(table) == 6, "a ratio for a batch size only one server ran"


def test_the_scaling_report_fits_a_line_per_command_for_memory_and_crossing() -> None:
    # predict: 2 s + 1 s per million rows, 400 MiB + 200 bytes a row; Spark: 10 s +
    # 0.5 s per million rows, memory flat.
    mib = 2**20
    runs = {
        ("predict", 1_000_000): (3.0, 400 * mib + 200_000_000),
        ("predict", 4_000_000): (6.0, 400 * mib + 800_000_000),
        ("score", 1_000_000): (10.5, 1500 * mib),
        ("score", 4_000_000): (12.0, 1500 * mib),
    }

    lines = bench.scaling_report(runs, (1_000_000, 4_000_000), 400 * mib + 2_000_000_000)

    assert "| 4,000,000 | `handoff score` | 12.00 s | 333,333 | 1,500 MiB |" in lines[2]
    predict, score, crossing = lines[-3:]
    assert "2.0 s fixed + 1.00 s per million rows" in predict
    assert "about 10,000,000 rows fit" in predict, "predict's memory line is not extrapolated"
    assert "the input is not held in memory" in score, "Spark's flat memory was not recognised"
    assert (
        crossing
        == "- Spark catches up with predict at about 16,000,000 rows (where the two lines cross)."
    )


def test_the_scaling_report_says_when_spark_never_catches_up() -> None:
    runs = {
        ("predict", 10): (1.0, 100),
        ("predict", 40): (1.3, 400),
        ("score", 10): (9.0, 900),
        ("score", 40): (12.0, 900),
    }

    crossing = bench.scaling_report(runs, (10, 40), 10_000)[-1]

    assert "does not catch up with predict at any size" in crossing


def test_the_image_section_reports_both_sizes_the_container_test_weighed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    printed = "image size: 800000000 bytes, floor image size: 640000000 bytes (1.25x)\n"
    monkeypatch.setattr(
        bench.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0, printed, "")
    )

    lines, ratio = bench.image_sizes()

    assert ratio == 1.25
    table = "\n".join(lines)
    assert "| production (`make docker`) | 800 MB | 1.25x |" in table, table
    assert "| floor | 640 MB | 1.00x |" in table, table


def test_the_image_section_says_why_when_the_container_test_weighed_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    skipped = "1 skipped in 0.1s\n"
    monkeypatch.setattr(
        bench.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0, skipped, "")
    )

    lines, ratio = bench.image_sizes()

    assert ratio != ratio, "a ratio without measurements"  # NaN
    assert lines == [
        "Not measured: the container test did not weigh the images (1 skipped in 0.1s)."
    ]
