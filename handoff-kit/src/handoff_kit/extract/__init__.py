"""`handoff extract`: marked notebook cells into the package, with proof.

    # handoff: extract to features        (the first line of a notebook code cell)

`extract` reads the notebook (nbformat; a py:percent file with jupytext), checks
what the marked cells define and what their code needs (`notebook.plan`), runs
the notebook headless with nbclient, recording each moved function's types and
first calls (`run`, `recorder`), then writes, all or nothing:

- `package/src/<package>/<module>.py`: the definitions, annotated, formatted;
- `package/tests/parity/`: the captured calls and a test replaying them;
- `package/extracted.json`: the manifest, which notebook cell each name came from.

A module or parity test edited since the last extract is never overwritten
(`--force` overrides). `--replace` turns the marked cells into imports from the
package. `drift` says which marked cells changed since their extraction.
"""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from handoff_kit.config import Settings

if TYPE_CHECKING:
    from nbformat import NotebookNode
from handoff_kit.extract.notebook import (
    RETIRED,
    SUFFIXES,
    ExtractError,
    Import,
    Plan,
    code_cells,
    plan,
    read,
    source_hash,
)

__all__ = ["ExtractError", "Options", "Outcome", "drift", "extract"]

MANIFEST = "extracted.json"
PARITY = "tests/parity"
CAPTURES = "captures"


@dataclass(frozen=True)
class Options:
    """How `handoff extract` runs."""

    force: bool = False
    replace: bool = False
    formatter: tuple[str, ...] = ()  # The command; () means the project's.


@dataclass(frozen=True)
class Outcome:
    """What an extract wrote and said."""

    written: tuple[str, ...]
    lines: tuple[str, ...]


def package_area(settings: Settings) -> Path:
    """`package/`: the folder that holds the package's `src/` and its `tests/`."""
    return settings.package_dir.parent.parent


def manifest_path(settings: Settings) -> Path:
    return package_area(settings) / MANIFEST


def read_manifest(settings: Settings) -> dict[str, Any]:
    path = manifest_path(settings)
    if not path.is_file():
        return {"definitions": [], "files": {}}
    try:
        found: dict[str, Any] = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        msg = f"{_shown(path, settings)}: not valid JSON ({error}); restore it from git"
        raise ExtractError(msg) from None
    return found


def _shown(path: Path, settings: Settings) -> str:
    try:
        return str(path.resolve().relative_to(settings.root.resolve()))
    except ValueError:
        return str(path)


def notebook_path(settings: Settings, given: Path) -> Path:
    """The notebook `given` names, which must be under research/."""
    path = (given if given.is_absolute() else Path.cwd() / given).resolve()
    research = settings.research.resolve()
    if not path.is_relative_to(research):
        msg = (
            f"{given}: not under {_shown(research, settings)}/; `make extract` moves "
            f"code from research notebooks only, e.g. NOTEBOOK={_shown(research, settings)}/notebooks/01_explore.ipynb"
        )
        raise ExtractError(msg)
    if path.suffix not in SUFFIXES:
        msg = f"{given}: not a notebook (.ipynb, or a py:percent .py file)"
        raise ExtractError(msg)
    if not path.is_file():
        raise ExtractError(f"{given}: no such notebook")
    return path


def formatter_of(settings: Settings) -> tuple[str, ...]:
    """The project's formatter: black when pyproject.toml configures it, else ruff."""
    text = (settings.root / "pyproject.toml").read_text()
    return ("black",) if "[tool.black]" in text else ("ruff", "format")


def extract(settings: Settings, given: Path, options: Options) -> Outcome:
    """Move the marked cells of the notebook `given` into the package."""
    from handoff_kit.extract import run  # noqa: PLC0415  # nbclient loads here.

    path = notebook_path(settings, given)
    shown = _shown(path, settings)
    notebook = read(path)
    moving = plan(notebook, shown, settings.package)
    manifest = read_manifest(settings)
    files = _targets(settings, moving)
    _refuse_edited(settings, manifest, files, options.force)
    wraps: dict[int, list[str]] = {}
    for definition in moving.functions():
        wraps.setdefault(definition.cell.index, []).append(definition.name)
    with tempfile.TemporaryDirectory(prefix="handoff-extract-") as scratch:
        capture = Path(scratch)
        recording = run.Recording(wraps, capture, settings.parity_calls)
        record = run.execute(copy.deepcopy(notebook), shown, path.parent, recording)
        if record["problems"]:
            first = record["problems"][0]
            msg = (
                f"{shown}: {first}, which parity cannot store without pickle "
                "(DataFrames, Series, numpy arrays, scalars and their lists, tuples "
                "and dicts can be stored): pass those instead"
            )
            raise ExtractError(msg)
        formatter = options.formatter or formatter_of(settings)
        texts = _modules(settings, moving, manifest, record, formatter)
        lines = list(moving.moves)
        # Formatted once the modules exist: the import sorter tells the package's
        # modules from others by the files it finds.
        tests = _parity_tests(settings, moving, capture, lines)
        trees = _capture_trees(settings, moving, capture)
        if options.replace:
            texts[path] = _replaced(notebook, path, moving, settings.package)
        inits = _init_files(settings, moving)
        paths = [*texts, *tests, *trees, *inits, manifest_path(settings)]
        with _all_or_nothing(paths):
            for target, text in {**inits, **texts}.items():
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
            for target, source in trees.items():
                if target.exists():
                    shutil.rmtree(target)
                if source is not None:
                    shutil.copytree(source, target)
            for target, text in tests.items():
                texts[target] = _format(text, target, settings, formatter)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(texts[target])
            updated = _manifest(settings, manifest, moving, texts)
            texts[manifest_path(settings)] = (
                json.dumps(updated, indent=2, sort_keys=True) + "\n"
            )
            manifest_path(settings).write_text(texts[manifest_path(settings)])
    for definition in moving.definitions:
        lines.append(
            f"{definition.name} ({definition.kind}, cell {definition.cell.number}) -> "
            f"{settings.package}.{definition.module}"
        )
    written = tuple(_shown(t, settings) for t in [*texts, *trees] if t.exists())
    return Outcome(written, tuple(lines))


def _module_path(settings: Settings, module: str) -> Path:
    return settings.package_dir.joinpath(*module.split(".")).with_suffix(".py")


def _test_path(settings: Settings, moving: Plan, module: str) -> Path:
    stem = Path(moving.notebook).stem
    name = f"test_{module.replace('.', '_')}_from_{stem}.py"
    return (
        package_area(settings)
        / PARITY
        / "".join(
            c if c.isalnum() or c == "_" else "_" for c in name.removesuffix(".py")
        )
    )


def _targets(settings: Settings, moving: Plan) -> list[Path]:
    modules = moving.modules()
    return [
        *(_module_path(settings, m) for m in modules),
        *(_test_path(settings, moving, m).with_suffix(".py") for m in modules),
    ]


def _refuse_edited(
    settings: Settings, manifest: dict[str, Any], files: list[Path], force: bool
) -> None:
    """Refuse to touch a file changed since the last extract wrote it."""
    if force:
        return
    recorded: dict[str, str] = manifest.get("files", {})
    for path in files:
        key = _shown(path, settings)
        if (
            key in recorded
            and path.is_file()
            and source_hash(path.read_text()) != recorded[key]
        ):
            msg = (
                f"{key} changed since the last `make extract` wrote it: keep the "
                "edits (retire the notebook's mark with '# handoff: extracted'), or "
                "overwrite them with --force (make extract ... FORCE=1)"
            )
            raise ExtractError(msg)


def _modules(
    settings: Settings,
    moving: Plan,
    manifest: dict[str, Any],
    record: dict[str, Any],
    formatter: tuple[str, ...],
) -> dict[Path, str]:
    from handoff_kit.extract import writer  # noqa: PLC0415  # libcst loads here.

    texts: dict[Path, str] = {}
    for module in moving.modules():
        path = _module_path(settings, module)
        here = [d for d in moving.definitions if d.module == module]
        need: set[str] = set()
        code = []
        for definition in here:
            seen = record["functions"].get(definition.name, {})
            code.append(
                writer.render(
                    definition,
                    f"From {moving.notebook}, cell {definition.cell.number}.",
                    seen.get("params", {}),
                    seen.get("returns", []),
                    need,
                )
            )
        imports: list[Import] = [i for d in here for i in d.imports]
        imports += [writer.TYPE_IMPORTS[name] for name in sorted(need)]
        for definition in here:
            for used in definition.uses:
                other = next(d for d in moving.definitions if d.name == used)
                imports.append(Import(f"{settings.package}.{other.module}", used, None))
        retired = {
            entry["name"]
            for entry in manifest.get("definitions", [])
            if entry["module"] == module and entry["notebook"] == moving.notebook
        }
        existing = (
            path.read_text()
            if path.is_file()
            else f'"""Code moved from {moving.notebook} by `make extract`."""\n'
        )
        addition = writer.Addition(imports, code, [d.name for d in here])
        merged = writer.merge(existing, _shown(path, settings), retired, addition)
        texts[path] = writer.formatted(merged, path, settings.root, formatter)
    return texts


TEST = '''\
"""Parity: {package}.{module} does what {notebook} did.

`make extract` wrote this file and the calls it replays ({captures}/): each test
calls the package's function with a call the notebook made and compares the
result with the notebook's, floats within `parity-rtol` of [tool.handoff].
Run `make extract NOTEBOOK={notebook}` again to capture the notebook anew.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from {package}.{module} import {names}
from handoff_kit import parity

CALLS = Path(__file__).parent / "{captures}"
{tests}'''

ONE_TEST = """

@pytest.mark.parametrize("call", parity.calls(CALLS / "{name}"), ids=lambda call: call.name)
def test_{name}_does_what_the_notebook_did(call: Path) -> None:
    parity.check({name}, call)
"""


def _parity_tests(
    settings: Settings,
    moving: Plan,
    capture: Path,
    lines: list[str],
) -> dict[Path, str]:
    """The parity test of each module, unformatted, with its functions' calls."""
    texts: dict[Path, str] = {}
    for module in moving.modules():
        called = []
        for definition in moving.functions():
            if definition.module != module:
                continue
            if (capture / definition.name).is_dir() and any(
                (capture / definition.name).iterdir()
            ):
                called.append(definition.name)
            else:
                lines.append(
                    f"`{definition.name}` was never called in {moving.notebook}: "
                    "no observed types, no parity test; call it in the notebook and "
                    "extract again"
                )
        if not called:
            continue
        path = _test_path(settings, moving, module).with_suffix(".py")
        text = TEST.format(
            package=settings.package,
            module=module,
            notebook=moving.notebook,
            captures=f"{CAPTURES}/{module}",
            names=", ".join(sorted(called)),
            tests="".join(ONE_TEST.format(name=name) for name in called),
        )
        texts[path] = text
    return texts


def _capture_trees(
    settings: Settings, moving: Plan, capture: Path
) -> dict[Path, Path | None]:
    base = package_area(settings) / PARITY / CAPTURES
    trees: dict[Path, Path | None] = {}
    for definition in moving.functions():
        source = capture / definition.name
        found = source if source.is_dir() and any(source.iterdir()) else None
        trees[base / definition.module / definition.name] = found
    return trees


def _replaced(notebook: NotebookNode, path: Path, moving: Plan, package: str) -> str:
    """The notebook with each marked cell turned into imports from the package."""
    import nbformat  # noqa: PLC0415

    from handoff_kit.extract.notebook import python_of  # noqa: PLC0415

    changed = copy.deepcopy(notebook)
    for cell in moving.cells:
        if cell.module is None:
            continue
        names = [
            d for d in moving.definitions if d.cell is cell and not d.brought_along
        ]
        lines = python_of(cell).splitlines()
        import ast  # noqa: PLC0415

        kept = [
            "\n".join(lines[node.lineno - 1 : node.end_lineno])
            for node in ast.parse(python_of(cell)).body
            if isinstance(node, ast.Import | ast.ImportFrom)
        ]
        modules: dict[str, list[str]] = {}
        for definition in names:
            modules.setdefault(definition.module, []).append(definition.name)
        imports = [
            f"from {package}.{module} import {', '.join(found)}"
            for module, found in modules.items()
        ]
        changed.cells[cell.index].source = "\n".join(
            ["# handoff: extracted", *kept, *imports]
        )
    if path.suffix == ".py":
        import jupytext  # type: ignore[import-untyped]  # noqa: PLC0415

        return str(jupytext.writes(changed, fmt="py:percent"))
    return str(nbformat.writes(changed)) + "\n"  # type: ignore[no-untyped-call]


def _manifest(
    settings: Settings, manifest: dict[str, Any], moving: Plan, texts: dict[Path, str]
) -> dict[str, Any]:
    kept = [
        entry
        for entry in manifest.get("definitions", [])
        if entry["notebook"] != moving.notebook
    ]
    entries = [
        {
            "name": d.name,
            "kind": d.kind,
            "module": d.module,
            "notebook": moving.notebook,
            "cell": d.cell.number,
            "cell_id": d.cell.id,
            "cell_hash": d.cell.digest,
            "brought_along": d.brought_along,
        }
        for d in moving.definitions
    ]
    files = dict(manifest.get("files", {}))
    for path, text in texts.items():
        if path.suffix == ".py" and path.is_relative_to(package_area(settings)):
            files[_shown(path, settings)] = source_hash(text)
    return {"definitions": [*kept, *entries], "files": files}


def _init_files(settings: Settings, moving: Plan) -> dict[Path, str]:
    """A module under a new subpackage needs the subpackage's __init__.py."""
    inits: dict[Path, str] = {}
    for module in moving.modules():
        parts = module.split(".")[:-1]
        for depth in range(1, len(parts) + 1):
            init = settings.package_dir.joinpath(*parts[:depth], "__init__.py")
            if not init.exists():
                inits[init] = f'"""{settings.package}.{".".join(parts[:depth])}."""\n'
    return inits


def _format(
    text: str, path: Path, settings: Settings, formatter: tuple[str, ...]
) -> str:
    from handoff_kit.extract import writer  # noqa: PLC0415  # libcst loads here.

    formatted: str = writer.formatted(text, path, settings.root, formatter)
    return formatted


@contextmanager
def _all_or_nothing(paths: list[Path]) -> Iterator[None]:
    """Write every path or, if one write fails, put them all back as they were."""
    with tempfile.TemporaryDirectory(prefix="handoff-backup-") as backup:
        saved: dict[Path, Path | None] = {}
        for i, path in enumerate(paths):
            kept = Path(backup) / str(i)
            saved[path] = kept if path.exists() else None
            if path.is_dir():
                shutil.copytree(path, kept)
            elif path.is_file():
                shutil.copy2(path, kept)
        try:
            yield
        except (OSError, ExtractError) as error:
            for path, copy_of in saved.items():
                if path.is_dir():
                    shutil.rmtree(path)
                elif path.exists():
                    path.unlink()
                if copy_of is not None and copy_of.is_dir():
                    shutil.copytree(copy_of, path)
                elif copy_of is not None:
                    shutil.copy2(copy_of, path)
            if isinstance(error, ExtractError):
                raise
            msg = (
                f"cannot write {error.filename}: {error.strerror}; nothing was changed"
            )
            raise ExtractError(msg) from None


@dataclass(frozen=True)
class Drift:
    """A marked cell changed since its definitions were extracted."""

    name: str
    notebook: str
    cell: int

    def __str__(self) -> str:
        return (
            f"`{self.name}` ({self.notebook}, cell {self.cell}) changed since it was "
            f"extracted: run `make extract NOTEBOOK={self.notebook}` again, or start "
            "the cell with '# handoff: extracted' to retire the mark"
        )


def drift(settings: Settings) -> list[Drift]:
    """The extracted definitions whose marked cell changed since; a cell retired with
    `# handoff: extracted`, or gone, is not drift."""
    found: list[Drift] = []
    by_notebook: dict[str, list[dict[str, Any]]] = {}
    for entry in read_manifest(settings).get("definitions", []):
        if not entry.get("brought_along"):
            by_notebook.setdefault(entry["notebook"], []).append(entry)
    for shown, entries in by_notebook.items():
        path = settings.root / shown
        if not path.is_file():
            continue
        cells = code_cells(read(path))
        by_id = {cell.id: cell for cell in cells if cell.id}
        by_index = {cell.index: cell for cell in cells}
        for entry in entries:
            cell = by_id.get(entry["cell_id"]) or by_index.get(entry["cell"] - 1)
            if cell is None or RETIRED.match(cell.source.lstrip("\n")):
                continue
            if cell.digest != entry["cell_hash"]:
                found.append(Drift(entry["name"], shown, cell.number))
    return found
