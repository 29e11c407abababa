"""Loosened settings: a project setting looser than the template's fails the gate's
row unless a waiver names it, with its value, a reason, an owner and an expiry."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest

from handoff_kit import cli, config, loosened

TODAY = date(2026, 12, 6)
FUTURE = TODAY + timedelta(days=90)
PAST = TODAY - timedelta(days=1)

# A project as the template renders it, in the parts the row reads: [tool.handoff],
# the tools' tables (the kit's copy of the template's), standards/ruff.toml.
PYPROJECT = """\
[project]
name = "tidy"

[tool.pytest.ini_options]
addopts = ["--import-mode=importlib", "--cov=tidy"]
""" + loosened.TEMPLATE_TOML.replace(
    "[tool.handoff]\n",
    '[tool.handoff]\npackage = "tidy"\npackage-dir = "package/src/tidy"\n'
    'promotion-metric = "roc_auc"\n',
)


def standards_ruff() -> str:
    rules = loosened.STANDARD_RUFF
    ignores = "\n".join(
        f'"../{pattern}" = {json.dumps(codes)}'
        for pattern, codes in rules["per-file-ignores"].items()
    )
    return (
        f"[lint]\nselect = {json.dumps(rules['select'])}\n"
        f"ignore = {json.dumps(rules['ignore'])}\n\n[lint.per-file-ignores]\n{ignores}\n"
    )


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    (tmp_path / "standards").mkdir()
    (tmp_path / "standards/ruff.toml").write_text(standards_ruff())
    for name in ("__init__.py", "io.py", "sub/__init__.py", "sub/deep.py"):
        (tmp_path / "package/src/tidy" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "package/src/tidy" / name).write_text('"""A module."""\n')
    (tmp_path / "package/tests").mkdir(parents=True)
    (tmp_path / "package/tests/test_io.py").write_text('"""Tests."""\n')
    return tmp_path


def edit(root: Path, old: str, new: str) -> None:
    path = root / "pyproject.toml"
    text = path.read_text()
    assert old in text, f"the test's project has no {old!r}"
    path.write_text(text.replace(old, new, 1))


def toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | list):
        return json.dumps(value)
    return str(value)


def waive(root: Path, setting: str, value: object, **fields: object) -> None:
    given = {"value": value, "reason": "a reason", "owner": "@maria", "expires": FUTURE}
    given.update(fields)
    lines = [f'\n[tool.handoff.waivers."{setting}"]']
    lines += [f"{key} = {toml(v)}" for key, v in given.items() if v is not None]
    with (root / "pyproject.toml").open("a") as file:
        file.write("\n".join(lines) + "\n")


def verdict(root: Path) -> loosened.Verdict:
    return loosened.judge(root, TODAY)


def test_a_project_as_the_template_renders_it_has_no_looser_setting(root: Path) -> None:
    assert loosened.loosened(root) == []
    result = loosened.gate(root, TODAY)
    assert result.passed, result.reason
    assert result.reason == "no setting looser than the template's"


# (what the project changes, the setting the row names, its value there)
FAMILIES = {
    "promotion-tolerance raised": (
        ("promotion-tolerance = 0.01", "promotion-tolerance = 0.2"),
        "handoff.promotion-tolerance",
        0.2,
    ),
    "package-dir narrowed to a subfolder": (
        ('package-dir = "package/src/tidy"', 'package-dir = "package/src/tidy/sub"'),
        "handoff.package-dir",
        "package/src/tidy/sub",
    ),
    "promotion-metric emptied": (
        ('promotion-metric = "roc_auc"', 'promotion-metric = ""'),
        "handoff.promotion-metric",
        "",
    ),
    "snapshot re-pointed": (
        ('snapshot = "package/contracts.lock.json"', 'snapshot = "fresh.lock.json"'),
        "handoff.snapshot",
        "fresh.lock.json",
    ),
    "acceptance narrowed": (
        (
            'acceptance = "package/tests/acceptance"',
            'acceptance = "package/tests/acceptance/easy"',
        ),
        "handoff.acceptance",
        "package/tests/acceptance/easy",
    ),
    "coverage floor lowered": (
        ("fail_under = 80", "fail_under = 0"),
        "coverage.report.fail_under",
        0,
    ),
    "coverage omits a module": (
        ("branch = true", 'branch = true\nomit = ["*/io.py"]'),
        "coverage.run.omit",
        ["*/io.py"],
    ),
    "coverage excludes more lines": (
        ("exclude_also = [", 'exclude_also = ["def load", '),
        "coverage.report.exclude_also",
        ["def load"],
    ),
    "coverage off in pytest's options": (
        ('"--cov=tidy"]', '"--cov=tidy", "--no-cov"]'),
        "pytest.addopts",
        ["--no-cov"],
    ),
    "a strict flag of mypy turned off, as mypy spells its inverse": (
        ("strict = true", "strict = true\nallow_untyped_defs = true"),
        "mypy.disallow_untyped_defs",
        False,
    ),
    "mypy's strict off": (
        ("strict = true", "strict = false"),
        "mypy.disallow_any_generics",
        False,
    ),
    "mypy ignores a package module's errors": (
        (
            'module = ["sklearn.*"]',
            'module = ["tidy.sub.*"]\nignore_errors = true\n\n'
            '[[tool.mypy.overrides]]\nmodule = ["sklearn.*"]',
        ),
        "mypy.overrides[tidy.sub.*].ignore_errors",
        True,
    ),
    "mypy ignores a missing library beyond the template's": (
        ('module = ["sklearn.*"]', 'module = ["sklearn.*", "xgboost.*"]'),
        "mypy.overrides[xgboost.*].ignore_missing_imports",
        True,
    ),
    "mypy skips imports": (
        ("strict = true", 'strict = true\nfollow_imports = "skip"'),
        "mypy.follow_imports",
        "skip",
    ),
    "mypy disables an error code": (
        ("strict = true", 'strict = true\ndisable_error_code = ["arg-type"]'),
        "mypy.disable_error_code",
        ["arg-type"],
    ),
    "mypy's files drop the tests": (
        ('files = ["package/src", "package/tests"]', 'files = ["package/src"]'),
        "mypy.files",
        ["package/src"],
    ),
    "mypy excludes a package module": (
        ("strict = true", 'strict = true\nexclude = ["sub/deep"]'),
        "mypy.exclude",
        ["sub/deep"],
    ),
    "a ruff rule ignored": (
        (
            'extend = "standards/ruff.toml"',
            'extend = "standards/ruff.toml"\nlint.extend-ignore = ["PLR0913", "S"]',
        ),
        "ruff.lint.ignore",
        ["PLR0913", "S"],
    ),
    "ruff rules ignored for package files": (
        (
            'extend = "standards/ruff.toml"',
            'extend = "standards/ruff.toml"\n'
            'lint.per-file-ignores = {"package/src/tidy/io.py" = ["ANN"]}',
        ),
        "ruff.lint.per-file-ignores[package/src/tidy/io.py]",
        ["ANN"],
    ),
    "ruff's selection narrowed": (
        (
            'extend = "standards/ruff.toml"',
            'extend = "standards/ruff.toml"\nlint.select = ["E", "F"]',
        ),
        "ruff.lint.select",
        ["E", "F"],
    ),
    "ruff excludes a package file": (
        (
            'extend = "standards/ruff.toml"',
            'extend = "standards/ruff.toml"\nextend-exclude = ["deep.py"]',
        ),
        "ruff.files",
        ["package/src/tidy/sub/deep.py"],
    ),
    "ruff does not lint a package file it reads": (
        (
            'extend = "standards/ruff.toml"',
            'extend = "standards/ruff.toml"\nlint.exclude = ["sub"]',
        ),
        "ruff.lint.exclude",
        ["sub"],
    ),
    "ruff's standard no longer extended": (
        ('extend = "standards/ruff.toml"', 'extend = "research/ruff.toml"'),
        "ruff.extend",
        "research/ruff.toml",
    ),
}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_a_looser_setting_fails_until_a_waiver_with_its_value_and_a_future_expiry(
    root: Path, family: str
) -> None:
    (old, new), setting, value = FAMILIES[family]
    edit(root, old, new)
    if setting == "ruff.extend":
        (root / "research").mkdir()
        (root / "research/ruff.toml").write_text("[lint]\nselect = ['F']\n")

    unwaived = verdict(root)
    assert any(line.startswith(f"{setting} = ") for line in unwaived.failures), (
        f"the row does not name {setting}: {unwaived.failures}"
    )
    assert f'waive it in [tool.handoff.waivers]."{setting}"' in unwaived.failures[0]

    other = (
        "another"
        if isinstance(value, str)
        else (["X1"] if isinstance(value, list) else 71)
    )
    waive(root, setting, other)
    mismatched = [line for line in verdict(root).failures if line.startswith(setting)]
    assert mismatched, "a waiver of another value waived this one"
    assert f"waives {loosened._shown(other)}, not this value" in mismatched[0]

    edit(root, f"value = {toml(other)}", f"value = {toml(value)}")
    waived = verdict(root)
    assert [w.setting for w in waived.waived] == [setting]
    assert not [f for f in waived.failures if f.startswith(setting)], waived.failures

    edit(root, f"expires = {FUTURE}", f"expires = {PAST}")
    expired = [line for line in verdict(root).failures if line.startswith(setting)]
    assert expired, "an expired waiver still waives"
    assert expired[0].endswith(f"expired on {PAST}")


def test_package_dir_must_hold_the_whole_package_a_parent_folder_is_no_loosening(
    root: Path,
) -> None:
    edit(root, 'package-dir = "package/src/tidy"', 'package-dir = "package/src"')
    assert loosened.loosened(root) == []

    edit(root, 'package-dir = "package/src"', 'package-dir = "package/src/tidy/sub"')
    [found] = loosened.loosened(root)
    assert found.setting == "handoff.package-dir"
    assert "'package/src/tidy', the whole package" in str(found)


def test_stricter_settings_and_rules_beyond_the_template_are_no_loosening(
    root: Path,
) -> None:
    edit(root, "fail_under = 80", "fail_under = 95")
    edit(root, "promotion-tolerance = 0.01", "promotion-tolerance = 0")
    edit(root, "strict = true", "strict = true\ndisallow_any_explicit = true")
    edit(
        root,
        'extend = "standards/ruff.toml"',
        'extend = "standards/ruff.toml"\nlint.extend-select = ["D"]\n'
        'lint.extend-ignore = ["D100", "EM101"]\n'
        'lint.per-file-ignores = {"package/tests/**" = ["S101"]}',
    )

    assert loosened.loosened(root) == [], (
        "a stricter value, or an ignore of a rule the template never selects "
        "(EM101 is flake8-errmsg's, not pycodestyle's E), is at the standard"
    )


def test_a_tools_config_file_read_instead_of_pyproject_is_a_looser_setting(
    root: Path,
) -> None:
    (root / "mypy.ini").write_text("[mypy]\n")
    (root / "package/src/tidy/ruff.toml").write_text("[lint]\nselect = ['F']\n")
    (root / "setup.cfg").write_text("[coverage:report]\nfail_under = 0\n")

    found = {item.setting: item.value for item in loosened.loosened(root)}

    assert found["mypy.config-file"] == ["mypy.ini"]
    assert found["ruff.config-file"] == ["package/src/tidy/ruff.toml"]
    assert found["coverage.config-file"] == ["setup.cfg"]


def test_a_waiver_lacking_a_field_fails_with_one_line_naming_what_is_missing(
    root: Path,
) -> None:
    edit(root, "fail_under = 80", "fail_under = 70")
    waive(
        root, "coverage.report.fail_under", 70, reason=" ", owner=None, expires="soon"
    )

    failures = verdict(root).failures

    assert failures[0] == (
        'pyproject.toml [tool.handoff.waivers."coverage.report.fail_under"]: no reason, '
        "owner, expires (a date: expires = 2027-03-01); a waiver needs each"
    )


def test_a_waiver_for_a_setting_at_the_standard_fails(root: Path) -> None:
    waive(root, "coverage.report.fail_under", 70)

    assert verdict(root).failures == [
        '[tool.handoff.waivers]."coverage.report.fail_under" waives a setting at '
        "the standard: delete the waiver"
    ]


def test_the_row_lists_every_waiver_with_its_owner_and_expiry(root: Path) -> None:
    edit(root, "fail_under = 80", "fail_under = 70")
    edit(root, "promotion-tolerance = 0.01", "promotion-tolerance = 0.05")
    waive(root, "coverage.report.fail_under", 70, reason="legacy loader untested")
    waive(root, "handoff.promotion-tolerance", 0.05, owner="@ana")

    result = loosened.gate(root, TODAY)

    assert result.passed, result.reason
    assert result.reason == (
        "no setting looser than the template's; 2 waived: "
        f"handoff.promotion-tolerance = 0.05 (@ana, until {FUTURE}: a reason); "
        f"coverage.report.fail_under = 70 (@maria, until {FUTURE}: legacy loader untested)"
    )


def test_the_settings_command_prints_the_row_and_fails_on_a_looser_setting(
    root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(root, "fail_under = 80", "fail_under = 0")
    for key, value in (
        ("contracts", "tidy.contracts"),
        ("train", "tidy.training:train"),
        ("model-input", "tidy.contracts:Features"),
        ("model-output", "tidy.contracts:Predictions"),
        ("model-interface", "tidy.contracts:Model"),
        ("model-name", "tidy"),
        ("registry", "files"),
    ):
        edit(root, 'package = "tidy"', f'package = "tidy"\n{key} = "{value}"')
    monkeypatch.chdir(root)

    status = cli.main(["settings"])

    printed = capsys.readouterr().out
    assert status == 1
    assert printed.startswith(f"{loosened.TITLE}: FAIL: coverage.report.fail_under = 0")


def test_the_handoff_table_reads_with_its_waivers(root: Path) -> None:
    edit(root, "fail_under = 80", "fail_under = 70")
    waive(root, "coverage.report.fail_under", 70)
    table = config.read_toml(root / "pyproject.toml")["tool"]["handoff"]
    table.update(contracts="tidy.contracts", train="tidy.training:train")
    table.update({"model-input": "tidy.c:F", "model-output": "tidy.c:P"})
    table.update(
        {"model-interface": "tidy.c:M", "model-name": "tidy", "registry": "files"}
    )

    settings = config.from_table(root, table)

    assert settings.package == "tidy", (
        "a [tool.handoff.waivers] table is no unknown key"
    )


def test_without_the_dev_tools_the_row_says_to_set_up(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "mypy.config_parser", None)

    result = loosened.gate(root, TODAY)

    assert not result.passed
    assert result.reason.startswith("cannot read the tools' settings: ")
    assert result.reason.endswith("run `make setup`")


def test_ruff_runs_as_the_kit_runs_it() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ruff", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, "the kit runs `python -m ruff`: ruff must be installed"


def test_ruff_refusing_the_projects_settings_fails_the_row_with_ruffs_own_line(
    root: Path,
) -> None:
    edit(
        root,
        'extend = "standards/ruff.toml"',
        'extend = "standards/ruff.toml"\nline-length = "long"',
    )

    result = loosened.gate(root, TODAY)

    assert not result.passed
    assert result.reason.endswith(
        """cannot read the project's settings: invalid type: string "long", expected i64"""
    )
    assert "\n" not in result.reason


def test_an_invalid_pyproject_fails_the_row_naming_the_file(root: Path) -> None:
    (root / "pyproject.toml").write_text("[tool.handoff\n")

    result = loosened.gate(root, TODAY)

    assert not result.passed
    assert result.reason.startswith(f"{root / 'pyproject.toml'}: not valid TOML")


@pytest.mark.parametrize(
    ("addopts", "loose"),
    [
        ('"--cov=tidy", "--cov-fail-under=50"', ["--cov-fail-under=50"]),
        ('"--cov=tidy", "--cov-fail-under", "50"', ["--cov-fail-under=50"]),
        ('"--cov=tidy.sub"', ["no --cov=tidy"]),
        ('"-p", "no:cov"', ["-p no:cov", "no --cov=tidy"]),
        ('"--cov"', None),
        ('"--cov=tidy", "--cov-fail-under=90"', None),
    ],
)
def test_pytest_options_that_turn_coverage_off_narrow_or_lower_it_are_looser(
    root: Path, addopts: str, loose: list[str] | None
) -> None:
    edit(root, '"--cov=tidy"', addopts)

    found = {item.setting: item.value for item in loosened.loosened(root)}

    assert found.get("pytest.addopts") == loose
