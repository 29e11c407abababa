"""The debt baseline of an adopted project: no new violation passes, a fixed one
leaves the baseline with a line saying so, coverage only rises, and a baseline
that grows (or appears after the project started) fails `make settings`."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from handoff_kit import cli, debt

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Ada",
    "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Ada",
    "GIT_COMMITTER_EMAIL": "ada@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def violation(file: str, rule: str, line: int = 1) -> debt.Violation:
    return debt.Violation(file, rule, f"{file}:{line}: {rule} something")


def baseline(**counts: dict[str, dict[str, int]]) -> debt.Baseline:
    return debt.Baseline({tool: counts.get(tool, {}) for tool in debt.TOOLS})


def test_a_violation_the_baseline_does_not_count_fails_with_the_tools_line() -> None:
    recorded = baseline(ruff={"a.py": {"F401": 1}})
    verdict = debt.compare(
        recorded, "ruff", [violation("a.py", "F401"), violation("b.py", "E711", 7)]
    )
    assert verdict.failures == [
        "b.py: 1 ruff E711 where the baseline allows 0:",
        "  b.py:7: E711 something",
    ]
    assert not verdict.shrunk


def test_more_of_a_counted_rule_in_a_file_fails() -> None:
    recorded = baseline(mypy={"a.py": {"no-untyped-def": 1}})
    verdict = debt.compare(
        recorded,
        "mypy",
        [
            violation("a.py", "no-untyped-def", 1),
            violation("a.py", "no-untyped-def", 9),
        ],
    )
    assert (
        verdict.failures[0]
        == "a.py: 2 mypy no-untyped-def where the baseline allows 1:"
    )
    assert len(verdict.failures) == 3, "both of the file's lines for the rule are shown"


def test_a_fixed_violation_shrinks_the_baseline_and_says_so() -> None:
    recorded = baseline(ruff={"a.py": {"F401": 2, "E711": 1}})
    verdict = debt.compare(recorded, "ruff", [violation("a.py", "F401")])
    assert not verdict.failures
    assert verdict.shrunk == [
        "debt-baseline.json: a.py E711 1 -> 0 (1 fixed; the baseline shrinks, commit it)",
        "debt-baseline.json: a.py F401 2 -> 1 (1 fixed; the baseline shrinks, commit it)",
    ]
    assert recorded.counts["ruff"] == {"a.py": {"F401": 1}}
    debt.compare(recorded, "ruff", [])
    assert recorded.counts["ruff"] == {}, "a file at zero leaves the baseline"


def test_coverage_only_rises_and_leaves_at_the_projects_floor() -> None:
    recorded = debt.Baseline(coverage=40.0)
    assert debt.ratchet(recorded, 39.0, 80) == [], "a lower figure changes nothing here"
    assert recorded.coverage == 40.0
    assert debt.ratchet(recorded, 55.27, 80) == [
        "debt-baseline.json: coverage floor 40% -> 55.2% (it only rises; commit it)"
    ]
    said = debt.ratchet(recorded, 81.0, 80)
    assert recorded.coverage is None
    assert "leaves the baseline" in said[0]


def test_the_baseline_file_round_trips_sorted_and_refuses_nonsense() -> None:
    recorded = baseline(ruff={"b.py": {"F401": 1}, "a.py": {"E711": 2}})
    recorded.coverage = 41.5
    text = recorded.to_json()
    assert text.index('"a.py"') < text.index('"b.py"'), "sorted: diffs stay small"
    assert debt.parse(text).counts == recorded.counts
    assert debt.parse(text).coverage == 41.5
    assert (
        recorded.summary()
        == "3 ruff violations, 0 mypy violations, coverage floor 41.5%"
    )
    with pytest.raises(debt.DebtError, match="not JSON"):
        debt.parse("{")
    with pytest.raises(debt.DebtError, match="files to rules to counts"):
        debt.parse(json.dumps({"ruff": {"a.py": {"F401": -1}}}))
    with pytest.raises(debt.DebtError, match="coverage must be a number"):
        debt.parse(json.dumps({"coverage": "high"}))
    with pytest.raises(debt.DebtError, match="JSON object"):
        debt.parse("[]")


def test_the_tools_json_output_is_read_per_file_and_rule(tmp_path: Path) -> None:
    ruff = json.dumps(
        [
            {
                "filename": str(tmp_path / "package" / "a.py"),
                "code": "F401",
                "message": "`os` imported but unused",
                "location": {"row": 3},
            },
            {
                "filename": str(tmp_path / "research" / "n.ipynb"),
                "code": None,
                "message": "invalid syntax",
                "location": {"row": 1},
                "cell": 2,
            },
        ]
    )
    found = debt.ruff_violations(tmp_path, ruff)
    assert [(v.file, v.rule) for v in found] == [
        ("package/a.py", "F401"),
        ("research/n.ipynb", "syntax-error"),
    ]
    assert found[1].line.startswith("research/n.ipynb:cell 2:1:")
    mypy = "\n".join(
        [
            json.dumps(
                {
                    "file": "package/a.py",
                    "line": 4,
                    "message": "Function is missing a type annotation",
                    "code": "no-untyped-def",
                    "severity": "error",
                }
            ),
            json.dumps(
                {"file": "package/a.py", "line": 4, "severity": "note", "code": None}
            ),
            "Found 1 error in 1 file",
        ]
    )
    assert debt.count(debt.mypy_violations(tmp_path, mypy)) == {
        "package/a.py": {"no-untyped-def": 1}
    }
    with pytest.raises(debt.DebtError, match="ruff gave no JSON"):
        debt.ruff_violations(tmp_path, "error: nope")


def project(tmp_path: Path) -> Path:
    """A project whose package has one unused import (ruff F401)."""
    root = tmp_path / "project"
    (root / "package").mkdir(parents=True)
    (root / "research").mkdir()
    (root / "package" / "a.py").write_text("import os\n")
    (root / "pyproject.toml").write_text('[tool.ruff]\nlint.select = ["F"]\n')
    return root


def test_ruff_against_the_baseline_passes_its_debt_and_fails_a_new_violation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path)
    monkeypatch.chdir(root)
    debt.write(root, baseline(ruff={"package/a.py": {"F401": 1}}))
    assert cli.main(["debt", "ruff"]) == 0
    assert "no new violations; 1 left" in capsys.readouterr().out
    (root / "package" / "b.py").write_text("import sys\n")
    assert cli.main(["debt", "ruff"]) == 1
    said = capsys.readouterr().out
    assert "package/b.py: 1 ruff F401 where the baseline allows 0:" in said
    (root / "package" / "b.py").unlink()
    (root / "package" / "a.py").write_text("")
    assert cli.main(["debt", "ruff"]) == 0
    assert "package/a.py F401 1 -> 0" in capsys.readouterr().out
    assert debt.read(root) == baseline(), "the fixed violation left the file"


def test_without_a_baseline_the_debt_command_says_to_run_the_tool(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli.main(["debt", "mypy"]) == 1
    assert "no debt-baseline.json here" in capsys.readouterr().err


def git(root: Path, *args: str) -> None:
    env = {**os.environ, **GIT_ENV, "GIT_CONFIG_GLOBAL": str(root / "gitconfig")}
    subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)


def test_a_baseline_that_grows_after_the_adoption_fails(tmp_path: Path) -> None:
    root = project(tmp_path)
    git(root, "init", "-q")
    (root / ".copier-answers.yml").write_text("_commit: 1.0.0\n")
    recorded = baseline(ruff={"package/a.py": {"F401": 1}})
    recorded.coverage = 50.0
    debt.write(root, recorded)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "Adopt")
    assert debt.grown(root) == []
    recorded.counts["ruff"]["package/a.py"]["F401"] = 2
    recorded.counts["mypy"] = {"package/a.py": {"misc": 1}}
    recorded.coverage = 45.0
    debt.write(root, recorded)
    assert debt.grown(root) == [
        "debt-baseline.json grew: package/a.py ruff F401 2 where the adoption recorded 1; "
        "it only shrinks: fix the violations",
        "debt-baseline.json grew: package/a.py mypy misc 1 where the adoption recorded 0; "
        "it only shrinks: fix the violations",
        "debt-baseline.json lowered the coverage floor to 45% (recorded: 50.0); it only rises",
    ]


def test_a_baseline_in_a_project_made_by_copier_copy_fails(tmp_path: Path) -> None:
    root = project(tmp_path)
    git(root, "init", "-q")
    (root / ".copier-answers.yml").write_text("_commit: 1.0.0\n")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "Start from the template")
    debt.write(root, baseline(ruff={"package/a.py": {"F401": 1}}))
    git(root, "add", "-A")
    git(root, "commit", "-qm", "Hide the debt")
    assert debt.grown(root)[0].startswith(
        "debt-baseline.json did not arrive with the adoption"
    )


def test_the_git_hook_lints_staged_files_or_holds_an_adopted_project_to_its_baseline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = project(tmp_path)
    monkeypatch.chdir(root)
    (root / "package" / "b.py").write_text("x = 1\n")
    assert cli.main(["debt", "hook", "package/b.py"]) == 0, "a clean staged file passes"
    assert cli.main(["debt", "hook", "package/a.py"]) == 0
    assert (root / "package" / "a.py").read_text() == "", (
        "without a baseline, the hook is ruff check --fix on the staged files"
    )
    (root / "package" / "a.py").write_text("import os\n")
    debt.write(root, baseline(ruff={"package/a.py": {"F401": 1}}))
    assert cli.main(["debt", "hook", "package/a.py"]) == 0, "the recorded debt passes"
    assert "no new violations" in capsys.readouterr().out


def test_the_handoff_report_lists_the_remaining_debt(tmp_path: Path) -> None:
    assert debt.report_lines(tmp_path) == [], "no baseline: no section"
    recorded = baseline(
        ruff={"a.py": {"F401": 2, "E711": 1}}, mypy={"a.py": {"misc": 1}}
    )
    debt.write(tmp_path, recorded)
    assert debt.report_lines(tmp_path) == [
        "Left in debt-baseline.json: 3 ruff violations, 1 mypy violations.",
        "- ruff: `a.py`: E711 x1, F401 x2",
        "- mypy: `a.py`: misc x1",
    ]
    (tmp_path / "debt-baseline.json").write_text("{")
    assert "not JSON" in debt.report_lines(tmp_path)[0]


def test_the_handoff_report_names_the_steps_an_adoption_left(tmp_path: Path) -> None:
    root = tmp_path / "project"
    source = root / "package" / "src" / "fraud"
    files = {
        ".copier-answers.yml": "_commit: 1.0.0\n",
        "package/src/fraud/contracts/__init__.py": "# The template's starter.\n",
        "package/src/fraud/training.py": "def train(): ...\n",
        "package/tests/acceptance/scoring.feature": "Feature: scoring\n",
        "data/catalog/README.md": "# Catalog\n",
        "data/README.md": "# Data\n",
    }
    (root / "package" / "src" / "fraud" / "contracts").mkdir(parents=True)
    (root / "package" / "src" / "fraud" / "model.py").write_text("class M: ...\n")
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "The team's model")
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    debt.write(root, baseline())
    git(root, "add", "-A")
    git(root, "commit", "-qm", "Adopt")
    (root / "data" / "transactions.csv").write_text("a\n1\n")  # Out of git.
    (root / "data" / "raw").mkdir()
    (root / "data" / "raw" / "x.parquet").write_text("")

    def steps(training: str = "training.py") -> list[str]:
        return debt.steps_left(
            root,
            contracts=source / "contracts",
            training=source / training,
            acceptance=root / "package" / "tests" / "acceptance",
            catalog=root / "data" / "catalog",
        )

    left = steps()
    assert [step.split(":")[0] for step in left] == [
        "Write the contract",
        "Connect training",
        "Write the acceptance scenarios",
        "Describe the data source `raw` in data/catalog/raw.yml (owner, tier, official "
        "or not).",
        "Describe the data source `transactions` in data/catalog/transactions.yml "
        "(owner, tier, official or not).",
    ], left
    assert "package/src/fraud/contracts/ is still the template's starter" in left[0]
    assert steps("model.py")[1].startswith("Write the acceptance scenarios"), (
        "a training module the team had before the adoption is no starter"
    )
    (source / "contracts" / "__init__.py").write_text("X = 1\n")
    (source / "training.py").unlink()
    (root / "package" / "tests" / "acceptance" / "scoring.feature").write_text(
        "Feature: the team's scoring\n"
    )
    (root / "data" / "catalog" / "raw.yml").write_text("owner: x\n")
    left = steps()
    assert left == [
        "Connect training: package/src/fraud/training.py is missing; its `train` "
        "([tool.handoff] train) trains the team's model.",
        "Describe the data source `transactions` in data/catalog/transactions.yml "
        "(owner, tier, official or not).",
    ], "a written contract, scenarios and catalog entry are steps done"
    (root / "debt-baseline.json").unlink()
    assert steps() == [], "a project made by copier copy has no adoption steps"
