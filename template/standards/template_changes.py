"""Before `make update` takes a newer template version: is the template reachable, and
what does the new version change?

    python standards/template_changes.py check
        Exit 1 with one line saying how to fix `_src_path` in .copier-answers.yml when
        the template it names cannot be reached (Copier would end in a traceback).
    copier check-update --output-format json | python standards/template_changes.py news
        Print what the template's CHANGELOG.md gained between the commit the project
        records (`_commit`) and the one the update takes (the newest version's tag, or
        the template's HEAD in a clone without tags); when the recorded commit cannot
        be found, the entries after the project's version, up to the newest one.

Run it in the project's root (`make update` does). Template-owned: `copier update`
keeps this file current. Standard library, PyYAML and packaging (both in every
project's environment), and git.
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from update_package import REMOTE, UpdateError, check_source, last_message, read_answers

PROG = "standards/template_changes.py"
CHANGELOG = "CHANGELOG.md"
# Copier's own shortcuts for git hosts.
SHORTCUTS = {"gh:": "https://github.com/", "gl:": "https://gitlab.com/"}
# A version's entry: `## 1.2.0`, maybe followed by a date.
HEADING = re.compile(r"^## +v?(\S+)")


def git_url(src: str, project: Path) -> str:
    """What git fetches for `_src_path`: Copier's shortcuts expanded, local paths made
    absolute (they are relative to the project, as Copier reads them)."""
    for shortcut, prefix in SHORTCUTS.items():
        if src.startswith(shortcut):
            return prefix + src.removeprefix(shortcut)
    if REMOTE.search(src):
        return src
    return str((project / Path(src).expanduser()).resolve())


def git(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """git, never prompting for a password it would wait for forever."""
    return subprocess.run(  # noqa: S603  # git, with arguments this script builds.
        ["git", *args],  # noqa: S607  # git from PATH, as Copier itself runs it.
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
        timeout=120,
    )


def check(project: Path) -> None:
    """Fail, in one line, unless `_src_path` names a template git can reach."""
    src = str(read_answers(project)["_src_path"])
    check_source(src, project)
    reached = git("ls-remote", "--quiet", git_url(src, project), "HEAD")
    if reached.returncode != 0:
        raise UpdateError(
            f"the template {src!r} (_src_path) cannot be reached "
            f"({last_message(reached.stderr)}): set _src_path in .copier-answers.yml "
            "to the template's git URL or absolute path, and commit it"
        )


def tag_of(url: str, version: Version | None) -> str:
    """The template's tag for `version` (Copier reports versions, PEP 440-normalised)."""
    listed = git("ls-remote", "--tags", "--refs", url)
    tags = [line.rsplit("refs/tags/", 1)[-1] for line in listed.stdout.splitlines()]
    return next((tag for tag in tags if parse(tag) == version), str(version))


def parse(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


def entries(changelog: str, after: str, upto: str) -> list[str]:
    """The changelog's version entries in (after, upto], as written, newest first."""
    low, high = parse(after), parse(upto)
    if high is None:
        return []
    sections: list[tuple[Version | None, list[str]]] = []
    for line in changelog.splitlines():
        heading = HEADING.match(line)
        if heading:
            sections.append((parse(heading.group(1)), []))
        if sections:
            sections[-1][1].append(line)
    return [
        "\n".join(lines).strip()
        for version, lines in sections
        if version is not None and (low is None or version > low) and version <= high
    ]


def changelogs(url: str, old: str, new: str) -> tuple[str | None, str]:
    """The template's CHANGELOG.md at the commit `old` (None when that commit or its
    CHANGELOG.md cannot be found) and at `new` (a tag, or HEAD)."""
    with tempfile.TemporaryDirectory(prefix="template-changes-") as scratch:
        repo = Path(scratch) / "template"
        cloned = git("clone", "--quiet", "--no-checkout", url, str(repo))
        if cloned.returncode != 0:
            raise UpdateError(last_message(cloned.stderr))
        newer = git("show", f"{new}:{CHANGELOG}", cwd=repo)
        if newer.returncode != 0:
            raise UpdateError(f"{new} has no {CHANGELOG}")
        # Copier records `git describe` (1.2.0, 1.2.0-3-gabc1234, abc1234): git reads it.
        older = git("show", f"{old}:{CHANGELOG}", cwd=repo) if old else None
        found = older.stdout if older is not None and older.returncode == 0 else None
        return found, newer.stdout


def added_notes(old: str, new: str) -> list[str]:
    """What `new` adds to `old`, by `## ` section: a new section whole, else its
    heading and the lines added to it."""
    lines = new.splitlines()
    matcher = difflib.SequenceMatcher(a=old.splitlines(), b=lines, autojunk=False)
    added = {
        index
        for tag, _, _, start, end in matcher.get_opcodes()
        if tag in ("insert", "replace")
        for index in range(start, end)
    }
    starts = [i for i, line in enumerate(lines) if line.startswith("## ")]
    notes = []
    for start, end in zip(starts, [*starts[1:], len(lines)], strict=True):
        section = range(start, end)
        if start in added:
            notes.append("\n".join(lines[start:end]).strip())
        elif any(i in added and lines[i].strip() for i in section):
            kept = [lines[i] for i in section if i in added and lines[i].strip()]
            notes.append("\n\n".join([lines[start], "\n".join(kept)]))
    return notes


def news(project: Path, update: dict[str, Any]) -> str:
    """What `make update` says before it updates: the CHANGELOG entries it brings."""
    current, latest = update.get("current_version"), update.get("latest_version")
    if not update.get("update_available") or not latest:
        return f"No newer template version than {current}."
    recorded = read_answers(project)
    src = str(recorded["_src_path"])
    url = git_url(src, project)
    header = f"Template {current} -> {latest}, from its {CHANGELOG}:"
    # Copier takes the newest version's tag, or HEAD when the template has no tags.
    tag = tag_of(url, parse(str(latest)))
    new = tag if tag_exists(url, tag) else "HEAD"
    try:
        old, text = changelogs(url, str(recorded.get("_commit") or ""), new)
    except UpdateError as error:
        return f"{header}\n(not readable: {error}; see {CHANGELOG} in {src})"
    found = (
        added_notes(old, text)
        if old is not None
        else entries(text, str(current), str(latest))
    )
    if not found:
        return f"{header}\n(no entry for the versions after {current})"
    return "\n\n".join([header, *found])


def tag_exists(url: str, tag: str) -> bool:
    listed = git("ls-remote", "--tags", "--refs", url, f"refs/tags/{tag}")
    return bool(listed.stdout.strip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["check", "news"])
    args = parser.parse_args(argv)
    project = Path.cwd()
    try:
        if args.command == "check":
            check(project)
        else:
            print(news(project, json.loads(sys.stdin.read())))
    except (UpdateError, OSError, json.JSONDecodeError) as error:
        print(f"{PROG}: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
