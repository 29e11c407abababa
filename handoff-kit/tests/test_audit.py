"""`handoff audit`: the real `uv audit` on a lock, against a local OSV stub.

The stub answers OSV's API as uv asks it (`POST /v1/querybatch`, then
`GET /v1/vulns/<id>`) with one advisory for one locked package, idna 3.10.
uv runs with `--no-index` and a proxy that goes nowhere: nothing but localhost
is asked.
"""

from __future__ import annotations

import importlib.util
import json
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from handoff_kit import audit
from handoff_kit.cli import EXIT_UNUSABLE, main

ADVISORY = {
    "id": "GHSA-stub-0001",
    "aliases": ["CVE-2099-0001"],
    "summary": "Stub advisory: idna decodes a crafted name slowly",
    "modified": "2026-01-01T00:00:00Z",
    "affected": [
        {
            "package": {"ecosystem": "PyPI", "name": "idna"},
            "ranges": [
                {
                    "type": "ECOSYSTEM",
                    "events": [{"introduced": "0"}, {"fixed": "3.99"}],
                }
            ],
        }
    ],
}
FINDING = (
    "idna 3.10: GHSA-stub-0001 (CVE-2099-0001): Stub advisory: idna decodes a "
    "crafted name slowly; fixed in 3.99"
)
LOCK = """\
version = 1
revision = 3
requires-python = ">=3.11"

[[package]]
name = "demo"
version = "0.1.0"
source = { virtual = "." }
dependencies = [
    { name = "idna" },
    { name = "six" },
]

[package.metadata]
requires-dist = [{ name = "idna" }, { name = "six" }]

[[package]]
name = "idna"
version = "3.10"
source = { registry = "https://pypi.org/simple" }

[[package]]
name = "six"
version = "1.17.0"
source = { registry = "https://pypi.org/simple" }
"""
TODAY = date(2027, 1, 15)

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("uv") is None, reason="uv is not installed here"
)


class Stub(BaseHTTPRequestHandler):
    """OSV's API: idna has the advisory, every other package none."""

    asked: list[dict[str, object]]

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the tests read what was asked instead."""

    def answer(self, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.asked.extend(query["queries"])
        self.answer(
            {
                "results": [
                    {
                        "vulns": [
                            {"id": ADVISORY["id"], "modified": ADVISORY["modified"]}
                        ]
                    }
                    if item["package"]["name"] == "idna"
                    else {}
                    for item in query["queries"]
                ]
            }
        )

    def do_GET(self) -> None:
        self.answer(ADVISORY)


@pytest.fixture
def osv(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[str, list[dict[str, object]]]]:
    """The stub's URL, and the packages uv asked it about."""
    asked: list[dict[str, object]] = []
    handler = type("Handler", (Stub,), {"asked": asked})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    # Anything but localhost goes to a port where nothing listens.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", asked
    finally:
        server.shutdown()
        server.server_close()


def locked(root: Path, ignores: str = "") -> Path:
    """A project with the lock above and pyproject.toml's ignores."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "uv.lock").write_text(LOCK)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "demo"\nversion = "0.1.0"\n'
        'dependencies = ["idna", "six"]\n' + ignores
    )
    return root


def options(url: str) -> audit.Options:
    return audit.Options(
        uv=shlex.join([sys.executable, "-m", "uv"]), service_url=url, no_index=True
    )


def ignore(advisory: str, expires: str = "2027-03-01", **fields: str) -> str:
    lines = [f'\n[tool.handoff.audit.ignore."{advisory}"]']
    fields = {"reason": "the crafted names never reach us", **fields}
    lines += [f'{key} = "{value}"' for key, value in fields.items()]
    return "\n".join([*lines, f"expires = {expires}", ""])


def test_the_audit_names_the_package_the_advisory_and_the_fixed_version(
    tmp_path: Path, osv: tuple[str, list[dict[str, object]]]
) -> None:
    url, asked = osv

    outcome = audit.run(locked(tmp_path), options(url), TODAY)

    assert {(q["package"]["name"], q["version"]) for q in asked} == {  # type: ignore[index]
        ("idna", "3.10"),
        ("six", "1.17.0"),
    }, f"uv did not ask the stub about each locked package: {asked}"
    assert not outcome.passed, "a locked package with an advisory passed the audit"
    assert outcome.failures == [FINDING], "the finding does not name what to fix"
    assert outcome.audited == 2
    assert outcome.lines()[-1].startswith("The audit failed (1 finding(s), above)")


@pytest.mark.parametrize("named", ["GHSA-stub-0001", "CVE-2099-0001"])
def test_an_unexpired_ignore_of_the_advisory_or_its_alias_lets_it_through(
    tmp_path: Path, osv: tuple[str, list[dict[str, object]]], named: str
) -> None:
    outcome = audit.run(locked(tmp_path, ignore(named)), options(osv[0]), TODAY)

    assert outcome.passed, f"the ignore was not honoured: {outcome.failures}"
    assert outcome.lines() == [
        f"ignored: idna 3.10: {named} (until 2027-03-01: the crafted names never reach us)",
        "No known vulnerability in the 2 locked packages.",
    ]


def test_an_expired_ignore_fails_the_audit_again(
    tmp_path: Path, osv: tuple[str, list[dict[str, object]]]
) -> None:
    project = locked(tmp_path, ignore("GHSA-stub-0001", expires="2027-01-14"))

    outcome = audit.run(project, options(osv[0]), TODAY)

    assert outcome.failures == [
        f"{FINDING}: its ignore in [tool.handoff.audit.ignore] expired on 2027-01-14"
    ], "an expired ignore still let the advisory through"


def test_an_ignore_matching_no_finding_is_listed_and_fails_once_expired(
    tmp_path: Path, osv: tuple[str, list[dict[str, object]]]
) -> None:
    ignores = (
        ignore("GHSA-stub-0001")
        + ignore("PYSEC-old")
        + ignore("PYSEC-older", expires="2026-12-31")
    )

    outcome = audit.run(locked(tmp_path, ignores), options(osv[0]), TODAY)

    assert outcome.failures == [
        'pyproject.toml [tool.handoff.audit.ignore."PYSEC-older"] expired on '
        "2026-12-31: delete it, or renew it with a new reason and date"
    ]
    assert outcome.unused == [
        "PYSEC-old (until 2027-03-01: the crafted names never reach us)"
    ]


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        (
            '[tool.handoff.audit.ignore."GHSA-x"]\nexpires = 2027-03-01\n',
            '[tool.handoff.audit.ignore."GHSA-x"]: no reason; an ignore needs each',
        ),
        (
            '[tool.handoff.audit.ignore."GHSA-x"]\nreason = " "\n',
            '[tool.handoff.audit.ignore."GHSA-x"]: no reason, expires (a date: '
            "expires = 2027-03-01); an ignore needs each",
        ),
        (
            '[tool.handoff.audit.ignore."GHSA-x"]\nreason = "r"\nexpires = "2027-03-01"\n',
            '[tool.handoff.audit.ignore."GHSA-x"]: no expires (a date: '
            "expires = 2027-03-01); an ignore needs each",
        ),
        (
            '[tool.handoff.audit.ignore."GHSA-x"]\nreason = "r"\n'
            "expires = 2027-03-01\nowner = 1\n",
            "[tool.handoff.audit.ignore.\"GHSA-x\"]: unknown key 'owner' "
            "(keys: reason, expires)",
        ),
        (
            "[tool.handoff.audit]\nignore = []\n",
            "[tool.handoff.audit.ignore]: not a table of advisories",
        ),
        (
            '[tool.handoff.audit.ignore]\n"GHSA-x" = "because"\n',
            '[tool.handoff.audit.ignore."GHSA-x"]: not a table with reason = "..." '
            "and expires = 2027-03-01",
        ),
        (
            "[tool.handoff.audit]\nignores = {}\n",
            "[tool.handoff.audit] has an unknown key 'ignores' (keys: ignore)",
        ),
    ],
)
def test_an_ignore_needs_a_reason_and_an_expiry_date(table: str, problem: str) -> None:
    import tomllib  # noqa: PLC0415

    ignores, problems = audit.read_ignores(tomllib.loads(table))

    assert (ignores, problems) == ({}, [f"pyproject.toml {problem}"])


def test_an_unreachable_service_is_one_line_naming_uvs_error(
    tmp_path: Path, osv: tuple[str, list[dict[str, object]]]
) -> None:
    with pytest.raises(
        audit.AuditError,
        match=r"^uv audit could not run: Request failed after \d+ retries: Connection refused",
    ):
        audit.run(locked(tmp_path), options("http://127.0.0.1:9"), TODAY)


def test_a_stale_lock_is_uvs_error_line_without_its_hints(
    tmp_path: Path, osv: tuple[str, list[dict[str, object]]]
) -> None:
    project = locked(tmp_path)
    (project / "uv.lock").write_text(LOCK.replace('"demo"', '"other"'))

    with pytest.raises(audit.AuditError) as refused:
        audit.run(project, options(osv[0]), TODAY)

    assert str(refused.value) == (
        "uv audit could not run: The lockfile at `uv.lock` needs to be updated, but "
        "`--frozen` was provided: Missing workspace member `demo`."
    )


def test_a_missing_uv_says_to_run_make_setup(tmp_path: Path) -> None:
    missing = audit.Options(uv=str(tmp_path / "no-uv"))

    with pytest.raises(
        audit.AuditError, match=r"could not run .*run `make setup` first"
    ):
        audit.run(locked(tmp_path), missing, TODAY)


def test_a_report_uv_does_not_write_is_refused_by_name() -> None:
    with pytest.raises(audit.AuditError, match="not what the kit reads"):
        audit.parse('{"vulnerabilities": [{"id": "X"}]}')


def test_adverse_project_statuses_fail_the_audit_by_package() -> None:
    report = {
        "summary": {"audited_packages": 1},
        "adverse_statuses": [
            {"dependency": {"name": "left-pad"}, "status": "quarantined"},
            "archived",
        ],
    }

    assert audit.parse(json.dumps(report)) == (
        1,
        [],
        [
            'left-pad: adverse project status {"status": "quarantined"}',
            "adverse project status archived",
        ],
    )


def test_handoff_audit_prints_the_findings_and_fails(
    project: Path,
    osv: tuple[str, list[dict[str, object]]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    (project / "uv.lock").write_text(LOCK.replace('"demo"', '"sample-project"'))
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace(
            "[project]\n",
            '[project]\nversion = "0.1.0"\ndependencies = ["idna", "six"]\n',
        )
    )
    uv = shlex.join([sys.executable, "-m", "uv"])

    status = main(["audit", "--uv", uv, "--service-url", osv[0], "--no-index"])

    said = capsys.readouterr()
    out = said.out.splitlines()
    assert status == EXIT_UNUSABLE, (
        f"a finding did not fail `handoff audit`: {said.err}"
    )
    assert out[:1] == [FINDING], said.err
    assert (
        "ignore the advisory in pyproject.toml [tool.handoff.audit.ignore]" in out[-1]
    )


@pytest.mark.parametrize(
    ("stderr", "said"),
    [
        ("", "exit status 2"),
        ("warning: a long\n  wrapped warning\n", "warning: a long wrapped warning"),
        (
            "error: Failed to parse: uv.lock\n  cause: TOML parse error\n",
            "Failed to parse: uv.lock: TOML parse error",
        ),
    ],
)
def test_uvs_failure_is_its_error_and_last_cause(stderr: str, said: str) -> None:
    done = subprocess.CompletedProcess(["uv"], 2, stdout="", stderr=stderr)

    assert audit.uv_error(done) == said
