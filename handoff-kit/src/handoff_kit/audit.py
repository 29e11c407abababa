"""`handoff audit`: the locked packages against known vulnerabilities.

    handoff audit [--uv COMMAND] [--service-url URL] [--no-index]

uv reads the lock (`uv audit --frozen`) and asks an OSV service (osv.dev, or
`--service-url`) about every package and version in it, and the package index
about each project's status (quarantined, archived; `--no-index` skips that). Each advisory found
fails the audit with one line naming the package and its locked version, the
advisory (and its aliases, e.g. the CVE), and the versions that fix it.

An advisory the team cannot fix yet is ignored in pyproject.toml, with a reason
and an expiry date; the ignore matches the advisory's id or any of its aliases:

    [tool.handoff.audit.ignore."GHSA-xxxx-xxxx-xxxx"]
    reason = "we never pass untrusted input to the affected function"
    expires = 2027-03-01

An ignore without its reason or date, or one past its date, fails the audit
whatever uv finds: the advisory is looked at again, and fixed or ignored anew.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from handoff_kit.config import PYPROJECT, ConfigError, read_toml

TABLE = "[tool.handoff.audit.ignore]"
IGNORE_FIELDS = ("reason", "expires")
# uv's audit is a preview feature in uv 0.13: this says we know, without the warning.
UV_AUDIT = ("audit", "--frozen", "--output-format", "json")
UV_PREVIEW = ("--preview-features", "audit-command,json-output")
UV_PREFIXES = ("error:", "cause:", "hint:", "warning:")
EXAMPLE = 'reason = "..." and expires = 2027-03-01'

Runner = Callable[..., "subprocess.CompletedProcess[str]"]


class AuditError(Exception):
    """The audit could not run (uv missing, the service unreachable); one line."""


@dataclass(frozen=True)
class Ignore:
    """An advisory let through, with why and until when."""

    advisory: str
    reason: str
    expires: date

    def __str__(self) -> str:
        return f"{self.advisory} (until {self.expires}: {self.reason})"


@dataclass(frozen=True)
class Vulnerability:
    """One advisory for one locked package, as uv reports it."""

    package: str
    version: str
    advisory: str
    aliases: tuple[str, ...] = ()
    summary: str = ""
    fixed: tuple[str, ...] = ()

    def __str__(self) -> str:
        aliases = f" ({', '.join(self.aliases)})" if self.aliases else ""
        summary = f": {self.summary}" if self.summary else ""
        fixed = (
            f"fixed in {', '.join(self.fixed)}"
            if self.fixed
            else "no fixed version yet"
        )
        return (
            f"{self.package} {self.version}: {self.advisory}{aliases}{summary}; {fixed}"
        )

    def names(self) -> set[str]:
        return {self.advisory, *self.aliases}


@dataclass
class Outcome:
    """What the audit found: failures (one line each) and the ignores it honoured."""

    audited: int = 0
    failures: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    unused: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures

    def lines(self) -> list[str]:
        """What `handoff audit` prints: failures, ignores, then the verdict."""
        said = [*self.failures]
        said += [f"ignored: {line}" for line in self.ignored]
        said += [
            f"unused: {line} matches no advisory found; delete it once it is not needed"
            for line in self.unused
        ]
        if self.passed:
            said.append(
                f"No known vulnerability in the {self.audited} locked packages."
            )
        else:
            said.append(
                f"The audit failed ({len(self.failures)} finding(s), above): upgrade each "
                "package to a fixed version (uv lock --upgrade-package NAME), or ignore "
                f"the advisory in pyproject.toml {TABLE} with {EXAMPLE}."
            )
        return said


def read_ignores(pyproject: Mapping[str, Any]) -> tuple[dict[str, Ignore], list[str]]:
    """pyproject.toml's ignores by advisory, and one line per ignore that is not
    an ignore (no reason, no date)."""
    table = pyproject.get("tool", {}).get("handoff", {}).get("audit", {})
    if not isinstance(table, dict):
        return {}, [f"{PYPROJECT} [tool.handoff.audit]: not a table"]
    unknown = sorted(set(table) - {"ignore"})
    problems = [
        f"{PYPROJECT} [tool.handoff.audit] has an unknown key {key!r} (keys: ignore)"
        for key in unknown
    ]
    listed = table.get("ignore", {})
    if not isinstance(listed, dict):
        problems.append(f"{PYPROJECT} {TABLE}: not a table of advisories")
        listed = {}
    ignores = {}
    for advisory, fields in listed.items():
        where = f'{PYPROJECT} [tool.handoff.audit.ignore."{advisory}"]'
        if not isinstance(fields, dict):
            problems.append(f"{where}: not a table with {EXAMPLE}")
            continue
        expires = fields.get("expires")
        missing = [
            *(["reason"] if not str(fields.get("reason", "")).strip() else []),
            *(
                ["expires (a date: expires = 2027-03-01)"]
                if isinstance(expires, datetime) or not isinstance(expires, date)
                else []
            ),
        ]
        extra = sorted(set(fields) - set(IGNORE_FIELDS))
        if missing:
            problems.append(f"{where}: no {', '.join(missing)}; an ignore needs each")
        elif extra:
            problems.append(
                f"{where}: unknown key {extra[0]!r} (keys: reason, expires)"
            )
        else:
            ignores[advisory] = Ignore(
                advisory, str(fields["reason"]).strip(), fields["expires"]
            )
    return ignores, problems


def parse(report: str) -> tuple[int, list[Vulnerability], list[str]]:
    """uv's JSON report: how many packages, the vulnerabilities, and one line per
    adverse project status (a package quarantined or archived on its index)."""
    try:
        found = json.loads(report)
        vulnerabilities = [
            Vulnerability(
                package=str(entry["dependency"]["name"]),
                version=str(entry["dependency"]["version"]),
                advisory=str(entry.get("display_id") or entry["id"]),
                aliases=tuple(
                    str(alias)
                    for alias in entry.get("aliases") or ()
                    if alias != (entry.get("display_id") or entry["id"])
                ),
                summary=" ".join(str(entry.get("summary") or "").split()),
                fixed=tuple(
                    str(version) for version in entry.get("fix_versions") or ()
                ),
            )
            for entry in found.get("vulnerabilities", [])
        ]
        statuses = [_status(entry) for entry in found.get("adverse_statuses", [])]
        audited = int(found.get("summary", {}).get("audited_packages", 0))
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        msg = f"uv audit's report is not what the kit reads ({error}): is uv 0.13 or newer?"
        raise AuditError(msg) from None
    return audited, vulnerabilities, statuses


def _status(entry: object) -> str:
    if isinstance(entry, dict):
        dependency = entry.get("dependency", {})
        name = dependency.get("name", "?") if isinstance(dependency, dict) else "?"
        rest = {key: value for key, value in entry.items() if key != "dependency"}
        return f"{name}: adverse project status {json.dumps(rest, sort_keys=True)}"
    return f"adverse project status {entry}"


@dataclass(frozen=True)
class Options:
    """How to run uv: its command (`python -m uv` is one), the advisory service
    (None: uv's default, osv.dev), and whether to skip the index's statuses."""

    uv: str = "uv"
    service_url: str | None = None
    no_index: bool = False

    def command(self) -> list[str]:
        url = ["--service-url", self.service_url] if self.service_url else []
        index = ["--no-index"] if self.no_index else []
        return [*shlex.split(self.uv), *UV_AUDIT, *UV_PREVIEW, *url, *index]


def uv_error(done: subprocess.CompletedProcess[str]) -> str:
    """uv's error and its last cause (what went wrong, and why), or the status.
    uv wraps long messages: a line without a prefix continues the one before."""
    said: list[str] = []
    for line in filter(None, (line.strip() for line in done.stderr.splitlines())):
        if said and not line.startswith(UV_PREFIXES):
            said[-1] += f" {line}"
        else:
            said.append(line)
    errors = [i for i, line in enumerate(said) if line.startswith("error:")]
    if not errors:
        return said[-1] if said else f"exit status {done.returncode}"
    error = said[errors[0]].removeprefix("error:").strip()
    causes = [line for line in said[errors[0] :] if line.startswith("cause:")]
    return f"{error}: {causes[-1].removeprefix('cause:').strip()}" if causes else error


def run(
    root: Path,
    options: Options = Options(),
    today: date | None = None,
    runner: Runner = subprocess.run,
) -> Outcome:
    """Audit the lock of the project at `root`."""
    today = today or datetime.now(UTC).date()
    try:
        ignores, problems = read_ignores(read_toml(root / PYPROJECT))
    except ConfigError as error:
        raise AuditError(str(error)) from None
    argv = options.command()
    try:
        done = runner(argv, cwd=root, capture_output=True, text=True, check=False)
    except OSError as error:
        msg = f"{argv[0]} could not run ({error.strerror}): run `make setup` first"
        raise AuditError(msg) from None
    if done.returncode not in (0, 1) or not done.stdout.strip():
        raise AuditError(f"uv audit could not run: {uv_error(done)}")
    audited, vulnerabilities, statuses = parse(done.stdout)
    outcome = Outcome(audited=audited, failures=[*problems])
    used = set()
    for vulnerability in vulnerabilities:
        ignore = next(
            (
                ignores[name]
                for name in sorted(vulnerability.names())
                if name in ignores
            ),
            None,
        )
        if ignore is None:
            outcome.failures.append(str(vulnerability))
            continue
        used.add(ignore.advisory)
        if ignore.expires < today:
            outcome.failures.append(
                f"{vulnerability}: its ignore in {TABLE} expired on {ignore.expires}"
            )
        else:
            outcome.ignored.append(
                f"{vulnerability.package} {vulnerability.version}: {ignore}"
            )
    outcome.failures += statuses
    for name, ignore in sorted(ignores.items()):
        if name in used:
            continue
        if ignore.expires < today:
            outcome.failures.append(
                f'{PYPROJECT} [tool.handoff.audit.ignore."{name}"] expired on '
                f"{ignore.expires}: delete it, or renew it with a new reason and date"
            )
        else:
            outcome.unused.append(str(ignore))
    return outcome
