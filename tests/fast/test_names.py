"""The promise holds for every name: a fresh project is formatted and lint-clean.

Line lengths and import order must not depend on the names a user types, so the
template writes imports of the project's own package exploded, with a magic
trailing comma. Hypothesis generates project names and answer combinations; each
project is rendered and checked with the formatter and ruff versions it pins.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import REPO, format_check, render, run

# The kit is copied as it is, whatever the names: left out, it halves each render.
KIT = ["standards/handoff-kit"]
RESERVED = set(yaml.safe_load((REPO / "hooks/reserved_names.yml").read_text()).split())

# Words of letters and digits, as people name projects ("Ad Click Model 2", "proj").
WORD = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    min_size=1,
    max_size=14,
)
NAMES = st.lists(WORD, min_size=1, max_size=6).map(" ".join).filter(lambda name: name[0].isalpha())


def package_of(name: str) -> str:
    """The package name Copier derives from a project name (copier.yml)."""
    return re.sub("[^a-z0-9]+", "-", name.lower()).strip("-").replace("-", "_")


VALID_NAMES = NAMES.filter(
    lambda name: package_of(name) not in RESERVED and not keyword.iskeyword(package_of(name))
)


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    project_name=VALID_NAMES,
    formatter=st.sampled_from(["black", "ruff"]),
    example=st.booleans(),
    model_registry=st.sampled_from(["mlflow", "files"]),
    python_version=st.sampled_from(["3.11", "3.12", "3.13"]),
)
def test_a_fresh_project_is_formatted_and_lint_clean_whatever_its_name(
    template_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
    project_name: str,
    formatter: str,
    example: bool,
    model_registry: str,
    python_version: str,
) -> None:
    project = render(
        template_dir,
        tmp_path_factory.mktemp("named") / "project",
        exclude=KIT,
        project_name=project_name,
        formatter=formatter,
        example=example,
        model_registry=model_registry,
        python_version=python_version,
    )
    run([*format_check(formatter), "package", "research"], cwd=project)
    run(["ruff", "check", "--no-cache", "package", "research"], cwd=project)
