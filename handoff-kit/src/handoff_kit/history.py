"""The snapshot's history: every version of it ever committed, read from git.

The contract gate compares the contract with the snapshot file, and also with
each earlier committed snapshot, so that deleting the file, recording it again
or pointing `snapshot` in [tool.handoff] at a fresh file resets nothing. Which
file was the snapshot is read from each committed pyproject.toml (the default
path where it names none), and each such file is followed back across renames.

The walk costs a fixed number of git processes, whatever the history's length:
one `git log` per file (pyproject.toml and each path ever named), and one
`git cat-file --batch` for each kind of content, each distinct blob read once.
Nothing here reaches the network. A rewritten history is out of scope.
"""

from __future__ import annotations

import json
import posixpath
import subprocess
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from handoff_kit.compat import SEMVER, Reference, Snapshot
from handoff_kit.config import KEYS, PYPROJECT

DEFAULT_SNAPSHOT = KEYS["snapshot"][1] or "package/contracts.lock.json"
NO_BLOB = "0" * 40
# Commits open with this byte in the walks' output (`git log -z`).
COMMIT = "\x01"
# What the gate says of a shallow clone, whose earliest commits are not there.
SHALLOW = (
    "a shallow clone: snapshots committed before its earliest commit are not compared "
    "(fetch the whole history: actions/checkout `fetch-depth: 0`, GitLab `GIT_DEPTH: 0`)"
)
# git's exit status when it finds no repository it can read.
NOT_A_REPOSITORY = 128


class HistoryError(Exception):
    """git could not read the history it holds; the message says why."""


@dataclass(frozen=True)
class History:
    """The earlier committed snapshots, newest first; `note` says why there are
    none to read (not a git repository, no commits yet) or some are missing (a
    shallow clone), empty otherwise."""

    references: tuple[Reference, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class _Version:
    """A file's content (`blob`) at `path` (from the repository's top), as `commit`
    recorded it."""

    commit: str
    path: str
    blob: str
    time: int  # The commit's time, in seconds since the epoch.


def committed_snapshots(root: Path, snapshot: Path) -> History:
    """Every distinct committed version of every file that was the snapshot of the
    project in `root`; `snapshot` is the file the settings name now."""
    prefix, note = _locate(root)
    if prefix is None:
        return History(note=f"{note}: no earlier snapshots, the snapshot file alone")
    # Where the project's pyproject.toml was at each commit, and what it said.
    pyprojects = _versions(root, prefix + PYPROJECT)
    contents = _read(root, {version.blob for version in pyprojects})
    named = {_relative(root, snapshot, prefix)}
    for version in pyprojects:
        folder = posixpath.dirname(version.path)
        named.add(_join(folder, _setting(contents.get(version.blob, b""))))
    # Every version of each of those files, under whatever name it had then.
    versions = [
        version
        for path in sorted(path for path in named if path is not None)
        for version in _versions(root, path)
    ]
    snapshots = _read(root, {version.blob for version in versions})
    # Each content once, named after the commit that first recorded it, the most
    # recently committed first.
    first: dict[str, _Version] = {}
    newest: dict[str, int] = {}
    for version in versions:  # Each file's versions, the newest first.
        if version.blob not in first or version.time <= first[version.blob].time:
            first[version.blob] = version
        newest[version.blob] = max(newest.get(version.blob, 0), version.time)
    references = []
    for blob in sorted(newest, key=lambda blob: -newest[blob]):
        recorded = _snapshot(snapshots.get(blob, b""))
        if recorded is not None:
            version = first[blob]
            name = f"{version.path.removeprefix(prefix)}@{version.commit[:7]}"
            references.append(Reference(name, recorded))
    return History(tuple(references), note)


def _locate(root: Path) -> tuple[str | None, str]:
    """(the project's folder from the repository's top, "" or "sub/", and a note
    when the history is incomplete); or (None, why there is no history to read).
    HistoryError when there is a repository that git cannot read."""
    try:
        found = _git(
            root,
            "rev-parse",
            "--is-shallow-repository",
            "--show-prefix",
            "--verify",
            "-q",
            "HEAD",
        )
    except FileNotFoundError:
        return None, "git is not installed"
    if found.returncode == NOT_A_REPOSITORY:
        said = [line for line in found.stderr.splitlines() if line.startswith("fatal:")]
        reason = said[0].removeprefix("fatal: ") if said else ""
        if not reason or reason.startswith("not a git repository"):
            return None, "not a git repository"
        # A repository git refuses to read (its owner, its settings) is no pass.
        msg = f"git cannot read the repository: {reason}"
        raise HistoryError(msg)
    lines = found.stdout.splitlines()
    if found.returncode != 0 or len(lines) < 3:  # noqa: PLR2004  # Shallow, prefix, HEAD.
        return None, "no commits yet"
    return lines[1], SHALLOW if lines[0] == "true" else ""


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # git from PATH, as make finds it; the arguments are this module's and paths.
    # Replacement objects (`git replace`) would let a commit hide another.
    return subprocess.run(  # noqa: S603
        ["git", "--no-replace-objects", *args],  # noqa: S607
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )


def _relative(root: Path, path: Path, prefix: str) -> str | None:
    """`path` from the repository's top; None when it is outside the project."""
    try:
        inside = path.resolve().relative_to(root.resolve())
    except ValueError:
        return None
    return _join(prefix.rstrip("/"), inside.as_posix())


def _join(folder: str, path: str) -> str | None:
    """`path` (relative to `folder`) from the repository's top; None outside it."""
    joined = posixpath.normpath(posixpath.join(folder, path))
    if joined.startswith("../") or joined in {"..", "."} or posixpath.isabs(path):
        return None
    return joined


def _setting(pyproject: bytes) -> str:
    """The `snapshot` setting a pyproject.toml held; the default when it held none."""
    try:
        table = tomllib.loads(pyproject.decode())
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return DEFAULT_SNAPSHOT
    value = table.get("tool", {}).get("handoff", {}).get("snapshot")
    return value if isinstance(value, str) and value.strip() else DEFAULT_SNAPSHOT


def _versions(root: Path, path: str) -> list[_Version]:
    """Every commit that changed the file at `path` (from the repository's top),
    followed back across renames, newest first, with the content it left."""
    found = _git(
        root,
        "log",
        "-z",
        "--follow",
        "--full-history",  # Every commit, not only one side of a merge.
        "-m",
        "--raw",
        "--no-abbrev",
        f"--format={COMMIT}%H %ct",
        "--",
        f":(top,literal){path}",
    )
    if found.returncode != 0:
        said = " ".join(found.stderr.split()) or f"exit status {found.returncode}"
        msg = f"`git log` of {path} failed: {said}"
        raise HistoryError(msg)
    return list(_parse_log(found.stdout))


def _parse_log(output: str) -> Iterable[_Version]:
    """The versions `git log -z --raw` lists: for each commit, lines of
    `:mode mode blob blob status`, then the path (two for a rename or a copy)."""
    tokens = iter(output.split("\0"))
    commit, time = "", 0
    for token in tokens:
        token = token.strip("\n")  # noqa: PLW2901  # Each record ends a line.
        if token.startswith(COMMIT):
            commit, seconds = token.removeprefix(COMMIT).split()
            time = int(seconds)
        elif token.startswith(":"):
            fields = token.split()
            blob, status = fields[3], fields[4]
            path = next(tokens)
            if status[0] in "RC":
                path = next(tokens)  # The name it has after the rename.
            if blob != NO_BLOB:  # Not a deletion.
                yield _Version(commit, path, blob, time)


def _read(root: Path, blobs: set[str]) -> dict[str, bytes]:
    """The content of each blob, by one `git cat-file --batch`."""
    if not blobs:
        return {}
    found = subprocess.run(  # Blob names git gave.
        ["git", "--no-replace-objects", "cat-file", "--batch"],  # noqa: S607
        cwd=root,
        input="".join(f"{blob}\n" for blob in sorted(blobs)).encode(),
        capture_output=True,
        check=False,
    )
    if found.returncode != 0:
        said = " ".join(found.stderr.decode(errors="replace").split())
        msg = f"`git cat-file` failed: {said or found.returncode}"
        raise HistoryError(msg)
    contents, output, at = {}, found.stdout, 0
    while at < len(output):
        end = output.index(b"\n", at)
        header = output[at:end].decode().split()
        if header[1:] == ["missing"]:  # Not fetched (a partial clone): unread.
            at = end + 1
            continue
        blob, kind, size = header
        if kind != "blob":
            msg = f"`git cat-file` found a {kind} where a blob was expected: {blob}"
            raise HistoryError(msg)
        start = end + 1
        contents[blob] = output[start : start + int(size)]
        at = start + int(size) + 1  # The content ends with a newline of its own.
    return contents


def _snapshot(content: bytes) -> Snapshot | None:
    """The snapshot a committed file held; None when it is not one (a file that
    was something else before the setting named it)."""
    try:
        found = json.loads(content)
    except (UnicodeDecodeError, ValueError):
        return None
    if not (
        isinstance(found, dict)
        and isinstance(found.get("version"), str)
        and SEMVER.match(found["version"])
        and isinstance(found.get("schemas"), dict)
        and isinstance(found.get("interfaces"), dict)
    ):
        return None
    return found
