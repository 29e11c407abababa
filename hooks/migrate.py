"""Structural changes to template-owned files, run by `_migrations` in copier.yml.

Copier renders a renamed file under its new name, but it never deletes the old one:
that is what a migration does. Migrations run in the project's root after the update
(Copier's default stage), with the interpreter that runs Copier, so this file uses
only the standard library. Usage, as a migration gated on the version that renames:

    python hooks/migrate.py rename standards/OLD standards/NEW
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def rename(old: Path, new: Path) -> str:
    """Retire `old`, which the template now ships as `new` (already written by the update)."""
    if not old.exists():
        return f"{old}: already gone, nothing to do"
    if not new.exists():
        # The update did not write the new name (e.g. the project excludes it):
        # keep the project's file, under the name the template now uses.
        new.parent.mkdir(parents=True, exist_ok=True)
        old.rename(new)
        return f"{old}: moved to {new}"
    old.unlink()
    for parent in old.parents:
        if parent == Path() or any(parent.iterdir()):
            break
        parent.rmdir()
    # Template-owned files are not edited by projects, but if this one was, the
    # edit is one command away, and `git status` shows the deletion.
    return f"{old}: removed, the template now ships it as {new} (old copy: git show HEAD:{old})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    renaming = commands.add_parser("rename", help="a template-owned file moved from OLD to NEW")
    renaming.add_argument("old", type=Path)
    renaming.add_argument("new", type=Path)
    args = parser.parse_args(argv)
    if args.old.is_absolute() or args.new.is_absolute():
        parser.error("paths are relative to the project's root")
    print(f"migration: {rename(args.old, args.new)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
