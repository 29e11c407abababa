"""Template-owned files are the template's, and the Makefile keeps the standard targets.

The offline rows read the manifest the render wrote; the re-render and the restore
run Copier (the template repository's, `python -m copier`) on a small template of
their own, a git repository with two versions, rendered into the sample project.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from handoff_kit import cli, config, gate, integrity
from handoff_kit.integrity import MANIFEST, Difference, IntegrityError

COPIER = f"{sys.executable} -m copier"
STANDARDS_MD = "# Standards\n\nThe template's.\n"
# A template-owned file rendered from the answers, and the manifest that hashes it.
RULE = "limit = {{ limit }}\nformat = strict\n"
MANIFEST_TEMPLATE = """\
{{% set content %}}{{% include "standards/rule.toml.jinja" %}}{{% endset %}}\
{{{{ content | hash("sha256") }}}}  standards/rule.toml
{standards_md}  STANDARDS.md
"""
COPIER_YML = """\
_envops:
  keep_trailing_newline: true
limit:
  type: int
  default: 1000
"""
# make's shared tasks, as a project includes them.
TASKS = """\
.PHONY: help check handoff
help:
\t@echo help
check:
\t@echo check
handoff:
\t@echo the gate
"""


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def git(folder: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True)


@pytest.fixture(scope="session")
def git_identity() -> Iterator[None]:
    """Git as a fresh machine has it, with a name to commit under."""
    with (
        tempfile.TemporaryDirectory() as home,
        pytest.MonkeyPatch.context() as patch,
    ):
        (Path(home) / "gitconfig").write_text("[init]\n\tdefaultBranch = main\n")
        patch.setenv("GIT_CONFIG_GLOBAL", str(Path(home) / "gitconfig"))
        patch.setenv("GIT_CONFIG_NOSYSTEM", "1")
        for role in ("AUTHOR", "COMMITTER"):
            patch.setenv(f"GIT_{role}_NAME", "Kit Test")
            patch.setenv(f"GIT_{role}_EMAIL", "kit@example.com")
        yield


@pytest.fixture(scope="session")
def released(git_identity: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A template repository tagged 1.0.0: a rule, STANDARDS.md, their manifest."""
    repo = tmp_path_factory.mktemp("template")
    (repo / "standards").mkdir(parents=True)
    (repo / "copier.yml").write_text(COPIER_YML)
    (repo / "standards/rule.toml.jinja").write_text(RULE)
    (repo / "STANDARDS.md").write_text(STANDARDS_MD)
    (repo / "README.md").write_text("The project's own.\n")
    (repo / "{{ _copier_conf.answers_file }}.jinja").write_text(
        "{{ _copier_answers | to_nice_yaml -}}\n"
    )
    (repo / f"{MANIFEST}.jinja").write_text(
        MANIFEST_TEMPLATE.format(standards_md=sha256(STANDARDS_MD))
    )
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "1.0.0")
    git(repo, "tag", "1.0.0")
    return repo


@pytest.fixture(scope="session")
def first_render(released: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template's 1.0.0 rendered once, with limit=1000."""
    dst = tmp_path_factory.mktemp("render") / "project"
    version = ("--vcs-ref", "1.0.0")
    subprocess.run(
        [
            *COPIER.split(),
            "copy",
            "--defaults",
            "--quiet",
            *version,
            str(released),
            str(dst),
        ],
        check=True,
        capture_output=True,
    )
    return dst


@pytest.fixture
def generated(project: Path, first_render: Path) -> Path:
    """The sample project, with what the template's 1.0.0 rendered."""
    shutil.copytree(first_render, project, dirs_exist_ok=True)
    return project


@pytest.fixture
def template(generated: Path, released: Path, tmp_path: Path) -> Path:
    """A copy of the template repository that this test may change, the one the
    generated project's answers name."""
    repo = tmp_path / "template"
    shutil.copytree(released, repo)
    edit(generated / ".copier-answers.yml", str(released), str(repo))
    return repo


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path} has no {old!r}"
    path.write_text(text.replace(old, new))


# --- Offline: the manifest ----------------------------------------------------------


def test_a_project_as_generated_passes_naming_how_many_files_it_checked(
    generated: Path,
) -> None:
    result = integrity.files_result(generated)

    assert result.passed, result.reason
    assert result.reason == f"2 files are the template's ({MANIFEST})"


def test_an_edited_file_fails_naming_it_with_both_ways_out(generated: Path) -> None:
    edit(generated / "standards/rule.toml", "limit = 1000", "limit = 100000")

    result = integrity.files_result(generated)

    assert not result.passed
    assert result.reason.startswith("standards/rule.toml: edited: propose the change")
    assert "`make restore-standards`" in result.reason
    assert result.details == "standards/rule.toml: edited"


def test_a_missing_and_an_extra_file_fail_each_named_and_counted(
    generated: Path,
) -> None:
    (generated / "STANDARDS.md").unlink()
    (generated / "standards/mine.toml").write_text("limit = 1\n")
    # Caches are nobody's files.
    (generated / "standards/__pycache__").mkdir()
    (generated / "standards/__pycache__/rule.cpython-312.pyc").write_bytes(b"\0")

    result = integrity.files_result(generated)

    assert result.reason.startswith("STANDARDS.md: missing (and 1 more)")
    assert result.details.splitlines() == [
        "STANDARDS.md: missing",
        "standards/mine.toml: not the template's (standards/ holds only its files)",
    ]


def test_in_git_a_new_file_in_standards_counts_and_an_ignored_one_does_not(
    generated: Path,
) -> None:
    git(generated, "init", "-q")
    (generated / ".gitignore").write_text("*.log\n")
    (generated / "standards/run.log").write_text("ignored\n")
    (generated / "standards/notes.md").write_text("ours\n")

    found = integrity.offline_differences(generated)

    assert found == [Difference("standards/notes.md", "extra")]


def test_without_a_manifest_the_row_fails_saying_how_to_get_it_back(
    generated: Path,
) -> None:
    (generated / MANIFEST).unlink()

    result = integrity.files_result(generated)

    assert not result.passed
    assert (
        result.reason
        == f"no {MANIFEST}: `make restore-standards` puts the template's back"
    )


def test_a_malformed_manifest_line_fails_naming_it(generated: Path) -> None:
    with (generated / MANIFEST).open("a") as manifest:
        manifest.write("not a hash\n")

    result = integrity.files_result(generated)

    assert result.reason.startswith(f"{MANIFEST}:3 is not `SHA256  PATH`")


def test_an_edited_manifest_with_its_file_passes_offline(generated: Path) -> None:
    """What the offline row cannot see, and the re-render does (below)."""
    edit_with_its_manifest(generated)

    assert integrity.files_result(generated).passed


def edit_with_its_manifest(project: Path) -> None:
    edit(project / "standards/rule.toml", "limit = 1000", "limit = 100000")
    rule = (project / "standards/rule.toml").read_text()
    (project / MANIFEST).write_text(
        f"{sha256(rule)}  standards/rule.toml\n{sha256(STANDARDS_MD)}  STANDARDS.md\n"
    )


# --- Copier's re-render of the recorded version ------------------------------------------


def test_the_re_render_finds_the_edited_file_and_the_manifest_with_their_lines(
    generated: Path,
) -> None:
    edit_with_its_manifest(generated)

    found = integrity.rerendered(generated, integrity.copier_command(COPIER))

    assert [d.path for d in found] == ["standards/rule.toml", MANIFEST]
    assert all(d.kind == "edited" for d in found)
    assert found[0].lines == ("@@ -1 +1 @@", "-limit = 1000", "+limit = 100000")


def test_the_re_render_renders_the_recorded_version_not_the_newest(
    generated: Path, template: Path
) -> None:
    edit(template / "standards/rule.toml.jinja", "format = strict", "format = loose")
    git(template, "commit", "-qam", "1.1.0")
    git(template, "tag", "1.1.0")

    assert integrity.rerendered(generated, integrity.copier_command(COPIER)) == []


def test_restore_puts_the_templates_files_back_and_keeps_the_projects_own(
    generated: Path,
) -> None:
    edit(generated / "standards/rule.toml", "limit = 1000", "limit = 100000")
    (generated / "STANDARDS.md").unlink()
    (generated / "standards/mine.toml").write_text("limit = 1\n")

    restored, extras = integrity.restore(generated, integrity.copier_command(COPIER))

    assert restored == ["STANDARDS.md", "standards/rule.toml"]
    assert extras == [Difference("standards/mine.toml", "extra")]
    assert (generated / "standards/rule.toml").read_text().startswith("limit = 1000\n")
    assert (generated / "STANDARDS.md").read_text() == STANDARDS_MD


def test_a_template_that_cannot_be_rendered_is_one_line_naming_it_and_the_version(
    generated: Path, released: Path
) -> None:
    edit(generated / ".copier-answers.yml", "_commit: 1.0.0", "_commit: 9.9.9")

    with pytest.raises(IntegrityError) as raised:
        integrity.rerendered(generated, integrity.copier_command(COPIER))

    message = str(raised.value)
    assert message.startswith(
        f"Copier cannot render the template {str(released)!r} at 9.9.9: "
    )
    assert "\n" not in message


def test_a_template_path_recorded_as_the_project_itself_is_refused(
    generated: Path,
) -> None:
    answers = generated / ".copier-answers.yml"
    answers.write_text("_commit: 1.0.0\n_src_path: .\nlimit: 1000\n")

    with pytest.raises(IntegrityError, match="is this project itself"):
        integrity.rerendered(generated, integrity.copier_command(COPIER))


def test_without_answers_the_template_version_is_unknown(project: Path) -> None:
    with pytest.raises(IntegrityError, match=r"no \.copier-answers\.yml"):
        integrity.read_answers(project)
    (project / ".copier-answers.yml").write_text("limit: 3\n")
    with pytest.raises(IntegrityError, match="has no _src_path"):
        integrity.read_answers(project)
    (project / ".copier-answers.yml").write_text("limit: [3\n")
    with pytest.raises(IntegrityError, match="is not valid YAML"):
        integrity.read_answers(project)


def test_a_template_version_without_a_manifest_says_to_update_first(
    generated: Path, template: Path
) -> None:
    git(template, "rm", "-q", f"{MANIFEST}.jinja")
    git(template, "commit", "-qm", "0.9.0")
    edit(generated / ".copier-answers.yml", "_commit: 1.0.0", "_commit: HEAD")

    with pytest.raises(
        IntegrityError, match=r"writes no standards/template-owned\.sha256"
    ):
        integrity.rerendered(generated, integrity.copier_command(COPIER))


def test_copier_is_the_given_command_else_found_on_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert integrity.copier_command("pipx run copier") == ["pipx", "run", "copier"]
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(IntegrityError, match="pass --copier"):
        integrity.copier_command(None)
    uv = tmp_path / "uv"
    uv.write_text("#!/bin/sh\n")
    uv.chmod(0o755)
    assert integrity.copier_command(None) == integrity.UV_COPIER.split()


def test_a_copier_that_cannot_run_is_one_line(generated: Path) -> None:
    with pytest.raises(IntegrityError, match=r"cannot run no-such-copier \("):
        integrity.rerendered(generated, ["no-such-copier"])


# --- Standard targets ---------------------------------------------------------------------


def makefile(project: Path, own: str) -> Path:
    (project / "standards").mkdir(exist_ok=True)
    (project / "standards/tasks.mk").write_text(TASKS)
    (project / "Makefile").write_text(f"include standards/tasks.mk\n\n{own}")
    return project


def test_a_makefile_recipe_for_a_standard_target_fails_naming_it_and_its_line(
    project: Path,
) -> None:
    makefile(project, "handoff:\n\t@echo passed\n")

    result = integrity.overrides_result(project)

    assert not result.passed
    # make names the first line of each recipe.
    assert result.reason.startswith(
        "Makefile:4 overrides the standard target `handoff` (standards/tasks.mk:7): "
    )


def test_new_targets_and_more_prerequisites_of_a_standard_one_pass(
    project: Path,
) -> None:
    makefile(project, "train-all:\n\t@echo all\n\ncheck: train-all\n")

    result = integrity.overrides_result(project)

    assert result.passed, result.reason
    assert result.reason == "the Makefile overrides no standard target or setting"


def test_a_project_target_the_makefile_defines_twice_is_not_a_standard_one(
    project: Path,
) -> None:
    makefile(project, "mine:\n\t@echo one\n\nmine:\n\t@echo two\n")

    assert integrity.overrides(project) == []


# The standard files' settings: one the project may set (a knob), two it may not.
SETTINGS = """\
PROJECT_KNOBS := IMAGE
IMAGE ?= sample
RUN := uv run --frozen
UV ?= uv
"""


@pytest.mark.parametrize(
    ("own", "said"),
    [
        ("RUN = true\n", "Makefile:3 sets RUN, which standards/tasks.mk:10 sets"),
        (
            "override RUN := true\n",
            "Makefile:3 sets RUN, which standards/tasks.mk:10 sets",
        ),
        (
            "check: RUN = true\n",
            "Makefile:3 sets RUN for `check`, which standards/tasks.mk:10",
        ),
        (
            "undefine RUN\n",
            "the Makefile undefines RUN, which standards/tasks.mk:10 sets",
        ),
        ("PROJECT_KNOBS += RUN\nRUN = true\n", "Makefile:3 sets PROJECT_KNOBS"),
        ("MAKEFLAGS += --ignore-errors\n", "the Makefile gives make --ignore-errors"),
        ("MAKEFLAGS += -n\n", "the Makefile gives make --dry-run"),
        (".IGNORE:\n", "declares .IGNORE: make ignores every failing command"),
        (".ONESHELL:\n", "declares .ONESHELL: a recipe's earlier failing lines"),
        (
            ".SHELLFLAGS := -c true\n",
            "Makefile:3 sets .SHELLFLAGS, which decides how make runs",
        ),
        (
            "SHELL := /bin/true\n",
            "Makefile:3 sets SHELL, which decides how make runs recipes",
        ),
    ],
)
def test_a_makefile_that_changes_a_standard_setting_or_how_recipes_run_fails_naming_it(
    project: Path, own: str, said: str
) -> None:
    makefile(project, own)
    tasks = project / "standards/tasks.mk"
    tasks.write_text(TASKS + SETTINGS)

    result = integrity.overrides_result(project)

    assert not result.passed, f"{own!r} passes"
    assert said in result.details, result.details


def test_a_standard_setting_set_before_the_include_fails_too(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As under `uv run` (CI's gate), which sets UV: the standard's `UV ?= uv` is
    # the standard's all the same.
    monkeypatch.setenv("UV", "/usr/local/bin/uv")
    makefile(project, "")
    (project / "standards/tasks.mk").write_text(TASKS + SETTINGS)
    (project / "Makefile").write_text("UV = true\ninclude standards/tasks.mk\n")

    found = integrity.settings(project)

    assert [str(s) for s in found] == [
        "Makefile:1 sets UV, which standards/tasks.mk:11 sets"
    ]


def test_knobs_and_the_projects_own_variables_pass(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A standard setting the environment gives (`uv run` sets UV) is not undefined.
    monkeypatch.setenv("UV", "/usr/local/bin/uv")
    makefile(
        project,
        "IMAGE = registry.example.com/x\nMINE := 1\nmine: MINE = 2\nmine:\n\t@true\n",
    )
    (project / "standards/tasks.mk").write_text(TASKS + SETTINGS)

    result = integrity.overrides_result(project)

    assert result.passed, result.details
    assert result.reason == "the Makefile overrides no standard target or setting"


def test_without_make_the_row_fails_saying_so(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(project))

    result = integrity.overrides_result(project)

    assert result.reason.startswith("`make` could not run: ")


# --- The command line -----------------------------------------------------------------------


def test_handoff_standards_prints_both_rows_and_fails_on_either(
    generated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A tasks file the template does not have, whose target the Makefile overrides.
    makefile(generated, "check:\n\t@echo nothing to see\n")

    status = cli.main(["standards"])

    out = capsys.readouterr().out.splitlines()
    assert status == 1
    assert out[0].startswith(
        "FAIL: Template-owned files unchanged: standards/tasks.mk:"
    )
    assert (
        out[1]
        == "  standards/tasks.mk: not the template's (standards/ holds only its files)"
    )
    assert out[2].startswith(
        "FAIL: Standard targets not overridden: Makefile:4 overrides the standard target `check`"
    )


def test_handoff_standards_passes_a_project_as_generated(
    generated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["standards"]) == 0
    assert capsys.readouterr().out.startswith("pass: Template-owned files unchanged: ")


def test_handoff_standards_rerender_and_restore_from_the_command_line(
    generated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(generated / "standards/rule.toml", "limit = 1000", "limit = 100000")
    (generated / "standards/mine.toml").write_text("limit = 1\n")

    assert cli.main(["standards", "--rerender", "--copier", COPIER]) == 1
    said = capsys.readouterr().out
    assert said.startswith(
        "FAIL: Template-owned files unchanged (Copier's re-render): standards/rule.toml: "
        "edited (and 1 more)"
    )
    assert "    +limit = 100000" in said

    # The project's own file stays, and is named: restore fails until it moves.
    assert cli.main(["standards", "--restore", "--copier", COPIER]) == 1
    assert capsys.readouterr().out == (
        "Restored standards/rule.toml\n"
        "Kept standards/mine.toml: not the template's; move it out of standards/.\n"
    )
    assert integrity.files_result(generated).details.startswith("standards/mine.toml")


def test_a_re_render_that_cannot_run_is_one_line_on_standard_error(
    generated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["standards", "--rerender", "--copier", "no-such-copier"]) == 1
    error = capsys.readouterr().err.splitlines()[-1]
    assert error.startswith("handoff: error: cannot run no-such-copier (")


def test_the_gate_runs_both_rows_first_after_the_conflicts(
    generated: Path,
) -> None:
    gates = gate.gates(config.load(generated))

    assert [g.name for g in gates[:3]] == ["conflicts", "standards", "overrides"]
    assert gates[1].run().passed
    assert gates[1].command == gates[2].command == ("handoff", "standards")
