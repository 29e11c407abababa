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

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from handoff_kit import registry
from handoff_kit.compat import SEMVER, major
from handoff_kit.config import Settings
from handoff_kit.registry import CANDIDATE, CHAMPION, ModelVersion, Scorer
from handoff_kit.registry.records import contract_signature, lock_hash, who
from handoff_kit.report import Result, run_command

# The acceptance scenarios load the model this variable names (see their steps).
MODEL_URI_VARIABLE = "HANDOFF_MODEL_URI"
NO_CANDIDATE = "no candidate yet (information only): `make train` registers one"


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
        return Result(title, True, NO_CANDIDATE)
    verdict = review(settings, candidate)
    return Result(title, verdict.passed, str(verdict))


def acceptance_gate(settings: Settings) -> Result:
    candidate = registry.open_registry(settings).find(CANDIDATE)
    if candidate is None:
        return Result("Acceptance on the candidate", True, NO_CANDIDATE)
    return acceptance(settings, candidate)


def promote(settings: Settings, say: Callable[[str], None] = print) -> int:
    """Move `champion` to the candidate if it passes the gate; return the exit status."""
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
    say(f"Checking {candidate} against the contract and the acceptance scenarios.")
    verdict = review(settings, candidate)
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
