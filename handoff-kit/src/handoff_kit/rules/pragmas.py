"""Per-line waivers: a comment on a line that says why a rule does not apply.

`# handoff: allow-read <reason>` waives a data read in package/ (reads.py); the
reason is required, and the gate lists every waived read.
"""

from __future__ import annotations

import io
import re
import tokenize

# The waiver comment: `# handoff: allow-read <reason>` on the line that reads.
WAIVER = re.compile(r"#\s*handoff:\s*allow-read\b[\s:]*(.*)")


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
