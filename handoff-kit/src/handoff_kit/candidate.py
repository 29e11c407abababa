"""The candidate gate: may the registry's candidate become the champion?

A candidate passes when
- it was trained under a contract version with the code's major version,
- its recorded signature is the contract's (the schemas' columns and types),
- the acceptance scenarios pass against the model loaded from the registry,
- its held-out promotion metric is no worse than the champion's beyond the
  project's tolerance ([tool.handoff] promotion-metric, -goal, -tolerance).
An environment lock other than the project's is reported, not refused: the
model may have been trained on another machine, and the report says so.
`handoff gate` reports it; `handoff promote` moves `champion` only if it passes.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from handoff_kit import registry
from handoff_kit.compat import SEMVER, compare, major
from handoff_kit.config import Settings
from handoff_kit.registry import CANDIDATE, CHAMPION, ModelVersion, Scorer
from handoff_kit.registry.records import contract_signature, lock_hash, who
from handoff_kit.report import Result, run_command

# The acceptance scenarios load the model this variable names (see their steps).
MODEL_URI_VARIABLE = "HANDOFF_MODEL_URI"
# The flags of `handoff promote` that accept a risk, and the make variables that pass them.
ALLOW_DIRTY = "--allow-dirty"
ALLOW_MAJOR = "--allow-major"
MAKE_FLAGS = {ALLOW_DIRTY: "ALLOW_DIRTY=1", ALLOW_MAJOR: "ALLOW_MAJOR=1"}
DIRTY = "+dirty"  # What records.git_commit adds for uncommitted changes.
NO_CANDIDATE = "not exercised: no candidate yet (`make train` registers one)"


@dataclass(frozen=True)
class Review:
    """What the gate found: problems refuse the candidate, notes only inform."""

    version: ModelVersion
    problems: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        return f"{self.version}: " + "; ".join([*self.problems, *self.notes])


def candidate_under_test(settings: Settings | None = None) -> Scorer | None:
    """The registry model HANDOFF_MODEL_URI names, for the acceptance scenarios:
    the gate and `promote` set it to the candidate; None when it is unset."""
    uri = os.environ.get(MODEL_URI_VARIABLE)
    return registry.load(uri, settings) if uri else None


def acceptance_command(settings: Settings) -> tuple[str, ...]:
    """pytest on the acceptance scenarios, without the coverage floor."""
    folder = str(settings.acceptance.relative_to(settings.root))
    return (
        sys.executable,
        "-m",
        "pytest",
        folder,
        "--no-cov",
        "-q",
        "-p",
        "no:cacheprovider",
    )


def review(
    settings: Settings, version: ModelVersion, champion: ModelVersion | None = None
) -> Review:
    """Compare what `version` recorded with the code's contract and lock, and the
    API it would serve and its promotion metric with the champion's."""
    contract_version = settings.contract.version
    expected = contract_signature(settings.contract)
    project_lock = lock_hash(settings.lock)
    problems, notes = [], []
    recorded = version.manifest.contract_version
    if not SEMVER.match(recorded) or major(recorded) != major(contract_version):
        problems.append(
            f"trained under contract {recorded}, incompatible with the code's "
            f"{contract_version} (another major version): retrain it with `make train`"
        )
    else:
        notes.append(
            f"contract {recorded} is compatible with the code's {contract_version}"
        )
    differences = version.manifest.signature.differences(expected)
    if differences:
        problems.append(
            "its signature differs from the contract schemas: " + "; ".join(differences)
        )
    else:
        notes.append("its signature matches the contract schemas")
    if version.manifest.lock_hash == project_lock:
        notes.append("trained with the project's environment lock")
    else:
        notes.append(
            f"trained in another environment (lock {_short(version.manifest.lock_hash)}, "
            f"the project's is {_short(project_lock)})"
        )
    api_problems, api_notes = api_review(version, champion)
    problems += api_problems
    notes += api_notes
    problem, note = compare_metric(settings, version, champion)
    (problems if problem else notes).append(problem or note)
    return Review(version, tuple(problems), tuple(notes))


def api_review(
    version: ModelVersion, champion: ModelVersion | None
) -> tuple[list[str], list[str]]:
    """(problems, notes): would `version` serve the champion's API? The API is derived
    from the contract, so the contract's breaking/compatible rules classify its changes."""
    if champion is None or champion.version == version.version:
        return [], []
    before, after = champion.manifest.api, version.manifest.api
    if before is None or after is None:
        which = "the champion" if before is None else "the candidate"
        note = f"{which} recorded no API (an older kit trained it): the APIs were not compared"
        return [], [note]
    changes = compare(dict(before), dict(after))
    breaking = [str(change.where) for change in changes if change.breaking]
    old, new = str(before["version"]), str(after["version"])
    if breaking and major(new) <= major(old):
        problem = (
            f"it would serve an API that breaks the champion's (version {champion.version}) "
            f"consumers without a major contract version ({old} -> {new}): "
            + ", ".join(breaking)
        )
        return [problem], []
    if breaking:
        note = (
            f"it serves a new major API (contract {old} -> {new}), breaking for the "
            f"champion's consumers: {', '.join(breaking)}"
        )
    elif changes:
        listed = ", ".join(f"{change.where} ({change.what})" for change in changes)
        note = f"it serves the champion's API with compatible changes: {listed}"
    else:
        note = f"it serves the same API as the champion (version {champion.version})"
    return [], [note]


def compare_metric(
    settings: Settings, version: ModelVersion, champion: ModelVersion | None
) -> tuple[str, str]:
    """(problem, note): a problem when `version` is worse than `champion` on the
    promotion metric by more than the tolerance, or did not record it."""
    metric, goal = settings.promotion_metric, settings.promotion_goal
    tolerance = settings.promotion_tolerance
    if not metric:
        return "", "no promotion-metric in [tool.handoff]: metrics not compared"
    value = version.manifest.metrics.get(metric)
    if value is None:
        recorded = ", ".join(sorted(version.manifest.metrics)) or "none"
        return (
            f"it recorded no {metric!r} metric (it recorded: {recorded}): "
            "fix [tool.handoff] promotion-metric or the training's metrics",
            "",
        )
    if champion is None or champion.version == version.version:
        return "", f"{metric} {value:.4g} (no champion to compare with)"
    best = champion.manifest.metrics.get(metric)
    if best is None:
        return "", f"{metric} {value:.4g} (the champion recorded none to compare with)"
    loss = best - value if goal == "maximize" else value - best
    both = f"{metric} {value:.4g} against the champion's {best:.4g} (version {champion.version})"
    if loss > tolerance:
        direction = "lower" if goal == "maximize" else "higher"
        return (
            f"{both}: {direction} by {loss:.4g}, more than the tolerance "
            f"{tolerance:g} ([tool.handoff] promotion-tolerance)",
            "",
        )
    return "", f"{both}, within the tolerance {tolerance:g}"


def _short(lock: str) -> str:
    return lock[: len("sha256:") + 12]


def acceptance(settings: Settings, version: ModelVersion) -> Result:
    """The acceptance scenarios, run against `version` loaded from the registry."""
    title = "Acceptance on the candidate"
    result = run_command(
        title,
        acceptance_command(settings),
        env={MODEL_URI_VARIABLE: version.uri},
        cwd=settings.root,
    )
    reason = f"scenarios pass against {version.uri}" if result.passed else result.reason
    return Result(title, result.passed, reason, result.details)


def candidate_gate(settings: Settings) -> Result:
    title = "Registry candidate"
    store = registry.open_registry(settings)
    candidate = store.find(CANDIDATE)
    if candidate is None:
        return Result(title, True, NO_CANDIDATE, exercised=False)
    verdict = review(settings, candidate, store.find(CHAMPION))
    return Result(title, verdict.passed, str(verdict))


def acceptance_gate(settings: Settings) -> Result:
    candidate = registry.open_registry(settings).find(CANDIDATE)
    if candidate is None:
        return Result(
            "Acceptance on the candidate", True, NO_CANDIDATE, exercised=False
        )
    return acceptance(settings, candidate)


def risks(candidate: ModelVersion, champion: ModelVersion | None) -> dict[str, str]:
    """What promoting `candidate` puts at risk, by the flag that accepts it: a model
    trained from uncommitted code, or a champion moving to another major contract
    version (its callers break)."""
    found = {}
    if candidate.manifest.git_commit.endswith(DIRTY):
        commit = candidate.manifest.git_commit.removesuffix(DIRTY)[:12]
        found[ALLOW_DIRTY] = (
            f"{candidate} was trained from uncommitted code (on commit {commit}, with "
            "changes not in git): nobody can rebuild it. Commit, then `make train` again"
        )
    if champion is not None:
        before = champion.manifest.contract_version
        after = candidate.manifest.contract_version
        if (
            SEMVER.match(before)
            and SEMVER.match(after)
            and major(before) != major(after)
        ):
            found[ALLOW_MAJOR] = (
                f"the champion would move from contract {before} to {after}, another "
                "major version: whoever calls the champion breaks. Tell them first"
            )
    return found


def promote(
    settings: Settings,
    say: Callable[[str], None] = print,
    allowed: frozenset[str] = frozenset(),
) -> int:
    """Move `champion` to the candidate if it passes the gate; return the exit status.

    `allowed` holds the flags (ALLOW_DIRTY, ALLOW_MAJOR) that accept a risk out loud.
    """
    store = registry.open_registry(settings)
    candidate = store.find(CANDIDATE)
    if candidate is None:
        say("Nothing to promote: there is no candidate. `make train` registers one.")
        return 1
    champion = store.find(CHAMPION)
    was = f"version {champion.version}" if champion else "none"
    if champion is not None and champion.version == candidate.version:
        say(f"{candidate} is already the champion: nothing to do.")
        return 0
    verdict = review(settings, candidate, champion)
    at_risk = risks(candidate, champion)
    refused = {flag: risk for flag, risk in at_risk.items() if flag not in allowed}
    if refused and verdict.passed:
        say(f"Refused: the champion stays {was}.")
        for flag, risk in refused.items():
            say(
                f"  - {risk}; or promote it anyway with `handoff promote {flag}` "
                f"(`make promote {MAKE_FLAGS[flag]}`)."
            )
        return 1
    for flag, risk in at_risk.items():
        if flag in allowed:
            say(f"Promoting anyway ({flag}): {risk}.")
    say(f"Checking {candidate} against the contract and the acceptance scenarios.")
    accepted = acceptance(settings, candidate)
    problems = [*verdict.problems, *([] if accepted.passed else [accepted.reason])]
    if problems:
        say(f"Refused: the champion stays {was}. {candidate} cannot be promoted:")
        say("\n".join(f"  - {problem}" for problem in problems))
        if accepted.details:
            say(accepted.details)
        return 1
    store.promote(
        candidate, by=who(), at=datetime.now(UTC).isoformat(timespec="seconds")
    )
    name = settings.model_name
    say(f"Promoted {name} version {candidate.version} to champion (was {was}).")
    say("\n".join(f"  - {note}" for note in verdict.notes))
    say("Champions so far (oldest first):")
    for promotion in store.promotions():
        say(f"  version {promotion.version}  {promotion.at}  by {promotion.by}")
    say("Serve it over HTTP: make serve (the champion, on port 8000)")
    say(
        f"Or score a file: {command()} predict --model models:/{name}@{CHAMPION} --input FILE"
    )
    return 0


def command() -> str:
    """How to run `handoff` again from here. The project's environment need not be
    on PATH (the tasks find it through uv), so: the program running now, relative
    to the working directory when under it (`.venv/bin/handoff`)."""
    program = Path(sys.argv[0])
    if program.name != "handoff" or os.sep not in sys.argv[0]:
        return "handoff"  # Found on PATH, or not run as the `handoff` command.
    path = Path.cwd() / program  # An absolute `program` stays as it is.
    if path.is_relative_to(Path.cwd()):
        return str(path.relative_to(Path.cwd()))
    return str(path)
