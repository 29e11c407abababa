"""Where each existing file goes in the template's layout, and how each file that
the template also writes is resolved."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from handoff_kit.adopt import infer, merge
from handoff_kit.adopt.infer import Found

# Files that hold data, not code: they leave git for data/.
DATA_SUFFIXES = frozenset(
    {
        ".csv",
        ".tsv",
        ".parquet",
        ".feather",
        ".xlsx",
        ".xls",
        ".h5",
        ".hdf5",
        ".pkl",
        ".pickle",
        ".joblib",
        ".npy",
        ".npz",
        ".sqlite",
        ".db",
        ".arrow",
        ".avro",
        ".orc",
    }
)
# Top-level Python files that configure the build or the tools: they stay, but
# setup.py goes when adoption replaces the build (retired).
KEPT_SCRIPTS = frozenset({"setup.py", "noxfile.py", "tasks.py", "manage.py"})

# How a file that both the repository and the template have is resolved.
MERGED = {
    "pyproject.toml": (
        "merged: the team's dependencies and settings kept (tomlkit keeps its "
        "comments), the template's added; requirements files' dependencies join them"
    ),
    "README.md": "kept, with the template's sections appended",
    "Makefile": "kept, with `include standards/tasks.mk`",
    ".gitignore": "merged: the team's lines, then the template's missing ones",
}
TEMPLATE_WINS = {
    ".python-version": "the template's, with the inferred Python version",
}
OWNED = (
    "replaced by the template's: template-owned, checked by `make check` "
    "(the team's version stays in git history)"
)
KEPT = "kept: the team's version (the template's is not written)"


@dataclass(frozen=True)
class Move:
    source: str
    destination: str
    kind: str
    tracked: bool = True  # False: the file leaves git (data).


@dataclass(frozen=True)
class Collision:
    path: str
    resolution: str


@dataclass(frozen=True)
class Retired:
    """A file the adopted project no longer reads: adoption removes it (`git rm`,
    its history kept), so that nobody installs or builds from it again."""

    path: str
    why: str


def _is_data(path: str) -> bool:
    pure = PurePosixPath(path)
    return pure.parts[0] in {"data", "models"} or pure.suffix.lower() in DATA_SUFFIXES


def _data_destination(path: str) -> str:
    pure = PurePosixPath(path)
    if pure.parts[0] in {"data", "models"}:
        return path
    return str(PurePosixPath("data", *pure.parts))


def moves(
    found: Found, package_folder: str | None, package_name: str, notebooks: str | None
) -> list[Move]:
    """Every tracked file that moves, in the order of the files."""
    planned: list[Move] = []
    for file in found.files:
        pure = PurePosixPath(file)
        move: Move | None = None
        if package_folder and file.startswith(package_folder + "/"):
            rest = file[len(package_folder) + 1 :]
            move = Move(file, f"package/src/{package_name}/{rest}", "package code")
        elif _is_data(file):
            if pure.name not in {".gitkeep", "README.md"} or pure.parts[0] not in {
                "data",
                "models",
            }:
                move = Move(file, _data_destination(file), "data (untracked)", False)
        elif pure.parts[0] in {"tests", "test"} and len(pure.parts) > 1:
            move = Move(
                file, str(PurePosixPath("package/tests", *pure.parts[1:])), "tests"
            )
        elif len(pure.parts) == 1 and (
            re.fullmatch(r"test_.*\.py|.*_test\.py|conftest\.py", pure.name)
        ):
            move = Move(file, f"package/tests/{pure.name}", "tests")
        elif notebooks is not None and (
            pure.suffix == ".ipynb"
            or (notebooks != "." and file.startswith(notebooks + "/"))
        ):
            base = PurePosixPath(notebooks)
            rest_path = pure.relative_to(base) if pure.is_relative_to(base) else pure
            if notebooks == "." and pure.suffix != ".ipynb":
                continue
            move = Move(
                file, str(PurePosixPath("research/notebooks", rest_path)), "notebook"
            )
            if pure.suffix != ".ipynb":
                move = Move(move.source, move.destination, "scratch code")
        elif len(pure.parts) == 1 and pure.suffix == ".py" and file not in KEPT_SCRIPTS:
            move = Move(file, f"research/scripts/{pure.name}", "scratch code")
        if move is not None and (move.destination != move.source or not move.tracked):
            planned.append(move)
    return planned


def collisions(
    after_moves: set[str], rendered: set[str], template_owned: set[str]
) -> list[Collision]:
    """The files both the moved repository and the template's render have."""
    found = []
    for path in sorted(after_moves & rendered):
        if path in MERGED:
            resolution = MERGED[path]
        elif path in TEMPLATE_WINS:
            resolution = TEMPLATE_WINS[path]
        elif path in template_owned:
            resolution = OWNED
        else:
            resolution = KEPT
        found.append(Collision(path, resolution))
    return found


def retired(found: Found) -> tuple[list[Retired], list[str]]:
    """What pyproject.toml and uv.lock replace: requirements files whose every line
    reached pyproject.toml, poetry.lock, and setup.py (the template's build is
    uv_build). Also, as notes, the requirements files kept and why."""
    gone: list[Retired] = []
    notes: list[str] = []
    for file in infer.requirement_files(found):
        left = merge.unread_requirements(
            (found.root / file).read_text(encoding="utf-8")
        )
        if left:
            notes.append(
                f"{file} kept: pyproject.toml cannot hold {', '.join(left)}; put it in "
                "uv.toml (an index) or pyproject.toml ([tool.uv.sources]), then delete "
                "the file"
            )
        else:
            gone.append(
                Retired(
                    file,
                    "its requirements are in pyproject.toml, and uv.lock pins them",
                )
            )
    if found.has("poetry.lock"):
        gone.append(Retired("poetry.lock", "uv.lock replaces it"))
    if found.has("setup.py"):
        why = (
            "the template's build (uv_build, [build-system]) replaces it; its metadata "
            "and requirements are in pyproject.toml"
        )
        if found.setup_py_computed:
            computed = ", ".join(found.setup_py_computed)
            why += f" (it computed {computed} when run: check that pyproject.toml has them)"
        gone.append(Retired("setup.py", why))
    return gone, notes
