"""Then steps that check nothing fail the acceptance row, named by text and line."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_steps import acceptance

from handoff_kit import config, gate
from handoff_kit.hollow_steps import HollowStep, hollow_in, hollow_steps

HEADER = """\
import pytest
from pytest_bdd import given, parsers, then
from handoff_kit import steps
from handoff_kit.steps import assert_refused as refused_by


def helper(value):
    assert value


def indirect(value):
    helper(value)


def quiet(value):
    print(value)


"""


@pytest.mark.parametrize(
    ("body", "hollow"),
    [
        pytest.param("    pass\n", True, id="pass"),
        pytest.param("    ...\n", True, id="ellipsis"),
        pytest.param('    """Docstring only."""\n', True, id="docstring"),
        pytest.param("    print(scoring)\n", True, id="only-a-print"),
        pytest.param("    quiet(scoring)\n", True, id="a-helper-that-does-not-assert"),
        pytest.param(
            "    def inner():\n        assert scoring\n",
            True,
            id="an-uncalled-inner-assert",
        ),
        pytest.param("    assert scoring is not None\n", False, id="an-assert"),
        pytest.param(
            "    if not scoring:\n        raise ValueError('no')\n", False, id="a-raise"
        ),
        pytest.param(
            "    with pytest.raises(KeyError):\n        scoring['x']\n",
            False,
            id="pytest-raises",
        ),
        pytest.param("    helper(scoring)\n", False, id="a-helper-that-asserts"),
        pytest.param("    indirect(scoring)\n", False, id="a-helper-of-a-helper"),
        pytest.param(
            "    steps.assert_nothing_scored(scoring)\n", False, id="a-kit-assertion"
        ),
        pytest.param(
            "    refused_by(scoring, 'a', 'b')\n", False, id="an-aliased-kit-assertion"
        ),
        pytest.param(
            "    Predictions.validated(scoring)\n", False, id="a-schema-validation"
        ),
    ],
)
def test_a_then_step_checks_something_only_if_it_asserts_raises_or_calls_what_does(
    body: str, hollow: bool
) -> None:
    source = HEADER + '@then("no customer is scored")\ndef outcome(scoring):\n' + body

    found = hollow_steps(source, "steps.py")

    line = HEADER.count("\n") + 1
    expected = [HollowStep("steps.py", line, "no customer is scored")] if hollow else []
    assert found == expected


@pytest.mark.parametrize(
    ("imports", "decorator"),
    [
        pytest.param("from pytest_bdd import then as outcome", "outcome", id="as"),
        pytest.param("import pytest_bdd", "pytest_bdd.then", id="module"),
        pytest.param("import pytest_bdd as bdd", "bdd.then", id="module-as"),
        pytest.param(
            "from pytest_bdd import then\nfinally_ = then", "finally_", id="assigned"
        ),
    ],
)
def test_the_then_decorator_is_found_however_it_is_imported(
    imports: str, decorator: str
) -> None:
    source = (
        f"{imports}\nfrom pytest_bdd import parsers\n\n\n"
        f'@{decorator}(parsers.parse("every {{row}} is fine"))\n'
        "def _(scoring):\n    print(scoring)\n"
    )

    [found] = hollow_steps(source, "steps.py")

    assert found.text == "every {row} is fine"
    assert str(found) == (
        f'steps.py:{imports.count(chr(10)) + 5}: the Then step "every {{row}} is fine" '
        "checks nothing (no assert, raise or pytest.raises): make it assert the outcome"
    )


def test_given_and_when_steps_and_other_decorators_are_not_then_steps() -> None:
    source = (
        "from pytest_bdd import given, when\nimport functools\nfrom other import then\n\n"
        '@given("a thing")\ndef a(): pass\n\n'
        '@when("it runs")\ndef b(): pass\n\n'
        "@functools.cache\ndef c(): pass\n\n"
        '@then("not pytest-bdd\'s then")\ndef d(): pass\n'
    )

    assert hollow_steps(source, "steps.py") == []


def test_the_step_text_given_by_keyword_or_as_an_expression_is_shown() -> None:
    source = (
        "from pytest_bdd import then\nTEXT = 'x'\n\n"
        '@then(name="by keyword")\ndef a(): pass\n\n'
        "@then(TEXT)\ndef b(): pass\n"
    )

    assert [step.text for step in hollow_steps(source, "steps.py")] == [
        "by keyword",
        "TEXT",
    ]


def test_step_modules_under_the_folder_and_conftests_above_are_read(
    tmp_path: Path,
) -> None:
    root = tmp_path / "project"
    folder = root / "package/tests/acceptance"
    (folder / "more").mkdir(parents=True)
    empty = 'from pytest_bdd import then\n\n\n@then("{}")\ndef _():\n    pass\n'
    (folder / "test_scoring.py").write_text(empty.format("in the folder"))
    (folder / "more/steps.py").write_text(empty.format("below it"))
    (root / "package/tests/conftest.py").write_text(empty.format("in a conftest"))
    (root / "conftest.py").write_text(empty.format("at the root"))
    (tmp_path / "conftest.py").write_text(empty.format("outside the project"))
    (folder / "broken.py").write_text("def (:\n")

    found = hollow_in(folder, root)

    assert [(step.file, step.text) for step in found] == [
        ("package/tests/acceptance/more/steps.py", "below it"),
        ("package/tests/acceptance/test_scoring.py", "in the folder"),
        ("package/tests/conftest.py", "in a conftest"),
        ("conftest.py", "at the root"),
    ]


def test_a_hollow_then_step_fails_the_acceptance_row_naming_it(
    settings: config.Settings,
) -> None:
    acceptance(settings.root)
    steps = settings.acceptance / "test_scoring.py"
    steps.write_text(
        steps.read_text()
        + "\n\nfrom pytest_bdd import parsers, then\n\n\n"
        + '@then(parsers.parse("no {row} is scored"))\n'
        + "def nothing_scored() -> None:\n"
        + "    pass\n"
    )

    result = gate.acceptance_gate(settings)

    assert not result.passed, "a Then step that checks nothing passed the row"
    assert result.reason == (
        'package/tests/acceptance/test_scoring.py:11: the Then step "no {row} is '
        'scored" checks nothing (no assert, raise or pytest.raises): make it assert '
        "the outcome"
    )


def test_the_acceptance_row_runs_the_scenarios_when_no_step_is_hollow(
    settings: config.Settings,
) -> None:
    acceptance(settings.root)

    result = gate.acceptance_gate(settings)

    assert result.passed, result.details
    assert result.gate == "Acceptance scenarios"
