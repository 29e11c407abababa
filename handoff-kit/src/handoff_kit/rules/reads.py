"""The data rule: package/ reads official catalog sources only, through the loader.

The scan (walker.py's one walk) flags each read outside the catalog loader
(READERS, READ_METHODS) and each `catalog.load` of a source that is not official
or that it cannot see. What it cannot read is flagged too: code run from a
string (RUNS_STRINGS), and a name looked up in a reader's package by a string the
code does not say. A line that must read directly says why in a comment,
`# handoff: allow-read <reason>` (pragmas.py): the read is then waived, listed,
never a failure.

research/ may read anything; the unofficial sources it uses are listed in the
handoff report as debts to pay before its code moves into the package.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from handoff_kit.rules.pragmas import allow_reads
from handoff_kit.rules.walker import (
    ATTRIBUTE,
    DEPTH,
    GETATTR,
    TOO_DEEP,
    Check,
    Finding,
    Module,
    Package,
    Scope,
    Walker,
    parse,
    quoted,
)

if TYPE_CHECKING:  # The catalog loads pandas: the scans read code, not data.
    from handoff_kit.catalog import Source

# What opens a database: a connection, an engine or a pool (READERS, below).
CONNECTS = (
    "*.**.connect",
    "*.**.create_engine",
    "*.**.create_async_engine",
    "*.**.create_pool",
)
# What makes a filesystem of an object store (or of any fsspec protocol): its
# methods (open, cat, get, ...) read whatever path the code gives them later.
FILESYSTEMS = (
    "fsspec.filesystem",
    "fsspec.**.url_to_fs",
    "fsspec.get_mapper",
    "fsspec.**.AbstractFileSystem",
    "s3fs.**.S3FileSystem",
    "s3fs.**.S3File",
    "s3fs.**.S3Map",
    "gcsfs.**.GCSFileSystem",
    "adlfs.**.AzureBlobFileSystem",
)
# Connections whose database, when the call names none, lives in memory
# (DuckDB's documented default); sqlite3 needs one, psycopg's is a server.
MEMORY_BY_DEFAULT = {"duckdb.connect"}
# The arguments that name a connection's database, by keyword.
_DATABASE_KEYWORDS = ("database", "url", "dsn", "conninfo")
# SQLAlchemy dialects whose database is a file: an empty one is in memory.
_FILE_DIALECTS = {"sqlite", "duckdb"}
# Methods of a DuckDB connection that run SQL, which reads any file it names.
_DUCKDB_QUERIES = {"sql", "query", "execute", "executemany", "from_query"}

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
    # A database connection, from any module outside the package: PEP 249 names a
    # DB-API module's constructor `connect` (sqlite3, psycopg, psycopg2, duckdb,
    # pymysql, pyodbc, oracledb, snowflake.connector...; psycopg.Connection.connect
    # too), SQLAlchemy (and SQLModel) make engines, async drivers make pools. Only
    # names the code resolves count: `button.clicked.connect(f)` on an object
    # whose type the code does not say is no connection. A database that lives in
    # memory holds no data: it passes (IN_MEMORY).
    **dict.fromkeys(CONNECTS, None),
    **dict.fromkeys(FILESYSTEMS, None),
}

# The packages that hold readers (and builtins): looking a name up in one of them
# by a string the code does not say may find a reader.
_READER_PACKAGES = {
    pattern.partition(".")[0] for pattern in READERS if not pattern.startswith("*")
}

# Methods that read data whatever they are called on. Python code does not say
# what type an object has, so the scan counts every call of these as a read
# (except the package's own functions, which it scans where they are).
READ_METHODS = re.compile(
    r"read_(text|bytes|csv|parquet|json|excel|feather|table|pickle|hdf|sql\w*)"
    r"|scan_(csv|parquet)"
    r"|download_file(obj)?|get_object"  # An object store's client (boto3).
)
# Readers whose first argument is a query of a database a connection names.
_SQL_READS = re.compile(r"read_sql\w*|read_database\w*")
# The readers whose first argument is a query, not a path.
QUERIES = {"duckdb.sql", "duckdb.query", "duckdb.execute"}
# Python that runs code given as a string, which the scan cannot read.
RUNS_STRINGS = {"builtins.eval", "builtins.exec", "builtins.compile"}
_PATH_READS = {"read_text", "read_bytes", "open"}
_SOME_SOURCE = 'load an official source with catalog.load("<name>") instead'


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
    modules, findings = parse(package, root)
    scan = Package(package.name, modules)
    for module in modules.values():
        findings += _module_findings(scan, module, catalog)
    return findings


def _module_findings(
    package: Package, module: Module, catalog: Mapping[str, Source]
) -> list[Finding]:
    reads = _Reads(package, catalog)
    try:
        Walker(package, module, [reads]).visit(module.tree)
    except RecursionError:
        return [Finding(module.shown, 0, TOO_DEEP)]
    waivers = allow_reads(module.data)
    findings = [
        Finding(
            module.shown,
            line,
            message,
            next((waivers[n] for n in lines if waivers.get(n)), None),
        )
        for line, lines, message in reads.hits
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


class _Reads(Check):
    """Collects the reads of a module's walk as (line, lines a waiver may be on,
    message)."""

    def __init__(self, package: Package, catalog: Mapping[str, Source]) -> None:
        self.package = package
        self.catalog = catalog
        self.hits: list[tuple[int, set[int], str]] = []

    def _hit(self, node: ast.expr, message: str) -> None:
        line = node.end_lineno or node.lineno
        if isinstance(node, ast.Call):
            line = node.func.end_lineno or node.lineno
        self.hits.append((line, {line, node.lineno, node.end_lineno or line}, message))

    def call(self, walker: Walker, node: ast.Call, names: list[str]) -> None:
        scope = walker.scope
        hidden = self.hidden_lookup(node, scope)
        if LOADER in names:
            message = self.load_message(node, scope)
        elif set(names) & RUNS_STRINGS:
            message = (
                f"runs code given as a string with {_shown(names[0])}(), which the "
                "gate cannot read: write the code out, or waive the line "
                "('# handoff: allow-read <reason>')"
            )
        elif hidden is not None:
            message = (
                f"looks up a name in {hidden} that the code does not say "
                f"({quoted(node)}), so the gate cannot see whether it reads; "
                f"{_SOME_SOURCE}"
            )
        else:
            message = (
                self._function_read(node, names, scope)
                or self._connection_query(node, scope)
                or self._method_read(node, names, scope)
            )
        if message:
            self._hit(node, message)

    def reference(
        self,
        walker: Walker,
        node: ast.Name | ast.Attribute | ast.Call,
        names: list[str],
    ) -> None:
        """A reader or the loader handed around, not called: the scan cannot see
        what it reads."""
        if LOADER in names:
            self._hit(
                node,
                "hands catalog.load around without calling it, so the gate cannot "
                "see which source it loads: call catalog.load() with the source's "
                "name as a literal or a module constant",
            )
            return
        reader = next(
            (name for name in names if _reader(name) and not self._own(name)), None
        )
        if reader is not None:
            self._hit(
                node,
                f"hands {_shown(reader)}() around without calling it, so the gate "
                f"cannot see what it reads; {_SOME_SOURCE}",
            )

    def _mode(self, call: ast.Call, position: int, scope: Scope) -> str | None:
        given = [k.value for k in call.keywords if k.arg == "mode"]
        mode = next(iter([*given, *call.args[position : position + 1]]), None)
        return "r" if mode is None else self.package.string(mode, scope)

    def _first_location(self, call: ast.Call, scope: Scope) -> str | None:
        if not call.args:
            return None
        return self.package.location(call.args[0], scope)

    def _function_read(
        self, call: ast.Call, names: list[str], scope: Scope
    ) -> str | None:
        for name in names:
            pattern = _reader(name)
            if pattern is None or self._own(name):
                continue
            position = READERS[pattern]
            if position is not None and _writes(self._mode(call, position, scope)):
                return None
            if pattern in QUERIES:
                return (
                    f"reads data directly with {name}(): its SQL can read any file, "
                    f"so the gate counts every query as a data read; {_SOME_SOURCE}, "
                    "or waive the line ('# handoff: allow-read <reason>')"
                )
            if pattern in CONNECTS:
                return self._connect_read(call, name, scope)
            if pattern in FILESYSTEMS:
                location = (
                    "a filesystem reads whatever path the code gives it, which the "
                    f"catalog does not name; {_SOME_SOURCE}"
                )
            elif _SQL_READS.fullmatch(name.rpartition(".")[2]):
                location = f"its query reads a database the catalog does not name; {_SOME_SOURCE}"
            else:
                location = self.describe(self._first_location(call, scope))
            return f"reads data directly with {_shown(name)}(): {location}"
        return None

    def _own(self, name: str) -> bool:
        """Whether `name` is the package's own (scanned where it is defined)."""
        return name.partition(".")[0] == self.package.name

    def _connect_read(self, call: ast.Call, name: str, scope: Scope) -> str | None:
        """What a connection, engine or pool reads; None for a database in memory."""
        given = [k.value for k in call.keywords if k.arg in _DATABASE_KEYWORDS]
        database = next(iter([*call.args[:1], *given]), None)
        if database is None:
            if name in MEMORY_BY_DEFAULT:
                return None
            return (
                f"reads data directly with {name}(): a database the call does not "
                f"name (its settings or the environment's); {_SOME_SOURCE}"
            )
        text = self.package.location(database, scope)
        if text is not None and in_memory(text, name):
            return None
        if text is None:
            return (
                f"reads data directly with {name}(): a database the gate cannot "
                f"see; {_SOME_SOURCE}"
            )
        return f"reads data directly with {name}(): {self.describe(text)}"

    def _connection_query(self, call: ast.Call, scope: Scope) -> str | None:
        """A query on a DuckDB connection, in memory or not: its SQL reads files."""
        func = call.func
        if not (
            isinstance(func, ast.Attribute)
            and func.attr in _DUCKDB_QUERIES
            and self._duckdb(func.value, scope)
        ):
            return None
        return (
            f"reads data directly with {quoted(func)}() on a DuckDB connection: "
            "its SQL can read any file, so the gate counts every query as a data "
            f"read; {_SOME_SOURCE}, or waive the line "
            "('# handoff: allow-read <reason>')"
        )

    def _duckdb(self, expr: ast.expr, scope: Scope, depth: int = 0) -> bool:
        """Whether `expr` is a DuckDB connection: a call of duckdb.connect, or a
        name bound once to one (`con = duckdb.connect()`, `with ... as con`)."""
        if isinstance(expr, ast.Call):
            return "duckdb.connect" in self.package.names(expr.func, scope)
        found = self.package.definition(expr, scope, depth)
        if found is None or found[0].value is None or depth > DEPTH:
            return False
        return self._duckdb(found[0].value, found[1], depth + 1)

    def _method_read(
        self, call: ast.Call, names: list[str], scope: Scope
    ) -> str | None:
        func = call.func
        if isinstance(func, ast.Attribute) and func.attr in _PATH_READS:
            receiver = self.package.path(func.value, scope)
            if receiver is not None:
                if func.attr == "open" and _writes(self._mode(call, 0, scope)):
                    return None
                location = self.describe(receiver.text)
                return (
                    f"reads data directly with pathlib.Path.{func.attr}(): {location}"
                )
        if isinstance(func, ast.Attribute):
            method, subject = func.attr, quoted(func.value)
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
            location = self.describe(self._first_location(call, scope))
            return f"reads data directly with {outside[0]}(): {location}"
        return (
            f"reads data directly with {quoted(func)}(): Python code does not say "
            f"what {subject} is, so the gate counts every {every} as a data read; "
            f"{_SOME_SOURCE}, or waive the line ('# handoff: allow-read <reason>')"
        )

    def hidden_lookup(self, call: ast.Call, scope: Scope) -> str | None:
        """The reader package `getattr(package, <a name the code does not say>)`
        looks in, if that is what `call` is."""
        func = call.func
        names = (
            self.package.names(func, scope)
            if isinstance(func, ast.Name | ast.Attribute)
            else []
        )
        if GETATTR not in names or len(call.args) <= ATTRIBUTE:
            return None
        if self.package.string(call.args[ATTRIBUTE], scope) is not None:
            return None
        bases = self.package.names(call.args[0], scope)
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

    def load_message(self, call: ast.Call, scope: Scope) -> str | None:
        """What is wrong with a `catalog.load(...)` call, if anything."""
        named = [k.value for k in call.keywords if k.arg == "name"]
        arg = next(iter([*call.args[:1], *named]), None)
        name = None if arg is None else self.package.string(arg, scope)
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


@cache
def _glob(pattern: str) -> re.Pattern[str]:
    escaped = re.escape(pattern)
    return re.compile(escaped.replace(r"\*\*\.", r"(?:\w+\.)*").replace(r"\*", r"\w*"))


def _reader(name: str) -> str | None:
    """The READERS pattern `name` matches."""
    return next((p for p in READERS if _glob(p).fullmatch(name)), None)


def in_memory(database: str, connect: str) -> bool:
    """Whether `database`, as `connect` opens it, lives in memory: `:memory:` (and
    DuckDB's named `:memory:<name>`), SQLite's URI filenames with `mode=memory`, a
    SQLAlchemy URL of a file dialect with no file (`sqlite://`), or no database
    where the driver's default is memory."""
    if database.startswith(":memory:"):
        return True
    if not database:
        return connect in MEMORY_BY_DEFAULT
    url = urlsplit(database)
    if url.scheme == "file":
        return url.path == ":memory:" or "memory" in parse_qs(url.query).get("mode", [])
    if url.scheme.partition("+")[0] in _FILE_DIALECTS and not url.netloc:
        path = url.path.removeprefix("/")
        return not path or path.startswith(":memory:")
    return False


def _shown(name: str) -> str:
    return name.removeprefix("builtins.")


def _writes(mode: str | None) -> bool:
    """Whether a file mode only writes: "w", "x", "a" (but "a+" and "r+" read)."""
    if mode is None:
        return False
    return "w" in mode or "x" in mode or ("a" in mode and "+" not in mode)


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
