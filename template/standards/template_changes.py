"""Before `make update` takes a newer template version: is the template reachable, and
what does the new version change?

    python standards/template_changes.py check
        Exit 1 with one line saying how to fix `_src_path` in .copier-answers.yml when
        the template it names cannot be reached (Copier would end in a traceback).
    copier check-update --output-format json | python standards/template_changes.py news
        Print the template's CHANGELOG.md entries after the project's version, up to
        the newest one, as the newest version's CHANGELOG.md has them.

Run it in the project's root (`make update` does). Template-owned: `copier update`
keeps this file current. Standard library, PyYAML and packaging (both in every
project's environment), and git.
"""

from __future__ import annotations

import argparse
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


def changelog_at(url: str, tag: str) -> str:
    """The template's CHANGELOG.md as the tag `tag` has it."""
    with tempfile.TemporaryDirectory(prefix="template-changes-") as scratch:
        repo = Path(scratch)
        steps = [
            ("init", "--quiet"),
            ("fetch", "--quiet", "--depth", "1", url, f"refs/tags/{tag}"),
            ("show", f"FETCH_HEAD:{CHANGELOG}"),
        ]
        for step in steps:
            done = git(*step, cwd=repo)
            if done.returncode != 0:
                raise UpdateError(f"{last_message(done.stderr)}")
        return done.stdout


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


def news(project: Path, update: dict[str, Any]) -> str:
    """What `make update` says before it updates: the CHANGELOG entries it brings."""
    current, latest = update.get("current_version"), update.get("latest_version")
    if not update.get("update_available") or not latest:
        return f"No newer template version than {current}."
    src = str(read_answers(project)["_src_path"])
    url = git_url(src, project)
    header = f"Template {current} -> {latest}, from its {CHANGELOG}:"
    try:
        text = changelog_at(url, tag_of(url, parse(latest)))
    except UpdateError as error:
        return f"{header}\n(not readable: {error}; see {CHANGELOG} in {src})"
    found = entries(text, str(current), str(latest))
    if not found:
        return f"{header}\n(no entry for the versions after {current})"
    return "\n\n".join([header, *found])


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
