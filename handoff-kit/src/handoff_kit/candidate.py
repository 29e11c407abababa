"""The candidate gate: may the registry's candidate become the champion?

A candidate passes when
- it was trained under a contract version with the code's major version,
- its recorded signature is the contract's (the schemas' columns and types),
- the acceptance scenarios pass against the model loaded from the registry.
An environment lock other than the project's is reported, not refused: the
model may have been trained on another machine, and the report says so.
`handoff gate` reports it; `handoff promote` moves `champion` only if it passes.
"""

from __future__ import annotations

import getpass
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from handoff_kit import registry
from handoff_kit.compat import SEMVER, major
from handoff_kit.config import Settings
from handoff_kit.registry import CANDIDATE, CHAMPION, ModelVersion, Scorer
from handoff_kit.registry.records import contract_signature, lock_hash
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


def review(settings: Settings, version: ModelVersion) -> Review:
    """Compare what `version` recorded with the code's contract and lock."""
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
    return Review(version, tuple(problems), tuple(notes))


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
    candidate = registry.open_registry(settings).find(CANDIDATE)
    if candidate is None:
        return Result(title, True, NO_CANDIDATE, exercised=False)
    verdict = review(settings, candidate)
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
    verdict = review(settings, candidate)
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
    say(f"Serve it: handoff predict --model models:/{name}@{CHAMPION} --input FILE")
    return 0


def who() -> str:
    """Who promotes: the git user's email, else the login name."""
    try:
        # git from PATH, as make finds it.
        email = subprocess.run(
            ["git", "config", "user.email"],  # noqa: S607
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        email = ""
    return email or getpass.getuser()
