"""Inside generated projects: the real `make setup` and `make check`, and what they catch."""

from __future__ import annotations

import json
import subprocess
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Project, answers

pytestmark = pytest.mark.slow

# The default answers, a contrasting set (ruff, no example, no registry, GitLab,
# Python 3.11) and Python 3.13: every interpreter this machine has; and the set
# whose image the container test builds.
SET_UP = ["default", "contrast", "py313", "container"]


@pytest.fixture
def default_project(set_up_project: Callable[[str], Project]) -> Iterator[Project]:
    """The default project; whatever a test plants in it is removed afterwards."""
    project = set_up_project("default")
    yield project
    project.restore()


@pytest.mark.parametrize("name", SET_UP)
def test_make_check_passes_straight_after_make_setup(
    set_up_project: Callable[[str], Project], name: str
) -> None:
    project = set_up_project(name)

    result = project.make("check")

    assert "passed" in result.stdout, "make check ran no tests"
    version = answers(project.path)["python_version"]
    assert f"Python {version}" in result.stdout, f"tests did not run on Python {version}"


@pytest.mark.parametrize("name", SET_UP)
def test_make_format_changes_nothing_in_a_fresh_project(
    set_up_project: Callable[[str], Project], name: str
) -> None:
    project = set_up_project(name)

    project.make("format")

    changed = project.run("git", "status", "--porcelain").stdout
    assert not changed, f"`make format` changed a fresh project:\n{changed}"


def test_make_setup_is_idempotent_and_prints_next_steps(default_project: Project) -> None:
    result = default_project.make("setup")

    assert "Next steps" in result.stdout
    assert "make check" in result.stdout
    assert not default_project.run("git", "status", "--porcelain").stdout


def test_make_setup_installs_the_git_hooks_and_the_kernel(default_project: Project) -> None:
    hooks = default_project.path / ".git" / "hooks"
    assert "pre-commit" in (hooks / "pre-commit").read_text()
    filters = default_project.run("git", "config", "--get", "filter.nbstripout.clean").stdout
    assert "nbstripout" in filters, "the nbstripout git filter is not configured"
    slug = answers(default_project.path)["project_slug"]
    kernel = Path(default_project.env["JUPYTER_DATA_DIR"]) / "kernels" / slug / "kernel.json"
    assert kernel.is_file(), f"no Jupyter kernel named {slug}"


def test_the_example_notebook_runs_top_to_bottom(default_project: Project) -> None:
    notebook = "research/notebooks/01_explore_churn.ipynb"

    default_project.run("uv", "run", "--frozen", "jupyter", "execute", "--inplace", notebook)

    cells = json.loads((default_project.path / notebook).read_text())["cells"]
    outputs = [o for cell in cells if cell["cell_type"] == "code" for o in cell["outputs"]]
    assert not [o for o in outputs if o["output_type"] == "error"]
    assert any("Accuracy on held-out customers" in "".join(o.get("text", "")) for o in outputs)


# --- Planted defects: `make check` fails and names them ------------------------


def write(project: Project, relative: str, text: str) -> None:
    path = project.path / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@contextmanager
def committed_around_the_hooks(project: Project) -> Iterator[None]:
    """Whatever the block commits (`--no-verify`, as a hurried user might) is undone
    after it: the project's history is back at the commit it had."""
    head = project.run("git", "rev-parse", "HEAD").stdout.strip()
    try:
        yield
    finally:
        project.run("git", "reset", "-q", "--hard", head)


def hygiene_gate(project: Project) -> subprocess.CompletedProcess[str]:
    """The gate's hygiene row alone, as `make handoff` runs it."""
    return project.run("uv", "run", "--frozen", "handoff", "gate", "--only", "hygiene", check=False)


def package_dir(project: Project) -> str:
    return f"package/src/{answers(project.path)['package_name']}"


def test_an_untyped_function_in_the_package_fails_lint_and_type_check(
    default_project: Project,
) -> None:
    write(
        default_project,
        f"{package_dir(default_project)}/untyped.py",
        "def double(x):\n    return x * 2\n",
    )

    check = default_project.make("check", check=False)
    typecheck = default_project.make("typecheck", check=False)

    assert check.returncode != 0
    assert "untyped.py" in check.stdout
    assert "missing return type annotation" in check.stdout.lower()
    # mypy --strict catches it on its own too, whatever the linter says.
    assert typecheck.returncode != 0
    assert "untyped.py" in typecheck.stdout
    assert "missing a type annotation" in typecheck.stdout


def test_waivers_that_name_no_rule_and_mypy_settings_in_package_files_fail(
    default_project: Project,
) -> None:
    package = package_dir(default_project)
    write(
        default_project,
        f"{package}/waived.py",
        'import os  # noqa\n\nN: int = "x"  # type: ignore\n',
    )
    write(
        default_project,
        f"{package}/unchecked.py",
        "# mypy: ignore-errors\n\n\ndef double(x: int) -> str:\n    return x * 2\n",
    )

    lint = default_project.make("lint", check=False)
    typecheck = default_project.make("typecheck", check=False)

    assert lint.returncode != 0, f"make lint passed bare waivers:\n{lint.stdout}"
    assert "PGH004" in lint.stdout, "a bare `# noqa` passed"
    assert "PGH003" in lint.stdout, "a bare `# type: ignore` passed"
    assert typecheck.returncode != 0, f"make typecheck passed:\n{typecheck.stdout}"
    assert "unchecked.py:1:# mypy: ignore-errors" in typecheck.stdout
    assert "loosen the standard for that file" in typecheck.stdout


def test_a_lint_error_in_the_package_fails_the_lint(default_project: Project) -> None:
    write(
        default_project,
        f"{package_dir(default_project)}/sloppy.py",
        'import os\n\nPATH: str = "x"\n',
    )

    result = default_project.make("check", check=False)

    assert result.returncode != 0
    assert "sloppy.py" in result.stdout
    assert "F401" in result.stdout, "the unused import is not reported"


def test_package_code_importing_research_fails_with_the_reason(default_project: Project) -> None:
    write(default_project, "research/helpers.py", "def tidy() -> None:\n    pass\n")
    write(
        default_project,
        f"{package_dir(default_project)}/leaky.py",
        'from research.helpers import tidy\n\n__all__ = ["tidy"]\n',
    )

    result = default_project.make("check", check=False)

    assert result.returncode != 0
    assert "leaky.py" in result.stdout
    assert "package code must never import research code" in result.stdout


def test_a_notebook_in_git_with_outputs_fails_and_is_named(default_project: Project) -> None:
    """Outputs in the working copy are the data scientist's (the fast tier checks
    that they pass); outputs that reach git, from a clone where `make setup` never
    installed the filter, fail `make check`."""
    notebook = "research/notebooks/01_explore_churn.ipynb"
    path = default_project.path / notebook
    cells = json.loads(path.read_text())
    cells["cells"][1]["outputs"] = [
        {"output_type": "stream", "name": "stdout", "text": ["hello\n"]}
    ]
    cells["cells"][1]["execution_count"] = 1
    path.write_text(json.dumps(cells, indent=1) + "\n")
    # Staged as a clone without nbstripout's git filter would stage it.
    default_project.run("git", "-c", "filter.nbstripout.clean=cat", "add", notebook)

    result = default_project.make("check", check=False)

    said = result.stdout + result.stderr
    assert result.returncode != 0, "make check passed with outputs in git"
    assert notebook in said
    assert "Notebooks above are in git with outputs" in said


def test_untyped_code_in_research_passes(default_project: Project) -> None:
    write(
        default_project,
        "research/scratch.py",
        "import os\n\n\ndef quick(x, y=[]):\n    y.append(x)\n    return y\n",
    )

    default_project.make("check")


# --- The git hooks enforce the same standards at commit time --------------------


def test_the_pre_commit_hook_refuses_a_lint_error(default_project: Project) -> None:
    # An undefined name: nothing ruff can fix by itself.
    write(
        default_project,
        f"{package_dir(default_project)}/sloppy.py",
        "def total() -> int:\n    return subtotal\n",
    )
    default_project.run("git", "add", "-A")

    result = default_project.run("git", "commit", "-m", "sloppy", check=False)

    assert result.returncode != 0, "the commit went through despite a lint error"
    assert "sloppy.py" in result.stdout + result.stderr


def test_the_large_file_hook_accepts_the_lock_and_refuses_a_data_file(
    default_project: Project,
) -> None:
    """The lock passes 1 MB with MLflow's dependency tree (Python 3.11); data must not.
    The hook checks the files a commit adds, as the first commit after `make setup`
    adds the lock: this test replays that commit."""
    head = default_project.run("git", "rev-parse", "HEAD").stdout.strip()
    lock = default_project.path / "uv.lock"
    try:
        default_project.run("git", "rm", "-q", "--cached", "uv.lock")
        default_project.run("git", "commit", "-q", "--no-verify", "-m", "Before the lock")
        lock.write_bytes(lock.read_bytes() + b"# More of the dependency tree.\n" * 40_000)
        write(default_project, "data.csv", "x\n" * 600_000)
        default_project.run("git", "add", "-f", "uv.lock", "data.csv")

        result = default_project.run(
            "uv", "run", "--frozen", "pre-commit", "run", "check-added-large-files", check=False
        )
    finally:
        default_project.run("git", "reset", "-q", "--hard", head)

    said = result.stdout + result.stderr
    assert result.returncode != 0, "a 1.2 MB data file was accepted"
    assert "data.csv" in said
    assert "uv.lock" not in said, f"the hook refuses the project's own lock:\n{said}"


def test_make_check_and_the_gate_refuse_what_a_no_verify_commit_slipped_past_the_hooks(
    default_project: Project,
) -> None:
    with committed_around_the_hooks(default_project):
        write(default_project, "deploy/id_rsa", "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n")
        write(default_project, "exports/scores.csv", "0.5\n" * 300_000)
        default_project.run("git", "add", "-f", "deploy", "exports")
        default_project.run("git", "commit", "-q", "--no-verify", "-m", "Around the hooks")

        checked = default_project.make("check", check=False)
        gated = hygiene_gate(default_project)
        # The large file stops the scans before they read it; once it is out of git,
        # the private key is found.
        default_project.run("git", "rm", "-q", "-r", "--cached", "exports")
        default_project.run("git", "commit", "-q", "--no-verify", "-m", "Data out of git")
        scanned = default_project.make("hygiene", check=False)

    assert checked.returncode != 0, "make check passed with a private key and a large file"
    assert "exports/scores.csv (1172 KB) exceeds 1000 KB." in checked.stdout
    assert "The secrets scan runs once they are gone." in checked.stdout
    assert gated.returncode != 0, "the gate passed with a private key and a large file"
    assert "| No large files, private keys or secrets | FAIL |" in gated.stdout
    assert scanned.returncode != 0, "make hygiene passed with a private key in git"
    assert "Private key found: deploy/id_rsa" in scanned.stdout


def test_a_cloud_secret_in_package_code_is_refused_by_the_hook_make_check_and_the_gate(
    default_project: Project,
) -> None:
    """Not a plain `AWS_SECRET_ACCESS_KEY = "..."` that a lint rule happens to catch:
    a key handed to the environment in code, as detect-secrets finds it."""
    package = package_dir(default_project)
    with committed_around_the_hooks(default_project):
        write(
            default_project,
            f"{package}/cloud.py",
            '"""Cloud access."""\n\nimport os\n\nos.environ.setdefault(\n'
            '    "AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"\n)\n',
        )
        default_project.run("git", "add", package)
        hooked = default_project.run("git", "commit", "-m", "Cloud access", check=False)
        default_project.run("git", "commit", "-q", "--no-verify", "-m", "Around the hooks")
        checked = default_project.make("hygiene", check=False)
        gated = hygiene_gate(default_project)

    leak = f"Location:    {package}/cloud.py:6"
    assert hooked.returncode != 0, "the commit went through with a cloud secret"
    said = hooked.stdout + hooked.stderr
    assert leak in said, f"the hook does not name the secret:\n{said}"
    assert checked.returncode != 0, "make check's hygiene passed with a cloud secret"
    assert leak in checked.stdout
    assert "| No large files, private keys or secrets | FAIL |" in gated.stdout


def test_a_sqlite_read_in_package_code_fails_the_catalog_row_naming_file_and_line(
    default_project: Project,
) -> None:
    package = package_dir(default_project)
    write(
        default_project,
        f"{package}/local_rows.py",
        '"""Rows from a local database."""\n\nimport sqlite3\n\n\n'
        "def rows() -> sqlite3.Connection:\n"
        '    return sqlite3.connect("data/x.db")\n',
    )

    gated = default_project.run(
        "uv", "run", "--frozen", "handoff", "gate", "--only", "catalog", check=False
    )

    assert gated.returncode != 0, "the gate passed a SQLite read around the catalog"
    read = f"{package}/local_rows.py:7: reads data directly with sqlite3.connect(): 'data/x.db'"
    assert read in gated.stdout, f"the catalog row does not name the read:\n{gated.stdout}"


def test_a_low_entropy_password_given_to_the_environment_fails_make_check_and_the_gate(
    default_project: Project,
) -> None:
    """detect-secrets sees neither the low entropy nor setdefault's form; the kit's scan does,
    in package/ and research/ alike."""
    package = package_dir(default_project)
    leak = 'import os\n\nos.environ.setdefault("DB_PASSWORD", "hunter2")\n'
    with committed_around_the_hooks(default_project):
        write(default_project, f"{package}/settings.py", f'"""Settings."""\n\n{leak}')
        write(default_project, "research/scratch.py", leak)
        default_project.run("git", "add", package, "research")
        hooked = default_project.run("git", "commit", "-m", "Passwords", check=False)
        # Empty when the hooks let it through: the assertions below say so.
        default_project.run(
            "git", "commit", "-q", "--no-verify", "--allow-empty", "-m", "Around the hooks"
        )
        checked = default_project.make("check", check=False)
        gated = hygiene_gate(default_project)

    said = checked.stdout + checked.stderr
    assert hooked.returncode != 0, "the commit went through with a password in code"
    assert checked.returncode != 0, "make check passed with a password in code"
    for leaked in (f"{package}/settings.py:5", "research/scratch.py:3"):
        assert f"{leaked}: DB_PASSWORD is given a string literal" in said, (
            f"make check does not name {leaked}:\n{said}"
        )
    assert "| No large files, private keys or secrets | FAIL |" in gated.stdout


def test_an_allowlisted_secret_needs_a_reason_and_the_report_lists_it(
    default_project: Project,
) -> None:
    package = package_dir(default_project)
    key = 'KEY_ID = "AKIAIOSFODNN7EXAMPLE"  # pragma: allowlist secret'
    cloud = f"{package}/cloud.py"

    write(default_project, cloud, f'"""Cloud access."""\n\n{key}\n')
    default_project.run("git", "add", cloud)
    unreasoned = default_project.make("hygiene", check=False)
    write(default_project, cloud, f'"""Cloud access."""\n\n{key} -- AWS\'s documented example\n')
    default_project.run("git", "add", cloud)
    reasoned = default_project.make("hygiene", check=False)
    gated = hygiene_gate(default_project)

    said = unreasoned.stdout + unreasoned.stderr
    assert unreasoned.returncode != 0, "an allowlist pragma without a reason passed"
    assert f"{cloud}:3: a secret allowlist pragma needs a reason" in said, said
    assert reasoned.returncode == 0, reasoned.stdout + reasoned.stderr
    assert "| No large files, private keys or secrets | pass |" in gated.stdout, gated.stdout
    listed = f"1 allowlisted secret: {cloud}:3 (AWS's documented example)"
    assert listed in gated.stdout, f"the report does not list the pragma:\n{gated.stdout}"


def test_notebook_outputs_are_stripped_when_committed(default_project: Project) -> None:
    notebook = "research/notebooks/01_explore_churn.ipynb"
    default_project.run("uv", "run", "--frozen", "jupyter", "execute", "--inplace", notebook)
    assert '"output_type"' in (default_project.path / notebook).read_text()

    default_project.run("git", "add", notebook)
    staged = default_project.run("git", "show", f":{notebook}").stdout

    assert '"output_type"' not in staged, "the staged notebook still carries outputs"


def runtime_packages(lock: dict[str, Any], root: str) -> set[str]:
    """Every package the lock installs for `root`'s dependencies, without its dependency
    groups: the root's dependencies, with the extras each names, and theirs, whatever
    their markers (the lock, and its SBOM, are for every platform)."""
    by_name: dict[str, list[dict[str, Any]]] = {}
    for package in lock["package"]:
        by_name.setdefault(package["name"], []).append(package)
    found: set[str] = set()
    pending = [dependency for p in by_name[root] for dependency in p.get("dependencies", [])]
    while pending:
        dependency = pending.pop()
        for package in by_name[dependency["name"]]:
            extras = package.get("optional-dependencies", {})
            pending += [d for extra in dependency.get("extra", []) for d in extras.get(extra, [])]
            if dependency["name"] not in found:
                pending += package.get("dependencies", [])
        found.add(dependency["name"])
    return found


def test_make_sbom_lists_every_runtime_package_of_the_lock_as_cyclonedx(
    default_project: Project,
) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    result = default_project.make("sbom")

    path = default_project.path / "reports" / "sbom.cdx.json"
    assert "Wrote reports/sbom.cdx.json: CycloneDX 1.5" in result.stdout, result.stdout
    document = path.read_text()
    error = JsonStrictValidator(SchemaVersion.V1_5).validate_str(document)
    assert error is None, f"make sbom wrote no valid CycloneDX 1.5: {error}"
    listed = {component["name"] for component in json.loads(document)["components"]}
    lock = tomllib.loads((default_project.path / "uv.lock").read_text())
    runtime = runtime_packages(lock, answers(default_project.path)["project_slug"])
    assert {"handoff-kit", "mlflow-skinny", "pandas", "scikit-learn"} <= runtime
    assert not runtime - listed, (
        f"runtime packages missing from the SBOM: {sorted(runtime - listed)}"
    )
    # Development tools and the whole MLflow are in the lock, not in production.
    assert not {"pytest", "mypy", "jupyterlab", "mlflow", "flask"} & listed, sorted(listed)


# Two rows of the worked example's warehouse table get a negative tenure.
PLANT_BAD_ROWS = (
    "import duckdb\n"
    "with duckdb.connect('data/warehouse.duckdb') as warehouse:\n"
    "    warehouse.execute('UPDATE customers SET tenure_months = -1 WHERE rowid IN (3, 7)')\n"
)
ISSUE = "Tenure resets to zero after a plan change"


def test_make_data_check_reports_the_warehouse_table_to_its_owner_and_fails_on_a_bad_row(
    default_project: Project,
) -> None:
    """The worked example's official DuckDB source: once the example data is made,
    `make data-check` passes; a bad row planted in the table fails it, and
    the owner's report counts and names the rows. An open known issue in the entry
    reaches the owner's report and the handoff report's debts."""
    project = default_project
    report = project.path / "reports/data/customers_warehouse.md"
    entry = project.path / "data/catalog/customers_warehouse.yml"
    package = answers(project.path)["package_name"]
    try:
        project.run("uv", "run", "--frozen", "python", "-m", f"{package}.data")
        passed = project.make("data-check", check=False)
        assert passed.returncode == 0, (
            f"make data-check failed on the example:\n{passed.stdout}{passed.stderr}"
        )
        assert (
            "customers_warehouse (official, owner crm-data-team): passed (5000 rows)"
            in passed.stdout
        )
        assert (
            "**Passed**: all 5000 rows follow the contract schema `Customers`."
            in report.read_text()
        )

        project.run("uv", "run", "--frozen", "python", "-c", PLANT_BAD_ROWS)
        entry.write_text(entry.read_text().replace(
            "known_issues: []",
            f"known_issues:\n  - {{what: {ISSUE}, found_by: ds-team, date: 2026-12-01, status: open}}",
        ))  # fmt: skip
        failed = project.make("data-check", "SOURCE=customers_warehouse", check=False)
        gated = project.run(
            "uv", "run", "--frozen", "handoff", "gate", "--only", "catalog", check=False
        )
    finally:
        (project.path / "data/warehouse.duckdb").unlink(missing_ok=True)

    assert failed.returncode != 0, "a broken official source passed make data-check"
    text = report.read_text()
    assert "To: crm-data-team, owner of `customers_warehouse`" in text, text
    assert "| tenure_months | greater_than_or_equal_to(0) | 2 | 3, 7 | -1, -1 |" in text, text
    assert "- Location: data/warehouse.duckdb, table customers" in text
    assert f"## Open known issues\n\n- {ISSUE} (found by ds-team, 2026-12-01; open)" in text
    assert gated.returncode == 0, gated.stdout
    debts = (project.path / "reports/handoff.md").read_text()
    assert f"- `customers_warehouse` (owner crm-data-team): {ISSUE}" in debts, debts
