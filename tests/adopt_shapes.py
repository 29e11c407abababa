"""Three repositories as teams have them before adopting the template, built in
code, each with a few commits, notebooks with outputs, and lint and type debt:

- `ccds`: a cookiecutter-data-science v2 project (module folder, notebooks/,
  Makefile, pyproject.toml built by flit, requirements.txt);
- `flat`: setup.py, the package folder and notebooks at the root, a scratch
  script, requirements.txt, a data file in git;
- `poetry`: poetry with src/ and tests/, black, GitHub Actions.

Their dependencies (pandas, scikit-learn) install from the package registry.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path


def notebook(*cells: tuple[str, str | None]) -> str:
    """A notebook of code cells (source, printed output or None), run: with outputs."""
    built = []
    for count, (source, output) in enumerate(cells, 1):
        outputs = []
        if output is not None:
            outputs = [{"name": "stdout", "output_type": "stream", "text": [output]}]
        built.append(
            {
                "cell_type": "code",
                "execution_count": count,
                "id": f"cell-{count}",
                "metadata": {},
                "outputs": outputs,
                "source": source.splitlines(keepends=True),
            }
        )
    document = {
        "cells": built,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(document, indent=1) + "\n"


def git(repo: Path, env: Mapping[str, str], *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, env=dict(env), capture_output=True, text=True, check=True
    ).stdout


def commit(repo: Path, env: Mapping[str, str], files: Mapping[str, str], message: str) -> None:
    for name, text in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(repo, env, "add", "-A")
    git(repo, env, "commit", "-q", "-m", message)


# Code with debt: an unused import (ruff F401), functions without annotations (mypy).
FEATURES = '''"""Features of the raw table."""

import os

import pandas as pd


def add_ratio(frame, numerator, denominator):
    frame = frame.copy()
    frame["ratio"] = frame[numerator] / frame[denominator]
    return frame


def clean(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows without missing values."""
    return frame.dropna()
'''

TEST_FEATURES = """import pandas as pd

from {package}.features import add_ratio, clean


def test_the_ratio_divides_the_columns():
    frame = pd.DataFrame({{"a": [2.0, 3.0], "b": [1.0, 3.0]}})
    assert add_ratio(frame, "a", "b")["ratio"].tolist() == [2.0, 1.0]


def test_clean_drops_missing_rows():
    frame = pd.DataFrame({{"a": [1.0, None]}})
    assert len(clean(frame)) == 1
"""

EXPLORE = notebook(
    ("import pandas as pd\nframe = pd.DataFrame({'a': [1, 2]})\nprint(frame.shape)", "(2, 1)\n"),
    ("frame.describe()", None),
)

CCDS_MAKEFILE = """#################################################################################
# GLOBALS                                                                       #
#################################################################################

PROJECT_NAME = churn-insights
PYTHON_VERSION = 3.11
PYTHON_INTERPRETER = python

## Install Python dependencies
.PHONY: requirements
requirements:
\t$(PYTHON_INTERPRETER) -m pip install -U pip
\t$(PYTHON_INTERPRETER) -m pip install -r requirements.txt

## Delete all compiled Python files
.PHONY: clean
clean:
\tfind . -type f -name "*.py[co]" -delete

## Lint using ruff
.PHONY: lint
lint:
\truff format --check
\truff check

## Format source code with ruff
.PHONY: format
format:
\truff check --fix
\truff format

## Make dataset
.PHONY: data
data: requirements
\t$(PYTHON_INTERPRETER) churn_insights/dataset.py

.DEFAULT_GOAL := help

help:
\t@grep -E '^## ' Makefile
"""

CCDS_PYPROJECT = """[build-system]
requires = ["flit_core >=3.2,<4"]
build-backend = "flit_core.buildapi"

[project]
name = "churn_insights"
version = "0.0.1"
description = "Which customers leave, and why."
authors = [
  { name = "Data Team", email = "data@example.com" },
]
license = { file = "LICENSE" }
readme = "README.md"
classifiers = [
    "Programming Language :: Python :: 3",
]
requires-python = "~=3.11.0"

[tool.ruff]
line-length = 99
src = ["churn_insights"]
include = ["pyproject.toml", "churn_insights/**/*.py"]

[tool.ruff.lint.isort]
known-first-party = ["churn_insights"]  # The project's own module.
force-sort-within-sections = true

[tool.flit.module]
name = "churn_insights"
"""

CCDS_GITIGNORE = """# Data
/data/
/models/

# Mac OS-specific storage files
.DS_Store

# Byte-compiled / optimized / DLL files
__pycache__/
*.py[cod]

# Jupyter Notebook
.ipynb_checkpoints

# Environments
.env
.venv
"""


def ccds(repo: Path, env: Mapping[str, str]) -> None:
    package = "churn_insights"
    commit(
        repo,
        env,
        {
            "README.md": "# churn-insights\n\nWhich customers leave, and why.\n",
            "LICENSE": "MIT License\n\nCopyright (c) 2026 Data Team\n",
            "Makefile": CCDS_MAKEFILE,
            "pyproject.toml": CCDS_PYPROJECT,
            "requirements.txt": "# local package\n-e .\n\n# external requirements\n"
            "pandas\nscikit-learn\n",
            ".gitignore": CCDS_GITIGNORE,
            f"{package}/__init__.py": "",
            f"{package}/config.py": 'from pathlib import Path\n\nDATA_DIR = Path("data")\n',
            "docs/.gitkeep": "",
            "references/.gitkeep": "",
            "reports/figures/.gitkeep": "",
        },
        "Start from cookiecutter-data-science",
    )
    commit(
        repo,
        env,
        {
            f"{package}/features.py": FEATURES,
            "notebooks/1.0-dt-explore.ipynb": EXPLORE,
        },
        "Explore the data",
    )
    commit(
        repo,
        env,
        {"tests/test_features.py": TEST_FEATURES.format(package=package)},
        "Test the features",
    )


SETUP_PY = """from setuptools import setup

setup(
    name="fraud-detector",
    version="0.3.0",
    description="Flags card transactions that look fraudulent.",
    author="Risk Analytics",
    author_email="risk@example.com",
    packages=["fraud"],
    python_requires=">=3.11",
)
"""

FRAUD_MODEL = '''"""A threshold on the amount."""


def score(amount, limit=1000.0):
    return amount > limit
'''

TEST_FRAUD = """from fraud.model import score


def test_large_amounts_are_flagged():
    assert score(5000.0)
"""


def flat(repo: Path, env: Mapping[str, str]) -> None:
    commit(
        repo,
        env,
        {
            "README.md": "# Fraud detector\n",
            "setup.py": SETUP_PY,
            "requirements.txt": "pandas>=2.2\nscikit-learn>=1.5\n",
            "fraud/__init__.py": '__version__ = "0.3.0"\n',
            "fraud/model.py": FRAUD_MODEL,
            "analysis.ipynb": EXPLORE,
        },
        "First model",
    )
    commit(
        repo,
        env,
        {
            "train.py": "import fraud.model\n\nprint(fraud.model.score(10))\n",
            "transactions.csv": "amount,fraud\n10,0\n5000,1\n",
            "eda.ipynb": notebook(("x = 1\nprint(x)", "1\n")),
            "test_fraud.py": TEST_FRAUD,
        },
        "A training script, a sample and a test",
    )


POETRY_PYPROJECT = """[tool.poetry]
name = "demand-forecast"
version = "0.2.0"
description = "Daily demand per store."
authors = ["Forecasting Team <forecast@example.com>"]
packages = [{ include = "demand_forecast", from = "src" }]

[tool.poetry.dependencies]
python = "^3.12"
pandas = "^2.2"
scikit-learn = "^1.5"

[tool.poetry.group.dev.dependencies]
pytest = "^8.0"

# Our formatter's settings.
[tool.black]
line-length = 88

[build-system]
requires = ["poetry-core"]
build-backend = "poetry.core.masonry.api"
"""

WORKFLOW = """name: tests
on: [push]
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: pip install poetry && poetry install && poetry run pytest
"""


def poetry(repo: Path, env: Mapping[str, str]) -> None:
    package = "demand_forecast"
    commit(
        repo,
        env,
        {
            "README.md": "# demand-forecast\n",
            "pyproject.toml": POETRY_PYPROJECT,
            "poetry.lock": "# This file is automatically @generated by Poetry.\n",
            f"src/{package}/__init__.py": "",
            f"src/{package}/features.py": FEATURES,
            ".github/workflows/tests.yml": WORKFLOW,
        },
        "Poetry project",
    )
    commit(
        repo,
        env,
        {
            "tests/test_features.py": TEST_FEATURES.format(package=package),
            "notebooks/forecast.ipynb": EXPLORE,
        },
        "Tests and a notebook",
    )


SHAPES: dict[str, Callable[[Path, Mapping[str, str]], None]] = {
    "ccds": ccds,
    "flat": flat,
    "poetry": poetry,
}


def build(name: str, repo: Path, env: Mapping[str, str]) -> Path:
    """The shape `name` as a git repository at `repo`."""
    repo.mkdir(parents=True)
    git(repo, env, "init", "-q", "-b", "main")
    SHAPES[name](repo, env)
    return repo
