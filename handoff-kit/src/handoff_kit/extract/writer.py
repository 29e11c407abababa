"""Write what moves: the package module, annotated from the run, formatted.

Definitions keep their code and comments (libcst, which keeps both); each gets
a docstring naming its source unless it has one, and the types its arguments
and returns had in the run as annotations where it has none.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import libcst as cst

from handoff_kit.extract.notebook import Definition, ExtractError, Import

FUTURE = "from __future__ import annotations"
# What the annotations name, and the import each needs.
TYPE_IMPORTS = {
    "pd": Import(None, "pandas", "pd"),
    "np": Import(None, "numpy", "np"),
    "npt": Import(None, "numpy.typing", "npt"),
    "Any": Import("typing", "Any", None),
}
_SERIES = {"f": "float", "i": "int", "u": "int", "b": "bool"}


def annotation(types: Sequence[Any], need: set[str]) -> str | None:
    """The annotation for values of the observed `types`; None when one has no name
    here (a class of some library): the ML engineer annotates it."""
    if not types:
        return None
    names: list[str] = []
    for described in types:
        name = _one(described, need)
        if name is None:
            return None
        if name not in names:
            names.append(name)
    if "float" in names and "int" in names:
        names.remove("int")  # An int is a float to a type checker.
    if "None" in names:
        names = [*(n for n in names if n != "None"), "None"]
    return " | ".join(names)


def _one(described: Any, need: set[str]) -> str | None:  # noqa: ANN401, PLR0911  # JSON; a return per kind.
    kind = described["t"]
    if kind in {"None", "int", "float", "str", "bool", "bytes"}:
        return str(kind)
    if kind == "DataFrame":
        need.add("pd")
        return "pd.DataFrame"
    if kind == "Series":
        need.add("pd")
        import numpy as np  # noqa: PLC0415

        item = (
            _SERIES.get(np.dtype(described["dtype"]).kind)
            if _numpy_dtype(described["dtype"])
            else None
        )
        if item is None:
            need.add("Any")
            item = "Any"
        return f"pd.Series[{item}]"
    if kind == "ndarray":
        need.update({"np", "npt"})
        return f"npt.NDArray[np.{described['dtype']}]"
    if kind == "numpy":
        need.add("np")
        return f"np.{described['dtype']}"
    if kind in {"list", "set", "frozenset"}:
        inner = annotation(described["of"], need) if described["of"] else _any(need)
        return None if inner is None else f"{kind}[{inner}]"
    if kind == "tuple":
        items = [annotation([item], need) for item in described["items"]]
        if any(item is None for item in items):
            return None
        return f"tuple[{', '.join(map(str, items)) or '()'}]"
    if kind == "dict":
        keys = annotation(described["keys"], need) if described["keys"] else _any(need)
        values = (
            annotation(described["values"], need) if described["values"] else _any(need)
        )
        return None if keys is None or values is None else f"dict[{keys}, {values}]"
    return None


def _numpy_dtype(name: str) -> bool:
    import numpy as np  # noqa: PLC0415

    try:
        np.dtype(name)
    except TypeError:
        return False
    return True


def _any(need: set[str]) -> str:
    need.add("Any")
    return "Any"


def render(
    definition: Definition,
    docstring: str,
    params: dict[str, list[Any]],
    returns: list[Any],
    need: set[str],
) -> str:
    """The definition's code for the module: a docstring naming `docstring`'s
    source unless it has one, and the observed types where it has no annotation."""
    if definition.kind == "constant":
        return f"# {docstring}\n{definition.source}"
    module = cst.parse_module(definition.source)
    node = module.body[-1]
    if isinstance(node, cst.FunctionDef):
        node = _annotated(node, params, returns, need)
    if (
        isinstance(node, cst.FunctionDef | cst.ClassDef)
        and node.get_docstring() is None
    ):
        node = _with_docstring(node, docstring)
    return module.with_changes(body=[*module.body[:-1], node]).code


def _annotated(
    node: cst.FunctionDef,
    params: dict[str, list[Any]],
    returns: list[Any],
    need: set[str],
) -> cst.FunctionDef:
    def typed(param: cst.Param) -> cst.Param:
        if param.annotation is not None:
            return param
        found = annotation(params.get(param.name.value, []), need)
        if found is None:
            return param
        return param.with_changes(
            annotation=cst.Annotation(cst.parse_expression(found))
        )

    parameters = node.params
    changes: dict[str, Any] = {
        "params": [typed(p) for p in parameters.params],
        "posonly_params": [typed(p) for p in parameters.posonly_params],
        "kwonly_params": [typed(p) for p in parameters.kwonly_params],
    }
    if isinstance(parameters.star_arg, cst.Param):
        changes["star_arg"] = typed(parameters.star_arg)
    if isinstance(parameters.star_kwarg, cst.Param):
        changes["star_kwarg"] = typed(parameters.star_kwarg)
    node = node.with_changes(params=parameters.with_changes(**changes))
    if node.returns is None:
        found = annotation(returns, need)
        if found is not None:
            node = node.with_changes(
                returns=cst.Annotation(cst.parse_expression(found))
            )
    return node


def _with_docstring(
    node: cst.FunctionDef | cst.ClassDef, docstring: str
) -> cst.FunctionDef | cst.ClassDef:
    line = cst.SimpleStatementLine([cst.Expr(cst.SimpleString(f'"""{docstring}"""'))])
    body = node.body
    if isinstance(body, cst.IndentedBlock):
        return node.with_changes(body=body.with_changes(body=[line, *body.body]))
    # A one-line body (`def f(x): return x`) becomes a block.
    statements = cst.SimpleStatementLine(
        body=cast("list[cst.BaseSmallStatement]", list(body.body))
    )
    return node.with_changes(body=cst.IndentedBlock(body=[line, statements]))


@dataclass(frozen=True)
class Addition:
    """What an extract adds to a module: imports, then definitions' code."""

    imports: Sequence[Import]
    code: Sequence[str]
    names: Sequence[str]


def merge(existing: str, shown: str, retired: set[str], addition: Addition) -> str:
    """`existing` module code without its `retired` definitions, with the
    addition's imports after its imports and its code at its end; refused when
    it already defines a name the addition defines."""
    imports, code, adding = addition.imports, addition.code, addition.names
    module = cst.parse_module(existing)
    body = [
        statement
        for statement in module.body
        if not (_names(module, statement) & retired)
    ]
    for statement in body:
        clash = _names(module, statement) & set(adding)
        if clash and not _is_import(statement):
            name = sorted(clash)[0]
            line = _line_defining(existing, name)
            msg = (
                f"{shown} already defines `{name}` (line {line}): rename the notebook's "
                "or the package's, then `make extract` again"
            )
            raise ExtractError(msg)
    present = {
        imported
        for statement in body
        if _is_import(statement)
        for imported in _imports_of(module.code_for_node(statement))
    }
    start = 1 if body and _is_docstring(body[0]) else 0
    future = Import("__future__", "annotations", None)
    head: list[cst.BaseStatement] = []
    if future not in present:
        head.append(cst.parse_statement(FUTURE + "\n"))
    while start < len(body) and _is_import(body[start]):
        start += 1
    added = [
        cst.parse_statement(imported.code() + "\n")
        for imported in dict.fromkeys(imports)
        if imported not in present
    ]
    first = 1 if body and _is_docstring(body[0]) else 0
    new_body = [
        *body[:first],
        *head,
        *body[first:start],
        *added,
        *body[start:],
        *(statement for text in code for statement in _statements(text)),
    ]
    return module.with_changes(body=new_body).code


def _statements(code: str) -> list[cst.BaseStatement]:
    """The statements of `code`, the comments above the first one kept with it."""
    module = cst.parse_module(code)
    body: list[cst.BaseStatement] = list(module.body)
    first = body[0] if body else None
    if module.header and isinstance(
        first, cst.SimpleStatementLine | cst.BaseCompoundStatement
    ):
        body[0] = first.with_changes(
            leading_lines=[*module.header, *first.leading_lines]
        )
    return body


def _line_defining(code: str, name: str) -> int:
    """The line of `code`'s top-level statement that defines `name`."""
    for node in ast.parse(code).body:
        stored = {
            found.id
            for found in ast.walk(node)
            if isinstance(found, ast.Name) and isinstance(found.ctx, ast.Store)
        }
        if name in stored or getattr(node, "name", None) == name:
            return node.lineno
    return 1


def _is_import(statement: cst.BaseStatement) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and all(
        isinstance(small, cst.Import | cst.ImportFrom) for small in statement.body
    )


def _is_docstring(statement: cst.BaseStatement) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(
            statement.body[0].value, cst.SimpleString | cst.ConcatenatedString
        )
    )


def _imports_of(code: str) -> set[Import]:
    found = set()
    for node in ast.parse(code).body:
        if isinstance(node, ast.Import):
            found |= {Import(None, a.name, a.asname) for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            found |= {
                Import(node.module, a.name, a.asname, node.level) for a in node.names
            }
    return found


def _names(module: cst.Module, statement: cst.BaseStatement) -> set[str]:
    """The top-level names a statement of `module` defines."""
    if isinstance(statement, cst.FunctionDef | cst.ClassDef):
        return {statement.name.value}
    tree = ast.parse(module.code_for_node(statement).strip())
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found |= {t.id for t in targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.Import | ast.ImportFrom):
            found |= {i.bound for i in _imports_of(ast.unparse(node))}
    return found


def formatted(code: str, path: Path, root: Path, formatter: Sequence[str]) -> str:
    """`code` as `make format` leaves it: ruff's fixes (import order), then the
    project's formatter, each with the project's settings for `path`."""
    name = str(path)
    for command in (
        (
            "ruff",
            "check",
            "--fix-only",
            "--quiet",
            "--exit-zero",
            "--stdin-filename",
            name,
            "-",
        ),
        (*formatter, "--quiet", "--stdin-filename", name, "-"),
    ):
        done = subprocess.run(  # noqa: S603  # The project's own tools, fixed arguments.
            [sys.executable, "-m", *command],
            input=code,
            capture_output=True,
            text=True,
            cwd=root,
            check=False,
        )
        if done.returncode != 0:
            said = (done.stderr.strip().splitlines() or ["no message"])[-1]
            msg = f"{command[0]} cannot format {path.relative_to(root)}: {said}"
            raise ExtractError(msg)
        code = done.stdout
    return code
