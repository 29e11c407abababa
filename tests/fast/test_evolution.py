"""Template evolution, the static part: the cookiecutter entry point mirrors copier.yml,
the project's renovate.json is valid, and the guards `make update` relies on
(clean tree first, conflicts fail `make check` and the git hook) work."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import copier
import pytest
import yaml
from cookiecutter.generate import generate_context
from cookiecutter.prompt import prompt_for_config

from tests.conftest import REPO, answers, run, tool_env

COOKIECUTTER = REPO / "cookiecutter"


def copier_questions() -> dict[str, dict[str, Any]]:
    """The questions copier.yml asks, in order (computed `when: false` values are not asked)."""

    class Loader(yaml.SafeLoader):
        pass

    Loader.add_constructor("!include", lambda loader, node: None)
    config = yaml.load((REPO / "copier.yml").read_text(), Loader=Loader)
    return {
        key: spec
        for key, spec in config.items()
        if not key.startswith("_") and spec.get("when") is not False
    }


def cookiecutter_json() -> dict[str, Any]:
    return json.loads((COOKIECUTTER / "cookiecutter.json").read_text())


def choice_values(spec: Mapping[str, Any]) -> list[Any]:
    choices = spec["choices"]
    return list(choices.values()) if isinstance(choices, dict) else list(choices)


# --- The cookiecutter entry point mirrors copier.yml --------------------------------


def test_cookiecutter_asks_the_copier_questions_in_the_same_order() -> None:
    asked = [key for key in cookiecutter_json() if not key.startswith("_")]

    assert asked == list(copier_questions())


def test_cookiecutter_offers_copiers_defaults_and_choices() -> None:
    context = cookiecutter_json()
    for key, spec in copier_questions().items():
        offered = context[key]
        if "choices" in spec:
            # A derived default is compared once rendered, in the next test.
            if "{{" not in str(spec["default"]):
                assert offered[0] == spec["default"], f"{key}: cookiecutter's default differs"
            assert sorted(offered) == sorted(choice_values(spec)), f"{key}: choices differ"
        elif "{{" not in str(spec["default"]):
            assert offered == spec["default"], f"{key}: cookiecutter's default differs"


def test_cookiecutter_derives_the_same_defaults_as_copier(rendered: Mapping[str, Path]) -> None:
    """Slug, package and team handles follow the project name the same way in both."""
    copier_answers = answers(rendered["default"])
    context = generate_context(context_file=str(COOKIECUTTER / "cookiecutter.json"))
    cookiecutter_answers = prompt_for_config(context, no_input=True)

    assert cookiecutter_answers["project_name"] == copier_answers["project_name"]
    for key in copier_questions():
        assert cookiecutter_answers[key] == copier_answers[key], f"{key} differs"


def test_every_cookiecutter_question_has_copiers_help_as_its_prompt() -> None:
    prompts = cookiecutter_json()["__prompts__"]
    for key, spec in copier_questions().items():
        prompt = prompts[key]["__prompt__"] if isinstance(prompts[key], dict) else prompts[key]
        help_text = spec["help"].replace("{{ project_name }}'s", "the project's")
        assert prompt == help_text.replace("{{ project_name }}", "the project"), key


def test_cookiecutter_refuses_a_bad_answer_with_copiers_own_message(
    template_dir: Path, tmp_path: Path
) -> None:
    bad = {"project_name": "Churn Model", "package_name": "json"}
    with pytest.raises(ValueError, match="Validation error") as refused:
        copier.run_copy(str(template_dir), tmp_path / "copier", data=bad, defaults=True)
    copiers_message = str(refused.value)

    out = tmp_path / "out"
    given = [f"{key}={value}" for key, value in bad.items()]
    template = str(template_dir / "cookiecutter")
    result = subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--no-input", "-o", str(out), template, *given],
        capture_output=True,
        text=True,
        check=False,
        env=tool_env(tmp_path),
    )

    assert result.returncode != 0, "cookiecutter accepted a package named json"
    assert copiers_message in result.stderr, f"Copier's message is missing:\n{result.stderr}"
    assert not any(out.glob("*")), "cookiecutter left a half-made project"


# --- Renovate's config, carried by every project -----------------------------------


@pytest.mark.parametrize("name", ["default", "contrast"])
def test_the_projects_renovate_config_passes_renovates_schema(
    rendered: Mapping[str, Path], name: str
) -> None:
    config = rendered[name] / "renovate.json"

    run(["check-jsonschema", "--builtin-schema", "vendor.renovate", str(config)], cwd=config.parent)
    settings = json.loads(config.read_text())
    assert settings["copier"]["enabled"] is True, "the copier manager is off"
    standards = [r for r in settings["packageRules"] if r.get("matchFileNames") == ["standards/**"]]
    assert [rule["enabled"] for rule in standards] == [False], (
        "Renovate would bump the template-owned pins in standards/ one by one"
    )
    assert "renovate.json" in (rendered[name] / "README.md").read_text(), (
        "the README does not say what renovate.json is for"
    )


# --- Guards around `make update` ----------------------------------------------------


@pytest.fixture
def committed_project(rendered: Mapping[str, Path], tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A copy of the default project in a git repository, everything committed."""
    project = shutil.copytree(rendered["default"], tmp_path / "project")
    env = tool_env(tmp_path) | {"PRE_COMMIT_HOME": str(tmp_path / "pre-commit")}
    for command in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "Start"]):
        run(["git", *command], cwd=project, env=env)
    return project, env


def test_make_check_and_the_git_hook_fail_on_conflicts_naming_each_file(
    committed_project: tuple[Path, dict[str, str]],
) -> None:
    project, env = committed_project
    make = ["make", "--no-print-directory"]
    assert run([*make, "conflicts"], cwd=project, env=env).returncode == 0

    model = project / "package" / "src" / answers(project)["package_name"] / "model.py"
    with model.open("a") as code:
        code.write("<<<<<<< before updating\nA = 1\n=======\nA = 2\n>>>>>>> after updating\n")
    (project / "README.md.rej").write_text("@@ -1 +1 @@\n-old\n+new\n")
    relative_model = model.relative_to(project).as_posix()

    checked = run([*make, "check"], cwd=project, env=env, check=False)
    hook = run(
        ["pre-commit", "run", "unresolved-conflicts", "--all-files"],
        cwd=project,
        env=env,
        check=False,
    )

    for result, what in ((checked, "make check"), (hook, "the git hook")):
        assert result.returncode != 0, f"{what} passes with unresolved conflicts"
        assert relative_model in result.stdout, f"{what} does not name {relative_model}"
        assert "README.md.rej" in result.stdout, f"{what} does not name README.md.rej"


def test_make_update_refuses_a_dirty_tree_and_names_the_changes(
    committed_project: tuple[Path, dict[str, str]],
) -> None:
    project, env = committed_project
    with (project / "README.md").open("a") as readme:
        readme.write("Work in progress.\n")

    # If the guard let the update through, this stand-in for Copier would say so.
    result = run(
        ["make", "--no-print-directory", "update", "COPIER=echo copier ran", "ENV_READY=true"],
        cwd=project,
        env=env,
        check=False,
    )

    assert result.returncode != 0, "make update ran on a dirty tree"
    assert "copier ran" not in result.stdout
    assert "clean working tree" in result.stdout, f"no clear message:\n{result.stdout}"
    assert "README.md" in result.stdout, "the refusal does not name the changed file"


def stand_in_copier(folder: Path, latest: str | None) -> Path:
    """A stand-in for Copier: `check-update` reports `latest` as the newest version
    (None: the project is on the newest) as JSON, or with --quiet by its exit status
    (2: a newer version); any other command says it ran, and fails."""
    update = {
        "update_available": latest is not None,
        "current_version": "1.0.0",
        "latest_version": latest or "1.0.0",
    }
    copier = folder / "copier"
    copier.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = check-update ]; then\n'
        f'  [ "$2" = --quiet ] && exit {2 if latest else 0}\n'
        f"  echo '{json.dumps(update)}'; exit 0\n"
        "fi\n"
        'echo "copier $1 ran"; exit 1\n'
    )
    copier.chmod(0o755)
    return copier


CHANGELOG = """# Changelog

## Unreleased

- Not released yet.

## 1.2.0

- Newest change.

## 1.1.0

- Older change.

## 1.0.0

- The project's own version.
"""


@pytest.fixture
def template_repo(tmp_path: Path) -> Path:
    """A throwaway template source: a git repository tagged 1.0.0, 1.1.0 and 1.2.0,
    whose CHANGELOG.md grows an entry with each version."""
    repo = tmp_path / "template-source"
    repo.mkdir()
    env = tool_env(tmp_path)
    run(["git", "init", "-q"], cwd=repo, env=env)
    for version in ("1.0.0", "1.1.0", "1.2.0"):
        kept = CHANGELOG.split(f"## {version}")[1]
        unreleased = "## Unreleased\n\n- Not released yet.\n\n"
        (repo / "CHANGELOG.md").write_text(f"# Changelog\n\n{unreleased}## {version}{kept}")
        run(["git", "add", "-A"], cwd=repo, env=env)
        run(["git", "commit", "-qm", f"Release {version}"], cwd=repo, env=env)
        run(["git", "tag", version], cwd=repo, env=env)
    return repo


def set_source(project: Path, env: dict[str, str], src: str) -> None:
    """Record `src` as the project's template source, committed."""
    answers_file = project / ".copier-answers.yml"
    text = re.sub(r"(?m)^_src_path: .*$", f"_src_path: {src}", answers_file.read_text())
    answers_file.write_text(text)
    run(["git", "commit", "-qam", "Template source"], cwd=project, env=env)


def make_update(
    project: Path, env: dict[str, str], copier: Path, target: str = "update"
) -> subprocess.CompletedProcess[str]:
    # RUN= runs the project's scripts with this Python (its environment is not set up,
    # which ENV_READY=true lets pass).
    command = ["make", "--no-print-directory", target, f"COPIER={copier}", "RUN="]
    command.append("ENV_READY=true")
    return run(command, cwd=project, env=env, check=False)


def test_make_update_with_nothing_newer_says_so_and_updates_nothing(
    committed_project: tuple[Path, dict[str, str]], template_repo: Path, tmp_path: Path
) -> None:
    project, env = committed_project
    set_source(project, env, str(template_repo))

    result = make_update(project, env, stand_in_copier(tmp_path, latest=None))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Already on the newest template version" in result.stdout, result.stdout
    assert "ran" not in result.stdout, f"an update ran with nothing newer:\n{result.stdout}"


def test_make_update_shows_the_changelog_entries_it_brings_then_updates(
    committed_project: tuple[Path, dict[str, str]], template_repo: Path, tmp_path: Path
) -> None:
    project, env = committed_project
    set_source(project, env, str(template_repo))

    result = make_update(project, env, stand_in_copier(tmp_path, latest="1.2.0"))

    out = result.stdout
    assert "Template 1.0.0 -> 1.2.0, from its CHANGELOG.md:" in out, out
    assert "## 1.2.0\n\n- Newest change." in out, f"the newest entry is missing:\n{out}"
    assert "## 1.1.0\n\n- Older change." in out, f"an entry in between is missing:\n{out}"
    assert "own version" not in out, "the project's own version's entry is shown as news"
    assert "Not released yet" not in out, "the Unreleased notes are shown as a version"
    assert out.index("## 1.1.0") < out.index("copier update ran"), (
        "the CHANGELOG entries do not come before the update"
    )
    assert result.returncode != 0, "a failed copier update did not fail make update"


@pytest.mark.parametrize(
    ("src", "says"),
    [
        (".", "_src_path '.' is this project itself"),
        ("/nowhere/handoff", "the template '/nowhere/handoff' (_src_path) is not at"),
        ("file:///nowhere/handoff.git", "the template 'file:///nowhere/handoff.git' "
         "(_src_path) cannot be reached"),
    ],
)  # fmt: skip
def test_make_update_refuses_a_template_source_it_cannot_reach_in_one_line(
    committed_project: tuple[Path, dict[str, str]], tmp_path: Path, src: str, says: str
) -> None:
    project, env = committed_project
    set_source(project, env, src)

    result = make_update(project, env, stand_in_copier(tmp_path, latest="1.2.0"))

    assert result.returncode != 0, f"make update went on with _src_path {src}"
    assert "ran" not in result.stdout, "Copier ran with a source it cannot reach"
    assert "Traceback" not in result.stderr
    said = [line for line in result.stderr.splitlines() if not line.startswith("make: ***")]
    assert len(said) == 1, f"not one line:\n{result.stderr}"
    assert said[0].startswith(f"standards/template_changes.py: error: {says}"), said[0]
    assert "set _src_path in .copier-answers.yml to the template's git URL" in said[0], (
        "the refusal does not say how to fix _src_path"
    )


def test_make_update_check_fails_saying_so_when_the_project_is_behind(
    committed_project: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    project, env = committed_project
    behind = tmp_path / "behind"
    behind.mkdir()

    newer = make_update(project, env, stand_in_copier(behind, "1.2.0"), "update-check")
    current = make_update(project, env, stand_in_copier(tmp_path, None), "update-check")

    assert newer.returncode != 0, "make update-check passes while the project is behind"
    assert "A newer template version exists: run 'make update'" in newer.stdout, newer.stdout
    assert current.returncode == 0, current.stdout + current.stderr
    assert "On the newest template version" in current.stdout, current.stdout


# --- hooks/migrate.py, the helper migrations call ----------------------------------


def load_migrate() -> Any:
    spec = importlib.util.spec_from_file_location("migrate", REPO / "hooks" / "migrate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_rename_migration_retires_the_old_file_and_its_empty_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "standards" / "old").mkdir(parents=True)
    (tmp_path / "standards" / "old" / "ruff.toml").write_text("old = true\n")
    (tmp_path / "standards" / "ruff-new.toml").write_text("new = true\n")

    load_migrate().main(["rename", "standards/old/ruff.toml", "standards/ruff-new.toml"])

    assert not (tmp_path / "standards" / "old").exists(), "the emptied folder stayed"
    assert (tmp_path / "standards" / "ruff-new.toml").read_text() == "new = true\n"


def test_a_rename_migration_moves_the_file_when_the_update_did_not_write_the_new_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ruff-research.toml").write_text("ours = true\n")

    load_migrate().main(["rename", "ruff-research.toml", "standards/research/ruff.toml"])

    assert not (tmp_path / "ruff-research.toml").exists()
    assert (tmp_path / "standards" / "research" / "ruff.toml").read_text() == "ours = true\n"


# --- The READMEs a newcomer starts from ----------------------------------------------


def test_the_template_readme_clones_the_template_before_copying_from_it() -> None:
    readme = (REPO / "README.md").read_text()
    commands = "\n".join(re.findall(r"```bash\n(.*?)```", readme, flags=re.DOTALL))

    assert "git clone " in commands, "the README never shows the git clone"
    assert commands.index("git clone ") < commands.index("copier copy "), (
        "the README copies from a clone before it shows how to clone"
    )


@pytest.mark.parametrize("name", ["default", "py313"])
def test_both_readmes_say_uv_downloads_a_missing_python_and_how_to_answer_again(
    rendered: Mapping[str, Path], name: str
) -> None:
    for readme in (REPO / "README.md", rendered[name] / "README.md"):
        text = " ".join(readme.read_text().split())
        assert "uv downloads" in text, f"{readme} does not say uv downloads a missing Python"
        assert "copier update --data python_version=" in text, (
            f"{readme} does not say how to answer the Python question again"
        )


def test_without_tags_make_update_shows_what_the_changelog_gained_and_no_git_error(
    committed_project: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    """A mirror that dropped the release tags: Copier versions the commits (0.0.0.postN),
    says on every call that it found no tags, and the update takes HEAD."""
    project, env = committed_project
    repo = tmp_path / "mirror"
    repo.mkdir()
    commits = []
    for note in ("- The recorded version's note.", "- A note added since."):
        changelog = repo / "CHANGELOG.md"
        text = changelog.read_text() if commits else "# Changelog\n\n## Unreleased\n\n"
        changelog.write_text(f"{text}{note}\n")
        for command in (["init", "-q"], ["add", "-A"], ["commit", "-qm", note]):
            run(["git", *command], cwd=repo, env=env)
        commits.append(
            run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, env=env).stdout.strip()
        )
    answers_file = project / ".copier-answers.yml"
    answers_file.write_text(f"_commit: {commits[0]}\n{answers_file.read_text()}")
    set_source(project, env, str(repo))
    update = {
        "update_available": True,
        "current_version": f"0.0.0.post1.dev0+{commits[0]}",
        "latest_version": f"0.0.0.post2.dev0+{commits[1]}",
    }
    copier = tmp_path / "copier"
    copier.write_text(
        "#!/bin/sh\necho 'No git tags found in template; using HEAD as ref' >&2\n"
        f"[ \"$1\" = check-update ] && {{ echo '{json.dumps(update)}'; exit 0; }}\n"
        'echo "copier $1 ran"; exit 1\n'
    )
    copier.chmod(0o755)

    result = make_update(project, env, copier)

    said = result.stdout + result.stderr
    assert "## Unreleased\n\n- A note added since." in result.stdout, said
    assert "recorded version's note" not in result.stdout, "old news shown as new"
    assert "fatal:" not in said, f"a raw git error where the news should be:\n{said}"
    assert "No git tags found" not in said, f"Copier's note on tags is shown:\n{said}"
