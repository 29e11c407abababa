"""The one walk of a package's code, and what its names mean.

The scans read package/ code the way Python does (`ast`). `Package` resolves a
name to the fully qualified name of what it stands for: it follows each module's
imports, its module constants, `getattr` and `importlib.import_module` with names
the code says, and the package's own modules. `Walker` walks a module once, with
the scope each name is in, and hands each call, each reference and each import
to the checks it runs (reads.py, imports.py), as bandit's node visitor does.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Literal

# Calls that stand for an attribute or a module named by a string.
GETATTR = "builtins.getattr"
IMPORTS = {"importlib.import_module", "builtins.__import__"}
ATTRIBUTE = 1  # getattr(obj, name): the name's position.
_FROMLIST = 3  # __import__(name, globals, locals, fromlist): its position.

PATH_CLASSES = {
    "pathlib.Path",
    "pathlib.PurePath",
    "pathlib.PosixPath",
    "pathlib.WindowsPath",
    "pathlib.PurePosixPath",
    "pathlib.PureWindowsPath",
}
# The path methods that return a path, and the class methods that make one.
_PATH_METHODS = {
    "joinpath",
    "with_name",
    "with_suffix",
    "with_stem",
    "resolve",
    "absolute",
    "expanduser",
    "relative_to",
}
_PATH_FACTORIES = {"cwd", "home"}
DEPTH = 30  # How far the scan follows names (an import of an alias of a constant...)
TOO_DEEP = "the scan cannot follow it: its code is nested too deeply"
_SHOWN = 60  # The longest expression a message quotes.


@dataclass(frozen=True)
class Finding:
    """A place in the code that breaks a rule; `waived` is the reason a waiver
    comment gives (`# handoff: allow-read <reason>`): a waived finding never fails.
    In a notebook, `cell` counts its cells from 1 and `line` is the cell's line."""

    file: Path
    line: int
    message: str
    waived: str | None = None
    cell: int | None = None

    def __str__(self) -> str:
        waiver = f" (waived: {self.waived})" if self.waived is not None else ""
        cell = f" cell {self.cell}" if self.cell is not None else ""
        return f"{self.file}{cell}:{self.line}: {self.message}{waiver}"


def parse(package: Path, root: Path) -> tuple[dict[str, Module], list[Finding]]:
    """The package's modules by name, and a finding for each that cannot be read."""
    findings: list[Finding] = []
    modules: dict[str, Module] = {}
    for path in sorted(package.rglob("*.py")):
        shown = path.relative_to(root) if path.is_relative_to(root) else path
        data = path.read_bytes()
        try:
            tree = ast.parse(data, filename=str(path))
        except (SyntaxError, ValueError, RecursionError) as error:
            findings.append(_unparsable(shown, error))
            continue
        try:
            module = Module.of(package, path, shown, data, tree)
        except RecursionError:
            findings.append(Finding(shown, 0, TOO_DEEP))
            continue
        modules[module.name] = module
    return modules, findings


def _unparsable(shown: Path, error: Exception) -> Finding:
    if isinstance(error, SyntaxError):
        return Finding(shown, error.lineno or 0, f"Python cannot parse it: {error.msg}")
    reason = "it is nested too deeply" if isinstance(error, RecursionError) else error
    return Finding(shown, 0, f"Python cannot parse it: {reason}")


# --- What a module binds ------------------------------------------------------


@dataclass(frozen=True)
class Bound:
    """One binding of a name: an import, an assigned value, or something else
    (a function, a parameter, a loop variable...)."""

    kind: Literal["import", "value", "other"]
    target: str = ""  # What an import binds, fully qualified.
    value: ast.expr | None = None
    annotation: ast.expr | None = None


@dataclass(eq=False)
class Scope:
    """The names a module, class or function binds; `parent` is where the names
    it does not bind come from (a function skips the classes around it)."""

    module: Module
    parent: Scope | None = None
    is_class: bool = False
    names: dict[str, list[Bound]] = field(default_factory=dict)
    stars: list[str] = field(default_factory=list)  # from <module> import *

    def bind(self, name: str, bound: Bound) -> None:
        self.names.setdefault(name, []).append(bound)

    def lookup(self, name: str) -> tuple[Scope, list[Bound]] | None:
        scope: Scope | None = self
        while scope is not None:
            if name in scope.names:
                return scope, scope.names[name]
            scope = scope.parent
        return None


@dataclass(eq=False)
class Module:
    """One parsed module of the package."""

    name: str  # fully qualified
    is_package: bool  # an __init__.py
    shown: Path
    data: bytes
    tree: ast.Module
    unstable: set[str] = field(default_factory=set)  # declared global or nonlocal
    scope: Scope = field(init=False)

    @classmethod
    def of(
        cls, package: Path, path: Path, shown: Path, data: bytes, tree: ast.Module
    ) -> Module:
        parts = [package.name, *path.relative_to(package).with_suffix("").parts]
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        return cls.named(name, is_package, shown, data, tree)

    @classmethod
    def named(
        cls, name: str, is_package: bool, shown: Path, data: bytes, tree: ast.Module
    ) -> Module:
        """A module of that name: of a package, or a script or notebook cell alone."""
        module = cls(name, is_package, shown, data, tree)
        module.scope = Scope(module)
        collect(module.scope, tree.body)
        return module

    def absolute(self, module: str | None, level: int) -> str:
        """The module a (relative) `from` import names."""
        if not level:
            return module or ""
        parts = self.name.split(".")
        keep = len(parts) - level + (1 if self.is_package else 0)
        return ".".join([*parts[: max(keep, 0)], *filter(None, [module])])


def collect(scope: Scope, nodes: Iterable[ast.AST]) -> None:
    for node in nodes:
        _bind(scope, node)


def _bind(scope: Scope, node: ast.AST) -> None:  # noqa: PLR0912
    """Record the names `node` binds in `scope`, not those of the functions and
    classes it defines (they are scopes of their own)."""
    match node:
        case ast.Import(names=aliases):
            for alias in aliases:
                top = alias.name.partition(".")[0]
                target = alias.name if alias.asname else top
                scope.bind(alias.asname or top, Bound("import", target))
        case ast.ImportFrom(module=name, names=aliases, level=level):
            base = scope.module.absolute(name, level)
            for alias in aliases:
                if alias.name == "*":
                    scope.stars.append(base)
                else:
                    target = f"{base}.{alias.name}"
                    scope.bind(alias.asname or alias.name, Bound("import", target))
        case ast.Assign(targets=targets, value=value):
            for assigned in targets:
                if isinstance(assigned, ast.Name):
                    scope.bind(assigned.id, Bound("value", value=value))
                else:
                    _bind(scope, assigned)
            _bind(scope, value)
        case ast.AnnAssign(
            target=ast.Name(id=name), annotation=annotation, value=value
        ):
            if value is not None:
                scope.bind(name, Bound("value", value=value, annotation=annotation))
                _bind(scope, value)
        case ast.FunctionDef(name=name) | ast.AsyncFunctionDef(name=name):
            scope.bind(name, Bound("other"))
        case ast.ClassDef(name=name):
            scope.bind(name, Bound("other"))
        case ast.Lambda():
            pass
        case ast.withitem(context_expr=value, optional_vars=ast.Name(id=name)):
            # `with connect() as con`: what the manager gives, most often itself.
            scope.bind(name, Bound("value", value=value))
            _bind(scope, value)
        case ast.Global(names=names) | ast.Nonlocal(names=names):
            scope.module.unstable.update(names)
        case ast.Name(id=name, ctx=ast.Store() | ast.Del()):
            scope.bind(name, Bound("other"))
        case (
            ast.ExceptHandler(name=str(name))
            | ast.MatchAs(name=str(name))
            | ast.MatchStar(name=str(name))
            | ast.MatchMapping(rest=str(name))
        ):
            scope.bind(name, Bound("other"))
            collect(scope, ast.iter_child_nodes(node))
        case _:
            collect(scope, ast.iter_child_nodes(node))


def function_scope(
    parent: Scope, arguments: ast.arguments, body: Sequence[ast.AST]
) -> Scope:
    while parent.is_class and parent.parent is not None:
        parent = parent.parent
    scope = Scope(parent.module, parent)
    for arg in (
        *arguments.posonlyargs,
        *arguments.args,
        *arguments.kwonlyargs,
        *filter(None, [arguments.vararg, arguments.kwarg]),
    ):
        scope.bind(arg.arg, Bound("other", annotation=arg.annotation))
    collect(scope, body)
    return scope


# --- What a name means ----------------------------------------------------------


@dataclass(frozen=True)
class PathValue:
    """A pathlib path; `text` is the path when the code says it."""

    text: str | None


class Package:
    """The scanned package: resolves names across its modules."""

    def __init__(self, name: str, modules: dict[str, Module]) -> None:
        self.name = name
        self.modules = modules

    def names(self, expr: ast.expr, scope: Scope, depth: int = 0) -> list[str]:
        """The fully qualified names `expr` (a name, an attribute, or a lookup by a
        string: `getattr`, `import_module`) may stand for."""
        if depth > DEPTH:
            return []
        if isinstance(expr, ast.Call):
            return self._looked_up(expr, scope, depth + 1)
        if isinstance(expr, ast.Attribute):
            bases = self.names(expr.value, scope, depth + 1)
            each = [self._canonical(f"{b}.{expr.attr}", depth + 1) for b in bases]
            return list(dict.fromkeys(name for names in each for name in names))
        if not isinstance(expr, ast.Name):
            return []
        found = scope.lookup(expr.id)
        if found is None:
            stars = [f"{star}.{expr.id}" for star in scope.module.scope.stars]
            builtin = [f"builtins.{expr.id}"] if hasattr(builtins, expr.id) else []
            return [n for star in stars for n in self._canonical(star, depth)] + builtin
        owner, bounds = found
        candidates = []
        for bound in bounds:
            if bound.kind == "import":
                candidates += self._canonical(bound.target, depth + 1)
            elif isinstance(bound.value, ast.Name | ast.Attribute):
                candidates += self.names(bound.value, owner, depth + 1)
            elif owner is owner.module.scope:
                candidates.append(f"{owner.module.name}.{expr.id}")
        return list(dict.fromkeys(candidates))

    def _looked_up(self, call: ast.Call, scope: Scope, depth: int) -> list[str]:
        """What `getattr(obj, "name")`, `importlib.import_module("name")` or
        `__import__("name")` stands for, when the code says the name."""
        if not isinstance(call.func, ast.Name | ast.Attribute) or not call.args:
            return []
        called = self.names(call.func, scope, depth)
        if GETATTR in called and len(call.args) > ATTRIBUTE:
            attr = self.string(call.args[ATTRIBUTE], scope)
            bases = [] if attr is None else self.names(call.args[0], scope, depth)
            each = [self._canonical(f"{base}.{attr}", depth) for base in bases]
            return list(dict.fromkeys(name for names in each for name in names))
        module = self.string(call.args[0], scope) if set(called) & IMPORTS else None
        if module is None:
            return []
        fromlist = len(call.args) > _FROMLIST or any(
            k.arg == "fromlist" for k in call.keywords
        )
        if "builtins.__import__" in called and not fromlist:
            module = module.partition(".")[0]  # __import__("a.b") is module a.
        return self._canonical(module, depth)

    def _module_of(self, name: str) -> Module | None:
        parts = name.split(".")
        for end in range(len(parts), 0, -1):
            module = self.modules.get(".".join(parts[:end]))
            if module is not None:
                return module
        return None

    def _canonical(self, name: str, depth: int) -> list[str]:
        """`name`, or what it is when it goes through the package's own modules
        (`from mypkg.io import load`, where mypkg/io.py imports catalog.load)."""
        module = self._module_of(name)
        if module is None or name == module.name or depth > DEPTH:
            return [name]
        first, _, rest = name[len(module.name) + 1 :].partition(".")
        here = f"{module.name}.{first}"
        names = []
        for bound in module.scope.names.get(first, []):
            if bound.kind == "import":
                bases = [bound.target]
            elif isinstance(bound.value, ast.Name | ast.Attribute):
                bases = self.names(bound.value, module.scope, depth + 1)
            else:
                bases = [here]
            for base in bases:
                full = ".".join(filter(None, [base, rest]))
                names += [full] if base == here else self._canonical(full, depth + 1)
        return list(dict.fromkeys(names)) or [name]

    def defines(self, name: str) -> bool:
        """Whether `name` is a module-level name of one of the package's modules."""
        module = self._module_of(name)
        rest = name[len(module.name) + 1 :] if module else ""
        return module is not None and bool(rest) and "." not in rest

    def definition(
        self, expr: ast.expr, scope: Scope, depth: int
    ) -> tuple[Bound, Scope] | None:
        """The one binding of the name `expr`, when it is bound once."""
        if isinstance(expr, ast.Name):
            found = scope.lookup(expr.id)
            if found is None:
                return None
            owner, bounds = found
            if len(bounds) != 1 or expr.id in owner.module.unstable:
                return None
            if bounds[0].kind == "import":
                return self._qualified(bounds[0].target, depth + 1)
            return bounds[0], owner
        names = self.names(expr, scope, depth)
        return self._qualified(names[0], depth + 1) if len(names) == 1 else None

    def _qualified(self, name: str, depth: int) -> tuple[Bound, Scope] | None:
        module = self._module_of(name)
        if module is None or not self.defines(name) or depth > DEPTH:
            return None
        rest = name[len(module.name) + 1 :]
        bounds = module.scope.names.get(rest, [])
        if len(bounds) != 1 or rest in module.unstable:
            return None
        if bounds[0].kind == "import":
            return self._qualified(bounds[0].target, depth + 1)
        return bounds[0], module.scope

    def string(self, expr: ast.expr, scope: Scope, depth: int = 0) -> str | None:
        """The string `expr` is: a literal, or a constant (a name bound once)."""
        if isinstance(expr, ast.Constant):
            return expr.value if isinstance(expr.value, str) else None
        found = self.definition(expr, scope, depth)
        if found is None or found[0].value is None or depth > DEPTH:
            return None
        return self.string(found[0].value, found[1], depth + 1)

    def path(self, expr: ast.expr, scope: Scope, depth: int = 0) -> PathValue | None:
        """The pathlib path `expr` is, if the code says it is one."""
        if depth > DEPTH:
            return None
        if isinstance(expr, ast.Call):
            return self._path_call(expr, scope, depth + 1)
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Div):
            if self.path(expr.left, scope, depth + 1) or self.path(
                expr.right, scope, depth + 1
            ):
                return self._joined([expr.left, expr.right], scope, depth + 1)
            return None
        if isinstance(expr, ast.Attribute) and expr.attr == "parent":
            parent = self.path(expr.value, scope, depth + 1)
            if parent is not None:
                text = parent.text and PurePosixPath(parent.text).parent.as_posix()
                return PathValue(text)
        return self._path_definition(expr, scope, depth)

    def _path_definition(
        self, expr: ast.expr, scope: Scope, depth: int
    ) -> PathValue | None:
        """The path a name is bound to, or annotated with (`path: Path`)."""
        found = self.definition(expr, scope, depth)
        if found is None:
            return None
        bound, owner = found
        if bound.value is not None:
            return self.path(bound.value, owner, depth + 1)
        if bound.annotation is not None and self._is_path_type(bound.annotation, owner):
            return PathValue(None)
        return None

    def _path_call(self, call: ast.Call, scope: Scope, depth: int) -> PathValue | None:
        func = call.func
        names = set(self.names(func, scope, depth))
        if names & PATH_CLASSES:
            return self._joined(call.args, scope, depth)
        if not isinstance(func, ast.Attribute):
            return None
        if func.attr in _PATH_FACTORIES and {n.rpartition(".")[0] for n in names} & (
            PATH_CLASSES
        ):
            return PathValue(None)
        receiver = self.path(func.value, scope, depth)
        if receiver is None or func.attr not in _PATH_METHODS:
            return None
        if func.attr == "joinpath":
            return self._joined([func.value, *call.args], scope, depth)
        return PathValue(None)

    def _joined(self, parts: Sequence[ast.expr], scope: Scope, depth: int) -> PathValue:
        texts = [self.location(part, scope, depth) for part in parts]
        known = [text for text in texts if text is not None]
        if len(known) < len(texts):
            return PathValue(None)
        return PathValue(PurePosixPath(*known).as_posix())

    def location(self, expr: ast.expr, scope: Scope, depth: int = 0) -> str | None:
        """The path or URL `expr` is, when the code says it."""
        text = self.string(expr, scope, depth)
        if text is not None:
            return text
        path = self.path(expr, scope, depth)
        return path.text if path else None

    def _is_path_type(self, annotation: ast.expr, scope: Scope) -> bool:
        if isinstance(annotation, ast.BinOp):  # Path | None
            return self._is_path_type(annotation.left, scope) or self._is_path_type(
                annotation.right, scope
            )
        return bool(set(self.names(annotation, scope)) & PATH_CLASSES)


# --- The walk -------------------------------------------------------------------


class Check:
    """What a rule does with the walk: each hook sees one node, in its scope
    (`walker.scope`); the walk is the same for every check."""

    def node(self, walker: Walker, node: ast.AST) -> None:
        """Every node the walk visits (annotations are skipped), before its parts."""

    def call(self, walker: Walker, node: ast.Call, names: list[str]) -> None:
        """A call; `names` are what its function may stand for."""

    def reference(
        self,
        walker: Walker,
        node: ast.Name | ast.Attribute | ast.Call,
        names: list[str],
    ) -> None:
        """A name used, not called (`reader = pd.read_csv`), or a lookup by a string."""

    def imported(self, walker: Walker, node: ast.stmt | ast.expr, module: str) -> None:
        """An import of `module`: a statement, or `import_module` with a name the code says."""


class Walker(ast.NodeVisitor):
    """Walks a module with the scope each name is in, and hands what it meets
    to its checks."""

    def __init__(
        self, package: Package, module: Module, checks: Sequence[Check]
    ) -> None:
        self.package = package
        self.module = module
        self.scope = module.scope
        self.checks = checks

    def visit(self, node: ast.AST) -> None:
        for check in self.checks:
            check.node(self, node)
        super().visit(node)

    def _visit_all(self, nodes: Iterable[ast.AST]) -> None:
        for node in nodes:
            self.visit(node)

    def _enter(self, scope: Scope, body: Iterable[ast.AST]) -> None:
        outer, self.scope = self.scope, scope
        self._visit_all(body)
        self.scope = outer

    # Scopes. Annotations are types, not reads: the walk skips them.

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._visit_all(node.decorator_list)
        self._visit_defaults(node.args)
        self._enter(function_scope(self.scope, node.args, node.body), node.body)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self.visit_FunctionDef(node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._visit_defaults(node.args)
        self._enter(function_scope(self.scope, node.args, []), [node.body])

    def _visit_defaults(self, arguments: ast.arguments) -> None:
        self._visit_all([*arguments.defaults, *filter(None, arguments.kw_defaults)])

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._visit_all([*node.decorator_list, *node.bases, *node.keywords])
        scope = Scope(self.scope.module, self.scope, is_class=True)
        collect(scope, node.body)
        self._enter(scope, node.body)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.visit(node.target)
        if node.value is not None:
            self._visit_value(node.value, alias=isinstance(node.target, ast.Name))

    def visit_Assign(self, node: ast.Assign) -> None:
        self._visit_all(node.targets)
        alias = any(isinstance(target, ast.Name) for target in node.targets)
        self._visit_value(node.value, alias=alias)

    def _visit_value(self, value: ast.expr, *, alias: bool) -> None:
        """`reader = pd.read_csv` names the reader: calls of `reader` are reads."""
        if alias and isinstance(value, ast.Name | ast.Attribute):
            self.generic_visit(value)
        else:
            self.visit(value)

    # Imports.

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._imported(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self._imported(node, self.scope.module.absolute(node.module, node.level))

    def _imported(self, node: ast.stmt | ast.expr, module: str) -> None:
        for check in self.checks:
            check.imported(self, node, module)

    # Calls and references.

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        names = (
            self.package.names(func, self.scope)
            if isinstance(func, ast.Name | ast.Attribute | ast.Call)
            else []
        )
        for check in self.checks:
            check.call(self, node, names)
        if isinstance(func, ast.Call) and names:
            # getattr(pd, "read_csv")(...): the call above is the read; the
            # lookup's own arguments may still read.
            self._visit_all([*func.args, *func.keywords])
        elif isinstance(func, ast.Attribute):
            self.visit(func.value)
        elif not isinstance(func, ast.Name):
            self.visit(func)
        self._visit_all([*node.args, *node.keywords])
        if set(names) & {GETATTR, *IMPORTS}:
            self._reference(node)  # x = getattr(pd, "read_csv") hands a reader around.
        if set(names) & IMPORTS:
            for module in self.package.names(node, self.scope):
                self._imported(node, module)

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self._reference(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if isinstance(node.ctx, ast.Load):
            self._reference(node)
        self.visit(node.value)

    def _reference(self, node: ast.Name | ast.Attribute | ast.Call) -> None:
        names = self.package.names(node, self.scope)
        for check in self.checks:
            check.reference(self, node, names)


def quoted(expr: ast.expr) -> str:
    """`expr` as the code says it, shortened for a message."""
    code = ast.unparse(expr)
    return code if len(code) <= _SHOWN else f"...{code[3 - _SHOWN :]}"
