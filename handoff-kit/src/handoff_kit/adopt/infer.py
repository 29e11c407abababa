"""What an existing repository already says about itself: the template's answers,
each with the file it came from, read as the tools read those files (TOML, INI,
Python's syntax tree), never guessed from text."""

from __future__ import annotations

import ast
import configparser
import re
import tomllib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

PYTHON_CHOICES = ("3.11", "3.12", "3.13")
# Folders at the top that hold no package, whatever they contain.
NOT_PACKAGES = frozenset(
    {
        "tests",
        "test",
        "docs",
        "doc",
        "notebooks",
        "scripts",
        "data",
        "models",
        "reports",
        "references",
        "build",
        "dist",
        "research",
        "package",
        "standards",
        "src",
    }
)
_VERSION = re.compile(r"(?P<op>>=|==|~=|\^|~|>)?\s*3\.(?P<minor>\d+)")


class AdoptError(Exception):
    """The repository cannot be adopted as it is; one line says why and what to do."""


@dataclass(frozen=True)
class Answer:
    """One of the template's questions, answered from the repository."""

    name: str
    value: object
    source: str


@dataclass(frozen=True)
class Found:
    """What the repository declares, read once: its configuration files."""

    root: Path
    files: tuple[str, ...]  # Tracked files, POSIX paths from the root.
    pyproject: Mapping[str, Any]
    setup_cfg: configparser.ConfigParser
    setup_py: Mapping[str, Any]  # setup()'s literal keyword arguments.
    # setup()'s keywords computed when it runs (a file read, find_packages()).
    setup_py_computed: tuple[str, ...] = ()

    def has(self, path: str) -> bool:
        return path in self.files

    def under(self, folder: str) -> list[str]:
        return [f for f in self.files if f.startswith(folder.rstrip("/") + "/")]


def read_pyproject(root: Path) -> dict[str, Any]:
    path = root / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise AdoptError(
            f"pyproject.toml cannot be parsed ({error}): fix it, commit, and run again"
        ) from None


def read_setup_py(root: Path) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The literal keyword arguments of the `setup(...)` call in setup.py, and the
    names of those it computes."""
    path = root / "setup.py"
    if not path.is_file():
        return {}, ()
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except SyntaxError as error:
        raise AdoptError(
            f"setup.py cannot be parsed (line {error.lineno}: {error.msg}): fix it, "
            "commit, and run again"
        ) from None
    found: dict[str, Any] = {}
    computed: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else None
        name = node.func.id if isinstance(node.func, ast.Name) else name
        if name != "setup":
            continue
        for keyword in node.keywords:
            if keyword.arg is None:
                continue
            try:
                found[keyword.arg] = ast.literal_eval(keyword.value)
            except ValueError:
                computed.append(keyword.arg)  # Not an answer: known when it runs.
    return found, tuple(computed)


def read_found(root: Path, files: Sequence[str]) -> Found:
    setup_cfg = configparser.ConfigParser()
    if (root / "setup.cfg").is_file():
        try:
            setup_cfg.read(root / "setup.cfg", encoding="utf-8")
        except configparser.Error as error:
            raise AdoptError(
                f"setup.cfg cannot be parsed ({' '.join(str(error).split())}): fix it, "
                "commit, and run again"
            ) from None
    setup_py, computed = read_setup_py(root)
    return Found(
        root, tuple(sorted(files)), read_pyproject(root), setup_cfg, setup_py, computed
    )


def _table(data: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    for key in keys:
        value = data.get(key)
        if not isinstance(value, dict):
            return {}
        data = value
    return dict(data)


def _cfg(found: Found, section: str, key: str) -> str | None:
    if found.setup_cfg.has_option(section, key):
        return found.setup_cfg.get(section, key).strip() or None
    return None


def project_name(found: Found) -> Answer:
    candidates: list[tuple[object, str]] = [
        (
            _table(found.pyproject, "project").get("name"),
            "pyproject.toml [project] name",
        ),
        (
            _table(found.pyproject, "tool", "poetry").get("name"),
            "pyproject.toml [tool.poetry] name",
        ),
        (_cfg(found, "metadata", "name"), "setup.cfg [metadata] name"),
        (found.setup_py.get("name"), "setup.py setup(name=...)"),
    ]
    for value, source in candidates:
        if isinstance(value, str) and value.strip():
            return Answer("project_name", value.strip(), source)
    return Answer("project_name", found.root.name, "the repository's folder name")


def slug(name: str) -> str:
    """The template's own default for project_slug (copier.yml), from a name."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _packages(found: Found) -> dict[str, str]:
    """Importable packages: folder -> its import name (top level or under src/)."""
    packages: dict[str, str] = {}
    for file in found.files:
        parts = PurePosixPath(file).parts
        if parts[-1] != "__init__.py":
            continue
        if len(parts) == 2 and parts[0] not in NOT_PACKAGES:  # noqa: PLR2004
            packages[parts[0]] = parts[0]
        elif len(parts) == 3 and parts[0] == "src":  # noqa: PLR2004
            packages[f"src/{parts[1]}"] = parts[1]
    return packages


def _declared_module(found: Found) -> tuple[str, str] | None:
    """A module name the build configuration declares, and where."""
    flit = _table(found.pyproject, "tool", "flit", "module").get("name")
    if isinstance(flit, str):
        return flit, "pyproject.toml [tool.flit.module] name"
    poetry = _table(found.pyproject, "tool", "poetry").get("packages")
    if isinstance(poetry, list):
        for entry in poetry:
            if isinstance(entry, dict) and isinstance(entry.get("include"), str):
                return entry["include"], "pyproject.toml [tool.poetry] packages"
    packages = found.setup_py.get("packages")
    if isinstance(packages, list) and packages and isinstance(packages[0], str):
        return packages[0].split(".")[0], "setup.py setup(packages=...)"
    return None


def package(found: Found, name: str) -> tuple[Answer, str | None]:
    """The package name, and the folder that holds the package (None: no package)."""
    packages = _packages(found)
    declared = _declared_module(found)
    if declared is not None:
        for folder, module in sorted(packages.items()):
            if module == declared[0]:
                return Answer("package_name", module, declared[1]), folder
    wanted = slug(name).replace("-", "_")
    ranked = sorted(
        packages.items(), key=lambda item: (item[1] != wanted, item[0].count("/"), item)
    )
    if ranked:
        folder, module = ranked[0]
        layout = "src layout" if folder.startswith("src/") else "package folder"
        return Answer(
            "package_name", module, f"{layout} ({folder}/__init__.py)"
        ), folder
    return Answer(
        "package_name", wanted, "from the project name (no package found)"
    ), None


def version(found: Found) -> str | None:
    """The version the build configuration declares, where a [project] table
    does not: setup.cfg, setup.py's setup(version=...), [tool.poetry]."""
    for value in (
        _cfg(found, "metadata", "version"),
        found.setup_py.get("version"),
        _table(found.pyproject, "tool", "poetry").get("version"),
    ):
        if (
            isinstance(value, str) and value.strip() and ":" not in value
        ):  # attr:, file:
            return value.strip()
    return None


def _python_from(spec: str) -> str | None:
    """The oldest of the template's Python versions that `spec` allows."""
    found = _VERSION.search(spec)
    if found is None:
        return None
    minor = int(found["minor"]) + (1 if found["op"] == ">" else 0)
    allowed = [v for v in PYTHON_CHOICES if int(v.split(".")[1]) >= minor]
    return allowed[0] if allowed else PYTHON_CHOICES[-1]


def python_version(found: Found) -> Answer:
    poetry = _table(found.pyproject, "tool", "poetry", "dependencies").get("python")
    specs: list[tuple[object, str]] = [
        (
            _table(found.pyproject, "project").get("requires-python"),
            "pyproject.toml requires-python",
        ),
        (poetry, "pyproject.toml [tool.poetry.dependencies] python"),
        (_cfg(found, "options", "python_requires"), "setup.cfg python_requires"),
        (found.setup_py.get("python_requires"), "setup.py python_requires"),
    ]
    if found.has(".python-version"):
        text = (found.root / ".python-version").read_text(encoding="utf-8").strip()
        specs.append((f">={text}", ".python-version"))
    for spec, source in specs:
        if isinstance(spec, str) and (version := _python_from(spec)) is not None:
            return Answer("python_version", version, f'{source} "{spec.lstrip(">=")}"')
    return Answer("python_version", "3.12", "none declared: the template's default")


def requirement_files(found: Found) -> list[str]:
    return [
        f
        for f in found.files
        if "/" not in f and f.startswith("requirements") and f.endswith(".txt")
    ]


# Extras that hold the team's tools rather than a feature of the package: they join
# the dev group; any other extra stays an extra ([project.optional-dependencies]).
DEV_EXTRAS = frozenset({"dev", "develop", "test", "tests", "testing", "lint", "docs"})


@dataclass(frozen=True)
class Declared:
    """The requirements setup.py's or setup.cfg's setup() declares."""

    runtime: list[str]
    dev: list[str]
    extras: dict[str, list[str]]
    sources: list[str]  # Where they were read, e.g. "setup.py install_requires".


def _listed(value: object) -> list[str]:
    """A setuptools requirement list: a list of strings, or one string a line each."""
    if isinstance(value, str):
        value = value.splitlines()
    if not isinstance(value, list | tuple):
        return []
    lines = [str(v).split("#", 1)[0].strip() for v in value]
    # setup.cfg's `file:` and `attr:` directives point elsewhere: not requirements.
    return [line for line in lines if line and not line.startswith(("file:", "attr:"))]


def setup_requirements(found: Found) -> Declared:
    """What setup.py's setup() (its literal arguments) and setup.cfg's [options]
    declare: install_requires, tests_require and extras_require."""
    declared = Declared([], [], {}, [])
    cfg_extras = "options.extras_require"
    read = {
        "setup.py": found.setup_py,
        "setup.cfg": {
            "install_requires": _cfg(found, "options", "install_requires"),
            "tests_require": _cfg(found, "options", "tests_require"),
            "extras_require": dict(found.setup_cfg[cfg_extras])
            if found.setup_cfg.has_section(cfg_extras)
            else None,
        },
    }
    extras: dict[str, object] = {}
    for where, keywords in read.items():
        for key, into in [
            ("install_requires", declared.runtime),
            ("tests_require", declared.dev),
        ]:
            listed = _listed(keywords.get(key))
            if listed:
                into.extend(listed)
                declared.sources.append(f"{where} {key}")
        extra_tables = keywords.get("extras_require")
        if isinstance(extra_tables, dict) and extra_tables:
            extras.update(extra_tables)
            declared.sources.append(f"{where} extras_require")
    for name, value in sorted(extras.items()):
        listed = _listed(value)
        if str(name).lower() in DEV_EXTRAS:
            declared.dev.extend(listed)
        elif listed:
            declared.extras.setdefault(str(name), []).extend(listed)
    return declared


def env_manager(found: Found) -> Answer:
    for file, value, why in [
        ("uv.lock", "uv", "uv.lock"),
        ("poetry.lock", "uv", "poetry.lock (poetry's dependencies move to uv)"),
        ("environment.yml", "conda", "environment.yml"),
        ("environment.yaml", "conda", "environment.yaml"),
    ]:
        if found.has(file):
            return Answer("env_manager", value, why)
    requirements = requirement_files(found)
    if requirements:
        return Answer(
            "env_manager",
            "uv",
            f"{', '.join(requirements)} (its dependencies move to pyproject.toml and uv)",
        )
    return Answer("env_manager", "uv", "none found: the template's default")


def _requirement_names(found: Found) -> set[str]:
    names = set()
    for file in requirement_files(found):
        for line in (found.root / file).read_text(encoding="utf-8").splitlines():
            match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line)
            if match:
                names.add(match[1].lower())
    return names


def formatter(found: Found) -> Answer:
    precommit = ""
    if found.has(".pre-commit-config.yaml"):
        precommit = (found.root / ".pre-commit-config.yaml").read_text(encoding="utf-8")
    tool = _table(found.pyproject, "tool")
    if "format" in _table(tool, "ruff") or "ruff-format" in precommit:
        return Answer(
            "formatter", "ruff", "ruff's format settings ([tool.ruff.format])"
        )
    if "black" in tool:
        return Answer("formatter", "black", "pyproject.toml [tool.black]")
    if re.search(r"\bblack\b", precommit):
        return Answer("formatter", "black", ".pre-commit-config.yaml (black)")
    if "black" in _requirement_names(found):
        return Answer("formatter", "black", "black in the requirements")
    if "ruff" in tool or found.has("ruff.toml"):
        return Answer("formatter", "ruff", "ruff's configuration")
    return Answer("formatter", "black", "none found: the template's default")


def ci(found: Found) -> Answer:
    if found.under(".github/workflows"):
        return Answer("ci", "github", ".github/workflows/")
    if found.has(".gitlab-ci.yml"):
        return Answer("ci", "gitlab", ".gitlab-ci.yml")
    return Answer("ci", "none", "no CI configuration found")


def notebooks_folder(found: Found) -> Answer:
    counts = Counter(
        str(PurePosixPath(f).parent) for f in found.files if f.endswith(".ipynb")
    )
    if not counts:
        return Answer("notebooks", None, "no notebooks in git")
    folder, count = min(counts.items(), key=lambda item: (-item[1], len(item[0])))
    return Answer("notebooks", folder, f"{count} of the repository's notebooks")


def _author(found: Found, last_author: tuple[str, str]) -> list[Answer]:
    authors = _table(found.pyproject, "project").get("authors")
    if isinstance(authors, list) and authors and isinstance(authors[0], dict):
        first = authors[0]
        if isinstance(first.get("name"), str) and isinstance(first.get("email"), str):
            source = "pyproject.toml [project] authors"
            return [
                Answer("author_name", first["name"], source),
                Answer("author_email", first["email"], source),
            ]
    poetry = _table(found.pyproject, "tool", "poetry").get("authors")
    if isinstance(poetry, list) and poetry and isinstance(poetry[0], str):
        match = re.fullmatch(r"\s*(.+?)\s*<([^>]+)>\s*", poetry[0])
        if match:
            source = "pyproject.toml [tool.poetry] authors"
            return [
                Answer("author_name", match[1], source),
                Answer("author_email", match[2], source),
            ]
    name, email = found.setup_py.get("author"), found.setup_py.get("author_email")
    if isinstance(name, str) and isinstance(email, str):
        source = "setup.py setup(author=..., author_email=...)"
        return [
            Answer("author_name", name, source),
            Answer("author_email", email, source),
        ]
    source = "the first commit's author (git log)"
    return [
        Answer("author_name", last_author[0], source),
        Answer("author_email", last_author[1], source),
    ]


def _description(found: Found) -> Answer | None:
    for value, source in [
        (
            _table(found.pyproject, "project").get("description"),
            "pyproject.toml [project] description",
        ),
        (
            _table(found.pyproject, "tool", "poetry").get("description"),
            "pyproject.toml [tool.poetry] description",
        ),
        (_cfg(found, "metadata", "description"), "setup.cfg [metadata] description"),
        (found.setup_py.get("description"), "setup.py setup(description=...)"),
    ]:
        if isinstance(value, str) and value.strip():
            return Answer("description", " ".join(value.split()), source)
    return None


def answers(
    found: Found, first_author: tuple[str, str]
) -> tuple[list[Answer], str | None]:
    """The template's answers, each with its source, and the package's folder."""
    name = project_name(found)
    package_name, folder = package(found, str(name.value))
    found_answers = [
        name,
        Answer("project_slug", slug(str(name.value)), "from the project name"),
        package_name,
        Answer("example", False, "an adopted project brings its own code"),
        *_author(found, first_author),
        python_version(found),
        env_manager(found),
        formatter(found),
        ci(found),
    ]
    description = _description(found)
    if description is not None:
        found_answers.insert(3, description)
    return found_answers, folder
