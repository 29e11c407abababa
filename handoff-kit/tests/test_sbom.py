"""`python -m handoff_kit.sbom`: the lock's run-time packages as a reproducible CycloneDX SBOM."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from handoff_kit import sbom

# What `uv export --format cyclonedx1.5` prints: a random serial number and the time now.
EXPORTED = {
    "bomFormat": "CycloneDX",
    "specVersion": "1.5",
    "version": 1,
    "serialNumber": "urn:uuid:90899023-d40d-4003-ba91-13bde5205c0d",
    "metadata": {
        "timestamp": "2026-12-06T08:35:24.497450275Z",
        "tools": [{"name": "uv"}],
    },
    "components": [{"type": "library", "name": "pandas", "version": "2.3.3"}],
}

CONDA_LOCK = """\
version: 1
package:
- name: pandas
  version: 2.3.3
  manager: conda
  platform: linux-64
  category: main
  url: https://conda.anaconda.org/conda-forge/linux-64/pandas-2.3.3.conda
  hash: {md5: abc, sha256: def}
- name: pandas
  version: 2.3.3
  manager: conda
  platform: osx-arm64
  category: main
- name: pandera
  version: 0.26.0
  manager: pip
  platform: linux-64
  url: https://files.pythonhosted.org/pandera-0.26.0-py3-none-any.whl
  hash: {sha256: 0123}
- name: pytest
  version: 9.2.0
  manager: conda
  platform: linux-64
  category: dev
"""


def fake_uv(tmp_path: Path, prints: str, status: int = 0) -> str:
    """A uv that records its arguments and prints `prints` (to stderr when it fails)."""
    script = tmp_path / "fake_uv.py"
    script.write_text(
        "import sys, pathlib\n"
        f"pathlib.Path({str(tmp_path / 'args')!r}).write_text(' '.join(sys.argv[1:]))\n"
        f"print({prints!r}, file=sys.stderr if {status} else sys.stdout)\n"
        f"sys.exit({status})\n"
    )
    return f"{sys.executable} {script}"


@pytest.fixture
def lock(tmp_path: Path) -> Path:
    path = tmp_path / "uv.lock"
    path.write_text('version = 1\n[[package]]\nname = "pandas"\n')
    return path


def test_the_sbom_is_uvs_export_of_the_runtime_dependencies(
    tmp_path: Path, lock: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uv = fake_uv(tmp_path, json.dumps(EXPORTED))

    status = sbom.main(
        [
            "--lock",
            str(lock),
            "--output",
            str(tmp_path / "out" / "sbom.json"),
            "--uv",
            uv,
        ]
    )

    assert status == 0
    args = (tmp_path / "args").read_text().split()
    assert args[:3] == ["export", "--format", "cyclonedx1.5"], args
    assert "--no-default-groups" in args, (
        "the dev and research groups would be in the SBOM"
    )
    written = json.loads((tmp_path / "out" / "sbom.json").read_text())
    assert written["components"] == EXPORTED["components"]
    assert "1 packages from" in capsys.readouterr().out


def test_two_sboms_of_one_lock_and_commit_are_the_same_bytes(
    tmp_path: Path, lock: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uv = fake_uv(tmp_path, json.dumps(EXPORTED))
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")

    sbom.write(lock, tmp_path / "first.json", uv)
    sbom.write(lock, tmp_path / "second.json", uv)

    first = (tmp_path / "first.json").read_text()
    assert first == (tmp_path / "second.json").read_text()
    document = json.loads(first)
    assert document["metadata"]["timestamp"] == "2023-11-14T22:13:20Z"
    assert document["serialNumber"] != EXPORTED["serialNumber"], (
        "uv's random serial number"
    )
    lock.write_text(lock.read_text() + '[[package]]\nname = "numpy"\n')
    sbom.write(lock, tmp_path / "third.json", uv)
    assert (
        json.loads((tmp_path / "third.json").read_text())["serialNumber"]
        != document["serialNumber"]
    ), "another lock has the same serial number"


def test_without_source_date_epoch_the_timestamp_is_now(
    tmp_path: Path, lock: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)

    sbom.write(lock, tmp_path / "sbom.json", fake_uv(tmp_path, json.dumps(EXPORTED)))

    timestamp = json.loads((tmp_path / "sbom.json").read_text())["metadata"][
        "timestamp"
    ]
    assert timestamp.endswith("Z")
    assert timestamp > "2026", timestamp


def test_a_conda_lock_gives_its_runtime_packages_for_linux(tmp_path: Path) -> None:
    lock = tmp_path / "conda-lock.yml"
    lock.write_text(CONDA_LOCK)

    count = sbom.write(lock, tmp_path / "sbom.json", "uv-is-not-used")

    document = json.loads((tmp_path / "sbom.json").read_text())
    assert count == 2
    assert document["bomFormat"] == "CycloneDX"
    assert [c["purl"] for c in document["components"]] == [
        "pkg:conda/pandas@2.3.3",
        "pkg:pypi/pandera@0.26.0",
    ], "dev packages or other platforms are in the SBOM"
    [pandas_hashes] = [
        r["hashes"] for r in document["components"][0]["externalReferences"]
    ]
    assert {h["alg"] for h in pandas_hashes} == {"SHA-256", "MD5"}


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("missing-lock", "does not exist: run `make lock` first"),
        ("no-uv", "is not installed: uv exports the SBOM"),
        ("uv-fails", "failed: error: the lock is stale"),
    ],
)
def test_failures_are_one_line_saying_why(
    tmp_path: Path,
    lock: Path,
    capsys: pytest.CaptureFixture[str],
    setup: str,
    expected: str,
) -> None:
    uv = {
        "missing-lock": "uv",
        "no-uv": str(tmp_path / "no-such-uv"),
        "uv-fails": fake_uv(tmp_path, "error: the lock is stale", status=2),
    }[setup]
    used = tmp_path / "nothing.lock" if setup == "missing-lock" else lock

    status = sbom.main(
        ["--lock", str(used), "--output", str(tmp_path / "sbom.json"), "--uv", uv]
    )

    error = capsys.readouterr().err
    assert status == 1
    assert expected in error, error
    assert len(error.strip().splitlines()) == 1, error
    assert not (tmp_path / "sbom.json").exists()
