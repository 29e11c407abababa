"""`handoff extract`: marked notebook cells into the package, with a parity test.

One notebook, run once by a real kernel (this interpreter's ipykernel), is
extracted for the module; the tests read what it wrote. Refusals that need no
kernel are checked before any run; a few need one.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import nbformat
import numpy as np
import pandas as pd
import pytest
from conftest import build_project
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from handoff_kit import cli, config, gate, parity
from handoff_kit.extract import ExtractError, Options, drift, extract
from handoff_kit.extract.recorder import Recorder, describe
from handoff_kit.extract.writer import annotation

NOTEBOOK = "research/notebooks/explore.ipynb"
MARKED = (
    "# handoff: extract to features\n"
    "import pandas as pd\n"
    "\n"
    'SHARE = "share"\n'
    "\n"
    "# Each row's share of all rooms.\n"
    "def rooms_share(frame):\n"
    "    out = frame.copy()\n"
    '    out[SHARE] = out["rooms"] / out["rooms"].sum()\n'
    "    return out\n"
    "\n"
    "def scaled(values, factor=2.0):\n"
    "    return np.asarray(values) * factor\n"
    "\n"
    "def rate(sold, total): return clip_rate(sold / total)\n"
)
CALLS = (
    'frame = pd.DataFrame({"rooms": [1, 2, 3], "kind": ["a", "b", "a"]})\n'
    "rooms_share(frame)\n"
    "scaled(np.array([1.0, 2.0]))\n"
    "rate(3, 4), rate(1, 2)\n"
)


def notebook(*sources: str) -> nbformat.NotebookNode:
    """A notebook of a markdown cell then code cells with `sources`."""
    cells = [new_markdown_cell("# Exploring"), *(new_code_cell(s) for s in sources)]
    found = new_notebook(cells=cells)
    found.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    return found


def write(root: Path, *sources: str, name: str = NOTEBOOK) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook(*sources), path)
    return path


EXPLORE = (
    "import numpy as np\nimport pandas as pd",
    "def clip_rate(x):\n    return min(max(x, 0.0), 1.0)",
    MARKED,
    CALLS,
)
FORMAT = Options(formatter=("ruff", "format"))


def load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """The sample project after `handoff extract` of the explore notebook."""
    root = build_project(tmp_path_factory.mktemp("extract") / "project")
    write(root, *EXPLORE)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        outcome = extract(config.load(root), Path(NOTEBOOK), FORMAT)
    return root, outcome


def module_of(root: Path) -> Path:
    return root / "package/src/sample_model/features.py"


def test_definitions_move_annotated_with_the_types_the_run_saw(
    extracted: tuple[Path, Any],
) -> None:
    root, _ = extracted
    code = module_of(root).read_text()
    for signature in (
        "def rooms_share(frame: pd.DataFrame) -> pd.DataFrame:",
        "def rate(sold: int, total: int) -> float:",
        "def clip_rate(x: float) -> float:",
    ):
        assert signature in code, f"the module lacks {signature!r}:\n{code}"
    assert "values: npt.NDArray[np.float64], factor: float = 2.0" in code, code
    assert '"""From research/notebooks/explore.ipynb, cell 4."""' in code, (
        "each definition should name its notebook and cell"
    )
    assert "# Each row's share of all rooms." in code, "the comment above was lost"
    assert "import numpy as np" in code
    assert "import pandas as pd" in code
    assert "import numpy.typing as npt" in code


def test_a_helper_from_an_unmarked_cell_moves_along_and_says_so(
    extracted: tuple[Path, Any],
) -> None:
    root, outcome = extracted
    assert (
        "`clip_rate`, defined in unmarked cell 3, moves with `rate` to "
        "sample_model.features"
    ) in outcome.lines
    manifest = json.loads((root / "package/extracted.json").read_text())
    entries = {entry["name"]: entry for entry in manifest["definitions"]}
    assert entries["clip_rate"]["brought_along"] is True
    assert entries["rooms_share"]["cell"] == 4
    assert entries["rooms_share"]["cell_hash"].startswith("sha256:")
    assert "package/src/sample_model/features.py" in manifest["files"]


def captured(root: Path, name: str) -> list[Path]:
    return parity.calls(root / "package/tests/parity/captures/features" / name)


def test_captured_calls_replay_on_the_package_functions(
    extracted: tuple[Path, Any],
) -> None:
    root, _ = extracted
    module = load_module(module_of(root))
    assert len(captured(root, "rate")) == 2, "both calls of rate should be captured"
    assert (captured(root, "rooms_share")[0] / "arg0.parquet").is_file()
    assert (captured(root, "scaled")[0] / "output.npy").is_file()
    for name in ("rooms_share", "scaled", "rate", "clip_rate"):
        for call in captured(root, name):
            parity.check(getattr(module, name), call, rtol=1e-9)
    test = root / "package/tests/parity/test_features_from_explore.py"
    assert "parity.check(rooms_share, call)" in test.read_text()


def test_a_rounding_change_fails_parity_naming_the_column_and_row(
    extracted: tuple[Path, Any],
) -> None:
    root, _ = extracted

    def rounded(frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.copy()
        out["share"] = (out["rooms"] / out["rooms"].sum()).round(2)
        return out

    with pytest.raises(AssertionError) as failed:
        parity.check(rounded, captured(root, "rooms_share")[0], rtol=1e-9)
    assert str(failed.value) == (
        "rooms_share's output (notebook call 1), column 'share' differs first at "
        "row 0 (index 0): the notebook had 0.16666666666666666, the package "
        "returns 0.17 (relative tolerance 1e-09)"
    )


def test_the_gate_row_passes_then_warns_of_a_changed_marked_cell(
    extracted: tuple[Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = extracted
    monkeypatch.setenv("PYTHONPATH", str(root / "package/src"))
    settings = config.load(root)
    passed = gate.parity_gate(settings)
    assert passed.passed, passed.details
    assert passed.reason == "4 extracted functions reproduce their notebook's results"
    module = module_of(root)
    code = module.read_text()
    try:
        module.write_text(
            code.replace(
                'out[SHARE] = out["rooms"] / out["rooms"].sum()',
                'out[SHARE] = (out["rooms"] / out["rooms"].sum()).round(2)',
            )
        )
        failed = gate.parity_gate(settings)
    finally:
        module.write_text(code)
    assert not failed.passed, "a rounding change should fail parity"
    assert failed.reason == (
        "rooms_share's output (notebook call 1), column 'share' differs first at "
        "row 0 (index 0): the notebook had 0.16666666666666666, the package "
        "returns 0.17 (relative tolerance 1e-09) (details below)"
    )
    path = root / NOTEBOOK
    kept = path.read_text()
    try:
        write(root, *EXPLORE[:2], MARKED.replace("* factor", "* factor * 1"), CALLS)
        warned = gate.parity_gate(settings)
        assert [str(found) for found in drift(settings)] == [
            f"`{name}` ({NOTEBOOK}, cell 4) changed since it was extracted: run "
            f"`make extract NOTEBOOK={NOTEBOOK}` again, or start the cell with "
            "'# handoff: extracted' to retire the mark"
            for name in ("SHARE", "rooms_share", "scaled", "rate")
        ]
        assert warned.passed, "drift is a warning, not a failure"
        assert "warning: `SHARE`" in warned.reason
        assert "(and 3 more)" in warned.reason
    finally:
        path.write_text(kept)


def test_an_edited_module_is_never_overwritten(
    extracted: tuple[Path, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = extracted
    monkeypatch.chdir(root)
    module = module_of(root)
    kept = module.read_text()
    try:
        module.write_text(kept + "\n# vectorised by the ML engineers\n")
        with pytest.raises(ExtractError) as refused:
            extract(config.load(root), Path(NOTEBOOK), FORMAT)
        assert str(refused.value).startswith(
            "package/src/sample_model/features.py changed since the last "
            "`make extract` wrote it"
        )
        assert "--force" in str(refused.value)
    finally:
        module.write_text(kept)


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = build_project(tmp_path / "project")
    monkeypatch.chdir(root)
    return root


def refusal(root: Path, given: str = NOTEBOOK) -> str:
    before = sorted(p for p in (root / "package").rglob("*"))
    with pytest.raises(ExtractError) as refused:
        extract(config.load(root), Path(given), FORMAT)
    after = sorted(p for p in (root / "package").rglob("*"))
    assert after == before, "a refused extract must write nothing"
    return str(refused.value)


BAD: list[tuple[str, tuple[str, ...], str]] = [
    (
        "notebook state",
        (
            "import pandas as pd\nrows = pd.DataFrame()",
            "# handoff: extract to f\ndef g():\n    return rows",
        ),
        f"{NOTEBOOK}, cell 3: `g` uses `rows`, notebook state (assigned in cell 2): "
        "pass it to `g` as an argument, or define it in the marked cell",
    ),
    (
        "a statement that is not a definition",
        ("# handoff: extract to f\ndef g():\n    return 1\n\nprint(g())",),
        f"{NOTEBOOK}, cell 2, line 5: `print(g())` is not a definition; a marked cell "
        "moves only functions, classes and constants assigned once: move this line "
        "to an unmarked cell",
    ),
    (
        "the same name in two marked cells",
        (
            "# handoff: extract to f\ndef g():\n    return 1",
            "# handoff: extract to h\ndef g():\n    return 2",
        ),
        f"{NOTEBOOK}: marked cells define `g` in both cell 2 and cell 3; keep one",
    ),
    (
        "a module outside the package",
        ("# handoff: extract to ../helpers\ndef g():\n    return 1",),
        f"{NOTEBOOK}, cell 2: 'extract to ../helpers' names a module outside the "
        "package sample_model; name one under it, e.g. 'features' or 'features.tenure'",
    ),
    (
        "a name defined nowhere",
        ("# handoff: extract to f\ndef g():\n    return missing",),
        f"{NOTEBOOK}, cell 2: `g` uses `missing`, which the notebook never defines; "
        "import or define it in the marked cell",
    ),
    (
        "no mark",
        ("x = 1",),
        f"{NOTEBOOK} has no marked cell: start a code cell with '# handoff: extract "
        "to <module>' to move its definitions to the package",
    ),
]


@pytest.mark.parametrize(
    ("sources", "message"), [b[1:] for b in BAD], ids=[b[0] for b in BAD]
)
def test_bad_input_is_refused_in_one_line_writing_nothing(
    fresh: Path, sources: tuple[str, ...], message: str
) -> None:
    write(fresh, *sources)
    assert refusal(fresh) == message


def test_a_notebook_outside_research_is_refused(fresh: Path) -> None:
    write(fresh, "x = 1", name="notes/x.ipynb")
    assert refusal(fresh, "notes/x.ipynb") == (
        "notes/x.ipynb: not under research/; `make extract` moves code from research "
        "notebooks only, e.g. NOTEBOOK=research/notebooks/01_explore.ipynb"
    )


def test_a_notebook_that_fails_names_the_cell_and_the_error(fresh: Path) -> None:
    write(fresh, "# handoff: extract to f\ndef g(x):\n    return 1 / x", "g(0)")
    assert refusal(fresh) == (
        f"{NOTEBOOK}, cell 3 failed to run: ZeroDivisionError: division by zero; the "
        "notebook must run top to bottom before its code can move"
    )


def test_a_value_parity_cannot_store_is_named(fresh: Path) -> None:
    write(fresh, "# handoff: extract to f\ndef g(x):\n    return 1", "g(object())")
    assert refusal(fresh) == (
        f"{NOTEBOOK}: `g` was called with a value of type object, which parity cannot "
        "store without pickle (DataFrames, Series, numpy arrays, scalars and their "
        "lists, tuples and dicts can be stored): pass those instead"
    )


def test_a_definition_shadowing_one_in_the_module_is_refused(fresh: Path) -> None:
    target = fresh / "package/src/sample_model/helpers.py"
    target.write_text('"""Helpers."""\n\n\ndef g(x: int) -> int:\n    return x\n')
    write(fresh, "# handoff: extract to helpers\ndef g(x):\n    return x + 1", "g(1)")
    assert refusal(fresh) == (
        "package/src/sample_model/helpers.py already defines `g` (line 4): rename the "
        "notebook's or the package's, then `make extract` again"
    )


def test_replace_turns_the_marked_cells_into_imports_from_a_percent_file(
    fresh: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = fresh / "research/tenure.py"
    path.write_text(
        "# %%\nimport pandas as pd\n\n"
        "# %%\n# handoff: extract to features.tenure\nimport numpy as np\n\n\n"
        "def band(months):\n    return np.where(months < 12, 'new', 'loyal')\n\n"
        # The first cell's import is needed: every cell of the notebook runs.
        "# %%\nband(pd.Series([3, 30]).to_numpy())\n"
    )
    assert (
        cli.main(
            ["extract", "research/tenure.py", "--replace", "--formatter", "ruff format"]
        )
        == 0
    )
    said = capsys.readouterr().out
    assert "band (function, cell 2) -> sample_model.features.tenure" in said
    assert (
        "# handoff: extracted\nimport numpy as np\nfrom sample_model.features.tenure import band"
        in path.read_text()
    )
    assert (fresh / "package/src/sample_model/features/__init__.py").is_file()
    code = (fresh / "package/src/sample_model/features/tenure.py").read_text()
    assert "def band(months: npt.NDArray[np.int64]) -> npt.NDArray[np.str_]:" in code
    assert drift(config.load(fresh)) == [], "a retired mark is not drift"


def test_the_command_line_says_a_refusal_in_one_line(
    fresh: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["extract", "elsewhere.ipynb"]) == cli.EXIT_UNUSABLE
    assert capsys.readouterr().err == (
        "handoff: error: elsewhere.ipynb: not under research/; `make extract` moves "
        "code from research notebooks only, e.g. "
        "NOTEBOOK=research/notebooks/01_explore.ipynb\n"
    )


# --- Without a kernel: the recorder, the annotations, storage and comparison.


def test_the_recorder_names_a_value_it_cannot_store(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path, calls=1)
    space: dict[str, Callable[..., object]] = {"f": lambda x: x}

    def f(model: object, n: int = 2) -> list[int]:
        return [n]

    space["f"] = f
    recorder.wrap(space, ["f"])
    space["f"](object())
    space["f"](1, n=3)
    recorder.finish()
    record = json.loads((tmp_path / "record.json").read_text())
    assert record["problems"] == ["`f` was called with a value of type object"]
    assert record["functions"]["f"]["params"]["n"] == [{"t": "int"}]
    assert record["functions"]["f"]["returns"] == [{"t": "list", "of": [{"t": "int"}]}]


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (None, "None"),
        (pd.Series([1.5]), "pd.Series[float]"),
        (pd.Series(["a"]), "pd.Series[Any]"),
        (np.float64(1), "np.float64"),
        ({"a": [1, 2]}, "dict[str, list[int]]"),
        ((1, "a"), "tuple[int, str]"),
        ([], "list[Any]"),
        ({1}, "set[int]"),
        (object(), None),
    ],
)
def test_observed_types_become_annotations(value: object, written: str | None) -> None:
    assert annotation([describe(value)], set()) == written


def test_int_and_float_observed_is_float_and_none_comes_last() -> None:
    assert (
        annotation([{"t": "None"}, {"t": "int"}, {"t": "float"}], set())
        == "float | None"
    )


def test_values_round_trip_through_storage_without_pickle(tmp_path: Path) -> None:
    value = {
        "frame": pd.DataFrame({"a": pd.Categorical(["x", "y"])}),
        "series": pd.Series([1, 2], name="n"),
        "items": (np.int64(3), [1.5, None, "s", True]),
    }
    stored = parity.save(value, tmp_path, "v")
    back = parity.load(json.loads(json.dumps(stored)), tmp_path)
    parity.assert_same(value, back, 1e-9, "the value")
    with pytest.raises(parity.UnstorableError, match="a numpy array of dtype object"):
        parity.save(np.array([object()]), tmp_path, "o")


@pytest.mark.parametrize(
    ("expected", "actual", "message"),
    [
        (1, 2, "x differs: the notebook had 1, the package returns 2"),
        (
            1.0,
            1.1,
            "x differs: the notebook had 1.0, the package returns 1.1 (relative tolerance 1e-09)",
        ),
        (
            np.array([1.0, 2.0]),
            np.array([1.0, 3.0]),
            "x differs first at (1,): the notebook had 2.0, the package returns 3.0",
        ),
        (np.array([1]), np.array([1, 2]), "x has shape (2,); the notebook's had (1,)"),
        ([1], [1, 2], "x has 2 items; the notebook's had 1"),
        ({"a": 1}, {"b": 1}, "x has keys ['b']; the notebook's had ['a']"),
        (
            pd.DataFrame({"a": [1]}),
            pd.DataFrame({"b": [1]}),
            "x has columns ['b']; the notebook's had ['a']",
        ),
        (
            pd.Series([1]),
            pd.Series([1.0]),
            "x has dtype float64; the notebook's had int64",
        ),
        (
            pd.DataFrame({"a": [1]}),
            1,
            "x is a int; the notebook's was a pandas.DataFrame",
        ),
    ],
)
def test_a_difference_is_named(expected: object, actual: object, message: str) -> None:
    with pytest.raises(AssertionError) as failed:
        parity.assert_same(expected, actual, 1e-9, "x")
    assert str(failed.value) == message


def test_parity_rtol_comes_from_the_project(fresh: Path) -> None:
    pyproject = fresh / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text() + "parity-rtol = 0.5\nparity-calls = 2\n"
    )
    assert parity.read_rtol(fresh / "package") == 0.5
    assert config.load(fresh).parity_calls == 2
    pyproject.write_text(
        pyproject.read_text().replace("parity-calls = 2", "parity-calls = 0")
    )
    with pytest.raises(config.ConfigError, match="parity-calls: got 0"):
        config.load(fresh)
    shutil.rmtree(fresh / "package")
