"""The data rule: package/ reads official catalog sources only, through the loader.

The scan reads package/ code the way Python does (`ast`): it follows each module's
imports, its module constants, `getattr` and `importlib.import_module` with names the
code says, and the package's own modules to the fully qualified name of what every
call calls, then flags each read outside the catalog loader (READERS, READ_METHODS)
and each `catalog.load` of a source that is not official or that it cannot see. What
it cannot read is flagged too: code run from a string (RUNS_STRINGS), and a name
looked up in a reader's package by a string the code does not say. A line that must
read directly says why in a comment, `# handoff: allow-read <reason>`: the read is
then waived, listed, never a failure.

research/ may read anything; the unofficial sources it uses are listed in the
handoff report as debts to pay before its code moves into the package.
"""

from __future__ import annotations

import ast
import builtins
import io
import json
import re
import tokenize
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Literal

from handoff_kit.catalog import Source

# The one way package/ code reads data.
LOADER = "handoff_kit.catalog.load"

# What reads data, by fully qualified name: `*` stands for part of a name, `**.` for
# any modules in between. The number is the position of the mode argument of the
# functions that write too: open(path, "w") writes, and passes.
READERS: dict[str, int | None] = {
    "pandas.**.read_*": None,
    "pandas.ExcelFile": None,
    "polars.**.read_*": None,
    "polars.**.scan_*": None,
    "numpy.load": None,
    "numpy.loadtxt": None,
    "numpy.genfromtxt": None,
    "numpy.fromfile": None,
    "numpy.fromregex": None,
    "pyarrow.**.read_*": None,  # parquet.read_table, csv.read_csv, feather.read_feather
    "pyarrow.parquet.ParquetFile": None,
    "pyarrow.parquet.ParquetDataset": None,
    "pyarrow.csv.open_csv": None,
    "pyarrow.ipc.open_*": None,
    "pyarrow.dataset.dataset": None,
    "duckdb.read_*": None,
    "datasets.load_dataset": None,
    "datasets.load_from_disk": None,
    "sklearn.datasets.fetch_*": None,
    "sklearn.datasets.load_*": None,
    "builtins.open": 1,
    "io.open": 1,
    "io.FileIO": 1,
    "codecs.open": 1,
    "gzip.open": 1,
    "bz2.open": 1,
    "lzma.open": 1,
    "zipfile.ZipFile": 1,
    "tarfile.open": 1,
    "os.open": None,
    "numpy.memmap": 2,
    "pandas.HDFStore": None,
    "joblib.load": None,
    "torch.load": None,
    "scipy.io.loadmat": None,
    "h5py.File": 1,
    "xarray.open_*": None,
    "xarray.load_*": None,
    "PIL.Image.open": None,
    "cv2.imread": None,
    "imageio.**.imread": None,
    "soundfile.read": None,
    "librosa.load": None,
    "shelve.open": None,
    "duckdb.from_*": None,
    # DuckDB's SQL reads any file it names: every query counts (QUERIES).
    "duckdb.sql": None,
    "duckdb.query": None,
    "duckdb.execute": None,
    "fsspec.open": 1,
    "fsspec.open_files": 1,
    "fsspec.open_local": None,
    "smart_open.open": 1,
    "pathlib.*.read_text": None,  # Path.read_text(path); path.read_text() is below
    "pathlib.*.read_bytes": None,
    "pathlib.*.open": 1,
    "importlib.resources.read_*": None,
    "importlib.resources.open_*": None,
    "urllib.request.urlopen": None,
    "urllib.request.urlretrieve": None,
    **{
        f"{client}.{call}": None
        for client in ("requests", "httpx")
        for call in ("get", "post", "put", "patch", "delete", "head", "options")
    },
    "requests.request": None,
    "requests.Session": None,
    "requests.session": None,
    "httpx.request": None,
    "httpx.stream": None,
    "httpx.Client": None,
    "httpx.AsyncClient": None,
}

# The packages that hold readers (and builtins): looking a name up in one of them
# by a string the code does not say may find a reader.
_READER_PACKAGES = {pattern.partition(".")[0] for pattern in READERS}

# Methods that read data whatever they are called on. Python code does not say
# what type an object has, so the scan counts every call of these as a read
# (except the package's own functions, which it scans where they are).
READ_METHODS = re.compile(
    r"read_(text|bytes|csv|parquet|json|excel|feather|table|pickle|hdf|sql\w*)"
    r"|scan_(csv|parquet)"
    r"|download_file(obj)?|get_object"  # An object store's client (boto3).
)
# The readers whose first argument is a query, not a path.
QUERIES = {"duckdb.sql", "duckdb.query", "duckdb.execute"}
# Python that runs code given as a string, which the scan cannot read.
RUNS_STRINGS = {"builtins.eval", "builtins.exec", "builtins.compile"}
# Calls that stand for an attribute or a module named by a string.
_GETATTR = "builtins.getattr"
_IMPORTS = {"importlib.import_module", "builtins.__import__"}
_ATTRIBUTE = 1  # getattr(obj, name): the name's position.
_FROMLIST = 3  # __import__(name, globals, locals, fromlist): its position.

# The waiver comment: `# handoff: allow-read <reason>` on the line that reads.
WAIVER = re.compile(r"#\s*handoff:\s*allow-read\b[\s:]*(.*)")

_PATH_CLASSES = {
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
_PATH_READS = {"read_text", "read_bytes", "open"}
_DEPTH = 30  # How far the scan follows names (an import of an alias of a constant...)
_TOO_DEEP = "the scan cannot follow it: its code is nested too deeply"
_SHOWN = 60  # The longest expression a message quotes.
_SOME_SOURCE = 'load an official source with catalog.load("<name>") instead'


@dataclass(frozen=True)
class Finding:
    """A place in package/ that reads data around the catalog; `waived` is the
    reason a `# handoff: allow-read` comment gives: a waived read never fails."""

    file: Path
    line: int
    message: str
    waived: str | None = None

    def __str__(self) -> str:
        waiver = f" (waived: {self.waived})" if self.waived is not None else ""
        return f"{self.file}:{self.line}: {self.message}{waiver}"


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
    """Every direct data read and every load of a source that is not official, or
    that the scan cannot see, in `package`; files are named from `root`. A file
    Python cannot parse is a finding too. Waived reads come with their reason."""
    modules, findings = _parse(package, root)
    scan = _Package(package.name, modules, catalog)
    for module in modules.values():
        findings += scan.module_findings(module)
    return findings


def research_imports(package: Path, research: str, root: Path) -> list[Finding]:
    """Every import of the research code (the top-level module `research`) in
    `package`: import statements, and `importlib.import_module` or `__import__`
    of a name the code says. ruff's banned-api rule sees the statements only, and
    a project's ruff settings can switch it off; files are named from `root`."""
    modules, _ = _parse(package, root)  # The data gate reports unparsable files.
    scan = _Package(package.name, modules, {})
    findings = []
    for module in modules.values():
        scanner = _Scanner(scan, module, research)
        try:
            scanner.visit(module.tree)
        except RecursionError:
            findings.append(Finding(module.shown, 0, _TOO_DEEP))
        findings += [
            Finding(module.shown, line, message) for line, message in scanner.imports
        ]
    return findings


def _parse(package: Path, root: Path) -> tuple[dict[str, _Module], list[Finding]]:
    """The package's modules by name, and a finding for each that cannot be read."""
    findings: list[Finding] = []
    modules: dict[str, _Module] = {}
    for path in sorted(package.rglob("*.py")):
        shown = path.relative_to(root) if path.is_relative_to(root) else path
        data = path.read_bytes()
        try:
            tree = ast.parse(data, filename=str(path))
        except (SyntaxError, ValueError, RecursionError) as error:
            findings.append(_unparsable(shown, error))
            continue
        try:
            module = _Module.of(package, path, shown, data, tree)
        except RecursionError:
            findings.append(Finding(shown, 0, _TOO_DEEP))
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
class _Bound:
    """One binding of a name: an import, an assigned value, or something else
    (a function, a parameter, a loop variable...)."""

    kind: Literal["import", "value", "other"]
    target: str = ""  # What an import binds, fully qualified.
    value: ast.expr | None = None
    annotation: ast.expr | None = None


@dataclass(eq=False)
class _Scope:
    """The names a module, class or function binds; `parent` is where the names
    it does not bind come from (a function skips the classes around it)."""

    module: _Module
    parent: _Scope | None = None
    is_class: bool = False
    names: dict[str, list[_Bound]] = field(default_factory=dict)
    stars: list[str] = field(default_factory=list)  # from <module> import *

    def bind(self, name: str, bound: _Bound) -> None:
        self.names.setdefault(name, []).append(bound)

    def lookup(self, name: str) -> tuple[_Scope, list[_Bound]] | None:
        scope: _Scope | None = self
        while scope is not None:
            if name in scope.names:
                return scope, scope.names[name]
            scope = scope.parent
        return None


@dataclass(eq=False)
class _Module:
    """One parsed module of the package."""

    name: str  # fully qualified
    is_package: bool  # an __init__.py
    shown: Path
    data: bytes
    tree: ast.Module
    unstable: set[str] = field(default_factory=set)  # declared global or nonlocal
    scope: _Scope = field(init=False)

    @classmethod
    def of(
        cls, package: Path, path: Path, shown: Path, data: bytes, tree: ast.Module
    ) -> _Module:
        parts = [package.name, *path.relative_to(package).with_suffix("").parts]
        is_package = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_package else parts)
        module = cls(name, is_package, shown, data, tree)
        module.scope = _Scope(module)
        _collect(module.scope, tree.body)
        return module

    def absolute(self, module: str | None, level: int) -> str:
        """The module a (relative) `from` import names."""
        if not level:
            return module or ""
        parts = self.name.split(".")
        keep = len(parts) - level + (1 if self.is_package else 0)
        return ".".join([*parts[: max(keep, 0)], *filter(None, [module])])


def _collect(scope: _Scope, nodes: Iterable[ast.AST]) -> None:
    for node in nodes:
        _bind(scope, node)


def _bind(scope: _Scope, node: ast.AST) -> None:  # noqa: PLR0912
    """Record the names `node` binds in `scope`, not those of the functions and
    classes it defines (they are scopes of their own)."""
    match node:
        case ast.Import(names=aliases):
            for alias in aliases:
                top = alias.name.partition(".")[0]
                target = alias.name if alias.asname else top
                scope.bind(alias.asname or top, _Bound("import", target))
        case ast.ImportFrom(module=name, names=aliases, level=level):
            base = scope.module.absolute(name, level)
            for alias in aliases:
                if alias.name == "*":
                    scope.stars.append(base)
                else:
                    target = f"{base}.{alias.name}"
                    scope.bind(alias.asname or alias.name, _Bound("import", target))
        case ast.Assign(targets=targets, value=value):
            for assigned in targets:
                if isinstance(assigned, ast.Name):
                    scope.bind(assigned.id, _Bound("value", value=value))
                else:
                    _bind(scope, assigned)
            _bind(scope, value)
        case ast.AnnAssign(
            target=ast.Name(id=name), annotation=annotation, value=value
        ):
            if value is not None:
                scope.bind(name, _Bound("value", value=value, annotation=annotation))
                _bind(scope, value)
        case ast.FunctionDef(name=name) | ast.AsyncFunctionDef(name=name):
            scope.bind(name, _Bound("other"))
        case ast.ClassDef(name=name):
            scope.bind(name, _Bound("other"))
        case ast.Lambda():
            pass
        case ast.Global(names=names) | ast.Nonlocal(names=names):
            scope.module.unstable.update(names)
        case ast.Name(id=name, ctx=ast.Store() | ast.Del()):
            scope.bind(name, _Bound("other"))
        case (
            ast.ExceptHandler(name=str(name))
            | ast.MatchAs(name=str(name))
            | ast.MatchStar(name=str(name))
            | ast.MatchMapping(rest=str(name))
        ):
            scope.bind(name, _Bound("other"))
            _collect(scope, ast.iter_child_nodes(node))
        case _:
            _collect(scope, ast.iter_child_nodes(node))


def _function_scope(
    parent: _Scope, arguments: ast.arguments, body: Sequence[ast.AST]
) -> _Scope:
    while parent.is_class and parent.parent is not None:
        parent = parent.parent
    scope = _Scope(parent.module, parent)
    for arg in (
        *arguments.posonlyargs,
        *arguments.args,
        *arguments.kwonlyargs,
        *filter(None, [arguments.vararg, arguments.kwarg]),
    ):
        scope.bind(arg.arg, _Bound("other", annotation=arg.annotation))
    _collect(scope, body)
    return scope


# --- What a name means ----------------------------------------------------------


@dataclass(frozen=True)
class _PathValue:
    """A pathlib path; `text` is the path when the code says it."""

    text: str | None


class _Package:
    """The scanned package: resolves names across its modules, and checks them."""

    def __init__(
        self, name: str, modules: dict[str, _Module], catalog: Mapping[str, Source]
    ) -> None:
        self.name = name
        self.modules = modules
        self.catalog = catalog

    def names(self, expr: ast.expr, scope: _Scope, depth: int = 0) -> list[str]:
        """The fully qualified names `expr` (a name, an attribute, or a lookup by a
        string: `getattr`, `import_module`) may stand for."""
        if depth > _DEPTH:
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

    def _looked_up(self, call: ast.Call, scope: _Scope, depth: int) -> list[str]:
        """What `getattr(obj, "name")`, `importlib.import_module("name")` or
        `__import__("name")` stands for, when the code says the name."""
        if not isinstance(call.func, ast.Name | ast.Attribute) or not call.args:
            return []
        called = self.names(call.func, scope, depth)
        if _GETATTR in called and len(call.args) > _ATTRIBUTE:
            attr = self.string(call.args[_ATTRIBUTE], scope)
            bases = [] if attr is None else self.names(call.args[0], scope, depth)
            each = [self._canonical(f"{base}.{attr}", depth) for base in bases]
            return list(dict.fromkeys(name for names in each for name in names))
        module = self.string(call.args[0], scope) if set(called) & _IMPORTS else None
        if module is None:
            return []
        fromlist = len(call.args) > _FROMLIST or any(
            k.arg == "fromlist" for k in call.keywords
        )
        if "builtins.__import__" in called and not fromlist:
            module = module.partition(".")[0]  # __import__("a.b") is module a.
        return self._canonical(module, depth)

    def hidden_lookup(self, call: ast.Call, scope: _Scope) -> str | None:
        """The reader package `getattr(package, <a name the code does not say>)`
        looks in, if that is what `call` is."""
        func = call.func
        names = (
            self.names(func, scope)
            if isinstance(func, ast.Name | ast.Attribute)
            else []
        )
        if _GETATTR not in names or len(call.args) <= _ATTRIBUTE:
            return None
        if self.string(call.args[_ATTRIBUTE], scope) is not None:
            return None
        bases = self.names(call.args[0], scope)
        # builtins itself holds open(); a builtin (str, dict, ...) holds no reader.
        return next(
            (
                base
                for base in bases
                if base.partition(".")[0] in _READER_PACKAGES
                and not base.startswith("builtins.")
            ),
            None,
        )

    def _module_of(self, name: str) -> _Module | None:
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
        if module is None or name == module.name or depth > _DEPTH:
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

    def _definition(
        self, expr: ast.expr, scope: _Scope, depth: int
    ) -> tuple[_Bound, _Scope] | None:
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

    def _qualified(self, name: str, depth: int) -> tuple[_Bound, _Scope] | None:
        module = self._module_of(name)
        if module is None or not self.defines(name) or depth > _DEPTH:
            return None
        rest = name[len(module.name) + 1 :]
        bounds = module.scope.names.get(rest, [])
        if len(bounds) != 1 or rest in module.unstable:
            return None
        if bounds[0].kind == "import":
            return self._qualified(bounds[0].target, depth + 1)
        return bounds[0], module.scope

    def string(self, expr: ast.expr, scope: _Scope, depth: int = 0) -> str | None:
        """The string `expr` is: a literal, or a constant (a name bound once)."""
        if isinstance(expr, ast.Constant):
            return expr.value if isinstance(expr.value, str) else None
        found = self._definition(expr, scope, depth)
        if found is None or found[0].value is None or depth > _DEPTH:
            return None
        return self.string(found[0].value, found[1], depth + 1)

    def path(self, expr: ast.expr, scope: _Scope, depth: int = 0) -> _PathValue | None:
        """The pathlib path `expr` is, if the code says it is one."""
        if depth > _DEPTH:
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
                return _PathValue(text)
        return self._path_definition(expr, scope, depth)

    def _path_definition(
        self, expr: ast.expr, scope: _Scope, depth: int
    ) -> _PathValue | None:
        """The path a name is bound to, or annotated with (`path: Path`)."""
        found = self._definition(expr, scope, depth)
        if found is None:
            return None
        bound, owner = found
        if bound.value is not None:
            return self.path(bound.value, owner, depth + 1)
        if bound.annotation is not None and self._is_path_type(bound.annotation, owner):
            return _PathValue(None)
        return None

    def _path_call(
        self, call: ast.Call, scope: _Scope, depth: int
    ) -> _PathValue | None:
        func = call.func
        names = set(self.names(func, scope, depth))
        if names & _PATH_CLASSES:
            return self._joined(call.args, scope, depth)
        if not isinstance(func, ast.Attribute):
            return None
        if func.attr in _PATH_FACTORIES and {n.rpartition(".")[0] for n in names} & (
            _PATH_CLASSES
        ):
            return _PathValue(None)
        receiver = self.path(func.value, scope, depth)
        if receiver is None or func.attr not in _PATH_METHODS:
            return None
        if func.attr == "joinpath":
            return self._joined([func.value, *call.args], scope, depth)
        return _PathValue(None)

    def _joined(
        self, parts: Sequence[ast.expr], scope: _Scope, depth: int
    ) -> _PathValue:
        texts = [self.location(part, scope, depth) for part in parts]
        known = [text for text in texts if text is not None]
        if len(known) < len(texts):
            return _PathValue(None)
        return _PathValue(PurePosixPath(*known).as_posix())

    def location(self, expr: ast.expr, scope: _Scope, depth: int = 0) -> str | None:
        """The path or URL `expr` is, when the code says it."""
        text = self.string(expr, scope, depth)
        if text is not None:
            return text
        path = self.path(expr, scope, depth)
        return path.text if path else None

    def _is_path_type(self, annotation: ast.expr, scope: _Scope) -> bool:
        if isinstance(annotation, ast.BinOp):  # Path | None
            return self._is_path_type(annotation.left, scope) or self._is_path_type(
                annotation.right, scope
            )
        return bool(set(self.names(annotation, scope)) & _PATH_CLASSES)

    # --- Checking a module -------------------------------------------------------

    def module_findings(self, module: _Module) -> list[Finding]:
        scanner = _Scanner(self, module)
        try:
            scanner.visit(module.tree)
        except RecursionError:
            return [Finding(module.shown, 0, _TOO_DEEP)]
        waivers = _waivers(module.data)
        findings = [
            Finding(
                module.shown,
                line,
                message,
                next((waivers[n] for n in lines if waivers.get(n)), None),
            )
            for line, lines, message in scanner.hits
        ]
        findings += [
            Finding(
                module.shown,
                line,
                "a waiver needs a reason: say why this line may read data directly "
                "('# handoff: allow-read <reason>')",
            )
            for line, reason in waivers.items()
            if not reason
        ]
        return sorted(findings, key=lambda finding: finding.line)

    def describe(self, location: str | None) -> str:
        """What a read's path or URL is, and what to use instead."""
        if location is None:
            return f"a path the gate cannot see; {_SOME_SOURCE}"
        for source in self.catalog.values():
            if source.location == location or (
                "://" not in location
                and PurePosixPath(location) == PurePosixPath(source.location)
            ):
                if source.official:
                    instead = f'load it with catalog.load("{source.name}") instead'
                else:
                    instead = _SOME_SOURCE
                return f"{location!r} is the {source.status} source {source.name!r}; {instead}"
        kind = "location" if "://" in location else "path"
        return f"{location!r} is a {kind} outside the data catalog; {_SOME_SOURCE}"

    def load_message(self, call: ast.Call, scope: _Scope) -> str | None:
        """What is wrong with a `catalog.load(...)` call, if anything."""
        named = [k.value for k in call.keywords if k.arg == "name"]
        arg = next(iter([*call.args[:1], *named]), None)
        name = None if arg is None else self.string(arg, scope)
        if arg is None or name is None:
            seen = "no name given" if arg is None else ast.unparse(arg)
            return (
                f"loads a source the gate cannot see ({seen}): "
                "pass the source's name as a literal or a module constant"
            )
        # A constant's name shows where the source's name comes from.
        via = [] if isinstance(arg, ast.Constant) else [ast.unparse(arg)]
        if name not in self.catalog:
            shown = f"{name!r} ({via[0]})" if via else repr(name)
            return f"loads {shown}, which is not in the data catalog"
        source = self.catalog[name]
        if not source.official:
            where = "; ".join([*via, str(source.file)])
            return (
                f"loads the unofficial source {name!r} ({where}); "
                "package/ uses official sources only"
            )
        return None


def _waivers(data: bytes) -> dict[int, str]:
    """The lines with a waiver comment, and the reason each gives."""
    waivers = {}
    try:
        for token in tokenize.tokenize(io.BytesIO(data).readline):
            match = (
                WAIVER.search(token.string) if token.type == tokenize.COMMENT else None
            )
            if match:
                waivers[token.start[0]] = match.group(1).strip()
    except (tokenize.TokenError, SyntaxError):  # pragma: no cover - ast parsed it
        pass
    return waivers


@cache
def _glob(pattern: str) -> re.Pattern[str]:
    escaped = re.escape(pattern)
    return re.compile(escaped.replace(r"\*\*\.", r"(?:\w+\.)*").replace(r"\*", r"\w*"))


def _reader(name: str) -> str | None:
    """The READERS pattern `name` matches."""
    return next((p for p in READERS if _glob(p).fullmatch(name)), None)


def _shown(name: str) -> str:
    return name.removeprefix("builtins.")


def _writes(mode: str | None) -> bool:
    """Whether a file mode only writes: "w", "x", "a" (but "a+" and "r+" read)."""
    if mode is None:
        return False
    return "w" in mode or "x" in mode or ("a" in mode and "+" not in mode)


class _Scanner(ast.NodeVisitor):
    """Walks a module with the scope each name is in; collects the reads as
    (line, lines a waiver may be on, message)."""

    def __init__(
        self, package: _Package, module: _Module, research: str | None = None
    ) -> None:
        self.package = package
        self.scope = module.scope
        self.hits: list[tuple[int, set[int], str]] = []
        # Imports of the research code, as (line, message), when `research` is given.
        self.research = research
        self.imports: list[tuple[int, str]] = []

    def _visit_all(self, nodes: Iterable[ast.AST]) -> None:
        for node in nodes:
            self.visit(node)

    def _enter(self, scope: _Scope, body: Iterable[ast.AST]) -> None:
        outer, self.scope = self.scope, scope
        self._visit_all(body)
        self.scope = outer

    def _hit(self, node: ast.expr, message: str) -> None:
        line = node.end_lineno or node.lineno
        if isinstance(node, ast.Call):
            line = node.func.end_lineno or node.lineno
        self.hits.append((line, {line, node.lineno, node.end_lineno or line}, message))

    # Scopes. Annotations are types, not reads: the scan skips them.

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._visit_all(node.decorator_list)
        self._visit_defaults(node.args)
        self._enter(_function_scope(self.scope, node.args, node.body), node.body)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self.visit_FunctionDef(node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._visit_defaults(node.args)
        self._enter(_function_scope(self.scope, node.args, []), [node.body])

    def _visit_defaults(self, arguments: ast.arguments) -> None:
        self._visit_all([*arguments.defaults, *filter(None, arguments.kw_defaults)])

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._visit_all([*node.decorator_list, *node.bases, *node.keywords])
        scope = _Scope(self.scope.module, self.scope, is_class=True)
        _collect(scope, node.body)
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

    # Imports of the research code.

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._imported(node, alias.name)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        self._imported(node, self.scope.module.absolute(node.module, node.level))

    def _imported(self, node: ast.stmt | ast.expr, module: str) -> None:
        research = self.research
        if research and (module == research or module.startswith(f"{research}.")):
            self.imports.append(
                (
                    node.lineno,
                    f"imports research code ({module}): package code must never "
                    "import research code; move what you need into the package",
                )
            )

    # Reads.

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        names = (
            self.package.names(func, self.scope)
            if isinstance(func, ast.Name | ast.Attribute | ast.Call)
            else []
        )
        hidden = self.package.hidden_lookup(node, self.scope)
        if LOADER in names:
            message = self.package.load_message(node, self.scope)
        elif set(names) & RUNS_STRINGS:
            message = (
                f"runs code given as a string with {_shown(names[0])}(), which the "
                "gate cannot read: write the code out, or waive the line "
                "('# handoff: allow-read <reason>')"
            )
        elif hidden is not None:
            message = (
                f"looks up a name in {hidden} that the code does not say "
                f"({_quoted(node)}), so the gate cannot see whether it reads; "
                f"{_SOME_SOURCE}"
            )
        else:
            message = self._function_read(node, names) or self._method_read(node, names)
        if message:
            self._hit(node, message)
        if isinstance(func, ast.Call) and names:
            # getattr(pd, "read_csv")(...): the call above is the read; the
            # lookup's own arguments may still read.
            self._visit_all([*func.args, *func.keywords])
        elif isinstance(func, ast.Attribute):
            self.visit(func.value)
        elif not isinstance(func, ast.Name):
            self.visit(func)
        self._visit_all([*node.args, *node.keywords])
        if set(names) & {_GETATTR, *_IMPORTS}:
            self._reference(node)  # x = getattr(pd, "read_csv") hands a reader around.
        if set(names) & _IMPORTS:
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
        """A reader or the loader handed around, not called: the scan cannot see
        what it reads."""
        names = self.package.names(node, self.scope)
        if LOADER in names:
            self._hit(
                node,
                "hands catalog.load around without calling it, so the gate cannot "
                "see which source it loads: call catalog.load() with the source's "
                "name as a literal or a module constant",
            )
            return
        reader = next((name for name in names if _reader(name)), None)
        if reader is not None:
            self._hit(
                node,
                f"hands {_shown(reader)}() around without calling it, so the gate "
                f"cannot see what it reads; {_SOME_SOURCE}",
            )

    def _mode(self, call: ast.Call, position: int) -> str | None:
        given = [k.value for k in call.keywords if k.arg == "mode"]
        mode = next(iter([*given, *call.args[position : position + 1]]), None)
        return "r" if mode is None else self.package.string(mode, self.scope)

    def _first_location(self, call: ast.Call) -> str | None:
        if not call.args:
            return None
        return self.package.location(call.args[0], self.scope)

    def _function_read(self, call: ast.Call, names: list[str]) -> str | None:
        for name in names:
            pattern = _reader(name)
            if pattern is None:
                continue
            position = READERS[pattern]
            if position is not None and _writes(self._mode(call, position)):
                return None
            if pattern in QUERIES:
                return (
                    f"reads data directly with {name}(): its SQL can read any file, "
                    f"so the gate counts every query as a data read; {_SOME_SOURCE}, "
                    "or waive the line ('# handoff: allow-read <reason>')"
                )
            location = self.package.describe(self._first_location(call))
            return f"reads data directly with {_shown(name)}(): {location}"
        return None

    def _method_read(self, call: ast.Call, names: list[str]) -> str | None:
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr in _PATH_READS:
            receiver = self.package.path(func.value, self.scope)
            if receiver is not None:
                if func.attr == "open" and _writes(self._mode(call, 0)):
                    return None
                location = self.package.describe(receiver.text)
                return (
                    f"reads data directly with pathlib.Path.{func.attr}(): {location}"
                )
        if isinstance(func, ast.Attribute):
            method, subject = func.attr, _quoted(func.value)
            every = f".{method}()"
        elif isinstance(func, ast.Name):
            method = subject = func.id
            every = f"{method}()"
        else:
            return None
        if not READ_METHODS.fullmatch(method) or any(map(self.package.defines, names)):
            return None  # Not a reader's name, or the package's own function.
        outside = [n for n in names if n.partition(".")[0] != self.package.name]
        if outside:
            location = self.package.describe(self._first_location(call))
            return f"reads data directly with {outside[0]}(): {location}"
        return (
            f"reads data directly with {_quoted(func)}(): Python code does not say "
            f"what {subject} is, so the gate counts every {every} as a data read; "
            f"{_SOME_SOURCE}, or waive the line ('# handoff: allow-read <reason>')"
        )


def _quoted(expr: ast.expr) -> str:
    """`expr` as the code says it, shortened for a message."""
    code = ast.unparse(expr)
    return code if len(code) <= _SHOWN else f"...{code[3 - _SHOWN :]}"


# --- research/ ------------------------------------------------------------------


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
