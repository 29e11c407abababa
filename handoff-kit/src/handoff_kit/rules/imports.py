"""package/ never imports research code: not by an import statement (which
ruff's banned-api rule also sees, when a project's settings keep it on), nor by a
name the code gives `importlib.import_module` or `__import__`."""

from __future__ import annotations

import ast
from pathlib import Path

from handoff_kit.rules.walker import TOO_DEEP, Check, Finding, Package, Walker, parse


def research_imports(package: Path, research: str, root: Path) -> list[Finding]:
    """Every import of the research code (the top-level module `research`) in
    `package`: import statements, and `importlib.import_module` or `__import__`
    of a name the code says. ruff's banned-api rule sees the statements only, and
    a project's ruff settings can switch it off; files are named from `root`."""
    modules, _ = parse(package, root)  # The data gate reports unparsable files.
    scan = Package(package.name, modules)
    findings = []
    for module in modules.values():
        imports = _ResearchImports(research)
        try:
            Walker(scan, module, [imports]).visit(module.tree)
        except RecursionError:
            findings.append(Finding(module.shown, 0, TOO_DEEP))
        findings += [
            Finding(module.shown, line, message) for line, message in imports.found
        ]
    return findings


class _ResearchImports(Check):
    """Collects the imports of the research code, as (line, message)."""

    def __init__(self, research: str) -> None:
        self.research = research
        self.found: list[tuple[int, str]] = []

    def imported(self, walker: Walker, node: ast.stmt | ast.expr, module: str) -> None:
        research = self.research
        if module == research or module.startswith(f"{research}."):
            self.found.append(
                (
                    node.lineno,
                    f"imports research code ({module}): package code must never "
                    "import research code; move what you need into the package",
                )
            )
