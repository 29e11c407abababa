"""What each `handoff` command loads: a command imports what it needs when it runs,
so the checks `make check` runs as commands start without pandas, pandera or MLflow."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import MODEL_NAME, houses

from handoff_kit import candidate, cli
from handoff_kit.registry import CANDIDATE

HEAVY = ("pandas", "pandera", "numpy", "mlflow", "sklearn", "hypothesis")
# What scoring a file never needs: the gate's machinery, MLflow, an HTTP client.
NOT_FOR_SCORING = (
    "handoff_kit.integrity",
    "handoff_kit.gate",
    "handoff_kit.report",
    "mlflow",
    "http.client",
)

# Runs a command line in a fresh interpreter, then prints the heavy modules it loaded.
PROBE = """\
import sys
from handoff_kit import cli
status = cli.main(sys.argv[1:])
print("LOADED", *sorted(m for m in {heavy!r} if m in sys.modules))
"""


def loaded_by(project: Path, *args: str, among: tuple[str, ...] = HEAVY) -> set[str]:
    """Which of `among` the command `args` loaded."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=among), *args],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("LOADED")]
    assert lines, f"the probe did not finish:\n{done.stdout}\n{done.stderr}"
    return set(lines[-1].split()[1:])


@pytest.mark.parametrize(
    "args", [("standards",), ("settings",), ("secrets", "pyproject.toml")]
)
def test_the_commands_make_check_runs_start_without_pandas_or_pandera(
    project: Path, args: tuple[str, ...]
) -> None:
    loaded = loaded_by(project, *args)

    assert not loaded, f"`handoff {' '.join(args)}` loaded {sorted(loaded)}"


def test_importing_the_kit_loads_no_pandas_yet_its_public_names_work() -> None:
    probe = (
        "import sys, handoff_kit\n"
        f"print(*sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
        "from handoff_kit import ContractViolation, Failure, Schema, Trained\n"
        "print(Schema.__module__, Trained.__module__, sorted(handoff_kit.__all__))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    before, after = done.stdout.splitlines()

    assert not before, f"`import handoff_kit` loaded {before}"
    assert after == (
        "handoff_kit.contracts handoff_kit.training "
        "['ContractViolation', 'Failure', 'Schema', 'Trained', '__version__']"
    )


def test_an_unknown_name_of_the_kit_is_an_attribute_error() -> None:
    import handoff_kit  # noqa: PLC0415

    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        _ = handoff_kit.Nothing  # type: ignore[attr-defined]


def test_promote_takes_the_flags_the_candidate_gate_names() -> None:
    # argparse exits (status 2) on a flag it does not know.
    args = cli.build_parser().parse_args(
        ["promote", candidate.ALLOW_DIRTY, candidate.ALLOW_MAJOR]
    )

    assert args.allow_dirty
    assert args.allow_major


def test_predict_loads_what_scoring_needs_and_nothing_of_the_gate(
    project: Path,
) -> None:
    assert cli.main(["train"]) == 0
    houses(3).drop(columns="sold").to_csv(project / "rows.csv", index=False)
    uri = f"models:/{MODEL_NAME}@{CANDIDATE}"

    loaded = loaded_by(
        project, "predict", "--model", uri, "--input", "rows.csv", among=NOT_FOR_SCORING
    )

    assert not loaded, f"`handoff predict` loaded {sorted(loaded)}"
