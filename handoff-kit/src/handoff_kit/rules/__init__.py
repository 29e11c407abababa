"""The gate's scans of the project's code, by concern:

- walker.py: the one walk of a module, with what each name means;
- reads.py: package/ reads official catalog sources only (the catalog row), and
  the unofficial sources research/ uses (the report's debts);
- imports.py: package/ never imports research code (the research row);
- secrets.py: no string literal given to a name that says secret, in any .py
  file or notebook (`handoff secrets`, in the hygiene row);
- pragmas.py: the per-line waivers (`# handoff: allow-read`, detect-secrets'
  allowlist pragma), each with its reason.

The names below are the scans' public interface; they stay importable from here
whichever module holds them.
"""

from handoff_kit.rules.imports import research_imports
from handoff_kit.rules.pragmas import WAIVER, Allowlisted
from handoff_kit.rules.reads import (
    LOADER,
    QUERIES,
    READ_METHODS,
    READERS,
    RUNS_STRINGS,
    Debt,
    research_debts,
    scan_package,
)
from handoff_kit.rules.secrets import says_secret, scan_secrets
from handoff_kit.rules.walker import Finding

__all__ = [
    "LOADER",
    "QUERIES",
    "READERS",
    "READ_METHODS",
    "RUNS_STRINGS",
    "WAIVER",
    "Allowlisted",
    "Debt",
    "Finding",
    "research_debts",
    "research_imports",
    "says_secret",
    "scan_package",
    "scan_secrets",
]
