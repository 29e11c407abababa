"""The handoff gate: every check `make check` runs, then the contract's own gates.

`handoff gate` runs them all (or `--only NAME`), prints the report and writes
it to the report path of [tool.handoff]; `handoff snapshot` records the
contracts after a reviewed change.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import weakref
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from handoff_kit import (
    __version__,
    api,
    candidate,
    catalog,
    contract_coverage,
    datacheck,
    debt,
    enforcement,
    integrity,
    loosened,
    odcs,
    registry,
    report,
    testrun,
)
from handoff_kit.compat import Reference, Snapshot, describe, judge, read_snapshot
from handoff_kit.config import Settings
from handoff_kit.contracts import unkept_nulls
from handoff_kit.extract import (
    PARITY,
    ExtractError,
    drift,
    package_area,
    read_manifest,
)
from handoff_kit.history import HistoryError, committed_snapshots
from handoff_kit.hollow_steps import hollow_in
from handoff_kit.registry.records import git_commit
from handoff_kit.report import (
    Gate,
    Result,
    command_gate,
    markdown,
    project_relative,
)
from handoff_kit.rules import (
    Finding,
    research_debts,
    research_imports,
    scan_package,
)
from handoff_kit.rules.secrets import scan_secrets
from handoff_kit.scenarios import ScenarioError, describe_acceptance
from handoff_kit.testrun import Outcome

# The environment locks: generated, full of hashes, left out of the secrets scans.
LOCKS = {"uv.lock", "conda-lock.yml"}


def current_contract(settings: Settings) -> Snapshot:
    contract = settings.contract
    return describe(
        contract.version,
        contract.inputs,
        contract.outputs,
        contract.interfaces,
        describe_acceptance(settings.acceptance),
    )


# What the interface gate has mypy check: the class `train` returns, as its return
# annotation says (Trained[TheModel]), against the contract's interface. It is the
# class the registry gets, whatever the team's own tests assign.
INTERFACE_CHECK = """\
# mypy: disallow-any-expr
# (An unannotated train() returns Any, which would satisfy any interface.)
from collections.abc import Callable
from typing import TypeVar

from handoff_kit import Trained
from handoff_kit.registry import Scorer
from {interface_module} import {interface} as Interface
from {train_module} import {train} as train

ModelT = TypeVar("ModelT", bound=Scorer)


def model_of(train: Callable[[], Trained[ModelT]]) -> ModelT:
    raise NotImplementedError


the_model_train_returns: Interface = model_of(train)
"""
INTERFACE_CHECK_FILE = "the_model_train_returns_satisfies_the_interface.py"


def interface_gate(settings: Settings) -> Result:
    """mypy on the class `train` returns against the interface, and on the team's
    interface test if there is one. A train() annotated `-> Trained` alone returns
    the kit's Scorer, which has no fit(): the row asks for the model's class."""
    title = "Model satisfies the interface"
    train_module, _, train = settings.train_function.partition(":")
    interface_module, _, interface = settings.model_interface.partition(":")
    check = INTERFACE_CHECK.format(
        interface_module=interface_module,
        interface=interface,
        train_module=train_module,
        train=train,
    )
    root = settings.root
    with tempfile.TemporaryDirectory(prefix="handoff-") as folder:
        written = Path(folder) / INTERFACE_CHECK_FILE
        written.write_text(check)
        tests = [settings.interface_test] if settings.interface_test.exists() else []
        command = (
            sys.executable,
            "-m",
            "mypy",
            str(written),
            *(str(test.relative_to(root)) for test in tests),
        )
        # The package's modules wherever the team's mypy settings look.
        found = {"MYPYPATH": str(settings.package_dir.parent)}
        return report.run_command(title, command, env=found, cwd=root)


@dataclass
class TestsRun:
    """The project's tests as the tests row runs them (`make test`), each test's
    outcome recorded (handoff_kit/testrun.py): the acceptance and parity rows read
    their tests' outcomes from it rather than run those tests a second time."""

    path: Path | None = None  # Where the outcomes are, once it ran.

    def run(self, title: str, command: Sequence[str], root: Path) -> Result:
        """`command` (`make test`), its pytest recording every test's outcome."""
        folder = tempfile.mkdtemp(prefix="handoff-tests-")
        weakref.finalize(self, shutil.rmtree, folder, ignore_errors=True)
        self.path = Path(folder) / "results.json"
        addopts = os.environ.get("PYTEST_ADDOPTS", "")
        env = {
            "PYTEST_ADDOPTS": f"{addopts} -p {testrun.PLUGIN}".strip(),
            testrun.RESULTS_VARIABLE: str(self.path),
        }
        return report.run_command(title, command, env=env, cwd=root)

    def outcomes(self, folder: Path, root: Path) -> list[Outcome]:
        """The recorded outcomes of the tests under `folder`; none when the tests
        row did not run (`--only`), recorded nothing, or ran none of them."""
        recorded = (testrun.read(self.path) if self.path else None) or []
        prefix = folder.relative_to(root).as_posix().rstrip("/") + "/"
        return [test for test in recorded if test.nodeid.startswith(prefix)]


def recorded_result(title: str, outcomes: Sequence[Outcome], what: str) -> Result:
    """A row from tests the tests row ran: failed with pytest's lines for each
    failing test (as the tests row shows them, so the report shows them once)."""
    failed = [test for test in outcomes if test.failed]
    count = f"{len(outcomes)} {what}"
    if not failed:
        return Result(title, True, f"{count} passed in `make test` (the tests row)")
    summary = [
        f"{test.outcome.upper()} {test.nodeid} - {test.message}" for test in failed
    ]
    lines = [
        *(line for test in failed for line in test.longrepr.splitlines()),
        "=== short test summary info ===",
        *summary,
    ]
    more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
    return Result(
        title,
        False,
        f"{len(failed)} of {count} failed in `make test`: {failed[0].nodeid}{more}",
        report.what_matters(lines),
    )


def acceptance_gate(settings: Settings, tests: TestsRun | None = None) -> Result:
    """The acceptance scenarios, after a read of their step modules: a Then step
    that asserts nothing would let any model through. Their outcomes come from the
    tests row's run when it ran them; else they run here."""
    title = "Acceptance scenarios"
    ran = tests.outcomes(settings.acceptance, settings.root) if tests else []
    result = (
        recorded_result(title, ran, "scenarios")
        if ran
        else report.run_command(
            title, candidate.acceptance_command(settings), cwd=settings.root
        )
    )
    hollow = hollow_in(settings.acceptance, settings.root)
    if not hollow:
        return result
    more = f" (and {len(hollow) - 1} more)" if len(hollow) > 1 else ""
    details = "\n".join(
        [*map(str, hollow), *([result.details] if result.details else [])]
    )
    return Result(title, False, f"{hollow[0]}{more}", details)


def contract_gate(settings: Settings) -> Result:
    title = "Contract compatibility"
    try:
        current = current_contract(settings)
    except ScenarioError as error:
        return Result(title, False, str(error))
    contract = settings.contract
    unkept = [
        problem
        for schema in (*contract.inputs, *contract.outputs)
        for problem in unkept_nulls(schema)
    ]
    if unkept:
        more = f" (and {len(unkept) - 1} more)" if len(unkept) > 1 else ""
        return Result(title, False, unkept[0] + more, "\n".join(unkept))
    try:
        history = committed_snapshots(settings.root, settings.snapshot)
    except HistoryError as error:
        return Result(title, False, f"cannot read the snapshot's git history: {error}")
    notes = [history.note] if history.note else []
    try:
        champion, note = champion_contract(settings)
    except registry.RegistryError as error:
        return Result(title, False, f"cannot read the champion's contract: {error}")
    notes += [note] if note else []
    verdict = judge(
        read_snapshot(settings.snapshot),
        current,
        [*history.references, *champion],
        notes,
    )
    return Result(
        title, verdict.passed, verdict.reason, "\n".join(map(str, verdict.changes))
    )


def champion_contract(settings: Settings) -> tuple[list[Reference], str]:
    """The contract the registry's champion was trained under, as `train` recorded
    it, and a note when it recorded none (an older kit trained it)."""
    champion = registry.open_registry(settings).find(registry.CHAMPION)
    if champion is None:
        return [], ""
    name = f"the champion (model version {champion.version})"
    if champion.manifest.contract is None:
        return [], f"{name} recorded no contract (an older kit trained it)"
    return [Reference(name, dict(champion.manifest.contract))], ""


def enforcement_gate(settings: Settings) -> Result:
    """The contract's own tests, derived from its schemas and its snapshot: drawn
    rows accepted, each rule broken alone refused by name (enforcement.py)."""
    title = "Contract enforced"
    contract = settings.contract
    found = enforcement.enforce(
        (*contract.inputs, *contract.outputs), read_snapshot(settings.snapshot)
    )
    underived = (
        f"; {len(found.underived)} rule{'' if len(found.underived) == 1 else 's'} "
        "not derived (listed below)"
        if found.underived
        else ""
    )
    listed = [
        *(f"not derived: {rule}" for rule in found.underived),
        *found.refused,
    ]
    if not found.passed:
        more = (
            f" (and {len(found.problems) - 1} more)" if len(found.problems) > 1 else ""
        )
        return Result(
            title,
            False,
            f"{found.problems[0]}{more}{underived}",
            "\n".join([*found.problems, *listed]),
        )
    return Result(
        title,
        True,
        f"{len(found.refused)} rule{'' if len(found.refused) == 1 else 's'} of "
        f"{found.schemas} schema{'' if found.schemas == 1 else 's'}, each broken alone, "
        f"refused by name; {found.accepted} drawn valid rows accepted{underived}",
        "\n".join(listed),
    )


def api_gate(settings: Settings) -> Result:
    """The committed OpenAPI document is the one the contract produces, so the API's
    consumers see every change in review."""
    title = "API schema matches the contract"
    found = api.drift(settings)
    if found.passed:
        shown = found.path.relative_to(settings.root)
        return Result(
            title,
            True,
            f"{shown} is the contract's API (version {settings.contract.version})",
        )
    return Result(
        title, False, api.drift_reason(found, settings.root), "\n".join(found.changes)
    )


def odcs_gate(settings: Settings) -> Result:
    """The committed ODCS files are the ones the contract produces, so the data
    platform's tools read the contract the code enforces."""
    title = "ODCS contracts match the contract"
    try:
        found = odcs.drift(settings)
    except (odcs.ExportError, catalog.CatalogError) as error:
        return Result(title, False, " ".join(str(error).split()))
    if found.passed:
        shown = found.folder.relative_to(settings.root)
        count = f"{found.files} file{'' if found.files == 1 else 's'}"
        return Result(
            title,
            True,
            f"{shown}/ holds the contract's {count} (version {settings.contract.version})",
        )
    return Result(
        title,
        False,
        odcs.drift_reason(found, settings.root),
        "\n".join(found.changes),
    )


def catalog_gate(settings: Settings) -> Result:
    title = "Official data only"
    try:
        sources = catalog.read_catalog(
            settings.catalog, catalog.contract_schemas(settings)
        )
    except catalog.CatalogError as error:
        return Result(title, False, f"malformed catalog: {error}")
    if not settings.package_dir.is_dir():
        return Result(
            title,
            False,
            f"no {settings.package_dir}/: set package-dir in [tool.handoff]",
        )
    findings = scan_package(settings.package_dir, sources, settings.root)
    failures = [finding for finding in findings if finding.waived is None]
    waivers = _waivers([finding for finding in findings if finding.waived is not None])
    if failures:
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        return Result(
            title,
            False,
            f"{failures[0]}{more}{waivers}",
            "\n".join(map(str, findings)),
        )
    count = f"{len(sources)} catalog source{'' if len(sources) == 1 else 's'}"
    return Result(
        title, True, f"{count} valid; package/ reads official ones only{waivers}"
    )


def research_gate(settings: Settings) -> Result:
    """package/ never imports research code: not by an import statement (which
    ruff's banned-api rule also sees), nor by a name given to import_module."""
    title = "No research imports in package/"
    if not settings.package_dir.is_dir():
        return Result(
            title,
            False,
            f"no {settings.package_dir}/: set package-dir in [tool.handoff]",
        )
    found = research_imports(
        settings.package_dir, settings.research.name, settings.root
    )
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        return Result(title, False, f"{found[0]}{more}", "\n".join(map(str, found)))
    return Result(title, True, "package/ imports no research code")


def hygiene_gate(settings: Settings, command: Sequence[str]) -> Result:
    """`make hygiene` (large files, private keys, secrets: detect-secrets and the
    kit's scan), and every secret allowlist pragma in the tracked files, with its
    reason: an allowlisted secret passes, and everyone sees it."""
    result = report.run_command(
        "No large files, private keys or secrets", command, cwd=settings.root
    )
    try:
        _, pragmas = scan_secrets(tracked_files(settings.root), settings.root)
    except ImportError:  # No detect-secrets (make hygiene says so): no list.
        return result
    if not pragmas:
        return result
    noun = "secret" if len(pragmas) == 1 else "secrets"
    listed = ", ".join(map(str, pragmas))
    return replace(
        result, reason=f"{result.reason}; {len(pragmas)} allowlisted {noun}: {listed}"
    )


def tracked_files(root: Path) -> list[Path]:
    """The files git tracks under `root` that exist now, the locks left out (as
    `make hygiene` leaves them out); none outside a git repository."""
    # The arguments are literals, never user input.
    listed = subprocess.run(
        ["git", "ls-files", "-z"],  # noqa: S607
        cwd=root,
        capture_output=True,
        check=False,
    )
    if listed.returncode != 0:
        return []
    names = [name for name in listed.stdout.decode().split("\0") if name]
    return [
        root / name for name in names if name not in LOCKS and (root / name).is_file()
    ]


_ASSERTION = re.compile(r"^E\s+AssertionError: (.+)$")


def parity_gate(settings: Settings, tests_run: TestsRun | None = None) -> Result:
    """The parity tests `make extract` wrote pass: every extracted function still
    does what its notebook did. A marked cell changed since its extraction is a
    warning in the reason, not a failure. Their outcomes come from the tests row's
    run when it ran them; else they run here."""
    title = "Notebook parity"
    try:
        drifted = drift(settings)
        functions = [
            entry
            for entry in read_manifest(settings).get("definitions", [])
            if entry["kind"] == "function"
        ]
    except ExtractError as error:
        return Result(title, False, str(error))
    warning = ""
    if drifted:
        more = f" (and {len(drifted) - 1} more)" if len(drifted) > 1 else ""
        warning = f"; warning: {drifted[0]}{more}"
    folder = package_area(settings) / PARITY
    tests = sorted(folder.glob("test_*.py")) if folder.is_dir() else []
    details = "\n".join(f"warning: {found}" for found in drifted)
    if not tests:
        return Result(
            title,
            True,
            "no function extracted from a notebook yet (`make extract "
            f"NOTEBOOK=...` moves marked cells){warning}",
            details,
        )
    command = (
        sys.executable,
        "-m",
        "pytest",
        "--no-cov",
        "-q",
        "-p",
        "no:cacheprovider",
        *(str(test.relative_to(settings.root)) for test in tests),
    )
    recorded = tests_run.outcomes(folder, settings.root) if tests_run else []
    ran = (
        recorded_result(title, recorded, "parity tests")
        if recorded
        else report.run_command(title, command, cwd=settings.root)
    )
    if not ran.passed:
        # The first mismatch, as the parity test words it: function, column, row.
        mismatches = [
            found.group(1)
            for line in ran.details.splitlines()
            if (found := _ASSERTION.match(line))
        ]
        reason = f"{mismatches[0]} (details below)" if mismatches else ran.reason
        return Result(title, False, reason + warning, ran.details)
    count = len(functions)
    said = (
        "1 extracted function reproduces its"
        if count == 1
        else f"{count} extracted functions reproduce their"
    )
    return Result(title, True, f"{said} notebook's results{warning}", details)


def _waivers(waived: list[Finding]) -> str:
    """The waived reads (`# handoff: allow-read <reason>`), for a gate's reason:
    they do not fail it, and everyone sees them."""
    if not waived:
        return ""
    reads = "read" if len(waived) == 1 else "reads"
    listed = ", ".join(f"{f.file}:{f.line} ({f.waived})" for f in waived)
    return f"; {len(waived)} waived {reads}: {listed}"


def gates(settings: Settings) -> list[Gate]:
    """Everything `make check` runs, then the contract's own gates."""
    root = settings.root
    make = ("make", "--no-print-directory")
    tests = TestsRun()
    return [
        command_gate(
            "conflicts",
            "No unresolved conflicts",
            (*make, "conflicts"),
            root,
            "resolve the conflicts listed below",
        ),
        # The rules' own files first: the rows below trust them.
        Gate(
            "standards",
            integrity.FILES_TITLE,
            lambda: integrity.files_result(root),
            integrity.WAYS_OUT,
            command=("handoff", "standards"),
        ),
        Gate(
            "overrides",
            integrity.OVERRIDES_TITLE,
            lambda: integrity.overrides_result(root),
            "rename the project's targets listed below (a standard target takes "
            "more prerequisites without a recipe: `check: my-check`)",
            command=("handoff", "standards"),
        ),
        Gate(
            "hygiene",
            "No large files, private keys or secrets",
            lambda: hygiene_gate(settings, (*make, "hygiene")),
            "`git rm --cached` the files listed below; read secrets from the "
            "environment, and give each allowlist pragma its reason",
            command=(*make, "hygiene"),
        ),
        Gate(
            "settings",
            loosened.TITLE,
            lambda: loosened.gate(root),
            "restore the template's value of each setting listed below, or waive it "
            "in [tool.handoff.waivers] with its value, a reason, an owner and an expiry",
            # `make settings` (in `make check`) runs the same check.
            command=("handoff", "settings"),
        ),
        command_gate(
            "format", "Formatting", (*make, "format-check"), root, "`make format`"
        ),
        command_gate(
            "lint",
            "Lint",
            (*make, "lint"),
            root,
            "`make format`, then fix what `make lint` lists",
        ),
        command_gate(
            "lock",
            "Environment lock fresh",
            (*make, "lock-check"),
            root,
            "`make lock`, and commit the lock",
        ),
        command_gate(
            "types",
            "Types (mypy --strict)",
            (*make, "typecheck"),
            root,
            "fix what `make typecheck` lists",
        ),
        Gate(
            "interface",
            "Model satisfies the interface",
            lambda: interface_gate(settings),
            "make the model `train` returns match the contract's interface, and "
            "annotate train's return as Trained[TheModelClass] (mypy's lines below)",
        ),
        Gate(
            "tests",
            "Tests and coverage",
            lambda: tests.run("Tests and coverage", (*make, "test"), root),
            "fix the failing tests below (`make test` runs them)",
            command=(*make, "test"),
            long=True,
        ),
        Gate(
            "acceptance",
            "Acceptance scenarios",
            lambda: acceptance_gate(settings, tests),
            "fix the scenarios' steps below (`make test` runs them)",
            command=candidate.acceptance_command(settings),
            after="tests",
        ),
        Gate(
            "contract",
            "Contract compatibility",
            lambda: contract_gate(settings),
            "follow the contract gate's reason below",
        ),
        Gate(
            "enforced",
            "Contract enforced",
            lambda: enforcement_gate(settings),
            "make each schema refuse what its rules say (the rules below), or review "
            "the change and `make contract-snapshot`",
        ),
        Gate(
            "api",
            "API schema matches the contract",
            lambda: api_gate(settings),
            "`make openapi`, review the document's diff, and commit it",
        ),
        Gate(
            "odcs",
            "ODCS contracts match the contract",
            lambda: odcs_gate(settings),
            "`make contracts-export`, review the files' diff, and commit them",
        ),
        Gate(
            "coverage",
            contract_coverage.TITLE,
            lambda: contract_coverage.result(settings),
            "give the boundaries listed below a schema and their columns checks, "
            "or lower the floor in [tool.handoff] (a waiver if below the template's)",
        ),
        Gate(
            "catalog",
            "Official data only",
            lambda: catalog_gate(settings),
            "load data with `catalog.load` from official sources only",
        ),
        Gate(
            "research",
            "No research imports in package/",
            lambda: research_gate(settings),
            "move the research code the package needs into the package",
        ),
        Gate(
            "parity",
            "Notebook parity",
            lambda: parity_gate(settings, tests),
            "fix the package function the parity test names, or `make extract` "
            "again if the notebook's results are the ones to keep",
            after="tests",
        ),
        Gate(
            "candidate",
            "Registry candidate",
            lambda: candidate.candidate_gate(settings),
            "`make train` registers a new candidate",
        ),
        Gate(
            "candidate-acceptance",
            "Acceptance on the candidate",
            lambda: candidate.acceptance_gate(settings),
            "fix the model, then `make train`",
            long=True,
        ),
    ]


def next_step(selected: Sequence[Gate], results: Sequence[Result]) -> str:
    """What to run now: the fix of the first failed gate, else what moves the model on."""
    for gate, result in zip(selected, results, strict=True):
        if not result.passed:
            fix = gate.fix or f"fix what {gate.title} reports"
            return f"{fix}, then `make handoff` again."
    names = {gate.name for gate in selected}
    if any(not result.exercised for result in results):
        return (
            "`make train` registers a candidate, which the candidate gates then check."
        )
    if "candidate" in names:
        return "`make promote` makes the candidate the champion."
    return ""


def _run_safely(gate: Gate) -> Result:
    """A gate's result; a gate that breaks (the project's code cannot be imported,
    say) is a failed row that says why, never a crash without a report."""
    try:
        return gate.run()
    except SyntaxError as error:
        where = f"{error.filename}:{error.lineno}: " if error.filename else ""
        return Result(gate.title, False, f"cannot run: {where}{error.msg}")
    except Exception as error:  # Reported, with its one line.
        reason = " ".join(str(error).split()) or "no message"
        return Result(
            gate.title, False, f"cannot run: {type(error).__name__}: {reason}"
        )


def cores() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # Not on Linux.
        return os.cpu_count() or 1


def run_all(selected: Sequence[Gate], workers: int | None = None) -> list[Result]:
    """Each gate's result, in `selected`'s order. The gates run at the same time, as
    many at once as there are `workers` (the cores): the long ones first, so the
    others run beside them; a gate that reads another's outcome (`after`) once that
    one has ended, if it runs. Their commands run side by side, their Python code
    one gate at a time (report.one_at_a_time)."""
    names = {gate.name for gate in selected}
    waits = [gate for gate in selected if gate.after in names]
    first = [gate for gate in selected if gate.long and gate not in waits]
    order = [
        *first,
        *(gate for gate in selected if gate not in first and gate not in waits),
        *waits,
    ]
    futures: dict[str, Future[Result]] = {}
    with ThreadPoolExecutor(max_workers=workers or cores()) as pool:
        # A waiting gate is queued after the gate it waits for, which has then
        # started already: its wait never holds up the one it waits for.
        for gate in order:
            earlier = futures.get(gate.after)
            futures[gate.name] = pool.submit(_after, earlier, gate)
        results = []
        for gate in selected:
            results.append(futures[gate.name].result())
            print(f"... {gate.title}", file=sys.stderr, flush=True)
    return results


def _after(earlier: Future[Result] | None, gate: Gate) -> Result:
    if earlier is not None:
        earlier.exception()  # Waits; its result is reported in its own row.
    with report.one_at_a_time():
        return _run_safely(gate)


def adoption_steps(settings: Settings) -> list[str]:
    """What an adopted project still has to write (handoff_kit/debt.py)."""
    module = settings.train_function.split(":")[0]
    contracts = settings.contracts_module
    source = settings.package_dir.parent  # package/src: where modules' paths start.
    return debt.steps_left(
        settings.root,
        contracts=source.joinpath(*contracts.split(".")),
        training=source.joinpath(*module.split(".")).with_suffix(".py"),
        acceptance=settings.acceptance,
        catalog=settings.catalog,
    )


def run(settings: Settings, selected: Sequence[Gate]) -> int:
    """Run `selected` gates, print and write the report; 0 when all passed."""
    results = run_all(selected)
    try:
        sources = catalog.read_catalog(
            settings.catalog, catalog.contract_schemas(settings)
        )
        debts = research_debts(settings.research, sources, settings.root)
        issues = datacheck.open_issues(list(sources.values()))
    except Exception:  # The catalog and contract gates report it.
        debts, issues = [], []
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    about = f"Commit `{git_commit(settings.root)}`, {now}, handoff-kit {__version__}."
    report = project_relative(
        markdown(
            results,
            debts,
            about,
            next_step(selected, results),
            issues=issues,
            adoption_debt=debt.report_lines(settings.root),
            adoption_steps=adoption_steps(settings),
        ),
        settings.root,
    )
    settings.report.parent.mkdir(parents=True, exist_ok=True)
    settings.report.write_text(report)
    print(report)
    print(f"Written to {settings.report.relative_to(settings.root)}.")
    return 0 if all(result.passed for result in results) else 1
