"""The candidate gate and `handoff promote`, against the file registry."""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import MODEL_NAME, fitted, houses, manifest, write_pyproject

from handoff_kit import api, candidate, config, registry
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
        "no promotion-metric in [tool.handoff]: metrics not compared",
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
    assert (
        f"trained in another environment (lock sha256:aaaaaaaaaaaa, "
        f"the project's is {project[:19]})"
    ) in verdict.notes


# --- The gates ------------------------------------------------------------------


def test_without_a_candidate_both_candidate_gates_are_not_exercised(
    settings: config.Settings,
) -> None:
    assert candidate.candidate_gate(settings) == Result(
        "Registry candidate", True, NO_CANDIDATE, exercised=False
    )
    assert candidate.acceptance_gate(settings) == Result(
        "Acceptance on the candidate", True, NO_CANDIDATE, exercised=False
    )
    assert (
        NO_CANDIDATE == "not exercised: no candidate yet (`make train` registers one)"
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


# --- The promotion metric against the champion's -------------------------------


def guarding(
    project: Path, goal: str = "maximize", tolerance: float = 0.01
) -> config.Settings:
    write_pyproject(
        project,
        promotion_metric="auc",
        promotion_goal=goal,
        promotion_tolerance=tolerance,
    )
    return config.load(project)


def with_auc(settings: config.Settings, store: Registry, auc: float) -> ModelVersion:
    return register(settings, store, metrics={"auc": auc, "rows": 100.0})


@pytest.mark.parametrize(
    ("goal", "champion", "candidate", "verdict"),
    [
        ("maximize", 0.80, 0.795, "auc 0.795 against the champion's 0.8 (version 1), within the tolerance 0.01"),
        ("maximize", 0.80, 0.85, "auc 0.85 against the champion's 0.8 (version 1), within the tolerance 0.01"),
        ("minimize", 0.20, 0.205, "auc 0.205 against the champion's 0.2 (version 1), within the tolerance 0.01"),
    ],
    ids=["slightly-worse", "better", "loss-slightly-worse"],
)  # fmt: skip
def test_a_candidate_no_worse_than_the_champion_beyond_the_tolerance_passes(
    project: Path, goal: str, champion: float, candidate: float, verdict: str
) -> None:
    settings = guarding(project, goal)
    store = registry.open_registry(settings)
    first = with_auc(settings, store, champion)

    review_ = review(settings, with_auc(settings, store, candidate), first)

    assert review_.passed, review_.problems
    assert review_.notes[-1] == verdict


@pytest.mark.parametrize(
    ("goal", "champion", "candidate", "problem"),
    [
        ("maximize", 0.80, 0.5, "auc 0.5 against the champion's 0.8 (version 1): lower by 0.3, more than the tolerance 0.01 ([tool.handoff] promotion-tolerance)"),
        ("minimize", 0.10, 0.25, "auc 0.25 against the champion's 0.1 (version 1): higher by 0.15, more than the tolerance 0.01 ([tool.handoff] promotion-tolerance)"),
    ],
    ids=["constant-model", "loss-worse"],
)  # fmt: skip
def test_a_candidate_worse_than_the_champion_is_refused_naming_metric_values_and_tolerance(
    project: Path, goal: str, champion: float, candidate: float, problem: str
) -> None:
    settings = guarding(project, goal)
    store = registry.open_registry(settings)
    first = with_auc(settings, store, champion)

    verdict = review(settings, with_auc(settings, store, candidate), first)

    assert not verdict.passed
    assert verdict.problems == (problem,)


def test_the_tolerance_is_the_projects_to_set(project: Path) -> None:
    settings = guarding(project, tolerance=0.5)
    store = registry.open_registry(settings)
    first = with_auc(settings, store, 0.8)

    assert review(settings, with_auc(settings, store, 0.5), first).passed


def test_a_candidate_without_the_promotion_metric_is_refused_naming_what_it_recorded(
    project: Path,
) -> None:
    settings = guarding(project)
    store = registry.open_registry(settings)

    verdict = review(settings, register(settings, store))

    assert verdict.problems == (
        "it recorded no 'auc' metric (it recorded: brier_score): "
        "fix [tool.handoff] promotion-metric or the training's metrics",
    )


def test_without_a_champion_or_its_metric_the_candidate_is_not_compared(
    project: Path,
) -> None:
    settings = guarding(project)
    store = registry.open_registry(settings)
    old = register(settings, store)  # Recorded brier_score only.

    alone = review(settings, with_auc(settings, store, 0.7))
    against_old = review(settings, with_auc(settings, store, 0.7), old)

    assert alone.notes[-1] == "auc 0.7 (no champion to compare with)"
    assert (
        against_old.notes[-1] == "auc 0.7 (the champion recorded none to compare with)"
    )


def test_promote_refuses_a_candidate_worse_than_the_champion_and_the_champion_stays(
    project: Path, accepted: list[str], who: str
) -> None:
    settings = guarding(project)
    store = registry.open_registry(settings)
    with_auc(settings, store, 0.8)
    assert candidate.promote(settings, lambda _: None) == 0
    with_auc(settings, store, 0.5)
    said: list[str] = []

    assert candidate.promote(settings, said.append) == 1

    assert said[2] == (
        "  - auc 0.5 against the champion's 0.8 (version 1): lower by 0.3, "
        "more than the tolerance 0.01 ([tool.handoff] promotion-tolerance)"
    )
    champion = store.find(CHAMPION)
    assert champion is not None
    assert champion.version == "1"


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
    assert said[-2:] == [
        "Serve it over HTTP: make serve (the champion, on port 8000)",
        f"Or score a file: handoff predict --model models:/{MODEL_NAME}@champion --input FILE",
    ]
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


DIRTY_RISK = (
    "  - sample-model version 1 (candidate) was trained from uncommitted code (on "
    "commit 0123456789ab, with changes not in git): nobody can rebuild it. Commit, "
    "then `make train` again; or promote it anyway with `handoff promote "
    "--allow-dirty` (`make promote ALLOW_DIRTY=1`)."
)


def test_promote_refuses_a_candidate_from_uncommitted_code_without_allow_dirty(
    settings: config.Settings, store: Registry, accepted: list[str], who: str
) -> None:
    register(settings, store, git_commit="0123456789abcdef+dirty")
    said: list[str] = []

    assert candidate.promote(settings, said.append) == 1

    assert said == ["Refused: the champion stays none.", DIRTY_RISK]
    assert accepted == [], "the scenarios ran before the refusal"
    assert store.find(CHAMPION) is None


def test_allow_dirty_promotes_it_saying_so_out_loud(
    settings: config.Settings, store: Registry, accepted: list[str], who: str
) -> None:
    register(settings, store, git_commit="0123456789abcdef+dirty")
    said: list[str] = []

    assert candidate.promote(settings, said.append, frozenset({"--allow-dirty"})) == 0

    assert said[0] == (
        "Promoting anyway (--allow-dirty): sample-model version 1 (candidate) was "
        "trained from uncommitted code (on commit 0123456789ab, with changes not in "
        "git): nobody can rebuild it. Commit, then `make train` again."
    )
    champion = store.find(CHAMPION)
    assert champion is not None
    assert champion.version == "1"


def test_moving_the_champion_to_another_major_contract_needs_allow_major(
    settings: config.Settings, store: Registry, accepted: list[str], who: str
) -> None:
    old = register(settings, store, contract_version="0.9.0")
    store.promote(old, by=who, at="2026-01-01T00:00:00+00:00")
    register(settings, store)  # Under the code's contract, 1.0.0.
    said: list[str] = []

    assert candidate.promote(settings, said.append) == 1

    assert said == [
        "Refused: the champion stays version 1.",
        "  - the champion would move from contract 0.9.0 to 1.0.0, another major "
        "version: whoever calls the champion breaks. Tell them first; or promote it "
        "anyway with `handoff promote --allow-major` (`make promote ALLOW_MAJOR=1`).",
    ]

    said.clear()
    assert candidate.promote(settings, said.append, frozenset({"--allow-major"})) == 0
    assert said[0].startswith(
        "Promoting anyway (--allow-major): the champion would move"
    )
    champion = store.find(CHAMPION)
    assert champion is not None
    assert champion.version == "2"


def test_a_minor_contract_move_and_a_clean_commit_need_no_flag(
    settings: config.Settings, store: Registry, accepted: list[str], who: str
) -> None:
    old = register(settings, store, contract_version="1.0.0")
    store.promote(old, by=who, at="2026-01-01T00:00:00+00:00")
    new = register(settings, store, contract_version="1.1.0")

    assert candidate.risks(new, store.find(CHAMPION)) == {}


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


# --- The API the candidate would serve, against the champion's ---------------------


def served_api(
    settings: config.Settings, version: str = "1.0.0", **checks: object
) -> dict[str, Any]:
    """The API the sample contract serves, with the request's `rooms` checks changed."""
    described = copy.deepcopy(api.served_contract(settings.contract))
    described["version"] = version
    described["schemas"]["request"]["columns"]["rooms"]["checks"] |= checks
    return described


def champion_and_candidate(
    settings: config.Settings,
    store: Registry,
    before: dict[str, Any],
    after: dict[str, Any],
) -> tuple[ModelVersion, ModelVersion]:
    champion = register(settings, store, api=before)
    store.promote(champion, by="ada@example.com", at="2026-01-02T03:04:05+00:00")
    return store.get(champion.version), register(settings, store, api=after)


def test_a_candidate_serving_the_champions_api_says_so(
    settings: config.Settings, store: Registry
) -> None:
    same = served_api(settings)
    champion, version = champion_and_candidate(settings, store, same, same)

    verdict = review(settings, version, champion)

    assert verdict.passed
    assert "it serves the same API as the champion (version 1)" in verdict.notes
    assert (
        "serves the same API as the champion"
        in candidate.candidate_gate(settings).reason
    )


def test_a_breaking_api_change_at_the_champions_major_version_is_refused(
    settings: config.Settings, store: Registry
) -> None:
    tightened = served_api(settings, "1.1.0", greater_than_or_equal_to={"min_value": 1})
    champion, version = champion_and_candidate(
        settings, store, served_api(settings), tightened
    )

    verdict = review(settings, version, champion)

    assert not verdict.passed
    assert verdict.problems == (
        "it would serve an API that breaks the champion's (version 1) consumers "
        "without a major contract version (1.0.0 -> 1.1.0): request.rooms",
    )
    assert not candidate.candidate_gate(settings).passed


def test_a_breaking_api_change_with_a_major_version_is_announced_not_refused(
    settings: config.Settings, store: Registry
) -> None:
    tightened = served_api(settings, "2.0.0", greater_than_or_equal_to={"min_value": 1})
    champion, version = champion_and_candidate(
        settings, store, served_api(settings), tightened
    )

    notes = candidate.api_review(version, champion)

    assert notes == (
        [],
        [
            "it serves a new major API (contract 1.0.0 -> 2.0.0), breaking for the "
            "champion's consumers: request.rooms"
        ],
    )


def test_a_compatible_api_change_is_listed(
    settings: config.Settings, store: Registry
) -> None:
    loosened = served_api(settings, "1.1.0", greater_than_or_equal_to={"min_value": -1})
    champion, version = champion_and_candidate(
        settings, store, served_api(settings), loosened
    )

    _, [note] = candidate.api_review(version, champion)

    assert note.startswith(
        "it serves the champion's API with compatible changes: request.rooms "
        "(check greater_than_or_equal_to loosened"
    )


def test_a_champion_without_a_recorded_api_is_not_compared(
    settings: config.Settings, store: Registry
) -> None:
    champion = register(settings, store)
    version = register(settings, store, api=served_api(settings))

    assert candidate.api_review(version, champion) == (
        [],
        [
            "the champion recorded no API (an older kit trained it): the APIs were not compared"
        ],
    )
    assert candidate.api_review(version, None) == ([], [])
    assert candidate.api_review(version, version) == ([], [])


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
