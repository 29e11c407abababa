"""Then steps that check nothing: a scenario whose outcome asserts nothing passes
whatever the model does.

Read with `ast`, as Python reads the step modules: a function decorated with
pytest-bdd's `then` (imported however: `from pytest_bdd import then as t`,
`import pytest_bdd as bdd` then `@bdd.then`, a module-level alias) must assert,
`raise`, or use `pytest.raises`, in its body or in a function of the same module
it calls (followed to any depth), or call one of the kit step library's
assertions (`handoff_kit.steps.ASSERTIONS`) or a contract schema's `validated`,
which raises on data that breaks it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# What the kit's step library offers as assertions; kept here, not imported, so
# that reading step files never needs pytest-bdd.
KIT_STEPS = "handoff_kit.steps"
KIT_ASSERTIONS = frozenset(
    {
        "assert_one_prediction_each",
        "assert_predictions_conform",
        "assert_refused",
        "assert_nothing_scored",
    }
)
# A call of a method by this name raises on failure (the kit's Schema.validated).
RAISING_METHODS = frozenset({"validated"})
_PARSERS = frozenset({"parse", "cfparse", "re", "string"})


@dataclass(frozen=True)
class HollowStep:
    """A Then step that asserts nothing."""

    file: str
    line: int
    text: str

    def __str__(self) -> str:
        return (
            f'{self.file}:{self.line}: the Then step "{self.text}" checks nothing '
            "(no assert, raise or pytest.raises): make it assert the outcome"
        )


class _Names:
    """What the module's names stand for: pytest-bdd's `then`, pytest, the kit's
    step library and its assertions, and the module's own functions."""

    def __init__(self, tree: ast.Module) -> None:
        self.then: set[str] = set()  # names bound to pytest_bdd.then
        self.bdd: set[str] = {"pytest_bdd"}  # names bound to the pytest_bdd module
        self.pytest: set[str] = set()  # names bound to the pytest module
        self.raises: set[str] = set()  # names bound to pytest.raises
        self.kit: set[str] = set()  # names bound to handoff_kit.steps
        self.assertions: set[str] = set()  # names bound to a kit assertion
        self.functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
        for node in tree.body:
            self._read(node)

    def _read(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                if alias.name == "pytest_bdd":
                    self.bdd.add(bound)
                elif alias.name == "pytest":
                    self.pytest.add(bound)
                elif alias.name == KIT_STEPS and alias.asname:
                    self.kit.add(alias.asname)
        elif isinstance(node, ast.ImportFrom):
            self._read_from(node)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            self.functions[node.name] = node
        elif isinstance(node, ast.Assign) and isinstance(
            node.value, ast.Name | ast.Attribute
        ):
            # An alias: `then_ = then`, `check = steps.assert_refused`.
            targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
            if self.is_then(node.value):
                self.then.update(targets)
            elif self.is_assertion(node.value):
                self.assertions.update(targets)

    def _read_from(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            bound = alias.asname or alias.name
            if node.module == "pytest_bdd" and alias.name == "then":
                self.then.add(bound)
            elif node.module == "pytest" and alias.name == "raises":
                self.raises.add(bound)
            elif node.module == "handoff_kit" and alias.name == "steps":
                self.kit.add(bound)
            elif node.module == KIT_STEPS and alias.name in KIT_ASSERTIONS:
                self.assertions.add(bound)

    def is_then(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.then
        return (
            isinstance(node, ast.Attribute)
            and node.attr == "then"
            and _dotted(node.value) in self.bdd
        )

    def is_assertion(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.assertions
        if not isinstance(node, ast.Attribute):
            return False
        owner = _dotted(node.value)
        if node.attr in RAISING_METHODS:
            return True
        return node.attr in KIT_ASSERTIONS and (owner in self.kit or owner == KIT_STEPS)

    def is_raises(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.raises
        return (
            isinstance(node, ast.Attribute)
            and node.attr == "raises"
            and _dotted(node.value) in self.pytest
        )


def _dotted(node: ast.expr) -> str:
    """`a.b.c` for a chain of names; '' for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        owner = _dotted(node.value)
        return f"{owner}.{node.attr}" if owner else ""
    return ""


def _own_nodes(function: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[ast.AST]:
    """The nodes of `function`'s body, not those of functions or classes defined
    in it (which run only if called)."""
    pending: list[ast.AST] = list(function.body)
    while pending:
        node = pending.pop()
        if isinstance(
            node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda
        ):
            continue
        yield node
        pending.extend(ast.iter_child_nodes(node))


def _checks(
    function: ast.FunctionDef | ast.AsyncFunctionDef,
    names: _Names,
    seen: set[str],
) -> bool:
    """Whether running `function` asserts something, following calls to the
    module's own functions."""
    for node in _own_nodes(function):
        if isinstance(node, ast.Assert | ast.Raise):
            return True
        if not isinstance(node, ast.Call):
            continue
        if names.is_raises(node.func) or names.is_assertion(node.func):
            return True
        called = node.func.id if isinstance(node.func, ast.Name) else None
        if called in names.functions and called not in seen:
            seen.add(called)
            if _checks(names.functions[called], names, seen):
                return True
    return False


def _step_text(decorator: ast.Call) -> str:
    """The step's text as written: the string, or the parser's pattern."""
    argument = decorator.args[0] if decorator.args else None
    for keyword in decorator.keywords:
        if keyword.arg == "name":
            argument = keyword.value
    if (
        isinstance(argument, ast.Call)
        and argument.args
        and isinstance(argument.func, ast.Name | ast.Attribute)
        and (
            argument.func.id
            if isinstance(argument.func, ast.Name)
            else argument.func.attr
        )
        in _PARSERS
    ):
        argument = argument.args[0]
    if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
        return argument.value
    return ast.unparse(argument) if argument is not None else ""


def hollow_steps(source: str, file: str) -> list[HollowStep]:
    """The Then steps of one module that check nothing."""
    tree = ast.parse(source, filename=file)
    names = _Names(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for decorator in node.decorator_list:
            if isinstance(decorator, ast.Call) and names.is_then(decorator.func):
                if not _checks(node, names, {node.name}):
                    found.append(
                        HollowStep(file, decorator.lineno, _step_text(decorator))
                    )
                break
    return found


def step_files(folder: Path, root: Path) -> list[Path]:
    """The Python modules that may define the scenarios' steps: those under the
    acceptance folder, and the conftest.py files above it in the project."""
    files = sorted(
        path
        for path in folder.rglob("*.py")
        if not any(part.startswith(".") or part == "__pycache__" for part in path.parts)
    )
    above = [
        parent / "conftest.py"
        for parent in folder.parents
        if parent.is_relative_to(root) and (parent / "conftest.py").is_file()
    ]
    return [*files, *above]


def hollow_in(folder: Path, root: Path) -> list[HollowStep]:
    """Every Then step in the project's step modules that checks nothing; a
    module Python cannot parse is left to the scenarios' own run to report."""
    found = []
    for path in step_files(folder, root):
        shown = (
            path.relative_to(root).as_posix()
            if path.is_relative_to(root)
            else str(path)
        )
        try:
            found += hollow_steps(path.read_text(), shown)
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
    return found
