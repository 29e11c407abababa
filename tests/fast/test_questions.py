"""The questions: derived defaults, and bad answers refused before anything is written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, answers, render

BAD_ANSWERS = [
    pytest.param({"package_name": "class"}, 'A package name cannot be a Python keyword', id="keyword"),
    pytest.param({"package_name": "1abc"}, 'A package name is a lowercase Python identifier', id="digit-first"),
    pytest.param({"package_name": "my-pkg"}, 'A package name is a lowercase Python identifier', id="hyphen"),
    pytest.param({"package_name": "MyPkg"}, 'A package name is a lowercase Python identifier', id="uppercase"),
    pytest.param({"package_name": "json"}, 'A package name must not shadow a module', id="stdlib"),
    pytest.param({"package_name": "pandas"}, 'A package name must not shadow a module', id="dependency"),
    pytest.param({"author_email": "bob"}, 'An author email is an address like', id="email-no-at"),
    pytest.param({"author_email": "bob@example"}, 'An author email is an address like', id="email-no-domain"),
    pytest.param({"project_name": ""}, "A project name is needed", id="empty-name"),
    pytest.param({"project_name": "   "}, "A project name is needed", id="blank-name"),
    pytest.param({"project_name": 'Say "hi"'}, "A project name has no quote", id="quote-in-name"),
    pytest.param({"project_slug": "Churn_Model"}, 'A slug is lowercase letters', id="bad-slug"),
    pytest.param({"ds_team": "data-science"}, 'A code owner is a handle', id="handle-no-at"),
    pytest.param({"mle_team": "@a/b/c"}, 'A code owner is a handle', id="handle-nested"),
    pytest.param({"python_version": "3.10"}, "'3.10' is not in [", id="unsupported-python"),
    pytest.param({"formatter": "yapf"}, "'yapf' is not in [", id="unknown-formatter"),
]  # fmt: skip


def copier_copy(template: Path, dst: Path, *data: str) -> subprocess.CompletedProcess[str]:
    """`copier copy --defaults` on the command line, as a user runs it."""
    args = [sys.executable, "-m", "copier", "copy", "--defaults"]
    for item in data:
        args += ["--data", item]
    return subprocess.run(
        [*args, str(template), str(dst)], capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize(("bad", "problem"), BAD_ANSWERS)
def test_a_bad_answer_is_refused_with_a_message_and_nothing_is_written(
    template_dir: Path, tmp_path: Path, bad: dict[str, str], problem: str
) -> None:
    dst = tmp_path / "project"

    with pytest.raises(ValueError, match=re.escape(problem)) as refused:
        render(template_dir, dst, **bad)

    assert not dst.exists(), f"{dst} was written although {bad} was refused"
    # A prompt cuts the message at the terminal's width: our validators say the rule
    # first, before the answer, however long, and before the advice.
    question = next(iter(bad))
    config = yaml.load((REPO / "copier.yml").read_text(), Loader=_IncludeAsNone)
    if "validator" in config[question]:
        message = str(refused.value).split(": ", 1)[1]
        assert message.startswith(problem), f"the message does not start with the rule: {message}"


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        ("package_name=class", "A package name cannot be a Python keyword"),
        ("author_email=bob", "An author email is an address like"),
        ("project_name=", "A project name is needed"),
    ],
)
def test_the_command_line_exits_non_zero_on_a_bad_answer(
    template_dir: Path, tmp_path: Path, answer: str, problem: str
) -> None:
    dst = tmp_path / "project"
    result = copier_copy(template_dir, dst, answer)

    assert result.returncode != 0, f"copier accepted {answer!r}"
    assert problem in result.stderr, result.stderr[-2000:]
    assert not dst.exists()


def test_a_refusal_suggests_a_valid_package_name(template_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r'\(e\.g\. "my_pkg"\)'):
        render(template_dir, tmp_path / "p", package_name="my-pkg")


def test_slug_package_and_handles_derive_from_the_project_name(
    template_dir: Path, tmp_path: Path
) -> None:
    recorded = answers(render(template_dir, tmp_path / "p", project_name="Fraud Detection 2"))

    assert recorded["project_slug"] == "fraud-detection-2"
    assert recorded["package_name"] == "fraud_detection_2"
    assert recorded["ds_team"] == "@fraud-detection-2-data-science"
    assert recorded["mle_team"] == "@fraud-detection-2-ml-engineering"


def test_the_project_name_defaults_to_the_destination_folder(
    template_dir: Path, tmp_path: Path
) -> None:
    result = copier_copy(template_dir, tmp_path / "demand-forecast")

    assert result.returncode == 0, result.stderr
    assert answers(tmp_path / "demand-forecast")["package_name"] == "demand_forecast"
    for step in ("git init", "make setup", "make check"):
        assert step in result.stdout + result.stderr, (
            f"the message after copy does not mention {step!r}"
        )


def test_every_question_has_a_help_text() -> None:
    config = yaml.load((REPO / "copier.yml").read_text(), Loader=_IncludeAsNone)
    questions = {
        name: spec
        for name, spec in config.items()
        if not name.startswith("_") and spec.get("when") is not False
    }

    assert questions, "copier.yml has no questions"
    missing = [name for name, spec in questions.items() if not spec.get("help")]
    assert not missing, f"questions without a help text: {missing}"


def test_the_reserved_names_cover_this_pythons_standard_library() -> None:
    reserved = set(yaml.safe_load((REPO / "hooks" / "reserved_names.yml").read_text()).split())
    stdlib = {n for n in sys.stdlib_module_names if n.isidentifier() and n == n.lower()}

    missing = stdlib - reserved
    assert not missing, f"run hooks/reserved_names.py: stdlib modules missing: {sorted(missing)}"


class _IncludeAsNone(yaml.SafeLoader):
    """Reads copier.yml without following Copier's `!include` tags."""


_IncludeAsNone.add_constructor("!include", lambda loader, node: None)
