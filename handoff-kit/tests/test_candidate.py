"""The candidate gate and `handoff promote`, against the file registry."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from conftest import MODEL_NAME, fitted, houses, manifest

from handoff_kit import candidate, config, registry
from handoff_kit.candidate import NO_CANDIDATE, acceptance_command, review
from handoff_kit.registry import CHAMPION, ModelVersion, Registry
from handoff_kit.registry.records import Signature, lock_hash
from handoff_kit.report import Result

EXAMPLE = houses(3).drop(columns="sold")


@pytest.fixture
def store(settings: config.Settings) -> Registry:
    return registry.open_registry(settings)


def register(
    settings: config.Settings, store: Registry, **changes: object
) -> ModelVersion:
    """A version trained with the project's lock, with `changes` to its records."""
    recorded = manifest(settings, **{"lock_hash": lock_hash(settings.lock), **changes})
    return store.register(fitted(), recorded, "# Card\n", EXAMPLE)


@pytest.fixture
def accepted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The acceptance scenarios pass (without running them); the URIs they ran on."""
    ran: list[str] = []

    def passing(settings: config.Settings, version: ModelVersion) -> Result:
        ran.append(version.uri)
        return Result(
            "Acceptance on the candidate", True, f"scenarios pass against {version.uri}"
        )

    monkeypatch.setattr(candidate, "acceptance", passing)
    return ran


@pytest.fixture
def who(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(candidate, "who", lambda: "ada@example.com")
    return "ada@example.com"


# --- Reviewing a candidate ------------------------------------------------------


def test_a_candidate_trained_under_this_contract_and_lock_passes_with_notes(
    settings: config.Settings, store: Registry
) -> None:
    verdict = review(settings, register(settings, store, contract_version="1.4.2"))

    assert verdict.passed
    assert verdict.problems == ()
    assert verdict.notes == (
        "contract 1.4.2 is compatible with the code's 1.0.0",
        "its signature matches the contract schemas",
        "trained with the project's environment lock",
    )
    assert str(verdict) == f"{MODEL_NAME} version 1 (candidate): " + "; ".join(
        verdict.notes
    )


@pytest.mark.parametrize("recorded", ["2.0.0", "0.9.0", "none"])
def test_a_candidate_from_another_major_contract_version_is_refused(
    settings: config.Settings, store: Registry, recorded: str
) -> None:
    verdict = review(settings, register(settings, store, contract_version=recorded))

    assert not verdict.passed
    assert verdict.problems == (
        f"trained under contract {recorded}, incompatible with the code's 1.0.0 "
        "(another major version): retrain it with `make train`",
    )


def test_a_candidate_whose_signature_differs_from_the_contract_is_refused(
    settings: config.Settings, store: Registry
) -> None:
    signature = Signature(
        inputs=(("rooms", "long", True), ("area", "double", False)),
        outputs=(("score", "double", True),),
    )

    verdict = review(settings, register(settings, store, signature=signature))

    assert verdict.problems == (
        "its signature differs from the contract schemas: "
        "input kind (string) is not in the model; "
        "input area (double, optional) is not in the contract",
    )


def test_a_candidate_trained_in_another_environment_is_reported_not_refused(
    settings: config.Settings, store: Registry
) -> None:
    version = register(settings, store, lock_hash="sha256:" + "a" * 64)

    verdict = review(settings, version)

    assert verdict.passed
    project = lock_hash(settings.lock)
    assert verdict.notes[-1] == (
        f"trained in another environment (lock sha256:aaaaaaaaaaaa, "
        f"the project's is {project[:19]})"
    )


# --- The gates ------------------------------------------------------------------


def test_without_a_candidate_both_candidate_gates_pass_for_information(
    settings: config.Settings,
) -> None:
    assert candidate.candidate_gate(settings) == Result(
        "Registry candidate", True, NO_CANDIDATE
    )
    assert candidate.acceptance_gate(settings) == Result(
        "Acceptance on the candidate", True, NO_CANDIDATE
    )


def test_the_candidate_gate_reports_the_review(
    settings: config.Settings, store: Registry
) -> None:
    register(settings, store)
    assert candidate.candidate_gate(settings).passed

    register(settings, store, contract_version="2.0.0")
    failed = candidate.candidate_gate(settings)

    assert not failed.passed
    assert failed.reason.startswith(
        f"{MODEL_NAME} version 2 (candidate): trained under contract 2.0.0"
    )


def test_the_acceptance_scenarios_run_with_pytest_without_the_coverage_floor(
    settings: config.Settings,
) -> None:
    assert acceptance_command(settings) == (
        sys.executable, "-m", "pytest", "package/tests/acceptance",
        "--no-cov", "-q", "-p", "no:cacheprovider",
    )  # fmt: skip


def test_the_acceptance_scenarios_run_against_the_candidate_from_the_registry(
    settings: config.Settings, store: Registry
) -> None:
    version = register(settings, store)

    result = candidate.acceptance_gate(settings)

    assert result == Result(
        "Acceptance on the candidate", True, f"scenarios pass against {version.uri}"
    )


def test_failing_acceptance_scenarios_fail_with_pytests_words(
    settings: config.Settings, store: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    version = register(settings, store)
    runs: list[dict[str, str] | None] = []

    def failing(
        title: str,
        command: object,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> Result:
        runs.append(env)
        return Result(
            title,
            False,
            "`python -m pytest` failed: 1 failed in 0.01s",
            "E   assert 0.7 < 0.5",
        )

    monkeypatch.setattr(candidate, "run_command", failing)

    result = candidate.acceptance_gate(settings)

    assert runs == [{"HANDOFF_MODEL_URI": version.uri}]
    assert result == Result(
        "Acceptance on the candidate", False,
        "`python -m pytest` failed: 1 failed in 0.01s", "E   assert 0.7 < 0.5",
    )  # fmt: skip


# --- Promotion ------------------------------------------------------------------


def test_promote_needs_a_candidate(settings: config.Settings) -> None:
    said: list[str] = []

    assert candidate.promote(settings, said.append) == 1
    assert said == [
        "Nothing to promote: there is no candidate. `make train` registers one."
    ]


def test_promote_moves_the_champion_to_a_candidate_that_passes(
    settings: config.Settings, store: Registry, accepted: list[str], who: str
) -> None:
    version = register(settings, store)
    said: list[str] = []

    assert candidate.promote(settings, said.append) == 0

    champion = store.find(CHAMPION)
    assert champion is not None
    assert champion.version == version.version
    assert accepted == [version.uri]
    [promotion] = store.promotions()
    assert promotion.version == "1"
    assert promotion.by == who
    assert said[:2] == [
        f"Checking {version} against the contract and the acceptance scenarios.",
        f"Promoted {MODEL_NAME} version 1 to champion (was none).",
    ]
    assert (
        said[-1]
        == f"Serve it: handoff predict --model models:/{MODEL_NAME}@champion --input FILE"
    )
    assert f"  version 1  {promotion.at}  by {who}" in said


def test_promoting_the_champion_again_does_nothing(
    settings: config.Settings, store: Registry, accepted: list[str], who: str
) -> None:
    register(settings, store)
    assert candidate.promote(settings, lambda _: None) == 0
    said: list[str] = []

    assert candidate.promote(settings, said.append) == 0

    assert said == [
        f"{MODEL_NAME} version 1 (candidate, champion) is already the champion: nothing to do."
    ]
    assert len(store.promotions()) == 1


def test_promote_refuses_an_incompatible_candidate_and_the_champion_stays(
    settings: config.Settings, store: Registry, accepted: list[str], who: str
) -> None:
    register(settings, store)
    assert candidate.promote(settings, lambda _: None) == 0
    register(settings, store, contract_version="0.9.0")
    said: list[str] = []

    assert candidate.promote(settings, said.append) == 1

    assert (
        said[1]
        == f"Refused: the champion stays version 1. {MODEL_NAME} version 2 (candidate) cannot be promoted:"
    )
    assert said[2].startswith(
        "  - trained under contract 0.9.0, incompatible with the code's 1.0.0"
    )
    champion = store.find(CHAMPION)
    assert champion is not None
    assert champion.version == "1"


def test_promote_refuses_a_candidate_that_fails_its_acceptance_scenarios(
    settings: config.Settings, store: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        candidate,
        "acceptance",
        lambda settings, version: Result(
            "Acceptance", False, "`pytest` failed: 1 failed", "E   assert 0.7 < 0.5"
        ),
    )
    register(settings, store)
    said: list[str] = []

    assert candidate.promote(settings, said.append) == 1

    assert said[1:] == [
        f"Refused: the champion stays none. {MODEL_NAME} version 1 (candidate) cannot be promoted:",
        "  - `pytest` failed: 1 failed",
        "E   assert 0.7 < 0.5",
    ]
    assert store.find(CHAMPION) is None


def test_promotions_are_signed_by_the_git_user_or_else_the_login(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text("[user]\n\temail = ada@example.com\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.chdir(tmp_path)
    assert candidate.who() == "ada@example.com"

    monkeypatch.setenv("LOGNAME", "bob")
    gitconfig.write_text("")
    assert candidate.who() == "bob"

    monkeypatch.setenv("PATH", str(tmp_path / "no-git-here"))
    assert candidate.who() == "bob"


def test_the_suggested_command_is_the_handoff_that_runs_relative_to_the_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(
        sys, "argv", [str(tmp_path / ".venv" / "bin" / "handoff"), "promote"]
    )
    assert candidate.command() == ".venv/bin/handoff"

    monkeypatch.setattr(sys, "argv", ["/opt/app/bin/handoff", "promote"])
    assert candidate.command() == "/opt/app/bin/handoff", "a path outside the project"

    monkeypatch.setattr(sys, "argv", ["handoff", "promote"])
    assert candidate.command() == "handoff", "found on PATH"
