"""The contract's references the change cannot move: every earlier committed snapshot
(read from git, whatever file the `snapshot` setting named) and the champion's contract.

Each test makes the sample project a real git repository and commits snapshots
into it. The sample contract (version 1.0.0) cannot change within a session, so
an earlier snapshot that had one more input column, `garden`, stands for a
contract the code now breaks: the column was removed.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import fitted, houses, manifest, write_pyproject

import sample_model.contracts
from handoff_kit import cli, config, gate, history, registry
from handoff_kit.compat import Reference, Snapshot, judge, may_record, write_snapshot
from handoff_kit.history import DEFAULT_SNAPSHOT, HistoryError, committed_snapshots
from handoff_kit.report import Result

BROKEN = "Features.garden: column removed (or renamed)"
CARD = "# Model card\n\nA test model.\n"


def git(root: Path, *args: str) -> str:
    """A git command in `root`, as a user with no global settings runs it."""
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Ada",
        "GIT_AUTHOR_EMAIL": "ada@example.com",
        "GIT_COMMITTER_NAME": "Ada",
        "GIT_COMMITTER_EMAIL": "ada@example.com",
    }
    return subprocess.run(
        ["git", *args], cwd=root, env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


def commit(root: Path, message: str) -> str:
    """Commit everything; the new commit's short hash."""
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "--short=7", "HEAD")


def with_garden(settings: config.Settings, version: str = "1.0.0") -> Snapshot:
    """The sample contract with one more required input column, at `version`."""
    snapshot: dict[str, Any] = copy.deepcopy(gate.current_contract(settings))
    columns = snapshot["schemas"]["Features"]["columns"]
    columns["garden"] = columns["rooms"]
    snapshot["version"] = version
    return snapshot


@pytest.fixture
def repo(project: Path) -> Path:
    """The sample project as a git repository with no commits yet."""
    git(project, "init", "-q", "-b", "main")
    return project


@pytest.fixture
def earlier(repo: Path, settings: config.Settings) -> str:
    """An earlier snapshot, with `garden`, committed at the default path; its commit."""
    write_snapshot(settings.snapshot, with_garden(settings))
    return commit(repo, "Record the contract with a garden")


def contract(settings: config.Settings) -> Result:
    return gate.contract_gate(settings)


def test_a_snapshot_deleted_and_recorded_again_still_fails_against_the_earlier_commit(
    earlier: str, repo: Path, settings: config.Settings
) -> None:
    settings.snapshot.unlink()
    write_snapshot(settings.snapshot, gate.current_contract(settings))
    commit(repo, "Remove the garden, record the snapshot again")

    result = contract(settings)

    assert not result.passed, "a re-recorded snapshot reset the contract's history"
    assert f"against package/contracts.lock.json@{earlier} (contract 1.0.0)" in (
        result.reason
    ), result.reason
    assert BROKEN in result.reason, "the reason does not name the change"
    assert result.reason.startswith("breaking change without a major version bump")
    assert "bump the major number (to 2.0.0)" in result.reason
    assert result.details == f"BREAKING    {BROKEN}"


def test_a_deleted_snapshot_fails_against_history_before_asking_for_a_new_one(
    earlier: str, settings: config.Settings
) -> None:
    settings.snapshot.unlink()

    result = contract(settings)

    assert not result.passed
    assert f"package/contracts.lock.json@{earlier}" in result.reason, result.reason


def test_a_merge_that_takes_the_snapshot_of_a_branch_from_before_keeps_both_sides(
    repo: Path, settings: config.Settings
) -> None:
    write_snapshot(settings.snapshot, gate.current_contract(settings))
    commit(repo, "1.0.0")
    git(repo, "branch", "before")
    write_snapshot(settings.snapshot, with_garden(settings))
    garden = commit(repo, "The garden, on main")
    git(repo, "checkout", "-q", "before")
    (repo / "notes.md").write_text("Work on a branch from before the garden.\n")
    commit(repo, "Work on the branch")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-commit", "before")
    git(repo, "checkout", "before", "--", DEFAULT_SNAPSHOT)
    commit(repo, "Merge, taking the branch's snapshot")

    result = contract(settings)

    assert not result.passed, "the merge hid main's side of the history"
    assert f"package/contracts.lock.json@{garden}" in result.reason, result.reason


def test_a_commit_replaced_by_git_replace_is_still_read_as_committed(
    earlier: str, repo: Path, settings: config.Settings
) -> None:
    write_snapshot(settings.snapshot, gate.current_contract(settings))
    commit(repo, "Remove the garden, record the snapshot again")
    tree = git(repo, "rev-parse", "HEAD^{tree}")
    innocent = git(repo, "commit-tree", tree, "-m", "Nothing to see")
    git(repo, "replace", git(repo, "rev-parse", earlier), innocent)
    assert "garden" not in git(repo, "show", f"{earlier}:{DEFAULT_SNAPSHOT}")

    result = contract(settings)

    assert not result.passed, "a replacement object hid the earlier snapshot"
    assert f"package/contracts.lock.json@{earlier}" in result.reason, result.reason


def test_the_snapshot_setting_pointed_at_a_fresh_file_fails_against_the_old_one(
    earlier: str, repo: Path
) -> None:
    write_pyproject(repo, snapshot="contracts/fresh.json")
    moved = config.load(repo)
    moved.snapshot.parent.mkdir()
    write_snapshot(moved.snapshot, gate.current_contract(moved))

    uncommitted = contract(moved)
    commit(repo, "A fresh snapshot")
    committed = contract(moved)

    for result in (uncommitted, committed):
        assert not result.passed, "re-pointing `snapshot` reset the contract's history"
        assert f"package/contracts.lock.json@{earlier}" in result.reason, result.reason


def test_every_file_the_setting_named_at_some_commit_is_a_reference(
    repo: Path, settings: config.Settings
) -> None:
    # The setting first names another file, which is recorded with the garden...
    write_pyproject(repo, snapshot="contracts/first.json")
    first = repo / "contracts/first.json"
    first.parent.mkdir()
    write_snapshot(first, with_garden(settings))
    recorded = commit(repo, "First snapshot")
    # ...then goes back to the default and the old file is deleted.
    write_pyproject(repo)
    first.unlink()
    write_snapshot(settings.snapshot, gate.current_contract(settings))
    commit(repo, "Back to the default path")

    result = contract(config.load(repo))

    assert not result.passed
    assert f"contracts/first.json@{recorded}" in result.reason, result.reason


def test_the_most_recently_committed_reference_is_named_first_across_files(
    earlier: str, repo: Path
) -> None:
    git(repo, "commit", "-q", "--amend", "--no-edit", "--date=2001-01-01T00:00:00")
    earlier = git(repo, "rev-parse", "--short=7", "HEAD")
    write_pyproject(repo, snapshot="a/later.json")
    later = config.load(repo)
    later.snapshot.parent.mkdir()
    write_snapshot(later.snapshot, with_garden(later, "1.1.0"))
    recorded = commit(repo, "A later snapshot, in a file named before the first")
    write_snapshot(later.snapshot, gate.current_contract(later))

    result = contract(later)

    assert f"against a/later.json@{recorded} (contract 1.1.0)" in result.reason
    assert "it breaks 1 other earlier reference too" in result.reason
    assert earlier not in result.reason


def test_a_renamed_snapshot_keeps_the_history_of_its_old_name(
    earlier: str, repo: Path
) -> None:
    git(repo, "mv", DEFAULT_SNAPSHOT, "package/contract.json")
    write_pyproject(repo, snapshot="package/contract.json")
    renamed = config.load(repo)
    write_snapshot(renamed.snapshot, gate.current_contract(renamed))
    commit(repo, "Rename the snapshot, and record it again")

    result = contract(renamed)

    assert not result.passed
    assert f"package/contracts.lock.json@{earlier}" in result.reason, result.reason


def test_a_project_moved_within_its_repository_follows_its_files_across_the_move(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, project: Path
) -> None:
    top = tmp_path / "monorepo"
    shutil.move(project, top / "first")
    git(top, "init", "-q", "-b", "main")
    first = config.load(top / "first")
    write_snapshot(first.snapshot, with_garden(first))
    recorded = commit(top, "The project, in its first folder")
    git(top, "mv", "first", "second")
    commit(top, "Move the project")
    moved = config.load(top / "second")
    monkeypatch.chdir(top / "second")
    write_snapshot(moved.snapshot, gate.current_contract(moved))
    commit(top, "Record the snapshot again")

    result = contract(moved)

    assert not result.passed, "the history stopped at the project's move"
    assert f"package/contracts.lock.json@{recorded}" in result.reason, result.reason


def test_earlier_snapshots_at_another_major_version_are_not_references(
    repo: Path, settings: config.Settings
) -> None:
    write_snapshot(settings.snapshot, with_garden(settings, version="0.9.0"))
    commit(repo, "The contract before 1.0.0")
    write_snapshot(settings.snapshot, gate.current_contract(settings))
    recorded = commit(repo, "1.0.0: the garden removed")

    result = contract(settings)

    assert result.passed, result.reason
    assert result.reason == (
        "contracts match their snapshot (version 1.0.0); no breaking change against "
        f"1 earlier reference at major version 1: package/contracts.lock.json@{recorded}"
    )


def test_a_major_version_going_back_below_a_committed_one_fails(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sample_model.contracts, "CONTRACT_VERSION", "0.9.0")
    older = config.load(repo)
    write_snapshot(older.snapshot, with_garden(older, "1.0.0"))
    recorded = commit(repo, "1.0.0, with a garden")
    # Going back to major 0 would leave major 1's snapshots out of the comparison.
    write_snapshot(older.snapshot, gate.current_contract(older))
    commit(repo, "0.9.0: the garden removed")

    result = contract(older)
    refused = may_record(None, gate.current_contract(older), committed(older))

    assert not result.passed
    assert result.reason == (
        "CONTRACT_VERSION 0.9.0 is older than 1.0.0, the version of "
        f"package/contracts.lock.json@{recorded}: versions only move forward, so set "
        "CONTRACT_VERSION to 1.x.y or later"
    )
    assert refused.reason == result.reason


def committed(settings: config.Settings) -> tuple[Reference, ...]:
    return committed_snapshots(settings.root, settings.snapshot).references


def test_a_documented_major_bump_passes_whatever_the_earlier_major_recorded(
    earlier: str, repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sample_model.contracts, "CONTRACT_VERSION", "2.0.0")
    assert cli.main(["snapshot"]) == 0, "recording a new major version was refused"
    commit(repo, "2.0.0: the garden removed")

    result = contract(config.load(repo))

    assert result.passed, result.reason
    assert result.reason.startswith("contracts match their snapshot (version 2.0.0)")


def test_a_compatible_history_passes_and_the_reason_names_what_it_was_compared_with(
    repo: Path, settings: config.Settings
) -> None:
    hashes: list[str] = []
    for _ in range(5):  # The same content, recorded again: read once.
        write_snapshot(settings.snapshot, gate.current_contract(settings))
        settings.snapshot.write_text(settings.snapshot.read_text() + " " * len(hashes))
        hashes.append(commit(repo, f"Record {len(hashes)}"))

    result = contract(settings)

    assert result.passed, result.reason
    assert "no breaking change against 5 earlier references at major version 1" in (
        result.reason
    )
    newest = ", ".join(f"package/contracts.lock.json@{h}" for h in hashes[::-1][:3])
    assert result.reason.endswith(f"{newest} and 2 more"), result.reason


def test_a_committed_file_that_is_not_a_snapshot_is_no_reference(
    repo: Path, settings: config.Settings
) -> None:
    settings.snapshot.parent.mkdir(parents=True, exist_ok=True)
    settings.snapshot.write_text("not json\n")
    commit(repo, "Something else at the snapshot's path")
    (settings.snapshot).write_text(json.dumps({"version": "one"}))
    commit(repo, "Not a snapshot either")

    assert committed_snapshots(repo, settings.snapshot).references == ()


def test_outside_a_git_repository_the_snapshot_file_alone_is_compared_and_said_so(
    settings: config.Settings,
) -> None:
    write_snapshot(settings.snapshot, gate.current_contract(settings))

    result = contract(settings)

    assert result.passed
    assert result.reason == (
        "contracts match their snapshot (version 1.0.0); not a git repository: "
        "no earlier snapshots, the snapshot file alone"
    )


def test_a_repository_with_no_commits_yet_compares_the_snapshot_file_alone(
    repo: Path, settings: config.Settings
) -> None:
    write_snapshot(settings.snapshot, gate.current_contract(settings))

    result = contract(settings)

    assert result.passed
    assert result.reason.endswith(
        "; no commits yet: no earlier snapshots, the snapshot file alone"
    )


def test_a_shallow_clone_compares_the_commits_it_holds_and_says_the_rest_are_missing(
    earlier: str,
    repo: Path,
    settings: config.Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    write_snapshot(settings.snapshot, gate.current_contract(settings))
    recorded = commit(repo, "Remove the garden, record the snapshot again")
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", "--depth", "1", repo.as_uri(), str(clone))
    monkeypatch.chdir(clone)

    result = contract(config.load(clone))

    assert result.passed, "the clone holds no commit with the garden"
    assert f"package/contracts.lock.json@{recorded}" in result.reason
    assert result.reason.endswith(
        "; a shallow clone: snapshots committed before its earliest commit are not "
        "compared (fetch the whole history: actions/checkout `fetch-depth: 0`, "
        "GitLab `GIT_DEPTH: 0`)"
    ), result.reason


def test_a_history_git_cannot_read_fails_the_row_in_one_line(
    earlier: str, repo: Path, settings: config.Settings
) -> None:
    objects = repo / ".git/objects"
    for folder in objects.iterdir():
        if len(folder.name) == 2:  # Loose objects' folders.
            shutil.rmtree(folder)

    result = contract(settings)

    assert not result.passed
    assert result.reason.startswith("cannot read the snapshot's git history: ")
    assert "\n" not in result.reason


def test_a_repository_git_refuses_to_read_fails_the_row_with_gits_reason(
    earlier: str, settings: config.Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_CONFIG_PARAMETERS", "'bogus")

    result = contract(settings)

    assert not result.passed, "a history git cannot read passed as no history"
    assert result.reason == (
        "cannot read the snapshot's git history: git cannot read the repository: "
        "unable to parse command-line config"
    )


def test_without_git_the_snapshot_file_alone_is_compared_and_said_so(
    earlier: str, settings: config.Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(settings.root / "no-programs-here"))

    result = contract(settings)

    assert not result.passed, "the snapshot file itself has the garden"
    assert committed_snapshots(settings.root, settings.snapshot).note == (
        "git is not installed: no earlier snapshots, the snapshot file alone"
    )


def test_settings_that_name_no_file_in_the_repository_fall_back_or_are_skipped(
    repo: Path, settings: config.Settings
) -> None:
    # Not TOML: the default path was the snapshot then.
    (repo / "pyproject.toml").write_text("[tool.handoff\n")
    write_snapshot(settings.snapshot, with_garden(settings))
    recorded = commit(repo, "A broken pyproject.toml")
    # A path outside the repository names nothing git holds.
    write_pyproject(repo, snapshot="../../outside.json")
    commit(repo, "A snapshot outside the repository")
    write_pyproject(repo)
    write_snapshot(settings.snapshot, gate.current_contract(settings))
    commit(repo, "Back to the default")

    names = [r.name for r in committed_snapshots(repo, settings.snapshot).references]

    assert f"package/contracts.lock.json@{recorded}" in names, names
    assert not [name for name in names if "outside" in name]


def test_a_git_walk_is_a_few_processes_whatever_the_number_of_commits(
    repo: Path, settings: config.Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    for number in range(30):
        write_snapshot(settings.snapshot, with_garden(settings, f"0.{number}.0"))
        commit(repo, f"Version 0.{number}.0")
    started = []
    run = subprocess.run

    def counted(*args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
        started.append(args[0])
        return run(*args, **kwargs)

    monkeypatch.setattr(subprocess, "run", counted)
    found = committed_snapshots(repo, settings.snapshot)

    assert len(found.references) == 30
    # rev-parse, the log and the content of pyproject.toml and of the snapshot.
    assert len(started) == 5, "\n".join(" ".join(command) for command in started)


def test_a_failing_git_log_is_a_history_error(
    earlier: str, repo: Path, settings: config.Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_DIR", str(repo / "missing"))
    monkeypatch.setattr("handoff_kit.history._locate", lambda root: ("", ""))
    with pytest.raises(HistoryError, match=r"`git log` of pyproject\.toml failed"):
        committed_snapshots(repo, settings.snapshot)


# --- Recording the snapshot -----------------------------------------------------


def test_recording_refuses_a_breaking_change_against_an_earlier_commit(
    earlier: str, settings: config.Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    settings.snapshot.unlink()

    assert cli.main(["snapshot"]) == 1

    said = capsys.readouterr().err
    assert "Refused: package/contracts.lock.json stays as it is." in said
    assert f"against package/contracts.lock.json@{earlier}" in said
    assert f"  - BREAKING    {BROKEN}" in said
    assert not settings.snapshot.exists(), "the refused snapshot was written"


def test_recording_a_compatible_change_over_history_is_accepted(
    repo: Path, settings: config.Settings
) -> None:
    write_snapshot(settings.snapshot, gate.current_contract(settings))
    commit(repo, "1.0.0")

    assert cli.main(["snapshot"]) == 0


def test_recording_refuses_when_git_cannot_read_the_history(
    earlier: str,
    settings: config.Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def unreadable(root: Path, snapshot: Path) -> None:
        msg = "`git cat-file` failed: broken"
        raise HistoryError(msg)

    monkeypatch.setattr(history, "committed_snapshots", unreadable)

    assert cli.main(["snapshot"]) == 1
    assert "cannot read the snapshot's git history: `git cat-file` failed" in (
        capsys.readouterr().err
    )


# --- Judging against references (compat) ---------------------------------------


def test_a_breaking_change_against_several_references_names_the_first_and_counts(
    settings: config.Settings,
) -> None:
    current = gate.current_contract(settings)
    references = [
        Reference("a.json@1111111", with_garden(settings)),
        Reference("b.json@2222222", with_garden(settings, "1.2.0")),
        Reference("c.json@3333333", with_garden(settings, "0.1.0")),
    ]

    verdict = judge(current, current, references)

    assert not verdict.passed
    assert "against a.json@1111111 (contract 1.0.0)" in verdict.reason
    assert "it breaks 1 other earlier reference too" in verdict.reason
    assert "c.json" not in verdict.reason


def test_a_breaking_change_against_the_snapshot_file_is_named_first(
    settings: config.Settings,
) -> None:
    current = gate.current_contract(settings)
    verdict = judge(
        with_garden(settings), current, [Reference("a.json@1", with_garden(settings))]
    )

    assert verdict.reason == (
        "breaking change without a major version bump (CONTRACT_VERSION 1.0.0): "
        "Features.garden"
    )


def test_recording_checks_the_references_when_the_snapshot_matches_too(
    settings: config.Settings,
) -> None:
    current = gate.current_contract(settings)
    refused = may_record(current, current, [Reference("a@1", with_garden(settings))])

    assert not refused.passed
    assert "against a@1 (contract 1.0.0)" in refused.reason
    assert may_record(current, current, [Reference("a@1", current)]).passed


# --- The champion's contract ----------------------------------------------------


def champion(settings: config.Settings, contract: Snapshot | None) -> None:
    """Register a version recording `contract` and make it the champion."""
    store = registry.open_registry(settings)
    version = store.register(
        fitted(), manifest(settings, contract=contract), CARD, houses(3)
    )
    store.promote(version, by="ada@example.com", at="2026-01-02T03:04:05+00:00")


def test_a_change_breaking_the_champions_contract_fails_naming_its_version(
    settings: config.Settings,
) -> None:
    write_snapshot(settings.snapshot, gate.current_contract(settings))
    champion(settings, with_garden(settings))

    result = contract(settings)

    assert not result.passed
    assert "against the champion (model version 1) (contract 1.0.0)" in result.reason
    assert BROKEN in result.reason


def test_the_champions_contract_kept_passes_and_one_not_recorded_is_said_so(
    settings: config.Settings,
) -> None:
    write_snapshot(settings.snapshot, gate.current_contract(settings))
    champion(settings, gate.current_contract(settings))

    kept = contract(settings)
    assert kept.passed, kept.reason
    assert "1 earlier reference at major version 1: the champion (model version 1)" in (
        kept.reason
    )

    champion(settings, None)
    unrecorded = contract(settings)
    assert unrecorded.passed, unrecorded.reason
    assert (
        "the champion (model version 2) recorded no contract (an older kit trained it)"
        in unrecorded.reason
    )


def test_an_unreadable_registry_fails_the_contract_row_in_one_line(
    settings: config.Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_snapshot(settings.snapshot, gate.current_contract(settings))

    def unreachable(settings: config.Settings) -> None:
        msg = "cannot reach the MLflow tracking server at http://x"
        raise registry.RegistryError(msg)

    monkeypatch.setattr(registry, "open_registry", unreachable)

    result = contract(settings)

    assert not result.passed
    assert result.reason == (
        "cannot read the champion's contract: cannot reach the MLflow tracking "
        "server at http://x"
    )
