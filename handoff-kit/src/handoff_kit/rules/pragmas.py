"""Per-line waivers: a comment on a line that says why a rule does not apply, and
that every review sees, because the report lists it with its reason.

- `# handoff: allow-read <reason>` waives a data read in package/ (reads.py).
- detect-secrets' allowlist pragma (`pragma: allowlist secret` in a comment on
  the line, or `pragma: allowlist nextline secret` on the line before) waives a
  secret, for detect-secrets and for the kit's scan (secrets.py). The kit asks
  for its reason after ` -- ` on the same line, which detect-secrets still
  honours (it reads any text after the pragma). Which lines hold a pragma is what
  detect-secrets itself honours, in any file it scans (its own regexes: `#`, `//`,
  `/* */`, `--`, `<!-- -->` comments; `whitelist` too).
"""

from __future__ import annotations

import io
import json
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

# The waiver comment: `# handoff: allow-read <reason>` on the line that reads.
WAIVER = re.compile(r"#\s*handoff:\s*allow-read\b[\s:]*(.*)")
# detect-secrets' pragma, and what follows it on its line.
SECRET_PRAGMA = re.compile(
    r"pragma: ?(?:allow|white)list[ -](?P<nextline>nextline[ -])?secret(?P<rest>.*)"
)
# The reason after the pragma: ` -- <reason>`, before a block comment's end.
_REASON = re.compile(r"\s*--\s*(?P<reason>.*?)\s*(?:\*/|-->)?\s*")
NO_REASON = (
    "a secret allowlist pragma needs a reason on its line, after ' -- ' "
    "(pragma: allowlist secret -- <why this is no secret>); it waives nothing without one"
)


def allow_reads(data: bytes) -> dict[int, str]:
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


@dataclass(frozen=True)
class Allowlisted:
    """A detect-secrets allowlist pragma: where it is, and the reason it gives
    ("" for none)."""

    file: Path
    line: int
    reason: str

    @property
    def problem(self) -> str | None:
        return None if self.reason else NO_REASON

    def __str__(self) -> str:
        return f"{self.file}:{self.line} ({self.reason or 'no reason'})"


def secret_pragmas(shown: Path, text: str) -> list[Allowlisted]:
    """Every line of `text` that holds a pragma detect-secrets honours, with the
    reason the line gives. In a notebook the lines are its JSON's."""
    # detect-secrets is a dev tool of every project (make hygiene runs it).
    from detect_secrets.filters.allowlist import is_line_allowlisted  # noqa: PLC0415
    from detect_secrets.util.code_snippet import CodeSnippet  # noqa: PLC0415

    found = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.rstrip()
        if "secret" not in line:
            continue
        same = is_line_allowlisted(str(shown), line, CodeSnippet([line], number, 0))
        before = CodeSnippet([line, ""], number, 1)
        if same or is_line_allowlisted(str(shown), "", before):
            found.append(Allowlisted(shown, number, _reason(_decoded(line))))
    return found


def _decoded(line: str) -> str:
    """A notebook's source line as the cell has it (its JSON string decoded)."""
    stripped = line.strip().removesuffix(",")
    if stripped.startswith('"'):
        try:
            text = json.loads(stripped)
        except ValueError:
            return line
        return text if isinstance(text, str) else line
    return line


def _reason(line: str) -> str:
    match = SECRET_PRAGMA.search(line)
    said = _REASON.fullmatch(match.group("rest")) if match else None
    return said.group("reason") if said else ""


def waiving_pragma(lines: list[str], line: int) -> str | None:
    """The reason of the allowlist pragma that waives `line` (1-based) of `lines`:
    on the line, or a nextline pragma on the line before; None without one."""
    candidates = [(line, False), (line - 1, True)]
    for number, nextline in candidates:
        if not 1 <= number <= len(lines):
            continue
        match = SECRET_PRAGMA.search(lines[number - 1])
        if match and bool(match.group("nextline")) == nextline:
            reason = _reason(lines[number - 1])
            if reason:
                return reason
    return None
