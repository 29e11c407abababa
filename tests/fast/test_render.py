"""What `copier copy` writes, for every answer set: the right files, fully rendered."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import tomllib
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml
from handoff_kit import config
from handoff_kit.registry.card import TEAM_SECTIONS, team_notes
from handoff_kit.scenarios import describe_acceptance

from tests.conftest import (
    ANSWER_SETS,
    REPO,
    answers,
    format_check,
    project_files,
    read_jsonc,
    run,
)

NAMES = list(ANSWER_SETS)


def rel(project: Path) -> set[str]:
    return {p.relative_to(project).as_posix() for p in project_files(project)}


def test_every_value_of_every_choice_is_rendered(rendered: Mapping[str, Path]) -> None:
    seen: dict[str, set[object]] = {}
    for project in rendered.values():
        for key, value in answers(project).items():
            seen.setdefault(key, set()).add(value)

    expected = {
        "python_version": {"3.11", "3.12", "3.13"},
        "env_manager": {"uv", "conda"},
        "formatter": {"black", "ruff"},
        "model_registry": {"mlflow", "files"},
        "ci": {"github", "gitlab", "none"},
        "license": {"MIT", "Apache-2.0", "Proprietary"},
        "example": {True, False},
    }
    for question, values in expected.items():
        assert values <= seen[question], f"{question}: {values - seen[question]} never rendered"


@pytest.mark.parametrize("name", NAMES)
def test_no_jinja_is_left_unrendered(rendered: Mapping[str, Path], name: str) -> None:
    project = rendered[name]
    # GitHub's own expressions, `${{ ... }}`, are meant to stay.
    jinja = re.compile(r"(?<!\$)\{\{.*?\}\}|\{%.*?%\}")
    leftovers = [
        f"{path.relative_to(project)}: {match.group(0)!r}"
        for path in project_files(project)
        for match in jinja.finditer(path.read_text())
    ]
    assert not leftovers, "unrendered Jinja:\n" + "\n".join(leftovers)
    names_with_jinja = [p for p in rel(project) if "{" in p or "jinja" in p]
    assert not names_with_jinja, f"unrendered file names: {names_with_jinja}"


@pytest.mark.parametrize("name", NAMES)
def test_every_toml_yaml_json_and_notebook_parses(rendered: Mapping[str, Path], name: str) -> None:
    for path in project_files(rendered[name]):
        text = path.read_text()
        if path.suffix == ".toml":
            tomllib.loads(text)
        elif path.suffix in {".yml", ".yaml"}:
            yaml.safe_load(text)
        elif path.suffix == ".ipynb":
            json.loads(text)
        elif path.suffix == ".json":
            read_jsonc(path)  # VS Code and dev containers read JSON with comments.


@pytest.mark.parametrize("name", NAMES)
def test_python_files_compile(rendered: Mapping[str, Path], name: str) -> None:
    for path in project_files(rendered[name]):
        if path.suffix == ".py":
            compile(path.read_text(), str(path), "exec")


@pytest.mark.parametrize("name", NAMES)
def test_files_read_as_if_written_by_hand(rendered: Mapping[str, Path], name: str) -> None:
    """No trailing spaces, one final newline, no runs of blank lines left by Jinja."""
    problems = []
    for path in project_files(rendered[name]):
        text = path.read_text()
        if path.name == "LICENSE" or not text:  # Verbatim legal text; marker files.
            continue
        where = path.relative_to(rendered[name])
        if not text.endswith("\n") or text.endswith("\n\n"):
            problems.append(f"{where}: does not end with exactly one newline")
        if re.search(r"[ \t]+$", text, flags=re.MULTILINE):
            problems.append(f"{where}: trailing whitespace")
        if "\n\n\n" in text and path.suffix not in {".py"}:
            problems.append(f"{where}: two blank lines in a row")
    assert not problems, "\n".join(problems)


def test_the_default_project_has_the_documented_layout(rendered: Mapping[str, Path]) -> None:
    files = rel(rendered["default"])
    expected = {
        ".copier-answers.yml", ".devcontainer/devcontainer.json", ".dockerignore",
        ".editorconfig", ".gitattributes", ".github/workflows/check.yml",
        ".github/workflows/data-check.yml", ".github/workflows/image.yml",
        ".github/workflows/template-update.yml", ".gitignore", "renovate.json",
        ".pre-commit-config.yaml", ".python-version", ".secrets.baseline",
        ".vscode/extensions.json",
        ".vscode/launch.json", ".vscode/settings.json", "CODEOWNERS", "Dockerfile",
        "api/openapi.json",
        "contracts/customers.odcs.yaml", "contracts/customers_warehouse.odcs.yaml",
        "contracts/model-input.odcs.yaml",
        "contracts/model-output.odcs.yaml",
        "LICENSE", "Makefile", "README.md", "STANDARDS.md", "data/README.md",
        "data/catalog/README.md", "data/catalog/customers.yml",
        "data/catalog/exit_survey.yml", "data/catalog/customers_warehouse.yml",
        "models/README.md", "package/contracts.lock.json", "package/model_card.md",
        "package/src/churn_model/__init__.py",
        "package/src/churn_model/contracts/__init__.py",
        "package/src/churn_model/contracts/interface.py",
        "package/src/churn_model/contracts/schemas.py",
        "package/src/churn_model/data.py", "package/src/churn_model/model.py",
        "package/src/churn_model/py.typed", "package/src/churn_model/training.py",
        "package/tests/acceptance/golden_sample.csv",
        "package/tests/acceptance/scoring.feature",
        "package/tests/acceptance/test_scoring.py",
        "package/tests/test_contracts.py", "package/tests/test_data.py",
        "package/tests/test_model.py", "package/tests/test_training.py",
        "pyproject.toml", "uv.toml", "research/README.md",
        "research/notebooks/01_explore_churn.ipynb", "research/ruff.toml",
        "standards/ruff-research.toml", "standards/ruff.toml", "standards/tasks.mk",
        "standards/template-owned.sha256", "standards/template_changes.py", "standards/update_package.py", "standards/uv.mk",
        "standards/team-registry/Dockerfile", "standards/team-registry/README.md",
        "standards/team-registry/compose.yaml",
    }  # fmt: skip
    kit = {f for f in files if f.startswith("standards/handoff-kit/")}
    files -= kit
    assert files == expected, (
        f"missing: {sorted(expected - files)}\nunexpected: {sorted(files - expected)}"
    )


@pytest.mark.parametrize("name", NAMES)
def test_options_decide_which_files_exist(rendered: Mapping[str, Path], name: str) -> None:
    project = rendered[name]
    given = answers(project)
    files = rel(project)
    package = f"package/src/{given['package_name']}"

    assert (".github/workflows/check.yml" in files) == (given["ci"] == "github")
    assert (".gitlab-ci.yml" in files) == (given["ci"] == "gitlab")
    assert ("environment.yml" in files) == (given["env_manager"] == "conda")
    assert ("environment-dev.yml" in files) == (given["env_manager"] == "conda")
    assert ("standards/environment-dev.yml" in files) == (given["env_manager"] == "conda")
    assert ("uv.toml" in files) == (given["env_manager"] == "uv")
    assert (f"standards/{given['env_manager']}.mk") in files
    team = given["model_registry"] == "mlflow"
    assert ("standards/team-registry/compose.yaml" in files) == team
    assert (f"{package}/data.py" in files) == given["example"]
    # Every project has a model that satisfies the contract: the example's or a stub.
    assert f"{package}/model.py" in files
    assert f"{package}/training.py" in files
    # The registry is the kit's; [tool.handoff] picks the backend answered.
    settings = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["handoff"]
    assert settings["registry"] == given["model_registry"]
    assert f"{package}/contracts/schemas.py" in files
    assert "package/contracts.lock.json" in files
    assert any(f.startswith("research/notebooks/") and f.endswith(".ipynb") for f in files)
    assert f"{package}/py.typed" in files
    assert (project / ".python-version").read_text().strip() == given["python_version"]
    # The model card's notes, where the card says the team writes its sections: each
    # heading there, with a prompt the card does not copy as the team's text.
    notes = config.load(project).card_notes
    assert notes is not None, "the kit reads no model card notes"
    assert notes.is_file(), "the model card's notes file is not generated"
    headings = re.findall(r"^## (.+)$", notes.read_text(), re.MULTILINE)
    assert headings == list(TEAM_SECTIONS), f"{notes.name} has the sections {headings}"
    assert team_notes(notes) == {}, "a prompt in the notes would reach the card as written"


@pytest.mark.parametrize("name", NAMES)
def test_the_license_matches_the_answer(rendered: Mapping[str, Path], name: str) -> None:
    project = rendered[name]
    given = answers(project)
    license_text = (project / "LICENSE").read_text()
    declared = tomllib.loads((project / "pyproject.toml").read_text())["project"]["license"]

    first_line = {
        "MIT": "MIT License",
        "Apache-2.0": "Apache License",
        "Proprietary": "All rights reserved",
    }
    assert first_line[given["license"]] in license_text
    assert declared == {"Proprietary": "LicenseRef-Proprietary"}.get(
        given["license"], given["license"]
    )


@pytest.mark.parametrize("name", NAMES)
def test_codeowners_gives_each_team_its_side(rendered: Mapping[str, Path], name: str) -> None:
    project = rendered[name]
    given = answers(project)
    owners = dict(
        line.split(None, 1)
        for line in (project / "CODEOWNERS").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert owners["/research/"] == given["ds_team"]
    assert owners["/package/"] == given["mle_team"]
    ci = {"github": ["/.github/workflows/"], "gitlab": ["/.gitlab-ci.yml"], "none": []}
    template_owned = ["/standards/", "/.pre-commit-config.yaml", "/STANDARDS.md"]
    for path in [*template_owned, *ci[given["ci"]]]:
        assert owners.get(path) == given["mle_team"], (
            f"CODEOWNERS gives the template-owned {path} to {owners.get(path)!r}, "
            f"not to the ML engineers ({given['mle_team']})"
        )


@pytest.mark.parametrize("name", NAMES)
def test_python_versions_agree_everywhere(rendered: Mapping[str, Path], name: str) -> None:
    project = rendered[name]
    version = answers(project)["python_version"]
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    ruff = tomllib.loads((project / "standards/ruff.toml").read_text())

    assert pyproject["project"]["requires-python"] == f">={version}"
    assert pyproject["tool"]["mypy"]["python_version"] == version
    assert ruff["target-version"] == f"py{version.replace('.', '')}"
    if "black" in pyproject["tool"]:
        assert pyproject["tool"]["black"]["target-version"] == [f"py{version.replace('.', '')}"]
    notebooks = list((project / "research").rglob("*.ipynb"))
    for notebook in notebooks:
        kernel = json.loads(notebook.read_text())["metadata"]["kernelspec"]["name"]
        assert kernel == answers(project)["project_slug"]


@pytest.mark.parametrize("name", NAMES)
def test_a_fresh_project_is_already_formatted_and_lint_clean(
    rendered: Mapping[str, Path], name: str
) -> None:
    """The same formatter and ruff versions the project pins, on its own config."""
    project = rendered[name]
    check = format_check(answers(project)["formatter"])

    run([*check, "package", "research"], cwd=project)
    run(["ruff", "check", "--no-cache", "package", "research"], cwd=project)
    run(["nbstripout", "--verify", *map(str, (project / "research").rglob("*.ipynb"))], cwd=project)


# --- The handoff contract ------------------------------------------------------

CATALOG_FIELDS = {"name", "description", "owner", "tier", "status", "location", "schema"}
# What an entry may add (handoff_kit.catalog.OPTIONAL).
CATALOG_OPTIONAL = {"table", "query", "credentials_env", "id_column", "known_issues"}


@pytest.mark.parametrize("name", NAMES)
def test_catalog_files_follow_the_catalog_schema(rendered: Mapping[str, Path], name: str) -> None:
    project = rendered[name]
    sources = sorted((project / "data/catalog").glob("*.yml"))
    assert (project / "data/catalog/README.md").is_file(), "data/catalog/ must stay tracked"
    assert bool(sources) == answers(project)["example"], "the example ships its sources"
    for path in sources:
        entry = yaml.safe_load(path.read_text())
        assert CATALOG_FIELDS <= set(entry) <= CATALOG_FIELDS | CATALOG_OPTIONAL, (
            f"{path.name}: fields {sorted(entry)}"
        )
        assert entry["name"] == path.stem, f"{path.name}: name {entry['name']!r}"
        assert entry["tier"] in {"bronze", "silver", "gold"}, f"{path.name}: tier"
        assert entry["status"] in {"official", "unofficial"}, f"{path.name}: status"
    statuses = {yaml.safe_load(p.read_text())["status"] for p in sources}
    if sources:
        assert statuses == {"official", "unofficial"}, "the example shows both kinds of source"


@pytest.mark.parametrize("name", NAMES)
def test_the_acceptance_scenarios_and_their_golden_sample_are_there(
    rendered: Mapping[str, Path], name: str
) -> None:
    acceptance = rendered[name] / "package/tests/acceptance"
    feature = (acceptance / "scoring.feature").read_text()
    golden = (acceptance / "golden_sample.csv").read_text().splitlines()

    assert feature.startswith("Feature: ")
    assert "Scenario: The golden sample is scored within the contract" in feature
    assert "Scenario Outline: Bad input is refused and nothing is scored" in feature
    assert 'scenarios("scoring.feature")' in (acceptance / "test_scoring.py").read_text()
    assert 5 <= len(golden) - 1 <= 50, "the golden sample is small, but not trivial"


@pytest.mark.parametrize("name", NAMES)
def test_the_committed_snapshot_matches_the_contract_version(
    rendered: Mapping[str, Path], name: str
) -> None:
    project = rendered[name]
    package = f"package/src/{answers(project)['package_name']}"
    snapshot = json.loads((project / "package/contracts.lock.json").read_text())
    version = re.search(
        r'^CONTRACT_VERSION = "(.+)"$',
        (project / package / "contracts/__init__.py").read_text(),
        flags=re.MULTILINE,
    )

    assert version, "contracts/__init__.py defines no CONTRACT_VERSION"
    assert snapshot["version"] == version.group(1)
    assert set(snapshot["schemas"]) >= {"Features", "Predictions"}
    assert set(snapshot["interfaces"]["Model"]) == {"fit", "predict"}
    assert snapshot["acceptance"] == describe_acceptance(project / "package/tests/acceptance"), (
        "the snapshot's scenarios and golden sample differ from the rendered ones"
    )


@pytest.mark.parametrize("name", NAMES)
def test_make_help_lists_the_handoff_targets(rendered: Mapping[str, Path], name: str) -> None:
    result = subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=rendered[name], capture_output=True, text=True, check=True,
    )  # fmt: skip

    lines = [line for line in result.stdout.splitlines() if line.strip()]
    listed = {line.split()[0] for line in lines}
    assert {"train", "handoff", "promote", "contract-snapshot", "serve", "openapi"} <= listed, (
        result.stdout
    )
    # Each description starts after its name and two spaces at least, in one column.
    columns = {len(line) - len(line[2:].split(maxsplit=1)[1]) for line in lines}
    assert len(columns) == 1, f"`make help` does not align its descriptions:\n{result.stdout}"


# --- The handoff kit: machinery in standards/, the project's own code in package/ ----

# Every file the kit ships to projects, as this repository holds it.
KIT = REPO / "handoff-kit"
KIT_FILES = {
    str(path.relative_to(KIT))
    for path in KIT.rglob("*")
    if path.is_file()
    and "tests" not in path.relative_to(KIT).parts
    and "__pycache__" not in path.parts
    and not any(part.endswith("_cache") for part in path.parts)
    and path.suffix != ".pyc"
}
# The project's own modules: contracts, model, training and the example's data.
OWN_MODULES = {
    "__init__.py", "py.typed", "model.py", "training.py", "data.py",
    "contracts/__init__.py", "contracts/interface.py", "contracts/schemas.py",
}  # fmt: skip
OWN_TESTS = {
    "test_contracts.py", "test_model.py", "test_data.py",
    "test_training.py", "test_package.py", "acceptance/scoring.feature",
    "acceptance/test_scoring.py", "acceptance/golden_sample.csv",
}  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_the_kit_is_shipped_whole_and_verbatim_without_its_tests(
    rendered: Mapping[str, Path], name: str
) -> None:
    shipped = rendered[name] / "standards/handoff-kit"
    files = {str(p.relative_to(shipped)) for p in shipped.rglob("*") if p.is_file()}

    assert files == KIT_FILES, (
        f"missing: {sorted(KIT_FILES - files)}\nunexpected: {sorted(files - KIT_FILES)}"
    )
    changed = [f for f in files if (shipped / f).read_bytes() != (KIT / f).read_bytes()]
    assert not changed, f"the kit was rendered, not copied: {changed}"


@pytest.mark.parametrize("name", NAMES)
def test_package_holds_only_the_projects_own_code(rendered: Mapping[str, Path], name: str) -> None:
    project = rendered[name]
    source = project / "package/src" / answers(project)["package_name"]
    modules = {str(p.relative_to(source)) for p in source.rglob("*") if p.is_file()}
    tests = {
        str(p.relative_to(project / "package/tests"))
        for p in (project / "package/tests").rglob("*")
        if p.is_file()
    }

    assert modules <= OWN_MODULES, f"machinery in package/src: {sorted(modules - OWN_MODULES)}"
    assert tests <= OWN_TESTS, f"machinery tests in package/tests: {sorted(tests - OWN_TESTS)}"


@pytest.mark.parametrize(("name", "source_limit", "test_limit"), [("default", 400, 300)])
def test_the_example_package_stays_small_enough_to_read(
    rendered: Mapping[str, Path], name: str, source_limit: int, test_limit: int
) -> None:
    def lines(folder: Path) -> int:
        return sum(len(p.read_text().splitlines()) for p in folder.rglob("*.py"))

    project = rendered[name]
    assert lines(project / "package/src") <= source_limit
    assert lines(project / "package/tests") <= test_limit


@pytest.mark.parametrize("name", NAMES)
def test_tool_handoff_points_at_what_the_project_renders(
    rendered: Mapping[str, Path], name: str
) -> None:
    """Every module and object [tool.handoff] names exists in the rendered package."""
    project = rendered[name]
    settings = tomllib.loads((project / "pyproject.toml").read_text())["tool"]["handoff"]
    package = answers(project)["package_name"]

    assert settings["package"] == package
    assert (project / settings["package-dir"]).is_dir()
    for key in ("contracts", "model-input", "model-output", "model-interface", "train"):
        module, _, name_in_module = settings[key].partition(":")
        path = project / "package/src" / module.replace(".", "/")
        source = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
        assert source.is_file(), f"{key}: no module {module}"
        if name_in_module:
            defined = {
                node.name
                for node in ast.parse(source.read_text()).body
                if isinstance(node, ast.ClassDef | ast.FunctionDef)
            }
            imported = {
                alias.asname or alias.name
                for node in ast.parse(source.read_text()).body
                if isinstance(node, ast.ImportFrom)
                for alias in node.names
            }
            assert name_in_module in defined | imported, f"{key}: {module} has no {name_in_module}"
    for key in ("snapshot", "catalog", "research", "acceptance"):
        assert (project / settings[key]).exists(), f"{key}: {settings[key]} does not exist"
