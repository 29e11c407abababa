"""`make audit` in a generated project: the real `uv audit` on the project's own
lock, against a local OSV stub that serves one advisory for a locked package.

`--no-index` keeps uv from asking the package index about each project's status,
and a proxy that goes nowhere catches anything else: only 127.0.0.1 is asked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest

from tests.conftest import Project
from tests.slow.servers import osv_stub

pytestmark = pytest.mark.slow

ADVISORY = {
    "id": "GHSA-stub-0002",
    "aliases": ["CVE-2099-0002"],
    "summary": "Stub advisory for pandas",
    "modified": "2026-01-01T00:00:00Z",
    "affected": [
        {
            "package": {"ecosystem": "PyPI", "name": "pandas"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "99.0"}]}],
        }
    ],
}


@pytest.fixture(scope="module")
def project(set_up_project: Callable[[str], Project]) -> Iterator[Project]:
    """The default project (uv), shared with other modules: restored after each change."""
    project = set_up_project("default")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        project.env[name] = "http://127.0.0.1:9"
    project.env["NO_PROXY"] = "127.0.0.1,localhost"
    try:
        yield project
    finally:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
            project.env.pop(name, None)


def locked_pandas(project: Project) -> str:
    found = re.search(
        r'\[\[package\]\]\nname = "pandas"\nversion = "([^"]+)"',
        (project.path / "uv.lock").read_text(),
    )
    assert found, "pandas is not in the generated project's uv.lock"
    return found[1]


def ignore(project: Project, expires: str) -> None:
    with (project.path / "pyproject.toml").open("a") as pyproject:
        pyproject.write(
            '\n[tool.handoff.audit.ignore."CVE-2099-0002"]\n'
            'reason = "the stub\'s advisory: we never read untrusted Parquet"\n'
            f"expires = {expires}\n"
        )


def test_make_audit_names_the_package_the_advisory_and_the_fixed_version_and_honours_ignores(
    project: Project,
) -> None:
    version = locked_pandas(project)
    finding = (
        f"pandas {version}: GHSA-stub-0002 (CVE-2099-0002): Stub advisory for pandas; fixed in 99.0"
    )
    with osv_stub(ADVISORY) as url:
        audit = f"AUDIT_ARGS=--service-url {url} --no-index"
        found = project.make("audit", audit, check=False)
        try:
            ignore(project, "2999-01-01")
            ignored = project.make("audit", audit, check=False)
            project.restore()
            ignore(project, "2020-01-01")
            expired = project.make("audit", audit, check=False)
        finally:
            project.restore()

    assert found.returncode != 0, "make audit passed a locked package with an advisory"
    assert finding in found.stdout.splitlines(), found.stdout + found.stderr
    assert ignored.returncode == 0, f"the unexpired ignore was not honoured: {ignored.stdout}"
    assert (
        f"ignored: pandas {version}: CVE-2099-0002 (until 2999-01-01: the stub's advisory: "
        "we never read untrusted Parquet)"
    ) in ignored.stdout.splitlines()
    assert expired.returncode != 0, "an expired ignore still let the advisory through"
    assert (
        f"{finding}: its ignore in [tool.handoff.audit.ignore] expired on 2020-01-01"
        in expired.stdout.splitlines()
    ), expired.stdout
