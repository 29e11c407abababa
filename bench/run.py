"""Handoff side by side: generation, time to green, update, checks, validation.

Times this template against Kedro (`kedro new`), cookiecutter-data-science (`ccds`,
when CCDS_TEMPLATE names a local clone of its template) and Copier's own floor (the
same number of plain files, no Jinja). Writes a Markdown report to bench/results.md
and prints it. `make bench` runs it; `--quick` does one run of each, no cold cache.

Every command runs as a user would run it, in a fresh temporary directory, with git
identity, Jupyter data and uv interpreter downloads isolated from this machine's.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import http.client
import importlib.metadata
import json
import math
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results.md"
PROJECT = "churn-model"  # Every tool generates into a folder of this name.
PEER_PYTHON = "3.12"  # The template's default Python, used for the peers' venvs too.
# Kedro's closest project: its own template (in the package), with its lint and test
# tools; its example pipeline is a starter on GitHub, which this machine cannot reach.
KEDRO_NEW = "new --name 'Churn Model' --tools lint,test,data --example n --telemetry no"

# Targets on the 2-core reference machine: reported, never asserted.
TARGET_FLOOR_RATIO = 1.25
TARGET_GREEN_WARM_S = 25.0
TARGET_SETUP_COLD_S = 40.0
# The checks, in multiples of the yardstick: the time to import what they need.
YARDSTICK = "import pandas, sklearn, pandera, pytest"
TARGET_CHECK_RATIO = 4.5
TARGET_HANDOFF_RATIO = 7.0
TARGET_HANDOFF_CANDIDATE_RATIO = 9.0
TARGET_UPDATE_RATIO = 1.5
TARGET_PREDICT_S = 5.0
# The production image against the floor image (the same base with pandas,
# scikit-learn, pandera, FastAPI and uvicorn), both built by the container test.
TARGET_IMAGE_RATIO = 1.6
IMAGE_SIZES = re.compile(r"image size: (\d+) bytes, floor image size: (\d+) bytes")
PREDICT_ROWS = 10
# Serving against its floor, a bare FastAPI route around the same pipeline
# (bench/bare_serve.py); `handoff predict` of a few rows against importing its libraries.
TARGET_SERVE_THROUGHPUT_RATIO = 0.6  # 1-row requests/s, and rows/s at 100 rows
TARGET_SERVE_P50_EXTRA_MS = 3.0
TARGET_STARTUP_RATIO = 1.5
STARTUP_ROWS = 3
CONCURRENT_CONNECTIONS = 4
IMPORT_FLOOR = "import pandas, sklearn, pandera.pandas"
# The answer sets whose package/ size the bench prints: the worked example, and the
# smallest project (no example, folder registry).
SIZE_ANSWERS = {
    "default": (),
    "minimal": ("--data", "example=false", "--data", "model_registry=files"),
}


# --- Statistics and formatting (pure) --------------------------------------------


@dataclass(frozen=True)
class Stats:
    median: float
    minimum: float
    maximum: float
    runs: int

    @classmethod
    def of(cls, samples: Sequence[float]) -> Stats:
        if not samples:
            raise ValueError("no samples to summarise")
        return cls(statistics.median(samples), min(samples), max(samples), len(samples))


@dataclass
class Row:
    """One line of the results table: a measure, its timings and its ratios."""

    measure: str
    stats: Stats | None  # None: not measured, `note` says why.
    note: str = ""
    ratios: dict[str, float] = field(default_factory=dict)


def ratio_text(ratios: Mapping[str, float]) -> str:
    return ", ".join(f"{value:.2f}x {name}" for name, value in ratios.items())


def seconds_text(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds < 100 else f"{seconds:.0f} s"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub-flavoured Markdown table; `|` in cells is escaped."""
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"row {list(row)} has {len(row)} cells, header has {len(header)}")

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    return "\n".join([line(header), line(["---"] * len(header)), *map(line, rows)])


def timing_table(rows: Sequence[Row]) -> str:
    cells = []
    for row in rows:
        if row.stats is None:
            cells.append([row.measure, "not measured", "", "", "", row.note])
            continue
        s = row.stats
        notes = "; ".join(part for part in (ratio_text(row.ratios), row.note) if part)
        cells.append(
            [
                row.measure,
                seconds_text(s.median),
                seconds_text(s.minimum),
                seconds_text(s.maximum),
                str(s.runs),
                notes,
            ]
        )
    return markdown_table(["Measure", "Median", "Min", "Max", "Runs", "Ratios and notes"], cells)


def target_line(name: str, value: float, limit: float, unit: str) -> str:
    verdict = "met" if value <= limit else "MISSED"
    return f"- {name}: {value:.2f}{unit} (target ≤ {limit:g}{unit}): {verdict}"


def percentile(samples: Sequence[float], share: float) -> float:
    """The nearest-rank percentile: the smallest sample with `share` of them at or below it."""
    if not samples:
        raise ValueError("no samples to summarise")
    ordered = sorted(samples)
    rank = max(1, math.ceil(len(ordered) * share))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Load:
    """Sequential requests to one server: their latencies, in seconds."""

    server: str
    rows: int
    latencies: tuple[float, ...]

    @property
    def per_second(self) -> float:
        return len(self.latencies) / sum(self.latencies)

    def cells(self) -> list[str]:
        return [
            self.server,
            str(self.rows),
            str(len(self.latencies)),
            f"{self.per_second:,.0f}",
            f"{percentile(self.latencies, 0.5) * 1000:.1f}",
            f"{percentile(self.latencies, 0.99) * 1000:.1f}",
        ]


def serving_table(loads: Sequence[Load], ours: str, theirs: str) -> str:
    """The serving measures side by side, then our throughput over theirs per batch size."""
    rows = [load.cells() for load in loads]
    by = {(load.server, load.rows): load for load in loads}
    for size in sorted({load.rows for load in loads}):
        if (ours, size) in by and (theirs, size) in by:
            ratio = by[ours, size].per_second / by[theirs, size].per_second
            rows.append([f"ratio: {ours} / {theirs}", str(size), "", f"{ratio:.2f}x", "", ""])
    header = ["Server", "Rows per request", "Requests", "Requests/s", "p50 ms", "p99 ms"]
    return markdown_table(header, rows)


# --- Running commands --------------------------------------------------------------


class CommandFailed(RuntimeError):
    pass


def tool_env(home: Path) -> dict[str, str]:
    """This process's environment, with git, Jupyter and uv isolated for the runs,
    and without PYTHONDONTWRITEBYTECODE, as a developer's shell is (this machine sets
    it; with it, `make setup` compiles the environment's bytecode, since Python
    would not keep what it compiles: about 30 s more, once)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "VIRTUAL_ENV"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env = {k: v for k, v in env.items() if not k.startswith("UV_") or k == "UV_CACHE_DIR"}
    (home / "gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
    env.update(
        GIT_CONFIG_GLOBAL=str(home / "gitconfig"),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Handoff Bench",
        GIT_AUTHOR_EMAIL="bench@example.com",
        GIT_COMMITTER_NAME="Handoff Bench",
        GIT_COMMITTER_EMAIL="bench@example.com",
        JUPYTER_DATA_DIR=str(home / "jupyter"),
        UV_PYTHON_DOWNLOADS="never",  # Offline machine: use installed interpreters.
        KEDRO_DISABLE_TELEMETRY="true",
        DO_NOT_TRACK="1",
    )
    if shutil.which("pyenv"):  # Expose every installed 3.x, as the template's tests do.
        versions = subprocess.run(
            ["pyenv", "versions", "--bare"], capture_output=True, text=True, check=True
        ).stdout.split()
        env["PYENV_VERSION"] = ":".join(v for v in versions if v.startswith("3.1"))
    return env


def run(
    args: Sequence[str], cwd: Path, env: Mapping[str, str], check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        list(args), cwd=cwd, env=dict(env), capture_output=True, text=True, check=False
    )
    if check and result.returncode != 0:
        raise CommandFailed(
            f"`{' '.join(args)}` exited {result.returncode} in {cwd}\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result


def timed(args: Sequence[str], cwd: Path, env: Mapping[str, str]) -> float:
    start = time.perf_counter()
    run(args, cwd, env)
    return time.perf_counter() - start


def alternate(
    contenders: Mapping[str, Callable[[], float]], runs: int, warmup: int = 1
) -> dict[str, list[float]]:
    """Run each contender in turn, round after round, so drift hits all alike.

    The first `warmup` rounds fill caches and are dropped.
    """
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for round_ in range(warmup + runs):
        for name, measure in contenders.items():
            seconds = measure()
            if round_ >= warmup:
                samples[name].append(seconds)
    return samples


def fresh_dir(root: Path, name: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=root))


# --- The things being compared ---------------------------------------------------


@dataclass
class Bench:
    root: Path
    env: dict[str, str]
    runs: int
    green_runs: int
    cold: bool
    ccds_template: Path | None
    notes: list[str] = field(default_factory=list)
    # The figures the targets are judged on, set by the measures that produce them.
    generation_ratio: float = float("nan")
    green_warm: float = float("nan")
    setup_cold: float = float("nan")
    check_ratio: float = float("nan")
    handoff_ratio: float = float("nan")
    handoff_candidate_ratio: float = float("nan")
    update_ratio: float = float("nan")
    predict_median: float = float("nan")
    scoring_ratio: float = float("nan")  # Spark's time over predict's, same rows.
    kedro_lint: dict[str, bool] = field(default_factory=dict)  # Its own linters: pass?
    green_steps: dict[str, list[float]] = field(default_factory=dict)
    warmup: int = 1

    @property
    def copier(self) -> str:
        return require("copier")

    # Templates ------------------------------------------------------------------

    def snapshot_template(self) -> Path:
        """The template's working tree as a plain folder: Copier renders it without git."""
        dst = self.root / "handoff-template"
        if not dst.exists():
            dst.mkdir()
            for name in ("copier.yml", "template", "hooks"):
                source = REPO / name
                if source.is_dir():
                    shutil.copytree(
                        source, dst / name, ignore=shutil.ignore_patterns("__pycache__")
                    )
                else:
                    shutil.copy2(source, dst / name)
        return dst

    def floor_template(self, generated: Path) -> Path:
        """A template whose payload is a generated project's files, verbatim.

        Same file count, paths and sizes as ours, but no `.jinja` file and no question,
        so Copier only walks and copies: its own cost, apart from the template's.
        """
        dst = self.root / "floor-template"
        if not dst.exists():
            shutil.copytree(generated, dst / "template")
            (dst / "copier.yml").write_text("_subdirectory: template\n")
        return dst

    # Size -------------------------------------------------------------------------

    def package_sizes(self) -> str:
        """Lines of Python a team owns (package/src, package/tests) and the kit it does not."""
        ours = self.snapshot_template()
        rows = []
        for name, options in SIZE_ANSWERS.items():
            parent = fresh_dir(self.root, f"size-{name}")
            run(self.copy_command(ours, *options), parent, self.env)
            project = parent / PROJECT
            rows.append(
                [
                    f"{name} (`{' '.join(options) or '--defaults'}`)",
                    str(python_lines(project / "package/src")),
                    str(python_lines(project / "package/tests")),
                    str(python_lines(project / "standards/handoff-kit/src")),
                ]
            )
            shutil.rmtree(parent)
        header = ["Answers", "package/src", "package/tests", "standards/handoff-kit/src"]
        return markdown_table(header, rows)

    # Generation -------------------------------------------------------------------

    def copy_command(self, template: Path, *options: str) -> list[str]:
        """`copier copy --defaults` of `template` into ./churn-model."""
        return [self.copier, "copy", "--defaults", "--quiet", *options, str(template), PROJECT]

    def generation(self) -> list[Row]:
        ours = self.snapshot_template()
        sample = fresh_dir(self.root, "sample")
        run(self.copy_command(ours), sample, self.env)
        sample /= PROJECT
        n_files = count_files(sample)
        floor = self.floor_template(sample)

        def copier_copy(template: Path) -> Callable[[], float]:
            def measure() -> float:
                parent = fresh_dir(self.root, "gen")
                seconds = timed(
                    self.copy_command(template),
                    parent,
                    self.env,
                )
                shutil.rmtree(parent)
                return seconds

            return measure

        contenders: dict[str, Callable[[], float]] = {
            "handoff": copier_copy(ours),
            "floor": copier_copy(floor),
            "kedro": lambda: self.in_fresh_dir(self.kedro_new),
        }
        if self.ccds_template:
            contenders["ccds"] = lambda: self.in_fresh_dir(self.ccds_new)
        samples = alternate(contenders, self.runs, self.warmup)

        stats = {name: Stats.of(values) for name, values in samples.items()}
        peers = {"floor": "Copier floor", "kedro": "Kedro", "ccds": "CCDS"}
        rows = [
            Row(
                f"Generate: `copier copy --defaults` of Handoff ({n_files} files)",
                stats["handoff"],
                ratios={
                    label: stats["handoff"].median / stats[name].median
                    for name, label in peers.items()
                    if name in stats
                },
            ),
            Row(
                f"Generate: Copier floor (`copier copy` of {n_files} plain files, no Jinja)",
                stats["floor"],
            ),
            Row(
                f"Generate: `kedro {KEDRO_NEW}`",
                stats["kedro"],
                note=f"{count_files(self.kedro_sample())} files",
            ),
            self.ccds_row("Generate: `ccds --no-input` on $CCDS_TEMPLATE", stats.get("ccds")),
        ]
        self.generation_ratio = stats["handoff"].median / stats["floor"].median
        self.notes += [
            "The runs leave PYTHONDONTWRITEBYTECODE out of the environment, as a developer's "
            "shell does; where it is set (containers, some CI runners, this machine), `make "
            "setup` compiles the environment's bytecode too, about 30 s more, once.",
            "Handoff and the floor are copied from plain local folders (the template's working "
            "tree, no git clone), each into a fresh empty directory, by the `copier` CLI.",
            "The floor's payload is a generated Handoff project's own files, verbatim: same "
            "count, paths and sizes, no `.jinja` file and no question.",
            "`kedro new` renders the template shipped in its package, telemetry off "
            "(KEDRO_DISABLE_TELEMETRY, `--telemetry no`); `--example n` because the example "
            "pipeline is a starter fetched from GitHub, which this machine cannot reach.",
        ]
        return rows

    def ccds_row(self, measure: str, stats: Stats | None) -> Row:
        if self.ccds_template is None:
            return Row(measure, None, "not measured: CCDS_TEMPLATE unset")
        return Row(measure, stats)

    def in_fresh_dir(self, make: Callable[[Path], Path]) -> float:
        parent = fresh_dir(self.root, "peer")
        start = time.perf_counter()
        make(parent)
        seconds = time.perf_counter() - start
        shutil.rmtree(parent)
        return seconds

    def kedro_new(self, parent: Path, env: Mapping[str, str] | None = None) -> Path:
        run([require("kedro"), *shlex.split(KEDRO_NEW)], parent, env or self.env)
        return parent / PROJECT

    def kedro_sample(self) -> Path:
        return self.kedro_new(fresh_dir(self.root, "kedro-sample"))

    def ccds_new(self, parent: Path, env: Mapping[str, str] | None = None) -> Path:
        assert self.ccds_template is not None
        run(
            [require("ccds"), str(self.ccds_template), "--no-input", "--output-dir", str(parent)],
            parent,
            env or self.env,
        )
        (project,) = [p for p in parent.iterdir() if p.is_dir()]
        return project

    # Time to green ----------------------------------------------------------------

    def green_ours(self, env: Mapping[str, str], keep: bool = False) -> tuple[float, Path]:
        """Empty directory to a passing `make check`, following the README's steps."""
        parent = fresh_dir(self.root, "green")
        dst = parent / PROJECT
        steps = {
            "copy": [self.copy_command(self.snapshot_template())],
            "git": [
                ["git", "init", "-q"],
                ["git", "add", "-A"],
                ["git", "commit", "-q", "-m", "Start from the Handoff template"],
            ],
            "make setup": [["make", "setup"]],
            "make check": [["make", "check"]],
        }
        seconds = 0.0
        for step, commands in steps.items():
            start = time.perf_counter()
            for command in commands:
                run(command, parent if step == "copy" else dst, env)
            self.green_steps.setdefault(step, []).append(time.perf_counter() - start)
            seconds += self.green_steps[step][-1]
        if not keep:
            shutil.rmtree(parent)
        return seconds, dst

    def green_kedro(self, env: Mapping[str, str]) -> float:
        """Kedro's nearest equivalent: new, install into a fresh venv with uv, its tests."""
        parent = fresh_dir(self.root, "kedro-green")
        start = time.perf_counter()
        project = self.kedro_new(parent, env)
        venv_env = self.venv(project, env)
        run(["uv", "pip", "install", "-r", "requirements.txt", "-e", ".[dev]"], project, venv_env)
        run(["pytest", "-q"], project, venv_env)
        seconds = time.perf_counter() - start
        for lint in ("ruff check .", "ruff format --check ."):
            self.kedro_lint[lint] = (
                run(lint.split(), project, venv_env, check=False).returncode == 0
            )
        shutil.rmtree(parent)
        return seconds

    def green_ccds(self, env: Mapping[str, str]) -> float:
        """CCDS's nearest equivalent: new, install its requirements with uv, `make lint`."""
        parent = fresh_dir(self.root, "ccds-green")
        start = time.perf_counter()
        project = self.ccds_new(parent, env)
        venv_env = self.venv(project, env)
        run(["uv", "pip", "install", "-r", "requirements.txt"], project, venv_env)
        run(["make", "lint"], project, venv_env)
        seconds = time.perf_counter() - start
        shutil.rmtree(parent)
        return seconds

    def venv(self, project: Path, env: Mapping[str, str]) -> dict[str, str]:
        run(["uv", "venv", "--quiet", "--python", PEER_PYTHON, ".venv"], project, env)
        venv = project / ".venv"
        return {**env, "VIRTUAL_ENV": str(venv), "PATH": f"{venv / 'bin'}{os.pathsep}{env['PATH']}"}

    def time_to_green(self) -> tuple[list[Row], Path]:
        kept: list[Path] = []

        def ours(env: Mapping[str, str]) -> float:
            seconds, project = self.green_ours(env, keep=not kept)
            kept.append(project)
            return seconds

        def with_cache(
            measure: Callable[[Mapping[str, str]], float], cold: bool
        ) -> Callable[[], float]:
            def go() -> float:
                if not cold:
                    return measure(self.env)
                cache = fresh_dir(self.root, "uv-cache")
                seconds = measure({**self.env, "UV_CACHE_DIR": str(cache)})
                shutil.rmtree(cache)
                return seconds

            return go

        ours_how = (
            "`copier copy --defaults`, `git init`, `git add -A`, `git commit`, `make setup` "
            "(uv lock + uv sync + git hooks + Jupyter kernel), `make check`"
        )
        kedro_how = (
            "`kedro new` (as above), `uv venv --python 3.12`, "
            "`uv pip install -r requirements.txt -e .[dev]`, `pytest` (its own tests)"
        )
        ccds_how = "`ccds --no-input`, `uv venv`, `uv pip install -r requirements.txt`, `make lint`"
        rows: list[Row] = []
        for cold in (False, True) if self.cold else (False,):
            cache = "cold uv cache (fresh UV_CACHE_DIR)" if cold else "warm uv cache"
            contenders: dict[str, Callable[[], float]] = {
                "handoff": with_cache(ours, cold),
                "kedro": with_cache(self.green_kedro, cold),
            }
            if self.ccds_template:
                contenders["ccds"] = with_cache(self.green_ccds, cold)
            # Cold runs need no warm-up: every one starts from nothing by design.
            self.green_steps.clear()
            samples = alternate(
                contenders, 1 if cold else self.green_runs, 0 if cold else self.warmup
            )
            stats = {name: Stats.of(values) for name, values in samples.items()}
            peers = {"kedro": "Kedro", "ccds": "CCDS"}
            rows += [
                Row(
                    f"Time to green, Handoff, {cache}",
                    stats["handoff"],
                    note=ours_how,
                    ratios={
                        label: stats["handoff"].median / stats[name].median
                        for name, label in peers.items()
                        if name in stats
                    },
                ),
                Row(f"Time to green, Kedro, {cache}", stats["kedro"], note=kedro_how),
                self.ccds_row(f"Time to green, CCDS, {cache}", stats.get("ccds")),
            ]
            steps = ", ".join(
                f"{step} {statistics.median(values[-len(samples['handoff']) :]):.1f} s"
                for step, values in self.green_steps.items()
            )
            rows[-3].note += f"; median steps: {steps}"
            if not cold:
                self.green_warm = stats["handoff"].median
            else:
                self.setup_cold = statistics.median(self.green_steps["make setup"])
            if self.ccds_template:
                rows[-1].note = ccds_how
        if not self.cold:
            rows.append(Row("Time to green, cold uv cache", None, "not measured: --quick"))
        if self.kedro_lint:
            verdicts = [
                f"`{lint}` {'passes' if ok else 'fails'}" for lint, ok in self.kedro_lint.items()
            ]
            self.notes.append(
                "Kedro's fresh project (its `lint` tool chosen) passes its own `pytest`; on it, "
                + " and ".join(verdicts)
                + (
                    "."
                    if all(self.kedro_lint.values())
                    else ", so its time to green stops at its tests."
                )
            )
        return rows, kept[0]

    # Update -----------------------------------------------------------------------

    def versioned(self, template: Path, name: str) -> Path:
        """A git repository of `template`, tagged v0.1.0, then v0.2.0 with one standard
        file changed."""
        source = self.root / name
        shutil.copytree(template, source)
        answers = source / "template" / "{{ _copier_conf.answers_file }}.jinja"
        if not answers.exists():  # The floor: record its own answers, as ours does.
            (source / "template" / ".copier-answers.yml").unlink()
            answers.write_text("{{ _copier_answers | to_nice_yaml }}")
        run(["git", "init", "-q"], source, self.env)
        commit_all(source, self.env, "v0.1.0")
        run(["git", "tag", "v0.1.0"], source, self.env)
        standard = source / "template" / "standards" / "ruff-research.toml"
        standard.write_text(standard.read_text() + "# v0.2.0: a changed standard.\n")
        commit_all(source, self.env, "v0.2.0")
        run(["git", "tag", "v0.2.0"], source, self.env)
        return source

    def update_and_copy(
        self, source: Path
    ) -> tuple[Path, Callable[[], float], Callable[[], float]]:
        """A project copied from v0.1.0 of `source`, and two measures: its update to
        v0.2.0 (undone after each run), and a fresh copy of v0.2.0."""
        parent = fresh_dir(self.root, "update")
        project = parent / PROJECT
        run(self.copy_command(source, "--vcs-ref", "v0.1.0"), parent, self.env)
        run(["git", "init", "-q"], project, self.env)
        commit_all(project, self.env, "Start from v0.1.0")
        command = [self.copier, "update", "--defaults", "--quiet", "--vcs-ref", "v0.2.0"]

        def update() -> float:
            seconds = timed(command, project, self.env)
            if "v0.2.0" not in (project / "standards" / "ruff-research.toml").read_text():
                raise CommandFailed("copier update did not bring v0.2.0's standard")
            run(["git", "reset", "-q", "--hard"], project, self.env)
            run(["git", "clean", "-fdq"], project, self.env)
            return seconds

        def copy() -> float:
            copied = fresh_dir(self.root, "copy")
            seconds = timed(self.copy_command(source, "--vcs-ref", "v0.2.0"), copied, self.env)
            shutil.rmtree(copied)
            return seconds

        return project, update, copy

    def update(self) -> list[Row]:
        """`copier update` from v0.1.0 to v0.2.0 of a throwaway clone of the template
        against a fresh `copier copy` of v0.2.0, the same for Copier's floor, and the
        two renders of `make update-package`."""
        project, update, copy = self.update_and_copy(
            self.versioned(self.snapshot_template(), "versioned-template")
        )
        sample = fresh_dir(self.root, "floor-sample")
        run(self.copy_command(self.snapshot_template()), sample, self.env)
        floor = self.versioned(self.floor_template(sample / PROJECT), "versioned-floor")
        _, floor_update, floor_copy = self.update_and_copy(floor)
        update_package = [
            sys.executable,
            "standards/update_package.py",
            *("--from", "v0.1.0", "--to", "v0.2.0", "--dry-run", "--copier", self.copier),
        ]
        samples = alternate(
            {
                "update": update,
                "copy": copy,
                "floor update": floor_update,
                "floor copy": floor_copy,
                "package": lambda: timed(update_package, project, self.env),
            },
            self.runs,
            self.warmup,
        )
        stats = {name: Stats.of(values) for name, values in samples.items()}
        self.update_ratio = stats["update"].median / stats["copy"].median
        floor_ratio = stats["floor update"].median / stats["floor copy"].median
        return [
            Row(
                "Update: `copier update --defaults --vcs-ref v0.2.0` from v0.1.0 "
                "(one standard file changed)",
                stats["update"],
                ratios={"a fresh copy": self.update_ratio},
            ),
            Row(
                "Update: a fresh `copier copy --defaults --vcs-ref v0.2.0` of the same clone",
                stats["copy"],
            ),
            Row(
                "Update: the same update of Copier's floor (plain files, no Jinja)",
                stats["floor update"],
                ratios={"its fresh copy": floor_ratio},
                note="Copier's own cost: it renders the old and the new version beside "
                "the project, clones the template for each, and diffs them with git",
            ),
            Row("Update: a fresh copy of Copier's floor", stats["floor copy"]),
            Row(
                "Update: `make update-package`'s renders of v0.1.0 and v0.2.0 "
                "(standards/update_package.py --dry-run)",
                stats["package"],
                ratios={"a fresh copy": stats["package"].median / stats["copy"].median},
            ),
        ]

    # Check suite ------------------------------------------------------------------

    def yardstick(self, project: Path) -> Callable[[], float]:
        """The checks' yardstick: importing what they need, in the project's environment."""
        python = str(project / ".venv" / "bin" / "python")
        return lambda: timed([python, "-c", YARDSTICK], project, self.env)

    def yardstick_row(self, stats: Stats) -> Row:
        return Row(
            f"Yardstick: `python -c '{YARDSTICK}'` in the project's environment",
            stats,
            note="alternated with the checks; their ratios are to its median",
        )

    def check_suite(self, project: Path) -> list[Row]:
        gates = check_gates(project, self.env)
        targets = ["check", *gates]
        help_text = run(["make", "help"], project, self.env).stdout
        has_handoff = re.search(r"^\s*handoff\s", help_text, re.MULTILINE) is not None
        if has_handoff:
            targets.append("handoff")
        contenders: dict[str, Callable[[], float]] = {"yardstick": self.yardstick(project)}
        contenders |= {
            target: (lambda t=target: timed(["make", t], project, self.env)) for target in targets
        }
        samples = alternate(contenders, self.green_runs, self.warmup)
        stats = {name: Stats.of(values) for name, values in samples.items()}
        total = sum(stats[gate].median for gate in gates)
        slowest = max(gates, key=lambda gate: stats[gate].median)
        floor = stats["yardstick"].median
        self.check_ratio = stats["check"].median / floor
        rows = [
            self.yardstick_row(stats["yardstick"]),
            Row(
                "Check suite: `make check` (after one warm-up run)",
                stats["check"],
                ratios={"the yardstick": self.check_ratio},
                note=f"its gates, each run by itself below, sum to {total:.2f} s",
            ),
        ]
        for gate in gates:
            rows.append(
                Row(
                    f"Check gate: `make {gate}`",
                    stats[gate],
                    note=f"{stats[gate].median / total:.0%} of the gates' sum"
                    + (" (slowest)" if gate == slowest else ""),
                )
            )
        if has_handoff:
            self.handoff_ratio = stats["handoff"].median / floor
            rows.append(
                Row(
                    "Check suite: `make handoff`, no candidate",
                    stats["handoff"],
                    ratios={"the yardstick": self.handoff_ratio},
                )
            )
        else:
            rows.append(Row("Check suite: `make handoff`", None, "not present in `make help`"))
        return rows

    def handoff_with_candidate(self, project: Path) -> list[Row]:
        """`make handoff` once `make train` has registered a candidate (the candidate
        rows then run its acceptance scenarios), alternated with the yardstick."""
        run(["make", "train"], project, self.env)
        samples = alternate(
            {
                "yardstick": self.yardstick(project),
                "handoff": lambda: timed(["make", "handoff"], project, self.env),
            },
            self.green_runs,
            self.warmup,
        )
        stats = {name: Stats.of(values) for name, values in samples.items()}
        self.handoff_candidate_ratio = stats["handoff"].median / stats["yardstick"].median
        return [
            self.yardstick_row(stats["yardstick"]),
            Row(
                "Check suite: `make handoff`, with a candidate",
                stats["handoff"],
                ratios={"the yardstick": self.handoff_candidate_ratio},
            ),
        ]

    # Serving ----------------------------------------------------------------------

    def serving(self, project: Path, requests: int) -> str:
        """`make serve` (the kit's server, contract validation on) against `mlflow models
        serve` on the same registered champion: single-row and 100-row requests from one
        local client on 127.0.0.1, a fixed count each, after a warm-up."""
        run(["make", "train"], project, self.env)
        run(["make", "promote"], project, self.env)
        model = f"models:/{answer(project, 'project_slug')}@champion"
        rows = golden_rows(project, 100)
        venv = project / ".venv" / "bin"
        # name -> (command, scoring path, request body for some rows)
        servers: dict[str, tuple[list[str], str, Callable[[object], str]]] = {
            "handoff serve": (
                [str(venv / "handoff"), "serve", "--model", model],
                "/predict",
                json.dumps,
            ),
            "mlflow models serve": (
                [str(venv / "mlflow"), "models", "serve", "--model-uri", model,
                 "--env-manager", "local", "--workers", "1"],
                "/invocations",
                lambda some: json.dumps({"dataframe_records": some}),
            ),
        }  # fmt: skip
        # MLflow's server starts `uvicorn` from PATH: the project's, as in the project.
        env = {
            **self.env,
            "PATH": f"{venv}{os.pathsep}{self.env['PATH']}",
            "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}",
        }
        ports = {name: free_port() for name in servers}
        latencies: dict[tuple[str, int], list[float]] = {}
        with contextlib.ExitStack() as running:
            for name, (command, _, _) in servers.items():
                address = ["--host", "127.0.0.1", "--port", str(ports[name])]
                running.enter_context(
                    serving([*command, *address], project, env, ports[name], "/health")
                )
            # Both run at once and take turns, round after round, so the machine's
            # drift hits both alike.
            rounds = 10
            for size in (1, 100):
                for round_ in range(rounds + 1):  # The first round warms up.
                    for name, (_, path, body) in servers.items():
                        payload = body(rows[:size]).encode()
                        seconds = post(ports[name], path, payload, max(requests // rounds, 1))
                        if round_:
                            latencies.setdefault((name, size), []).extend(seconds)
        loads = [Load(name, size, tuple(s)) for (name, size), s in latencies.items()]
        self.notes.append(
            f"Serving: {requests} sequential requests per server and batch size, on a "
            "kept-alive connection from 127.0.0.1, in 10 alternating rounds after a "
            "warm-up round; one uvicorn worker each. `handoff serve` validates input "
            "and output with the contract; MLflow's server runs the model through the "
            "pyfunc wrapper `handoff train` registers, which validates with the "
            "contract too, after MLflow's signature."
        )
        return serving_table(loads, "handoff serve", "mlflow models serve")

    def predict(self, project: Path) -> list[Row]:
        """`handoff predict` on a small file with the embedded MLflow store: a fresh
        process each time, as a scheduled job or a user calls it."""
        run(["make", "train"], project, self.env)
        rows = project / "rows.csv"
        golden = (project / "package/tests/acceptance/golden_sample.csv").read_text()
        rows.write_text("\n".join(golden.splitlines()[: PREDICT_ROWS + 1]) + "\n")
        model = f"models:/{answer(project, 'project_slug')}@candidate"
        command = ["uv", "run", "--frozen", "handoff", "predict", "--model", model]
        contenders = {
            "predict": lambda: timed([*command, "--input", "rows.csv"], project, self.env)
        }
        samples = alternate(contenders, self.green_runs, self.warmup)
        stats = Stats.of(samples["predict"])
        self.predict_median = stats.median
        return [Row(f"Serving: `handoff predict` on {PREDICT_ROWS} rows (MLflow, embedded)", stats)]

    # Serving against its floor ------------------------------------------------------

    def serving_floor(self, project: Path, requests: int) -> tuple[str, list[str]]:
        """`handoff serve` against the floor, a bare FastAPI route around the same
        fitted pipeline with no contract check (bench/bare_serve.py): one worker each,
        1-row and 100-row requests on a kept-alive connection, alternating rounds;
        then `handoff serve` with its default workers (the cores) and the floor under
        CONCURRENT_CONNECTIONS connections at once. Returns the table and the targets."""
        model = f"models:/{answer(project, 'project_slug')}@champion"
        if not has_model(project, self.env, model):
            run(["make", "train"], project, self.env)
            run(["make", "promote"], project, self.env)
        rows = golden_rows(project, 100)
        venv = project / ".venv" / "bin"
        handoff = [str(venv / "handoff"), "serve", "--model", model]
        servers = {
            "floor (bare route)": [
                str(venv / "python"),
                str(REPO / "bench" / "bare_serve.py"),
                model,
            ],
            "handoff serve": [*handoff, "--workers", "1"],
            "handoff serve (default workers)": handoff,
        }
        ports = {name: free_port() for name in servers}
        latencies: dict[tuple[str, int], list[float]] = {}
        concurrent: dict[str, float] = {}
        sequential = list(servers)[:2]
        with contextlib.ExitStack() as running:
            for name, command in servers.items():
                address = ["--host", "127.0.0.1", "--port", str(ports[name])]
                running.enter_context(
                    serving([*command, *address], project, self.env, ports[name], "/health")
                )
            rounds = 10
            for size in (1, 100):
                payload = json.dumps(rows[:size]).encode()
                for round_ in range(rounds + 1):  # The first round warms up.
                    for name in sequential:
                        seconds = post(ports[name], "/predict", payload, max(requests // rounds, 1))
                        if round_:
                            latencies.setdefault((name, size), []).extend(seconds)
            payload = json.dumps(rows[:1]).encode()
            each = max(requests // CONCURRENT_CONNECTIONS, 1)
            for name in ("floor (bare route)", "handoff serve (default workers)"):
                post_concurrently(ports[name], "/predict", payload, CONCURRENT_CONNECTIONS, 5)
                concurrent[name] = post_concurrently(
                    ports[name], "/predict", payload, CONCURRENT_CONNECTIONS, each
                )
        loads = [Load(name, size, tuple(s)) for (name, size), s in latencies.items()]
        floor, ours = sequential
        by = {(load.server, load.rows): load for load in loads}
        table = serving_table(loads, ours, floor)
        table += "\n\n" + markdown_table(
            ["Server", "Connections at once", "Rows per request", "Requests/s"],
            [
                [name, str(CONCURRENT_CONNECTIONS), "1", f"{value:,.0f}"]
                for name, value in concurrent.items()
            ],
        )
        p50 = {name: percentile(by[name, 1].latencies, 0.5) * 1000 for name in sequential}
        extra = p50[ours] - p50[floor]
        targets = [
            ratio_line(
                "`handoff serve` 1-row requests/s over the floor's",
                by[ours, 1].per_second / by[floor, 1].per_second,
                TARGET_SERVE_THROUGHPUT_RATIO,
                at_least=True,
            ),
            f"- `handoff serve` 1-row p50 over the floor's: +{extra:.1f} ms "
            f"({p50[ours]:.1f} against {p50[floor]:.1f} ms; target <= +"
            f"{TARGET_SERVE_P50_EXTRA_MS:.0f} ms) — "
            + ("met" if extra <= TARGET_SERVE_P50_EXTRA_MS else "NOT met"),
            ratio_line(
                "`handoff serve` rows/s at 100 rows a request over the floor's",
                by[ours, 100].per_second / by[floor, 100].per_second,
                TARGET_SERVE_THROUGHPUT_RATIO,
                at_least=True,
            ),
            f"- `handoff serve` with {CONCURRENT_CONNECTIONS} connections at once and its "
            f"default workers: {concurrent['handoff serve (default workers)']:,.0f} requests/s "
            f"(the one-worker floor: {concurrent['floor (bare route)']:,.0f}); reported, no target",
        ]
        self.notes.append(
            f"Serving against the floor: {requests} sequential 1-row and 100-row requests "
            "per server on a kept-alive connection, 10 alternating rounds after a warm-up; "
            "one uvicorn worker each. The floor is bench/bare_serve.py: JSON, a DataFrame, "
            "predict_proba, no contract check."
        )
        return table, targets

    # Start-up of predict -------------------------------------------------------------

    def predict_startup(self, project: Path) -> tuple[list[Row], list[str]]:
        """`handoff predict` of STARTUP_ROWS rows, a fresh process each time, against
        importing pandas, scikit-learn and pandera in the same environment, alternated."""
        model = f"models:/{answer(project, 'project_slug')}@candidate"
        if not has_model(project, self.env, model):
            run(["make", "train"], project, self.env)
        rows = project / "startup-rows.csv"
        golden = (project / "package/tests/acceptance/golden_sample.csv").read_text()
        rows.write_text("\n".join(golden.splitlines()[: STARTUP_ROWS + 1]) + "\n")
        venv = project / ".venv" / "bin"
        contenders = {
            "predict": lambda: timed(
                [str(venv / "handoff"), "predict", "--model", model, "--input", str(rows)],
                project,
                self.env,
            ),
            "imports": lambda: timed([str(venv / "python"), "-c", IMPORT_FLOOR], project, self.env),
        }
        samples = alternate(contenders, self.green_runs, self.warmup)
        stats = {name: Stats.of(values) for name, values in samples.items()}
        ratio = stats["predict"].median / stats["imports"].median
        registry_kind = answer(project, "model_registry")
        result = [
            Row(f"Start-up: `{IMPORT_FLOOR}` (the yardstick)", stats["imports"]),
            Row(
                f"Start-up: `handoff predict` of {STARTUP_ROWS} rows ({registry_kind} registry)",
                stats["predict"],
                ratios={"the yardstick": ratio},
            ),
        ]
        targets = [
            ratio_line(
                f"`handoff predict` of {STARTUP_ROWS} rows over importing pandas, "
                f"scikit-learn and pandera ({registry_kind} registry)",
                ratio,
                TARGET_STARTUP_RATIO,
                at_least=False,
            )
        ]
        return result, targets

    # Validation throughput ----------------------------------------------------------

    def validation(self, project: Path, rows: Sequence[int]) -> tuple[str, str]:
        package = answer(project, "package_name")
        script = str(REPO / "bench" / "validate.py")
        args = ["--rows", *map(str, rows)]
        if (project / "package" / "src" / package / "contracts").is_dir():
            python = str(project / ".venv" / "bin" / "python")
            out = run([python, script, "--package", package, *args], project, self.env).stdout
        else:
            out = run([sys.executable, script, *args], project, self.env).stdout
        report = json.loads(out)
        cells = []
        for result in report["results"]:
            rates = [result["rows"] / s for s in result["seconds"]]
            stats = Stats.of(rates)
            cells.append(
                [
                    f"{result['rows']:,}",
                    f"{stats.median:,.0f}",
                    f"{stats.minimum:,.0f}",
                    f"{stats.maximum:,.0f}",
                    str(stats.runs),
                ]
            )
        table = markdown_table(["Rows", "Median rows/s", "Min rows/s", "Max rows/s", "Runs"], cells)
        return table, report["schema"]

    # Batch scoring ------------------------------------------------------------------

    def scoring(self, project: Path, count: int) -> tuple[list[Row], list[str]]:
        """`handoff predict` (pandas, one Parquet file) against `handoff score` (Spark on
        two local cores, the same rows in 8 files), end to end, in the project trained,
        promoted and with `make spark-setup`: timed on `count` rows, then once more on
        `count` and 4 x `count` with the peak memory of each command's process tree,
        for the largest input each can score and the row count where Spark catches up."""
        measures = (
            f"Scoring {count:,} rows: `handoff predict` (one Parquet file)",
            f"Scoring {count:,} rows: `handoff score` (Spark, local[2], 8 files)",
        )
        if shutil.which("java") is None:
            return [
                Row(measure, None, "Java is not installed (`make dev`)") for measure in measures
            ], []
        for target in ("train", "promote", "spark-setup"):
            run(["make", target], project, self.env)
        data = fresh_dir(self.root, "scoring")
        package = answer(project, "package_name")
        model = f"models:/{answer(project, 'project_slug')}@champion"
        sizes = (count, 4 * count)
        script = (
            "import numpy as np, pandas as pd\n"
            "from pathlib import Path\n"
            f"from {package}.data import FEATURES, make_customers\n"
            f"rows = make_customers({count}, seed=7)[FEATURES]\n"
            f"for size in {sizes}:\n"
            f"    folder = Path({str(data)!r}) / str(size)\n"
            "    (folder / 'parts').mkdir(parents=True)\n"
            f"    table = pd.concat([rows] * (size // {count}), ignore_index=True)\n"
            "    table.to_parquet(folder / 'rows.parquet', index=False)\n"
            "    for i, part in enumerate(np.array_split(table.index, 8)):\n"
            "        table.loc[part].to_parquet(folder / 'parts' / f'part-{i}.parquet', index=False)\n"
        )
        run([str(project / ".venv/bin/python"), "-c", script], project, self.env)
        handoff = str(project / ".venv/bin/handoff")

        def predict_args(size: int) -> list[str]:
            (data / "predicted.parquet").unlink(missing_ok=True)
            args = ["--model", model, "--input", str(data / str(size) / "rows.parquet")]
            return [handoff, "predict", *args, "--output", str(data / "predicted.parquet")]

        def score_args(size: int) -> list[str]:
            shutil.rmtree(data / "scored", ignore_errors=True)
            args = [str(data / str(size) / "parts"), str(data / "scored"), "--model", model]
            return [handoff, "score", *args, "--master", "local[2]"]

        samples = alternate(
            {
                "predict": lambda: timed(predict_args(count), project, self.env),
                "score": lambda: timed(score_args(count), project, self.env),
            },
            self.green_runs,
            self.warmup,
        )
        stats = [Stats.of(samples["predict"]), Stats.of(samples["score"])]
        self.scoring_ratio = stats[1].median / stats[0].median
        self.notes.append(
            "Scoring times are whole commands (start-up, model loading from the registry, "
            "reading, validating input and output, writing Parquet); rows/s is the rows "
            "over the median. Spark's include starting its JVM and its Python workers."
        )
        rows = [
            Row(measure, stat, note=f"{count / stat.median:,.0f} rows/s")
            for measure, stat in zip(measures, stats, strict=True)
        ]
        runs = {
            (name, size): peak_memory(command(size), project, self.env)
            for size in sizes
            for name, command in (("predict", predict_args), ("score", score_args))
        }
        return rows, scaling_report(runs, sizes, mem_available())


# --- Helpers ----------------------------------------------------------------------


def tree_rss(root: int) -> int:
    """The resident memory of a process and all its descendants, in bytes (Linux /proc)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    pids, total = [root], 0
    while pids:
        pid = pids.pop()
        pids += parents.get(pid, [])
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    return total * os.sysconf("SC_PAGE_SIZE")


def peak_memory(args: Sequence[str], cwd: Path, env: Mapping[str, str]) -> tuple[float, int]:
    """Run a command; its wall time, and the peak resident memory of its process
    tree (the JVM and Python workers included), sampled every 50 ms."""
    start = time.perf_counter()
    process = subprocess.Popen(
        list(args), cwd=cwd, env=dict(env), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    peak = 0
    while process.poll() is None:
        peak = max(peak, tree_rss(process.pid))
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    if process.returncode != 0:
        stderr = process.stderr.read().decode() if process.stderr else ""
        raise CommandFailed(f"`{' '.join(args)}` exited {process.returncode}\n{stderr[-3000:]}")
    return seconds, peak


def mem_available() -> int:
    """MemAvailable from /proc/meminfo, in bytes: what a new command can use."""
    found = re.search(r"^MemAvailable:\s*(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
    return int(found.group(1)) * 1024 if found else 0


def scaling_report(
    runs: Mapping[tuple[str, int], tuple[float, int]], sizes: Sequence[int], available: int
) -> list[str]:
    """Time and peak memory of each command at two sizes; from the two, a straight line
    each: the largest input that fits in `available`, and where the times cross."""
    small, large = sizes
    table = [
        [
            f"{size:,}",
            f"`handoff {name}`",
            seconds_text(runs[name, size][0]),
            f"{size / runs[name, size][0]:,.0f}",
            f"{runs[name, size][1] / 2**20:,.0f} MiB",
        ]
        for size in sizes
        for name in ("predict", "score")
    ]
    lines = [
        "One run of each command per size after the timed rounds, its process tree's "
        "resident memory sampled every 50 ms (the JVM and Python workers included).",
        "",
        markdown_table(["Rows", "Command", "Time", "Rows/s", "Peak RSS"], table),
        "",
    ]
    per_row, fixed = {}, {}
    for name in ("predict", "score"):
        per_row[name] = (runs[name, large][0] - runs[name, small][0]) / (large - small)
        fixed[name] = runs[name, small][0] - per_row[name] * small
        growth = (runs[name, large][1] - runs[name, small][1]) / (large - small)
        base = runs[name, small][1] - growth * small
        largest = (
            f"about {(available - base) / growth:,.0f} rows fit in the "
            f"{available / 2**30:.1f} GiB available (straight line through both sizes)"
            if growth > 0
            else "its peak did not grow with the input: the input is not held in memory"
        )
        lines.append(
            f"- `handoff {name}`: {fixed[name]:.1f} s fixed + {per_row[name] * 1e6:.2f} s per "
            f"million rows; memory {growth:,.0f} bytes per row over {base / 2**20:,.0f} MiB; "
            f"{largest}."
        )
    gap = per_row["predict"] - per_row["score"]
    lines.append(
        f"- Spark catches up with predict at about {(fixed['score'] - fixed['predict']) / gap:,.0f} "
        "rows (where the two lines cross)."
        if gap > 0
        else "- Spark does not catch up with predict at any size on this machine: "
        "each extra row costs it more time than it costs predict."
    )
    return lines


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def golden_rows(project: Path, count: int) -> list[object]:
    """`count` rows of the project's golden sample (repeated), as JSON objects."""
    script = (
        "import json, pandas as pd\n"
        "rows = pd.read_csv('package/tests/acceptance/golden_sample.csv')\n"
        f"rows = pd.concat([rows] * ({count} // len(rows) + 1)).head({count})\n"
        "print(json.dumps(rows.to_dict(orient='records')))\n"
    )
    python = str(project / ".venv" / "bin" / "python")
    return list(json.loads(run([python, "-c", script], project, os.environ).stdout))


@contextlib.contextmanager
def serving(
    command: Sequence[str], cwd: Path, env: Mapping[str, str], port: int, probe: str
) -> Iterator[None]:
    """A server process on 127.0.0.1, ready once `probe` answers 200; stopped afterwards."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            list(command), cwd=cwd, env=dict(env), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 180
            while not answers_200(port, probe):
                if process.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    output = log.read().decode(errors="replace")[-3000:]
                    raise CommandFailed(f"`{' '.join(command)}` did not become ready\n{output}")
                time.sleep(0.5)
            yield
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=60)


def has_model(project: Path, env: Mapping[str, str], model: str) -> bool:
    """Whether the project's registry has the model `model` names."""
    script = (
        "import sys\n"
        "from handoff_kit import registry\n"
        "try:\n"
        f"    registry.load({model!r})\n"
        "except registry.RegistryError:\n"
        "    sys.exit(1)\n"
    )
    python = str(project / ".venv" / "bin" / "python")
    done = subprocess.run(
        [python, "-c", script], cwd=project, env=dict(env), capture_output=True, check=False
    )
    return done.returncode == 0


def answers_200(port: int, path: str) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        connection.request("GET", path)
        return connection.getresponse().status == 200
    except OSError:
        return False


def post(port: int, path: str, body: bytes, count: int) -> tuple[float, ...]:
    """Seconds of each of `count` POSTs of `body`, one after another, kept alive."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"content-type": "application/json"}
    seconds = []
    for _ in range(count):
        start = time.perf_counter()
        connection.request("POST", path, body, headers)
        response = connection.getresponse()
        response.read()
        seconds.append(time.perf_counter() - start)
        if response.status != 200:
            raise CommandFailed(f"POST {path} on port {port} answered {response.status}")
    connection.close()
    return tuple(seconds)


def post_concurrently(port: int, path: str, body: bytes, connections: int, count: int) -> float:
    """Requests per second of `connections` clients at once, each posting `body`
    `count` times on its own kept-alive connection."""
    with ThreadPoolExecutor(connections) as pool:
        start = time.perf_counter()
        done = list(pool.map(lambda _: post(port, path, body, count), range(connections)))
        seconds = time.perf_counter() - start
    return sum(len(each) for each in done) / seconds


def ratio_line(name: str, value: float, limit: float, at_least: bool) -> str:
    """A target as a ratio: met when `value` is at least (or at most) `limit`."""
    met = value >= limit if at_least else value <= limit
    sign = ">=" if at_least else "<="
    return f"- {name}: {value:.2f}x (target {sign} {limit:.2f}x) — {'met' if met else 'NOT met'}"


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise SystemExit(f"`{tool}` is not on PATH: run through `make bench` (uv's bench group).")
    return path


def python_lines(folder: Path) -> int:
    """Lines in the Python files under `folder`."""
    return sum(len(path.read_text().splitlines()) for path in folder.rglob("*.py"))


def count_files(path: Path) -> int:
    return sum(1 for p in path.rglob("*") if p.is_file())


def commit_all(path: Path, env: Mapping[str, str], message: str) -> None:
    run(["git", "add", "-A"], path, env)
    run(["git", "commit", "-q", "--no-verify", "-m", message], path, env)


def answer(project: Path, key: str) -> str:
    match = re.search(rf"^{key}: (\S+)$", (project / ".copier-answers.yml").read_text(), re.M)
    if match is None:
        raise SystemExit(f"{key} is missing from {project / '.copier-answers.yml'}")
    return match.group(1)


def check_gates(project: Path, env: Mapping[str, str]) -> list[str]:
    """The checks `make check` runs (CHECKS; before it, its prerequisites), read from
    make's own database."""
    database = run(["make", "-pRrq", "check"], project, env, check=False).stdout
    match = re.search(r"^CHECKS :?= (.*)$", database, re.MULTILINE) or re.search(
        r"^check:(.*)$", database, re.MULTILINE
    )
    if match is None:
        raise SystemExit(f"no `check` target in {project / 'Makefile'}")
    return match.group(1).split()


def version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def loads(averages: Sequence[float]) -> str:
    return "/".join(f"{load:.1f}" for load in averages)


def machine(started: datetime.datetime, elapsed: float, start_load: Sequence[float]) -> list[str]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    mem_kib = re.search(r"^MemTotal:\s*(\d+) kB", meminfo, re.MULTILINE)
    uv = subprocess.run(["uv", "--version"], capture_output=True, text=True, check=False)
    return [
        f"- Started {started:%Y-%m-%d %H:%M} UTC, took {elapsed / 60:.0f} min; load average "
        f"(1/5/15 min) {loads(start_load)} at the start, {loads(os.getloadavg())} at the end",
        f"- CPU: {model.group(1) if model else platform.processor() or 'unknown'}, "
        f"{os.cpu_count()} cores; memory {int(mem_kib.group(1)) / 2**20:.1f} GiB"
        if mem_kib
        else f"- CPU: {os.cpu_count()} cores",
        f"- OS: {platform.platform()}; the benchmark ran at niceness {os.nice(0)}",
        f"- Python {platform.python_version()} (runs the tools); generated projects and "
        f"peers' venvs use Python {PEER_PYTHON}",
        f"- {uv.stdout.strip() or 'uv: not found'}; copier {version('copier')}; "
        f"kedro {version('kedro')}; cookiecutter-data-science {version('cookiecutter-data-science')}; "
        f"pandera {version('pandera')}",
    ]


# --- The image ----------------------------------------------------------------------


def image_sizes() -> tuple[list[str], float]:
    """The production image's size and the floor image's, as the container test
    (tests/slow/test_container.py, buildah) builds and weighs them: its lines and the ratio."""
    test = "tests/slow/test_container.py::test_the_image_weighs_at_most_1_6_times_the_floor"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", test, "-s", "-q", "-p", "no:randomly", "--no-header"],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    found = IMAGE_SIZES.search(result.stdout)
    if found is None:
        said = (result.stdout + result.stderr).strip().splitlines()[-1:] or ["no output"]
        return [f"Not measured: the container test did not weigh the images ({said[0]})."], math.nan
    image, floor = (int(size) for size in found.groups())
    lines = [
        "## Image size",
        "",
        "`make docker` of the `container` answer set (MLflow registry, Python 3.11), built with",
        "buildah on a Debian base made with debootstrap, against the floor image: the same base",
        "with the project's locked pandas, scikit-learn, pandera, FastAPI and uvicorn only.",
        "",
        markdown_table(
            ["Image", "Size", "Ratio to the floor"],
            [
                ["production (`make docker`)", f"{image / 1e6:.0f} MB", f"{image / floor:.2f}x"],
                ["floor", f"{floor / 1e6:.0f} MB", "1.00x"],
            ],
        ),
        "",
    ]
    return lines, image / floor


# --- Main -------------------------------------------------------------------------


SECTIONS = (
    "size",
    "generation",
    "update",
    "green",
    "checks",
    "predict",
    "validation",
    "serve",
    "serve-floor",
    "startup",
    "scoring",
    "image",
)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark Handoff against Kedro, cookiecutter-data-science and "
        "Copier's own floor; write a Markdown report. Set CCDS_TEMPLATE to a local clone "
        "of the cookiecutter-data-science template to include it.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="one run of each, no warm-up, no cold cache, 10k rows: a smoke run, not a result",
    )
    parser.add_argument("--runs", type=int, default=5, help="runs of generation and update")
    parser.add_argument(
        "--green-runs", type=int, default=3, help="runs of time to green and of the check gates"
    )
    parser.add_argument(
        "--sections",
        nargs="+",
        choices=SECTIONS,
        default=list(SECTIONS),
        help="what to measure (default: all)",
    )
    parser.add_argument(
        "--requests",
        type=int,
        default=500,
        help="serve: requests per server and batch size (default: %(default)s)",
    )
    parser.add_argument(
        "--output", type=Path, default=RESULTS, help=f"Markdown report (default {RESULTS})"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    start_load = os.getloadavg()
    started, start = datetime.datetime.now(datetime.UTC), time.perf_counter()
    ccds = os.environ.get("CCDS_TEMPLATE")
    sections = set(args.sections)
    rows: list[Row] = []
    validation: list[str] = []
    serve: list[str] = []
    serve_floor: list[str] = []
    scoring: list[str] = []
    size: list[str] = []
    targets: list[str] = []
    with tempfile.TemporaryDirectory(prefix="handoff-bench-") as tmp:
        root = Path(tmp)
        bench = Bench(
            root=root,
            env=tool_env(root),
            runs=1 if args.quick else args.runs,
            green_runs=1 if args.quick else args.green_runs,
            cold=not args.quick,
            ccds_template=Path(ccds).resolve() if ccds else None,
            warmup=0 if args.quick else 1,
        )
        if "size" in sections:
            print("Size...", file=sys.stderr)
            size = [
                "## Lines of Python in a fresh project",
                "",
                "The team's own code and tests, beside the kit it does not edit.",
                "",
                bench.package_sizes(),
                "",
            ]
        if "generation" in sections:
            print("Generation...", file=sys.stderr)
            rows += bench.generation()
            targets.append(
                target_line(
                    "Generation vs Copier's floor", bench.generation_ratio, TARGET_FLOOR_RATIO, "x"
                )
            )
        if "update" in sections:
            print("Update...", file=sys.stderr)
            rows += bench.update()
            targets.append(
                target_line(
                    "`copier update` vs a fresh copy", bench.update_ratio, TARGET_UPDATE_RATIO, "x"
                )
            )
        project: Path | None = None
        if "green" in sections:
            print("Time to green...", file=sys.stderr)
            green_rows, project = bench.time_to_green()
            rows += green_rows
            targets.append(
                target_line(
                    "Time to green, warm cache", bench.green_warm, TARGET_GREEN_WARM_S, " s"
                )
            )
            if bench.cold:
                targets.append(
                    target_line(
                        "`make setup`, cold uv cache", bench.setup_cold, TARGET_SETUP_COLD_S, " s"
                    )
                )
        if (
            sections
            & {"checks", "predict", "validation", "serve", "serve-floor", "startup", "scoring"}
            and project is None
        ):
            print("Setting up a project...", file=sys.stderr)
            _, project = bench.green_ours(bench.env, keep=True)
        if "checks" in sections and project is not None:
            print("Check suite...", file=sys.stderr)
            rows += bench.check_suite(project)
            rows += bench.handoff_with_candidate(project)
            targets += [
                target_line(
                    "`make check` over the yardstick", bench.check_ratio, TARGET_CHECK_RATIO, "x"
                ),
                target_line(
                    "`make handoff`, no candidate, over the yardstick",
                    bench.handoff_ratio,
                    TARGET_HANDOFF_RATIO,
                    "x",
                ),
                target_line(
                    "`make handoff`, with a candidate, over the yardstick",
                    bench.handoff_candidate_ratio,
                    TARGET_HANDOFF_CANDIDATE_RATIO,
                    "x",
                ),
            ]
        if "predict" in sections and project is not None:
            print("Predict...", file=sys.stderr)
            rows += bench.predict(project)
            targets.append(
                target_line(
                    "`handoff predict`, 10 rows", bench.predict_median, TARGET_PREDICT_S, " s"
                )
            )
        if "validation" in sections and project is not None:
            print("Validation...", file=sys.stderr)
            table, schema = bench.validation(
                project, [10_000] if args.quick else [100_000, 1_000_000]
            )
            validation = [
                "## Contract validation throughput",
                "",
                f"Input validation with {schema}.",
                "",
                table,
                "",
            ]
        if "scoring" in sections and project is not None:
            print("Batch scoring...", file=sys.stderr)
            timings, scaling = bench.scoring(project, 10_000 if args.quick else 1_000_000)
            rows += timings
            if scaling:
                scoring = [
                    "## Batch scoring: input size and memory",
                    "",
                    *scaling,
                    "",
                ]
            targets.append(
                target_line(
                    "Spark's scoring time over predict's (rows/s not below)",
                    bench.scoring_ratio,
                    1.0,
                    "x",
                )
            )

        if "serve" in sections and project is not None:
            print("Serving...", file=sys.stderr)
            serve = [
                "## Serving: `make serve` against `mlflow models serve`",
                "",
                "The same registered champion, the same machine; both servers up, taking turns.",
                "",
                bench.serving(project, 20 if args.quick else args.requests),
                "",
            ]

        if "startup" in sections and project is not None:
            print("Start-up of predict...", file=sys.stderr)
            startup_rows, startup_targets = bench.predict_startup(project)
            rows += startup_rows
            targets += startup_targets
        if "serve-floor" in sections and project is not None:
            print("Serving against its floor...", file=sys.stderr)
            table, floor_targets = bench.serving_floor(project, 20 if args.quick else args.requests)
            serve_floor = [
                "## Serving: `handoff serve` against a bare route (the floor)",
                "",
                "The same fitted pipeline; both servers up, taking turns.",
                "",
                table,
                "",
            ]
            targets += floor_targets

    image: list[str] = []
    if "image" in sections:
        print("Image size...", file=sys.stderr)
        image, ratio = image_sizes()
        targets.append(target_line("Image vs the floor image", ratio, TARGET_IMAGE_RATIO, "x"))

    skipped = [name for name in SECTIONS if name not in sections]
    lines = [
        "# Handoff benchmarks",
        "",
        "Written by `make bench` (bench/run.py)"
        + (" in --quick mode: one run each, not a result." if args.quick else "."),
        "Medians of alternated runs after one warm-up round; cold runs have no warm-up.",
        "The machine may be shared: the load average below says how busy it was.",
        *([f"Sections not run: {', '.join(skipped)}."] if skipped else []),
        "",
        "## Machine",
        "",
        *machine(started, time.perf_counter() - start, start_load),
        "",
        "## Wall time",
        "",
        timing_table(rows),
        "",
        *size,
        *validation,
        *scoring,
        *serve,
        *image,
        *serve_floor,
        "## Targets (reported, not asserted)",
        "",
        *targets,
        "",
        "## Notes",
        "",
        *(f"- {note}" for note in bench.notes),
        "",
    ]
    report = "\n".join(lines)
    args.output.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
