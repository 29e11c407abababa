"""The data rule: package/ reads official catalog sources only, through the loader.

research/ may read anything; the unofficial sources it uses are listed in the
handoff report as debts to pay before its code moves into the package.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from handoff_kit.catalog import Source

# Modules whose `read_*` functions read data sets (pd.read_csv, pl.read_parquet, ...).
DATA_LIBRARIES = {"pd", "pandas", "pl", "polars"}


@dataclass(frozen=True)
class Finding:
    """A place in package/ that reads data around the catalog."""

    file: Path
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass(frozen=True)
class Debt:
    """An unofficial source that research code uses."""

    source: Source
    file: Path

    def __str__(self) -> str:
        source = self.source
        return (
            f"`{source.name}` ({source.tier}, unofficial; owner {source.owner}) "
            f"used in {self.file}"
        )


def scan_package(
    package: Path, catalog: Mapping[str, Source], root: Path
) -> list[Finding]:
    """Every direct data read and every non-official catalog load in `package`;
    files are named from `root`. A file Python cannot parse is a finding too."""
    findings = []
    for path in sorted(package.rglob("*.py")):
        shown = path.relative_to(root) if path.is_relative_to(root) else path
        try:
            tree = ast.parse(path.read_text(), filename=str(path))
        except SyntaxError as error:
            unparsable = f"Python cannot parse it: {error.msg}"
            findings.append(Finding(shown, error.lineno or 0, unparsable))
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):
                message = _check_call(node, catalog)
                if message:
                    findings.append(Finding(shown, node.lineno, message))
    return findings


def _check_call(call: ast.Call, catalog: Mapping[str, Source]) -> str | None:
    func = call.func
    first = call.args[0] if call.args else None
    literal = first.value if isinstance(first, ast.Constant) else None
    if (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and func.value.id in DATA_LIBRARIES
        and func.attr.startswith("read_")
    ):
        return (
            f"reads data directly with {func.value.id}.{func.attr}(): "
            f"{_describe_path(literal, catalog)}; load an official source with catalog.load() instead"
        )
    is_load = (isinstance(func, ast.Name) and func.id == "load") or (
        isinstance(func, ast.Attribute)
        and func.attr == "load"
        and isinstance(func.value, ast.Name)
        and func.value.id == "catalog"
    )
    if not is_load or not isinstance(literal, str):
        return None
    if literal not in catalog:
        return f"loads {literal!r}, which is not in the data catalog"
    source = catalog[literal]
    if not source.official:
        return f"loads the unofficial source {literal!r} ({source.file}); package/ uses official sources only"
    return None


def _describe_path(path: object, catalog: Mapping[str, Source]) -> str:
    if not isinstance(path, str):
        return "a path the gate cannot see"
    for source in catalog.values():
        if source.location == path:
            return f"{path!r} is the {source.status} source {source.name!r}"
    return f"{path!r} is a path outside the data catalog"


def research_debts(
    research: Path, catalog: Mapping[str, Source], root: Path
) -> list[Debt]:
    """The unofficial sources that research code and notebooks mention; files are
    named from `root`."""
    unofficial = [source for source in catalog.values() if not source.official]
    debts = []
    for path in sorted(research.rglob("*")):
        if path.suffix not in {".py", ".ipynb"} or ".ipynb_checkpoints" in path.parts:
            continue
        code = _notebook_code(path) if path.suffix == ".ipynb" else path.read_text()
        debts += [
            Debt(source, path.relative_to(root))
            for source in unofficial
            if source.location in code
            or any(f"{q}{source.name}{q}" in code for q in "\"'")
        ]
    return debts


def _notebook_code(path: Path) -> str:
    cells = json.loads(path.read_text()).get("cells", [])
    return "\n".join(
        "".join(cell["source"]) for cell in cells if cell.get("cell_type") == "code"
    )
