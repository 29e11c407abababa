"""Every project's manifest of template-owned files is the template's render, exactly.

standards/template-owned.sha256 is what the gate trusts offline: for every answer
set it lists each template-owned file the render wrote, with its SHA-256, and
nothing else; the hashes of the files copied as they are come from
`make manifest` (hooks/manifest.py), which must have run after the last change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

import pytest
from handoff_kit import integrity

from hooks import manifest
from tests.conftest import ANSWER_SETS, REPO, project_files

NAMES = list(ANSWER_SETS)


def template_owned(project: Path) -> set[str]:
    """The files the template owns in a rendered project, by the rule STANDARDS.md
    states: standards/ (kit included), the pre-commit config, CI workflows and
    STANDARDS.md; the manifest itself aside."""
    owned = set()
    for path in project_files(project):
        name = path.relative_to(project).as_posix()
        if name.startswith(("standards/", ".github/workflows/")) or name in {
            ".pre-commit-config.yaml",
            ".gitlab-ci.yml",
            "STANDARDS.md",
        }:
            owned.add(name)
    return owned - {integrity.MANIFEST}


def test_the_manifest_template_has_the_hashes_of_the_template_files_as_they_are() -> None:
    wanted = manifest.manifest_template(REPO)
    committed = (REPO / "template" / f"{integrity.MANIFEST}.jinja").read_text()

    assert committed == wanted, (
        "the hashes of template-owned files in the template are stale: run `make manifest`"
    )


@pytest.mark.parametrize("name", NAMES)
def test_the_manifest_lists_every_template_owned_file_the_render_wrote_with_its_hash(
    rendered: Mapping[str, Path], name: str
) -> None:
    project = rendered[name]

    listed = integrity.read_manifest(project)

    owned = template_owned(project)
    assert set(listed) == owned, (
        f"not in the manifest: {sorted(owned - set(listed))}; "
        f"listed but not rendered: {sorted(set(listed) - owned)}"
    )
    wrong = [
        path
        for path, digest in listed.items()
        if hashlib.sha256((project / path).read_bytes()).hexdigest() != digest
    ]
    assert not wrong, f"the manifest's hash is not the rendered file's for {wrong}"


@pytest.mark.parametrize("name", NAMES)
def test_a_fresh_project_passes_both_rows_of_make_standards(
    rendered: Mapping[str, Path], name: str
) -> None:
    project = rendered[name]

    files, overrides = integrity.files_result(project), integrity.overrides_result(project)

    assert files.passed, f"{files.reason}\n{files.details}"
    assert overrides.passed, f"{overrides.reason}\n{overrides.details}"
