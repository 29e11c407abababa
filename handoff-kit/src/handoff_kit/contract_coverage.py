"""Contract coverage: how much of the data the model meets a contract guards.

Three figures, for the handoff report's row and for `make data-check`:

- boundary coverage: of the places production data crosses (the official
  catalog sources, which package/ may load, and the model's input and output),
  the share that have a schema. Unofficial sources are research's: listed, not
  counted.
- field coverage: of those schemas' columns (each schema once), the share with
  at least one constraint beyond its type (a check, or uniqueness).
- enforcement: where each contract is executed. A source's schema runs wherever
  `catalog.load` loads it: in the package's code, so at `train`, and at
  `data-check`, which validates every catalogued source that has a schema; the
  model's input and output schemas run at `predict`, `serve` and `batch` (the
  kit validates both sides there) and at `train` when a source's schema is one
  of them.

`[tool.handoff]` may set floors (`contract-coverage-boundary`,
`contract-coverage-fields`, percentages): below one, the row fails.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandera.pandas as pa

from handoff_kit.catalog import CatalogError
from handoff_kit.config import Settings
from handoff_kit.odcs import Boundary, boundaries
from handoff_kit.report import Result

TITLE = "Contract coverage"
# Where the kit itself runs the model's schemas, by the boundary's kind.
KIT_RUNS = {
    "model input": ("predict", "serve", "batch"),
    "model output": ("predict", "serve", "batch"),
}
PLACES = ("train", "predict", "serve", "batch", "data-check")
LOADER_MODULE = "handoff_kit.catalog"


@dataclass(frozen=True)
class Covered:
    """One boundary: its schema (or none), its checked columns, where it runs."""

    boundary: Boundary
    columns: int
    checked: int
    enforced: tuple[str, ...]

    @property
    def counted(self) -> bool:
        """Production's boundaries count; an unofficial source is research's."""
        source = self.boundary.source
        return source is None or source.official


@dataclass(frozen=True)
class Coverage:
    """The figures, and the floors they are held to."""

    covered: tuple[Covered, ...]
    floor_boundary: float
    floor_fields: float

    @property
    def counted(self) -> list[Covered]:
        return [found for found in self.covered if found.counted]

    @property
    def boundaries(self) -> tuple[int, int]:
        """(with a schema, all) of the counted boundaries."""
        counted = self.counted
        return sum(f.boundary.schema is not None for f in counted), len(counted)

    @property
    def fields(self) -> tuple[int, int]:
        """(checked, all) columns of the counted boundaries' schemas, each schema once."""
        seen: dict[type[pa.DataFrameModel], Covered] = {}
        for found in self.counted:
            if found.boundary.schema is not None:
                seen.setdefault(found.boundary.schema, found)
        return (
            sum(found.checked for found in seen.values()),
            sum(found.columns for found in seen.values()),
        )

    def below(self) -> list[str]:
        """Each floor the figures are under, as a sentence."""
        found = []
        for label, (part, whole), floor, key in (
            ("boundary", self.boundaries, self.floor_boundary, "boundary"),
            ("field", self.fields, self.floor_fields, "fields"),
        ):
            if percent(part, whole) < floor:
                found.append(
                    f"{label} coverage {percent(part, whole):g}% is below the floor "
                    f"{floor:g}% (contract-coverage-{key} in [tool.handoff])"
                )
        return found


def percent(part: int, whole: int) -> float:
    """part of whole, in percent to one decimal; nothing to cover is all covered."""
    return 100.0 if whole == 0 else round(100 * part / whole, 1)


def checked_columns(schema: type[pa.DataFrameModel]) -> tuple[int, int]:
    """(columns with a check or uniqueness, all columns) of a schema."""
    columns = schema.to_schema().columns.values()
    checked = sum(bool(column.checks) or bool(column.unique) for column in columns)
    return checked, len(columns)


def loaded_sources(package: Path) -> set[str]:
    """The source names package/ code passes to `catalog.load` as a literal."""
    names: set[str] = set()
    for module in sorted(package.rglob("*.py")):
        try:
            tree = ast.parse(module.read_text(), str(module))
        except (SyntaxError, UnicodeDecodeError):
            continue  # The lint and types rows report it.
        names |= set(_loads(tree))
    return names


def _loads(tree: ast.Module) -> Iterator[str]:
    """Literal first arguments of calls to handoff_kit.catalog.load, however imported."""
    modules: set[str] = set()  # Names bound to the catalog module.
    functions: set[str] = set()  # Names bound to its load function.
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "handoff_kit":
            modules |= {a.asname or a.name for a in node.names if a.name == "catalog"}
        elif isinstance(node, ast.ImportFrom) and node.module == LOADER_MODULE:
            functions |= {a.asname or a.name for a in node.names if a.name == "load"}
        elif isinstance(node, ast.Import):
            modules |= {
                a.asname for a in node.names if a.name == LOADER_MODULE and a.asname
            }
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        named = (
            isinstance(func, ast.Attribute)
            and func.attr == "load"
            and (
                (isinstance(func.value, ast.Name) and func.value.id in modules)
                or ast.unparse(func.value) == LOADER_MODULE
            )
        ) or (isinstance(func, ast.Name) and func.id in functions)
        first = node.args[0]
        if named and isinstance(first, ast.Constant) and isinstance(first.value, str):
            yield first.value


def measure(settings: Settings) -> Coverage:
    """The project's contract coverage."""
    found = boundaries(settings)
    loaded = (
        loaded_sources(settings.package_dir) if settings.package_dir.is_dir() else set()
    )
    contract = settings.contract
    model_schemas = {
        contract.model_input: "model input",
        contract.model_output: "model output",
    }
    trained = {
        model_schemas[b.schema]
        for b in found
        if b.source is not None and b.name in loaded and b.schema in model_schemas
    }
    covered = []
    for boundary in found:
        places: set[str] = set()
        if boundary.source is not None and boundary.schema is not None:
            places.add("data-check")
            if boundary.name in loaded and boundary.source.official:
                places.add("train")
        places |= set(KIT_RUNS.get(boundary.kind, ()))
        if boundary.kind in trained:
            places.add("train")
        checked, columns = (
            checked_columns(boundary.schema) if boundary.schema else (0, 0)
        )
        covered.append(
            Covered(
                boundary,
                columns,
                checked,
                tuple(place for place in PLACES if place in places),
            )
        )
    return Coverage(
        tuple(covered), settings.coverage_boundary, settings.coverage_fields
    )


def summary(found: Coverage) -> str:
    """One line: the two figures."""
    with_schema, boundaries_all = found.boundaries
    checked, columns = found.fields
    return (
        f"boundaries {with_schema} of {boundaries_all} have a schema "
        f"({percent(with_schema, boundaries_all):g}%); columns {checked} of {columns} "
        f"have a check beyond their type ({percent(checked, columns):g}%)"
    )


def table(found: Coverage) -> str:
    """A Markdown table: each boundary, its schema, checked columns, where it runs."""
    lines = [
        "| Boundary | Kind | Schema | Columns checked | Enforced at |",
        "|---|---|---|---|---|",
    ]
    for covered in found.covered:
        boundary = covered.boundary
        kind = boundary.kind
        if boundary.source is not None and not covered.counted:
            kind += " (unofficial: not counted)"
        schema = boundary.schema.__name__ if boundary.schema else "**none**"
        columns = f"{covered.checked} of {covered.columns}" if boundary.schema else "-"
        places = ", ".join(covered.enforced) or "nowhere"
        lines.append(f"| {boundary.name} | {kind} | {schema} | {columns} | {places} |")
    return "\n".join(lines)


def markdown(found: Coverage) -> str:
    """The coverage section, for `make data-check`'s report and the handoff report."""
    floors = [
        f"{label} {floor:g}%"
        for label, floor in (
            ("boundaries", found.floor_boundary),
            ("fields", found.floor_fields),
        )
        if floor
    ]
    said = f" Floors: {', '.join(floors)}." if floors else ""
    below = "".join(f"\n\n**Below the floor:** {line}." for line in found.below())
    line = summary(found)
    return (
        f"## {TITLE}\n\n{line[0].upper()}{line[1:]}.{said}{below}\n\n{table(found)}\n"
    )


def result(settings: Settings) -> Result:
    """The handoff report's row: passes unless a figure is below its floor."""
    try:
        found = measure(settings)
    except CatalogError as error:  # The catalog row says the same.
        return Result(TITLE, False, f"malformed catalog: {error}")
    below = found.below()
    if below:
        more = f" (and {len(below) - 1} more)" if len(below) > 1 else ""
        return Result(TITLE, False, f"{below[0]}{more}; {summary(found)}", table(found))
    return Result(TITLE, True, summary(found), table(found))
