"""Answers say what they do: the file registry is `files`, a description fits the project.

tests/slow/test_answers_update.py updates a project that answered the old `none`."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml

from tests.conftest import answers

# Runs Copier, git and make in generated projects: seconds each, so the slow tier.
pytestmark = pytest.mark.slow


def test_a_new_project_answers_files_for_the_file_registry(
    rendered: Mapping[str, Path],
) -> None:
    copier_yml = yaml.safe_load(
        (Path(__file__).parents[2] / "copier.yml").read_text().replace("!include", "")
    )
    choices = copier_yml["model_registry"]["choices"]

    assert sorted(choices.values()) == ["files", "mlflow"]
    assert answers(rendered["contrast"])["model_registry"] == "files"
    assert answers(rendered["default"])["model_registry"] == "mlflow"


def test_without_the_example_the_default_description_is_neutral(
    rendered: Mapping[str, Path],
) -> None:
    def description(name: str) -> str:
        pyproject = tomllib.loads((rendered[name] / "pyproject.toml").read_text())
        return str(pyproject["project"]["description"])

    assert answers(rendered["contrast"])["example"] is False
    assert description("contrast") == (
        "A machine-learning model: say what it predicts, for whom, in pyproject.toml."
    )
    assert description("default") == "A model that predicts customer churn from account activity."
