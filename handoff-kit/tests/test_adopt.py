"""`handoff adopt`: answers inferred from what a repository declares, where its
files go, the shared files merged, and bad input refused in one line with
nothing written. (The audit and the adoption end to end, on three realistic
repositories: the template's tests/slow/test_adopt.py.)"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import tomlkit

from handoff_kit import adopt, cli
from handoff_kit.adopt import infer, merge, plan

TEMPLATE = Path(__file__).resolve().parents[2]
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Ada",
    "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Ada",
    "GIT_COMMITTER_EMAIL": "ada@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
}


def repository(root: Path, files: dict[str, str]) -> Path:
    """A git repository with `files`, committed."""
    env = {**os.environ, **GIT_ENV, "GIT_CONFIG_GLOBAL": str(root / "gitconfig")}
    repo = root / "repo"
    repo.mkdir()
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "start"]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True)
    return repo


def found(repo: Path) -> infer.Found:
    files = subprocess.run(
        ["git", "ls-files"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.split()
    return infer.read_found(repo, files)


def answers(repo: Path) -> dict[str, infer.Answer]:
    listed, _ = infer.answers(found(repo), ("Ada", "ada@example.com"))
    return {a.name: a for a in listed}


# --- Inferred answers ----------------------------------------------------------------


def test_a_src_layout_with_poetry_gives_its_names_python_and_manager(
    tmp_path: Path,
) -> None:
    repo = repository(
        tmp_path,
        {
            "pyproject.toml": '[tool.poetry]\nname = "demand-forecast"\n'
            'authors = ["Team <team@example.com>"]\n'
            '[tool.poetry.dependencies]\npython = "^3.12"\n',
            "poetry.lock": "",
            "src/demand_forecast/__init__.py": "",
            ".github/workflows/ci.yml": "on: push\n",
        },
    )
    got = answers(repo)
    assert got["project_name"].value == "demand-forecast"
    assert got["package_name"].value == "demand_forecast", (
        "the src/ package is the package"
    )
    assert "src layout" in got["package_name"].source
    assert got["python_version"].value == "3.12"
    assert got["env_manager"].value == "uv"
    assert "poetry.lock" in got["env_manager"].source
    assert got["ci"].value == "github"
    assert got["author_email"].value == "team@example.com"


def test_a_flat_setup_py_repository_is_read_from_its_setup_call(tmp_path: Path) -> None:
    repo = repository(
        tmp_path,
        {
            "setup.py": 'from setuptools import setup\nsetup(name="fraud-detector", '
            'packages=["fraud"], python_requires=">=3.10")\n',
            "fraud/__init__.py": "",
            "requirements.txt": "pandas\nblack\n",
            "notes.ipynb": "{}",
        },
    )
    got = answers(repo)
    assert got["project_name"].value == "fraud-detector"
    assert got["package_name"].value == "fraud"
    assert got["python_version"].value == "3.11", ">=3.10: the oldest the template has"
    assert got["formatter"].value == "black", "black in the requirements"
    assert infer.notebooks_folder(found(repo)).value == "."


def test_a_python_version_file_and_ruff_configuration_are_answers(
    tmp_path: Path,
) -> None:
    repo = repository(
        tmp_path,
        {
            ".python-version": "3.13.1\n",
            "pyproject.toml": '[tool.ruff.format]\nquote-style = "double"\n',
            "environment.yml": "name: x\n",
            ".gitlab-ci.yml": "test: {}\n",
        },
    )
    got = answers(repo)
    assert got["python_version"].value == "3.13"
    assert got["python_version"].source.startswith(".python-version")
    assert got["formatter"].value == "ruff"
    assert got["env_manager"].value == "conda"
    assert got["ci"].value == "gitlab"
    assert got["author_name"].value == "Ada", "no author declared: the first commit's"


# --- Where files go ------------------------------------------------------------------


def test_code_tests_notebooks_scripts_and_data_each_have_their_place(
    tmp_path: Path,
) -> None:
    repo = repository(
        tmp_path,
        {
            "churn/__init__.py": "",
            "tests/test_x.py": "",
            "notebooks/a.ipynb": "{}",
            "notebooks/helpers.py": "",
            "train.py": "",
            "setup.py": "",
            "raw.csv": "a\n1\n",
            "data/raw/b.parquet": "",
        },
    )
    moves = {
        m.source: m for m in plan.moves(found(repo), "churn", "churn", "notebooks")
    }
    assert moves["churn/__init__.py"].destination == "package/src/churn/__init__.py"
    assert moves["tests/test_x.py"].destination == "package/tests/test_x.py"
    assert moves["notebooks/a.ipynb"].destination == "research/notebooks/a.ipynb"
    assert moves["notebooks/helpers.py"].kind == "scratch code"
    assert moves["train.py"].destination == "research/scripts/train.py"
    assert not moves["raw.csv"].tracked, "data leaves git"
    assert moves["raw.csv"].destination == "data/raw.csv"
    assert "setup.py" not in moves, "the build's own files stay"
    assert "data/raw/b.parquet" in moves
    assert not moves["data/raw/b.parquet"].tracked


def test_each_collision_has_its_resolution() -> None:
    found = plan.collisions(
        {"pyproject.toml", "LICENSE", "STANDARDS.md", "README.md", "only-ours.txt"},
        {"pyproject.toml", "LICENSE", "STANDARDS.md", "README.md", "new.txt"},
        {"STANDARDS.md"},
    )
    resolved = {c.path: c.resolution for c in found}
    assert resolved["pyproject.toml"].startswith("merged")
    assert resolved["LICENSE"] == plan.KEPT
    assert resolved["STANDARDS.md"] == plan.OWNED
    assert "appended" in resolved["README.md"]
    assert set(resolved) == {"pyproject.toml", "LICENSE", "STANDARDS.md", "README.md"}


# --- Merges --------------------------------------------------------------------------

TEMPLATE_PYPROJECT = """[project]
name = "x"
version = "0.1.0"
requires-python = ">=3.11"
license-files = ["LICENSE"]
dependencies = [
    "handoff-kit[serve]",
    "pandas>=2.2",
]

[dependency-groups]
dev = ["handoff-kit[dev]"]

[build-system]
requires = ["uv_build"]
build-backend = "uv_build"

[tool.ruff]
extend = "standards/ruff.toml"
src = ["package/src"]
"""


def test_pyproject_keeps_the_teams_comments_dependencies_and_settings() -> None:
    team = """# Our project.
[project]
name = "churn"  # The distribution name.
dynamic = ["version"]
license = { file = "LICENSE" }
dependencies = ["pandas==2.2.3"]

[tool.ruff]
line-length = 99
include = ["churn/**/*.py"]

[tool.flit.module]
name = "churn"

[build-system]
requires = ["flit_core"]
build-backend = "flit_core.buildapi"
"""
    text, notes = merge.merge_pyproject(
        team, TEMPLATE_PYPROJECT, ["scikit-learn", "pandas"], ["pytest"], "1.2.0"
    )
    merged = tomlkit.parse(text).unwrap()
    assert "# Our project." in text, "the team's comments stay"
    assert "# The distribution name." in text, "the team's comments stay"
    assert merged["project"]["name"] == "churn"
    assert merged["project"]["version"] == "1.2.0", "the dynamic version, written out"
    assert merged["project"]["dependencies"] == [
        "pandas==2.2.3",
        "scikit-learn",
        "handoff-kit[serve]",
    ], "the team's pin wins; the template's and requirements' others join"
    assert "license-files" not in merged["project"], "a license table takes no files"
    assert merged["dependency-groups"]["dev"] == ["pytest", "handoff-kit[dev]"]
    assert merged["build-system"]["build-backend"] == "uv_build"
    assert "flit" not in merged["tool"]
    assert merged["tool"]["ruff"] == {
        "line-length": 99,
        "extend": "standards/ruff.toml",
        "src": ["package/src"],
    }, "the team's setting stays, the old layout's paths go, the template's arrive"
    assert any("include" in note for note in notes)


def test_poetry_dependencies_become_requirements() -> None:
    team = (
        '[tool.poetry]\nname = "d"\nversion = "0.2.0"\n'
        '[tool.poetry.dependencies]\npython = "^3.12"\n'
        'pandas = "^2.2"\nnumpy = { version = "1.26.4" }\n'
        'either = ">=1 || <0.5"\n'
        '[tool.poetry.group.dev.dependencies]\npytest = "^8.0"\nhypothesis = "~6.1"\n'
        '[tool.poetry.group.docs.dependencies]\nmkdocs = "*"\n'
    )
    text, notes = merge.merge_pyproject(
        team, TEMPLATE_PYPROJECT, [], [], "0.2.0", pinned={"pytest": "pytest==9.2.0"}
    )
    merged = tomlkit.parse(text).unwrap()
    assert merged["project"]["dependencies"][:2] == [
        "pandas>=2.2,<3",
        "numpy==1.26.4",
    ], "a caret keeps its upper bound; a bare version is exact"
    assert merged["project"]["version"] == "0.2.0", "[tool.poetry] version is kept"
    assert merged["dependency-groups"]["dev"] == [
        "hypothesis>=6.1,<6.2",
        "mkdocs",
        "handoff-kit[dev]",
    ], "poetry's groups join dev; the kit's pinned pytest wins over the team's"
    assert "pytest>=8.0,<9 left out: the template pins pytest==9.2.0" in notes
    assert any("either" in note and "by hand" in note for note in notes), (
        "a constraint PEP 508 cannot say is named, not dropped silently"
    )
    assert "poetry" not in merged["tool"]


@pytest.mark.parametrize(
    ("poetry", "pep440"),
    [
        ("^1.2.3", ">=1.2.3,<2"),
        ("^0.2.3", ">=0.2.3,<0.3"),
        ("^0.0.3", ">=0.0.3,<0.0.4"),
        ("^0", ">=0,<1"),
        ("~1.2.3", ">=1.2.3,<1.3"),
        ("~1", ">=1,<2"),
        ("1.2.3", "==1.2.3"),
        ("1.2.*", "==1.2.*"),
        ("*", ""),
        (">= 1.2, < 1.5", ">=1.2,<1.5"),
        ("~=1.4", "~=1.4"),
        ("^2.0.0b1", ">=2.0.0b1,<3"),
        (">=1 || <0.5", None),
    ],
)
def test_poetry_constraints_become_pep440_specifiers(
    poetry: str, pep440: str | None
) -> None:
    assert merge.poetry_constraint(poetry) == pep440


def test_poetry_extras_markers_and_git_sources_are_kept() -> None:
    team = (
        "[tool.poetry.dependencies]\n"
        'x = { version = "^1", extras = ["a"], markers = "sys_platform == \'linux\'" }\n'
        'y = { git = "https://example.com/y.git", tag = "v1" }\n'
    )
    runtime, _, _ = merge.poetry_dependencies(tomlkit.parse(team).unwrap())
    assert runtime == [
        "x[a]>=1,<2; sys_platform == 'linux'",
        "y @ git+https://example.com/y.git@v1",
    ]


def test_the_kits_exact_pins_are_read_from_its_extras() -> None:
    kit = (
        '[project]\ndependencies = ["pandas>=2.2"]\n'
        '[project.optional-dependencies]\ndev = ["pytest==9.2.0", "ruff>=0.1"]\n'
        'black = ["black[jupyter]==26.10.1"]\n'
    )
    assert merge.kit_pins(kit) == {
        "pytest": "pytest==9.2.0",
        "black": "black[jupyter]==26.10.1",
    }


def test_a_setup_py_version_is_the_project_version(tmp_path: Path) -> None:
    repo = repository(
        tmp_path,
        {"setup.py": 'from setuptools import setup\nsetup(version="0.3.0")\n'},
    )
    assert infer.version(found(repo)) == "0.3.0"
    text, notes = merge.merge_pyproject(None, TEMPLATE_PYPROJECT, [], [], "0.3.0")
    assert tomlkit.parse(text).unwrap()["project"]["version"] == "0.3.0", (
        "without a pyproject.toml, the template's 0.1.0 replaced the team's version"
    )
    assert "[project] version 0.3.0, from the team's metadata" in notes


def test_requirements_files_give_their_requirements_only() -> None:
    text = "# local\n-e .\n-r base.txt\npandas>=2  # data\n\nhttps://x/y.whl\n./local\n"
    assert merge.read_requirements(text) == ["pandas>=2"]


def test_what_a_requirements_file_holds_beyond_requirements_is_named() -> None:
    text = (
        "-e .\n.\n-e file:.[dev]\n--extra-index-url https://pkgs.example.com/simple\n"
        "-r base.txt\npandas>=2\nhttps://x/y.whl\n./local\n"
    )
    assert merge.unread_requirements(text) == [
        "--extra-index-url https://pkgs.example.com/simple",
        "-r base.txt",
        "https://x/y.whl",
        "./local",
    ], "the project itself (`-e .`) is what `uv sync` installs; nothing else is kept"
    assert merge.unread_requirements("# data\n-e .\npandas\n") == []


SETUP_WITH_REQUIREMENTS = """from setuptools import setup

setup(
    name="fraud-detector",
    install_requires=["pandas>=2.2", "numpy"],
    tests_require=["pytest"],
    extras_require={"viz": ["matplotlib"], "test": ["hypothesis"]},
    long_description=open("README.md").read(),
    cmdclass={},
)
"""


def test_setup_calls_requirements_reach_pyproject(tmp_path: Path) -> None:
    repo = repository(
        tmp_path,
        {
            "setup.py": SETUP_WITH_REQUIREMENTS,
            "setup.cfg": "[options]\ninstall_requires =\n    scipy>=1.11\n"
            "    # a comment\n\n[options.extras_require]\ngpu = cupy\n"
            "all = file: all.txt\n",
            "README.md": "# Fraud\n",
        },
    )
    declared = infer.setup_requirements(found(repo))
    assert declared.runtime == ["pandas>=2.2", "numpy", "scipy>=1.11"]
    assert declared.dev == ["pytest", "hypothesis"], "tests_require and a test extra"
    assert declared.extras == {"gpu": ["cupy"], "viz": ["matplotlib"]}, (
        "setup.cfg's `file:` directive names a file, not a requirement"
    )
    text, notes = merge.merge_pyproject(
        None,
        TEMPLATE_PYPROJECT,
        declared.runtime,
        declared.dev,
        None,
        extras=declared.extras,
    )
    project = tomlkit.parse(text).unwrap()
    for requirement in declared.runtime:
        assert requirement in project["project"]["dependencies"], requirement
    assert "pytest" in project["dependency-groups"]["dev"]
    assert project["project"]["optional-dependencies"]["viz"] == ["matplotlib"]
    assert "[project.optional-dependencies] viz: the extra setup() declared" in notes
    assert found(repo).setup_py_computed == ("long_description",), (
        "a keyword setup() computes when it runs is named, a literal one is read"
    )


def test_what_pyproject_and_uv_lock_replace_is_retired_and_the_rest_kept(
    tmp_path: Path,
) -> None:
    repo = repository(
        tmp_path,
        {
            "setup.py": SETUP_WITH_REQUIREMENTS,
            "README.md": "# Fraud\n",
            "requirements.txt": "-e .\npandas>=2.2\n",
            "requirements-dev.txt": "--extra-index-url https://pkgs.example.com/simple\n"
            "black\n",
            "poetry.lock": "# poetry\n",
        },
    )
    retired, notes = plan.retired(found(repo))
    assert [r.path for r in retired] == ["requirements.txt", "poetry.lock", "setup.py"]
    assert "uv.lock replaces it" in retired[1].why
    assert "it computed long_description when run" in retired[2].why
    assert notes == [
        "requirements-dev.txt kept: pyproject.toml cannot hold --extra-index-url "
        "https://pkgs.example.com/simple; put it in uv.toml (an index) or "
        "pyproject.toml ([tool.uv.sources]), then delete the file"
    ]


def test_the_makefile_includes_the_standard_tasks_and_renames_clashing_targets() -> (
    None
):
    team = (
        "# Our tasks.\nNAME = x\n\n.PHONY: lint data\nlint:\n\truff check\n"
        "data: lint requirements\n\tpython make_data.py\n.DEFAULT_GOAL := lint\n"
    )
    text, notes = merge.merge_makefile(team, {"lint", "format", "help"})
    lines = text.splitlines()
    assert "include standards/tasks.mk" in lines
    assert lines.index("include standards/tasks.mk") < lines.index("NAME = x")
    assert ".PHONY: old-lint data" in lines
    assert "old-lint:" in lines
    assert "lint:" not in lines
    assert "data: old-lint requirements" in lines
    assert ".DEFAULT_GOAL := old-lint" in lines
    assert "\truff check" in lines, "recipes are kept as they are"
    assert notes == ["target lint renamed old-lint"]


def test_the_makefile_renames_the_variables_the_standard_files_set() -> None:
    team = (
        "PYTHON_VERSION = 3.10\nPROJECT_NAME = churn\n"
        "override RUN := python\n"
        "env:\n\tconda create -n $(PROJECT_NAME) python=$(PYTHON_VERSION)\n"
        "\t$(RUN) -c 'print(1)' ${RUN} $(PYTHON_VERSION:.10=.11)\n"
    )
    text, notes = merge.merge_makefile(team, {"help"}, {"PYTHON_VERSION", "RUN", "UV"})
    lines = text.splitlines()
    assert "old-PYTHON_VERSION = 3.10" in lines
    assert "override old-RUN := python" in lines
    assert "PROJECT_NAME = churn" in lines, "the team's own variables stay"
    assert "\tconda create -n $(PROJECT_NAME) python=$(old-PYTHON_VERSION)" in lines
    assert (
        "\t$(old-RUN) -c 'print(1)' ${old-RUN} $(old-PYTHON_VERSION:.10=.11)" in lines
    )
    assert notes == [
        "variable PYTHON_VERSION renamed old-PYTHON_VERSION",
        "variable RUN renamed old-RUN",
    ]


def test_readme_and_gitignore_keep_the_teams_text_first() -> None:
    readme = merge.merge_readme(
        "# Ours\n\nOur words.\n", "# Theirs\n\n## Layout\n\nx\n"
    )
    assert readme == "# Ours\n\nOur words.\n\n## Layout\n\nx\n"
    ignore = merge.merge_gitignore(".venv\n/data/\n", ".venv/\n.venv\n/reports/\n")
    assert ignore.startswith(".venv\n/data/\n")
    assert ignore.endswith(".venv/\n/reports/\n")
    assert ignore.count(".venv\n") == 1


# --- Bad input: one line, nothing written -----------------------------------------------


def adopt_fails(repo: Path, capsys: pytest.CaptureFixture[str], *more: str) -> str:
    before = sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*"))
    status = cli.main(["adopt", str(repo), "--template", str(TEMPLATE), *more])
    error = capsys.readouterr().err
    assert status == 1, "bad input exits 1"
    assert error.count("\n") == 1, f"one line, not: {error}"
    after = sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*"))
    assert after == before, "nothing is written"
    return error


def test_a_folder_that_is_not_a_git_repository_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "x.py").write_text("")
    assert "not the top of a git repository" in adopt_fails(tmp_path / "plain", capsys)


def test_a_dirty_tree_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = repository(tmp_path, {"a.py": ""})
    (repo / "a.py").write_text("x = 1\n")
    assert "uncommitted changes (a.py)" in adopt_fails(repo, capsys)


def test_an_adopted_repository_is_told_to_update(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = repository(tmp_path, {".copier-answers.yml": "_commit: 1.0.0\n"})
    assert "make update" in adopt_fails(repo, capsys, "--apply")


def test_an_unparsable_pyproject_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = repository(tmp_path, {"pyproject.toml": "[project\nname = 1\n"})
    assert "pyproject.toml cannot be parsed" in adopt_fails(repo, capsys)


def test_a_package_name_the_templates_validators_refuse_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = repository(tmp_path, {"src/json/__init__.py": ""})
    error = adopt_fails(repo, capsys)
    assert "must not shadow" in error, error
    assert "--data" in error, "it says how to choose another name"


def test_data_that_is_not_name_value_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = repository(tmp_path, {"a.py": ""})
    assert "NAME=VALUE" in adopt_fails(repo, capsys, "--data", "oops")


# --- The audit, with the tools' measurements left out (the slow tier runs them) ------------


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The template's working tree without git: Copier renders it without a clone."""
    copy = tmp_path_factory.mktemp("template")
    ignore = shutil.ignore_patterns("__pycache__", "tests", ".*_cache")
    for name in ("copier.yml", "template", "hooks"):
        source = TEMPLATE / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=ignore)
        else:
            shutil.copy2(source, copy / name)
    return copy


def test_the_audit_plans_moves_collisions_and_next_steps(
    tmp_path: Path,
    template: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def measured(_assembled: Path, _formatter: str, debt: adopt.Debt) -> None:
        debt.lint.update({"package/src/fraud/model.py": 2})
        debt.coverage = 41.0

    monkeypatch.setattr(adopt, "_measure", measured)
    repo = repository(
        tmp_path,
        {
            "setup.py": 'from setuptools import setup\nsetup(name="fraud-detector", '
            'packages=["fraud"], author="Risk", author_email="risk@example.com")\n',
            "fraud/__init__.py": '__version__ = "0.3.0"\n',
            "fraud/model.py": "def score(x):\n    return x\n",
            "README.md": "# Fraud\n",
            "Makefile": "lint:\n\tflake8\n\ninstall:\n\tpip install -r requirements.txt\n",
            ".gitignore": ".venv\n",
            "requirements.txt": "pandas\n",
            "eda.ipynb": '{"cells": [{"cell_type": "code", "outputs": [{"text": "1"}]}]}',
            "sample.csv": "a\n1\n",
            "config.py": 'API_TOKEN = "hunter22hunter22"\n',
        },
    )
    assert cli.main(["adopt", str(repo), "--template", str(template)]) == 0
    assert "Wrote" in capsys.readouterr().out
    report = (repo / adopt.REPORT).read_text()
    for expected in [
        "| project_name | `fraud-detector` | setup.py setup(name=...) |",
        "| `fraud/model.py` | `package/src/fraud/model.py` | package code |",
        "| `sample.csv` | `data/sample.csv` | data (untracked) |",
        "| `config.py` | `research/scripts/config.py` | scratch code |",
        "| `Makefile` | kept, with `include standards/tasks.mk` |",
        "| `package/src/fraud/__init__.py` | kept: the team's version",
        "- Makefile: target lint renamed old-lint",
        "| `requirements.txt` | its requirements are in pyproject.toml, and uv.lock "
        "pins them |",
        "| `setup.py` | the template's build (uv_build, [build-system]) replaces it",
        "`Makefile` line 8 still names requirements.txt, which adoption removed",
        "`package/src/fraud/training.py`",
        "- lint errors (ruff): 2 in 1 files",
        "- coverage: 41.0%",
        "- notebooks with outputs in git: 1",
        "- secrets found: 1",
        "data/catalog/sample.yml",
    ]:
        assert expected in report, f"ADOPTION.md lacks {expected!r}:\n{report}"
    status = subprocess.run(
        ["git", "status", "--porcelain"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert status == "?? ADOPTION.md\n", "the audit writes ADOPTION.md and nothing else"
    assert cli.main(["adopt", str(repo), "--template", str(template)]) == 0, (
        "its own report does not make the tree dirty"
    )
    assert (repo / adopt.REPORT).read_text() == report, (
        "a second audit gives other bytes"
    )


def test_the_templates_tests_of_the_teams_modules_are_not_written(
    tmp_path: Path,
) -> None:
    files = {
        # The team's, kept: a version of its own, a model.
        "package/src/fraud/__init__.py": '__version__ = "0.3.0"\n',
        "package/src/fraud/model.py": "def score(x):\n    return x\n",
        # The template's.
        "package/src/fraud/contracts/__init__.py": "X = 1\n",
        "package/tests/test_package.py": "from fraud import __version__\n",
        "package/tests/test_model.py": "from fraud import model\n",
        "package/tests/test_contracts.py": "from fraud import contracts\n"
        "from fraud.contracts import X\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    written = {n for n in files if not n.startswith("package/src/fraud/_")}
    written -= {"package/src/fraud/model.py"}
    assert adopt.unsatisfied(tmp_path, "fraud", written) == [
        "package/tests/test_model.py",
        "package/tests/test_package.py",
    ], "the template's tests of the team's __init__ and model test the template's"
    assert "package/tests/test_contracts.py" in written, (
        "a test of the template's own contracts stays"
    )
