"""Every rule a git hook enforces is enforced by `make check` too, and the handoff
gate runs every target `make check` runs: a clone without hooks, or a `--no-verify`
commit, cannot take anything past CI that a hook would have stopped."""

from __future__ import annotations

import hashlib
import re
import shlex
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml
from handoff_kit import config
from handoff_kit.gate import gates
from handoff_kit.rules.secrets import scan_secrets

from tests.conftest import ANSWER_SETS

NAMES = list(ANSWER_SETS)
# Hooks whose rule `make check` enforces with another tool: hook id -> that tool.
SAME_RULE_OTHER_TOOL = {"check-merge-conflict": "git grep"}
# Hooks that rewrite what the handoff gate, not `make check`, checks: the derived
# documents (`make derived`), which its API row compares with the code.
GATE_CHECKS = {"derived-documents"}


def hook_tools(project: Path) -> dict[str, str]:
    """Each hook's id and the tool it runs (`make TARGET` for make)."""
    hooks = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())
    tools = {}
    for repo in hooks["repos"]:
        for hook in repo["hooks"]:
            words = shlex.split(hook["entry"])
            # `.venv/bin/TOOL ...`: the environment's own tool, by its name.
            tool = Path(words[0]).name
            tools[hook["id"]] = f"make {words[-1]}" if tool == "make" else tool
    return tools


def make_check_commands(project: Path) -> str:
    """What `make check` would run, as make prints it without running it."""
    return subprocess.run(
        ["make", "--no-print-directory", "-n", "check"],
        cwd=project, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_every_hook_rule_is_enforced_by_make_check(rendered: Mapping[str, Path], name: str) -> None:
    project = rendered[name]
    commands = make_check_commands(project)
    check_targets = set(check_prerequisites(project))

    for hook, tool in hook_tools(project).items():
        if hook in GATE_CHECKS:
            continue
        if tool.startswith("make "):
            target = tool.split()[-1]
            assert target in check_targets, f"hook {hook} runs make {target}, not in make check"
            continue
        tool = SAME_RULE_OTHER_TOOL.get(hook, tool)
        assert re.search(rf"(^|[\s(]){re.escape(tool)}(\s|$)", commands, re.MULTILINE), (
            f"the git hook {hook} runs {tool}, which `make check` never runs: a commit "
            "without hooks would take past CI what the hook stops"
        )


def check_prerequisites(project: Path) -> list[str]:
    """The checks `make check` runs (CHECKS, which its recipe runs at the same time)."""
    tasks = (project / "standards/tasks.mk").read_text()
    line = re.search(r"^CHECKS := (.*)$", tasks, re.MULTILINE)
    assert line, "standards/tasks.mk has no CHECKS for make check"
    assert re.search(r"^check:.*\n\t.*\$\(CHECKS\)", tasks, re.MULTILINE), "check runs no CHECKS"
    return line.group(1).split()


@pytest.mark.parametrize("name", ["default", "conda-github"])
def test_the_handoff_gate_runs_every_target_of_make_check(
    rendered: Mapping[str, Path], name: str
) -> None:
    project = rendered[name]
    gated = {word for gate in gates(config.load(project)) for word in gate.command}

    missing = [target for target in check_prerequisites(project) if target not in gated]

    assert not missing, f"make check runs {missing}, which `make handoff` does not"


def rendered_files(rendered: Mapping[str, Path]) -> list[str]:
    """Every file of every answer set but the locks and the kit (copied as it is,
    scanned by its own tests: handoff-kit/tests/test_secrets.py); a file that
    another set renders the same, at the same path (most of package/), once."""
    scanned: dict[tuple[Path, str], str] = {}
    for project in rendered.values():
        kit = project / "standards" / "handoff-kit"
        for path in sorted(project.rglob("*")):
            if (
                path.is_file()
                and path.name not in {"uv.lock", "conda-lock.yml"}
                and not path.is_relative_to(kit)
            ):
                same = (path.relative_to(project), hashlib.sha256(path.read_bytes()).hexdigest())
                scanned.setdefault(same, str(path))
    return sorted(scanned.values())


def test_every_fresh_project_passes_its_own_secrets_scan(
    rendered: Mapping[str, Path],
) -> None:
    """`make hygiene` scans every tracked file with detect-secrets: nothing the
    template writes (a README's example password, say) may look like a secret.
    One scan for every answer set."""
    files = rendered_files(rendered)
    baseline = rendered["default"] / ".secrets.baseline"

    result = subprocess.run(
        ["detect-secrets-hook", "--baseline", str(baseline), *files],
        capture_output=True, text=True, check=False,
    )  # fmt: skip

    assert result.returncode == 0, f"detect-secrets finds secrets:\n{result.stdout}"


def test_nothing_the_template_writes_gives_a_secret_a_literal_or_allowlists_one(
    rendered: Mapping[str, Path],
) -> None:
    """`make hygiene` runs the kit's scan too (`handoff secrets`): no string literal
    given to a name that says secret, and no allowlist pragma, which every project's
    report would list, in anything the template writes (the kit's own tests included)."""
    findings, pragmas = scan_secrets(map(Path, rendered_files(rendered)), Path("/"))

    assert not findings, "the kit's secret scan fails a fresh project:\n" + "\n".join(
        map(str, findings)
    )
    assert not pragmas, f"a fresh project allowlists secrets: {list(map(str, pragmas))}"
