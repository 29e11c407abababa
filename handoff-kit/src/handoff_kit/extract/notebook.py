"""Which definitions a notebook's marked cells move, and what they need.

A code cell whose first line is `# handoff: extract to <module>` is marked.
Only definitions move: functions, classes and constants assigned once; its
imports say where names come from. Every name a definition uses is resolved as
Python would at run time, from the notebook's cells (the `symtable` of the
definition says which names are free): a marked definition, an import, a
helper function, class or literal constant an unmarked cell defines (brought
along), or a builtin. Anything else is notebook state, and is refused.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import re
import symtable
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from nbformat import NotebookNode

MARK = re.compile(r"^#\s*handoff:\s*extract\s+to\s+(?P<module>.*?)\s*$")
RETIRED = re.compile(r"^#\s*handoff:\s*extracted\b")
_DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
SUFFIXES = (".ipynb", ".py")


class ExtractError(Exception):
    """The extraction is refused; one line says why. Nothing was written."""


@dataclass(frozen=True)
class Cell:
    """A code cell: its position among all the notebook's cells, from 0."""

    index: int
    id: str
    source: str
    module: str | None  # The module its mark names, or None.

    @property
    def number(self) -> int:
        """The cell's number as people count them: the first cell is 1."""
        return self.index + 1

    @property
    def digest(self) -> str:
        return source_hash(self.source)


def source_hash(source: str) -> str:
    return "sha256:" + hashlib.sha256(source.encode()).hexdigest()


@dataclass(frozen=True)
class Import:
    """One name an import statement binds."""

    module: str | None  # `from module import name`; None for `import name`
    name: str
    alias: str | None
    level: int = 0

    @property
    def bound(self) -> str:
        return self.alias or self.name.partition(".")[0]

    def code(self) -> str:
        alias = f" as {self.alias}" if self.alias else ""
        if self.module is None and not self.level:
            return f"import {self.name}{alias}"
        return f"from {'.' * self.level}{self.module or ''} import {self.name}{alias}"


@dataclass
class Definition:
    """A function, class or constant that moves to `module`."""

    name: str
    kind: Literal["function", "class", "constant"]
    cell: Cell
    node: ast.stmt
    module: str
    source: str  # Its lines in the cell, with the comments just above it.
    brought_along: bool = False
    imports: list[Import] = field(default_factory=list)
    # Names of other moved definitions it uses, in other modules.
    uses: list[str] = field(default_factory=list)


@dataclass
class Plan:
    """What moves where: definitions in notebook order."""

    notebook: str  # As shown: the path from the project's root.
    cells: list[Cell]
    definitions: list[Definition]
    moves: list[str]  # What was brought along, said in the output.

    def functions(self) -> list[Definition]:
        return [d for d in self.definitions if d.kind == "function"]

    def modules(self) -> list[str]:
        return list(dict.fromkeys(d.module for d in self.definitions))


def read(path: Path) -> NotebookNode:
    """The notebook as nbformat's node: .ipynb with nbformat, py:percent with jupytext."""
    try:
        if path.suffix == ".py":
            import jupytext  # type: ignore[import-untyped]  # noqa: PLC0415

            found: NotebookNode = jupytext.read(path, fmt="py:percent")
            return found
        import nbformat  # noqa: PLC0415

        return nbformat.read(path, as_version=4)  # type: ignore[no-any-return,no-untyped-call]
    except (OSError, ValueError) as error:
        said = " ".join(str(error).split())
        msg = f"{path}: not a readable notebook ({said})"
        raise ExtractError(msg) from None


def code_cells(notebook: NotebookNode) -> list[Cell]:
    cells = []
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code":
            continue
        source = cell.source if isinstance(cell.source, str) else "".join(cell.source)
        first = source.lstrip("\n").partition("\n")[0]
        marked = MARK.match(first)
        cells.append(
            Cell(
                index,
                str(cell.get("id", "")),
                source,
                marked.group("module") if marked else None,
            )
        )
    return cells


def python_of(cell: Cell) -> str:
    """The cell as Python: IPython turns magics (`%time`, `!ls`) into calls."""
    from IPython.core.inputtransformer2 import (  # noqa: PLC0415
        TransformerManager,
    )

    return str(TransformerManager().transform_cell(cell.source))  # type: ignore[no-untyped-call]


def _parse(cell: Cell, shown: str) -> ast.Module:
    try:
        return ast.parse(python_of(cell))
    except SyntaxError as error:
        msg = f"{shown}, cell {cell.number}, line {error.lineno}: not Python ({error.msg})"
        raise ExtractError(msg) from None


def module_of(mark: str, package: str, shown: str, cell: Cell) -> str:
    """The module a mark names, under the package; refused when it is outside."""
    module = mark.removeprefix(f"{package}.")
    if not _DOTTED.match(module) or module == package:
        msg = (
            f"{shown}, cell {cell.number}: 'extract to {mark}' names a module outside "
            f"the package {package}; name one under it, e.g. 'features' or "
            "'features.tenure'"
        )
        raise ExtractError(msg)
    return module


@dataclass
class _Binding:
    cell: Cell
    node: ast.stmt | None  # The def, class, import or assignment; None: other state.
    imported: Import | None = None


def plan(notebook: NotebookNode, shown: str, package: str) -> Plan:
    """What the marked cells of `notebook` move, checked; ExtractError if refused."""
    cells = code_cells(notebook)
    marked = [cell for cell in cells if cell.module is not None]
    if not marked:
        msg = (
            f"{shown} has no marked cell: start a code cell with "
            "'# handoff: extract to <module>' to move its definitions to the package"
        )
        raise ExtractError(msg)
    trees = {cell.index: _parse(cell, shown) for cell in cells}
    bindings = _bindings(cells, trees)
    found: dict[str, Definition] = {}
    for cell in marked:
        module = module_of(str(cell.module), package, shown, cell)
        for definition in _definitions(cell, trees[cell.index], module, shown):
            earlier = found.get(definition.name)
            if earlier is not None:
                where = (
                    f"both cell {earlier.cell.number} and cell {cell.number}"
                    if earlier.cell is not cell
                    else f"cell {cell.number} twice"
                )
                msg = f"{shown}: marked cells define `{definition.name}` in {where}; keep one"
                raise ExtractError(msg)
            found[definition.name] = definition
    moves: list[str] = []
    queue = list(found.values())
    while queue:
        definition = queue.pop(0)
        for name in free_names(definition.source):
            if name in found:
                if found[name].module != definition.module:
                    definition.uses.append(name)
                continue
            brought = _resolve(definition, name, bindings, shown, trees)
            if isinstance(brought, Import):
                if brought not in definition.imports:
                    definition.imports.append(brought)
            elif brought is not None:
                found[name] = brought
                queue.append(brought)
                moves.append(
                    f"`{name}`, defined in unmarked cell {brought.cell.number}, moves "
                    f"with `{definition.name}` to {package}.{brought.module}"
                )
    ordered = sorted(found.values(), key=lambda d: (d.cell.index, d.node.lineno))
    return Plan(shown, cells, ordered, moves)


def _bindings(
    cells: list[Cell], trees: dict[int, ast.Module]
) -> dict[str, list[_Binding]]:
    """Every top-level name the notebook binds, with the cells that bind it."""
    found: dict[str, list[_Binding]] = {}
    for cell in cells:
        tree = trees[cell.index]
        named: set[str] = set()
        for node in tree.body:
            for imported in _imports(node):
                found.setdefault(imported.bound, []).append(
                    _Binding(cell, node, imported)
                )
                named.add(imported.bound)
            for name in _defined(node):
                found.setdefault(name, []).append(_Binding(cell, node))
                named.add(name)
        table = symtable.symtable(ast.unparse(tree), "<cell>", "exec")
        for symbol in table.get_symbols():
            if symbol.is_assigned() and symbol.get_name() not in named:
                found.setdefault(symbol.get_name(), []).append(_Binding(cell, None))
    return found


def _imports(node: ast.stmt) -> Iterator[Import]:
    if isinstance(node, ast.Import):
        for alias in node.names:
            yield Import(None, alias.name, alias.asname)
    elif isinstance(node, ast.ImportFrom):
        for alias in node.names:
            yield Import(node.module, alias.name, alias.asname, node.level)


def _defined(node: ast.stmt) -> list[str]:
    """The names a def, class or assignment statement binds at the top level."""
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return [
            name.id
            for target in targets
            for name in ast.walk(target)
            if isinstance(name, ast.Name)
        ]
    return []


def _definitions(
    cell: Cell, tree: ast.Module, module: str, shown: str
) -> list[Definition]:
    """The definitions of a marked cell; any other statement is refused."""
    lines = python_of(cell).splitlines()
    found = []
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            continue
        kind = _kind(node)
        if kind is None:
            text = lines[node.lineno - 1].strip()
            msg = (
                f"{shown}, cell {cell.number}, line {node.lineno}: `{text}` is not a "
                "definition; a marked cell moves only functions, classes and constants "
                "assigned once: move this line to an unmarked cell"
            )
            raise ExtractError(msg)
        name = _defined(node)[0]
        found.append(Definition(name, kind, cell, node, module, _source(node, lines)))
    return found


def _kind(node: ast.stmt) -> Literal["function", "class", "constant"] | None:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return "function"
    if isinstance(node, ast.ClassDef):
        return "class"
    if (
        isinstance(node, ast.Assign)
        and len(node.targets) == 1
        and isinstance(node.targets[0], ast.Name)
    ) or (
        isinstance(node, ast.AnnAssign)
        and isinstance(node.target, ast.Name)
        and node.value is not None
    ):
        return "constant"
    return None


def _source(node: ast.stmt, lines: list[str]) -> str:
    """The definition's lines, its decorators and the comments just above it."""
    decorators = getattr(node, "decorator_list", [])
    start = min([node.lineno, *(d.lineno for d in decorators)]) - 1
    while start > 0 and lines[start - 1].lstrip().startswith("#"):
        if MARK.match(lines[start - 1]) or RETIRED.match(lines[start - 1]):
            break
        start -= 1
    end = node.end_lineno or node.lineno
    return "\n".join(lines[start:end]) + "\n"


def free_names(source: str) -> list[str]:
    """The global names a definition's code reads, in the order of first use."""
    table = symtable.symtable(source, "<definition>", "exec")
    names: list[str] = []

    def visit(scope: symtable.SymbolTable, top: bool) -> None:
        for symbol in scope.get_symbols():
            name = symbol.get_name()
            if top:
                wanted = symbol.is_referenced() and not (
                    symbol.is_assigned()
                    or symbol.is_imported()
                    or symbol.is_namespace()
                )
            else:
                wanted = symbol.is_global() and symbol.is_referenced()
            if wanted and name not in names:
                names.append(name)
        for child in scope.get_children():
            visit(child, top=False)

    visit(table, top=True)
    return names


def _resolve(
    user: Definition,
    name: str,
    bindings: dict[str, list[_Binding]],
    shown: str,
    trees: dict[int, ast.Module],
) -> Import | Definition | None:
    """Where `name`, which `user` reads, comes from: an import, a definition brought
    along, or None for a builtin; refused when it is notebook state or unknown."""
    bound = bindings.get(name, [])
    where = f"{shown}, cell {user.cell.number}: `{user.name}` uses `{name}`"
    if not bound:
        if hasattr(builtins, name):
            return None
        msg = f"{where}, which the notebook never defines; import or define it in the marked cell"
        raise ExtractError(msg)
    imported = [b.imported for b in bound if b.imported is not None]
    if len(imported) == len(bound):
        return imported[-1]
    only = bound[0]
    if len(bound) == 1 and only.node is not None:
        kind = _kind(only.node)
        helper = kind in {"function", "class"} or (
            kind == "constant" and _literal(only.node)
        )
        if helper and kind is not None:
            lines = python_of(only.cell).splitlines()
            return Definition(
                name,
                kind,
                only.cell,
                only.node,
                user.module,
                _source(only.node, lines),
                brought_along=True,
            )
    cells = ", ".join(dict.fromkeys(str(b.cell.number) for b in bound))
    msg = (
        f"{where}, notebook state (assigned in cell {cells}): pass it to "
        f"`{user.name}` as an argument, or define it in the marked cell"
    )
    raise ExtractError(msg)


def _literal(node: ast.stmt) -> bool:
    value = getattr(node, "value", None)
    if value is None:
        return False
    try:
        ast.literal_eval(value)
    except ValueError:
        return False
    return True
