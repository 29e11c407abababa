"""The production dependencies' bill of materials: a CycloneDX 1.5 SBOM from the lock.

`make sbom` and the image build run `python -m handoff_kit.sbom`. From uv.lock,
uv's own exporter writes it (`uv export --format cyclonedx1.5`, without the
dependency groups: what the image installs); from conda-lock.yml, the run-time
("main") packages for linux-64, the image's platform. Either way the document is
then made reproducible: its serial number is derived from the lock's content and
its timestamp is SOURCE_DATE_EPOCH when set (the commit's time, as `make docker`
sets it), so two builds of one commit carry the same bytes.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

# The image's platform, for a lock of several (conda-lock's).
PLATFORM = "linux-64"
SPEC_VERSION = "1.5"


class SbomError(Exception):
    """The SBOM cannot be written; the message says why and what to do."""


def from_uv(lock: Path, uv: str) -> dict[str, Any]:
    """uv's export of the lock's run-time dependencies (no dependency groups)."""
    command = [
        *uv.split(),
        "export",
        "--format",
        f"cyclonedx{SPEC_VERSION}",
        "--frozen",
        "--no-default-groups",
        "--quiet",
    ]
    try:
        exported = subprocess.run(  # noqa: S603  # The user's uv, fixed arguments.
            command, cwd=lock.parent, capture_output=True, text=True, check=False
        )
    except FileNotFoundError:
        msg = f"{uv!r} is not installed: uv exports the SBOM from {lock.name}"
        raise SbomError(msg) from None
    if exported.returncode != 0:
        said = exported.stderr.strip().splitlines() or ["(no message)"]
        msg = f"`{' '.join(command)}` failed: {said[-1]}"
        raise SbomError(msg)
    document: dict[str, Any] = json.loads(exported.stdout)
    return document


def from_conda_lock(lock: Path) -> dict[str, Any]:
    """The run-time ("main") packages conda-lock locked for the image's platform."""
    locked = yaml.safe_load(lock.read_text()) or {}
    packages = [
        package
        for package in locked.get("package", [])
        if package.get("platform") == PLATFORM
        and package.get("category", "main") == "main"
    ]
    components = []
    for package in sorted(packages, key=lambda p: (p["name"], p["version"])):
        kind = "pypi" if package.get("manager") == "pip" else "conda"
        reference = f"pkg:{kind}/{package['name']}@{package['version']}"
        component: dict[str, Any] = {
            "type": "library",
            "bom-ref": reference,
            "name": package["name"],
            "version": package["version"],
            "purl": reference,
        }
        if package.get("url"):
            hashes = [
                {"alg": alg, "content": package["hash"][key]}
                for key, alg in (("sha256", "SHA-256"), ("md5", "MD5"))
                if key in package.get("hash", {})
            ]
            component["externalReferences"] = [
                {"type": "distribution", "url": package["url"], "hashes": hashes}
            ]
        components.append(component)
    return {
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "version": 1,
        "metadata": {"tools": [{"name": "handoff-kit"}]},
        "components": components,
    }


def reproducible(document: dict[str, Any], lock: bytes) -> dict[str, Any]:
    """The document with a serial number from the lock and the build's timestamp."""
    serial = uuid.uuid5(uuid.NAMESPACE_URL, hashlib.sha256(lock).hexdigest())
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    when = (
        datetime.datetime.fromtimestamp(int(epoch), datetime.UTC)
        if epoch.isdigit()
        else datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    )
    metadata = {
        **document.get("metadata", {}),
        "timestamp": when.isoformat().replace("+00:00", "Z"),
    }
    return {**document, "serialNumber": f"urn:uuid:{serial}", "metadata": metadata}


def write(lock: Path, output: Path, uv: str) -> int:
    """Write the SBOM of `lock` to `output`; the number of components."""
    if not lock.is_file():
        msg = f"{lock} does not exist: run `make lock` first"
        raise SbomError(msg)
    document = (
        from_conda_lock(lock) if lock.suffix in {".yml", ".yaml"} else from_uv(lock, uv)
    )
    document = reproducible(document, lock.read_bytes())
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(document, indent=2) + "\n")
    return len(document.get("components", []))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m handoff_kit.sbom",
        description="Write a CycloneDX SBOM of the lock's run-time dependencies.",
    )
    parser.add_argument(
        "--lock", type=Path, default=Path("uv.lock"), help="uv.lock or conda-lock.yml"
    )
    parser.add_argument("--output", type=Path, default=Path("sbom.cdx.json"))
    parser.add_argument(
        "--uv",
        default=os.environ.get("UV", "uv"),
        help="the command that runs uv (default: $UV, which `uv run` sets, else uv)",
    )
    args = parser.parse_args(argv)
    try:
        count = write(args.lock, args.output, args.uv)
    except SbomError as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 1
    print(
        f"Wrote {args.output}: CycloneDX {SPEC_VERSION}, {count} packages from {args.lock}."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
