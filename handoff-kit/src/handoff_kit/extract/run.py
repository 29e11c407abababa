"""Run the notebook headless with nbclient, the recorder in its kernel.

The kernel is the project's environment's Python (the interpreter that runs
`handoff`, under `uv run` the project's `.venv`, the one `make setup` registers
as the project's Jupyter kernel), started with ipykernel's launcher: never a
kernel some other environment registered under the same name.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell
from traitlets import default

from handoff_kit.extract.notebook import ExtractError
from handoff_kit.extract.recorder import RECORD

TIMEOUT = 600  # Seconds one cell may run.


class _ThisEnvironment(KernelSpecManager):
    """Every kernel name means this environment's Python."""

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:
        return KernelSpec(
            argv=[
                sys.executable,
                "-m",
                "ipykernel_launcher",
                "-f",
                "{connection_file}",
            ],
            display_name=kernel_name,
            language="python",
        )


class ProjectKernel(KernelManager):
    """A kernel manager whose kernel runs in the project's environment."""

    @default("kernel_spec_manager")
    def _spec_manager(self) -> KernelSpecManager:
        return _ThisEnvironment()


@dataclass(frozen=True)
class Recording:
    """What to record: the functions each cell defines (by cell index), how many
    calls of each to store, and where."""

    wraps: Mapping[int, Sequence[str]]
    capture: Path
    calls: int


def execute(
    notebook: NotebookNode, shown: str, folder: Path, recording: Recording
) -> dict[str, Any]:
    """Run every code cell of `notebook` in `folder`, recording as `recording`
    says; what the recorder saw."""
    wraps, capture, calls = recording.wraps, recording.capture, recording.calls
    client = NotebookClient(
        notebook,
        timeout=TIMEOUT,
        kernel_manager_class=ProjectKernel,
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
    )
    setup = (
        "from handoff_kit.extract.recorder import Recorder as _HandoffRecorder\n"
        f"_handoff_recorder = _HandoffRecorder(__import__('pathlib').Path({str(capture)!r}), {calls})\n"
        "del _HandoffRecorder"
    )
    # The kernel's own notices (no encryption over TCP, ...) are not the user's.
    # nbclient puts an executed cell back at its index: the kit's own cells run
    # at one past the notebook's, never in place of one of its cells.
    cells = list(notebook.cells)
    notebook.cells.append(new_code_cell(""))  # type: ignore[no-untyped-call]
    with client.setup_kernel(stderr=subprocess.DEVNULL):
        _hidden(client, setup, shown)
        for index, cell in enumerate(cells):
            if cell.cell_type != "code":
                continue
            try:
                client.execute_cell(cell, index)
            except CellTimeoutError:
                msg = f"{shown}, cell {index + 1} did not finish in {TIMEOUT} s"
                raise ExtractError(msg) from None
            except CellExecutionError as error:
                last = f"{error.ename}: {error.evalue}".strip().splitlines()[-1]
                msg = (
                    f"{shown}, cell {index + 1} failed to run: {last}; the notebook "
                    "must run top to bottom before its code can move"
                )
                raise ExtractError(msg) from None
            if wraps.get(index):
                _hidden(
                    client,
                    f"_handoff_recorder.wrap(globals(), {list(wraps[index])!r})",
                    shown,
                )
        _hidden(client, "_handoff_recorder.finish()", shown)
    record: dict[str, Any] = json.loads((capture / RECORD).read_text())
    return record


def _hidden(client: NotebookClient, code: str, shown: str) -> None:
    """Run the kit's own code in the kernel, as a cell the notebook does not have."""
    try:
        cell = new_code_cell(code)  # type: ignore[no-untyped-call]
        client.execute_cell(cell, len(client.nb.cells) - 1, store_history=False)
    except CellExecutionError as error:
        msg = f"{shown}: the kit's recorder failed in the kernel: {error.ename}: {error.evalue}"
        raise ExtractError(msg) from None
