"""The `handoff` command: train, check, promote and serve a project's model.

    handoff train                  train the model, register it as the candidate
    handoff gate [--only NAME]     run the handoff gate, write the report
    handoff snapshot               record the contracts after a reviewed change
    handoff standards [--rerender | --restore] [--copier COMMAND]
                                   template-owned files are the template's (offline,
                                   or against Copier's re-render), or put them back
    handoff settings               fail on settings looser than the template's, unless waived
    handoff promote [--allow-dirty] [--allow-major]
                                   make the candidate the champion, if it passes
    handoff predict --model models:/<name>@champion --input rows.csv [--output FILE]
    handoff serve [--model URI] [--host 127.0.0.1] [--port 8000] [--workers N]
                                   serve the model over HTTP (its API: the contract's)
    handoff openapi [--check]      write the API's OpenAPI document, or check it is current
    handoff contracts-export [--check]
                                   write the contract's ODCS files (contracts/), or
                                   check the committed ones are current
    handoff score INPUT OUTPUT [--model URI]   score a Parquet directory with Spark
    handoff data-check [SOURCE]    check catalogued sources against their schemas;
                                   a report per source for its owner (reports/data/)
    handoff secrets FILE...        fail on string literals given to secrets' names,
                                   and on allowlist pragmas without a reason
    handoff audit [--uv COMMAND] [--service-url URL] [--no-index]
                                   fail on known vulnerabilities of the locked packages,
                                   unless ignored with a reason and an expiry date
    handoff adopt PATH [--apply] [--data NAME=VALUE]... [--template DIR]
                                   audit an existing repository for adoption into
                                   the template (ADOPTION.md), or adopt it
    handoff debt record|ruff|mypy|pytest
                                   an adopted project's debt baseline: record it,
                                   or run a tool against it (no new violation)
    handoff extract NOTEBOOK [--force] [--replace]
                                   move a notebook's marked cells into the package,
                                   with a parity test of the calls the notebook made

Run it in a project (or below one): [tool.handoff] in its pyproject.toml says
what the project's own parts are. `predict` reads CSV or Parquet and writes one
prediction per input row, as CSV to standard output or to --output (.csv or
.parquet); input and output are validated against the contract. A column that
identifies the input's rows (`id-column` in [tool.handoff], or one named id or
*_id the contract does not use) is kept, first, in the output.

Exit status: 0 on success; 1 when the project, the input, the model or the
registry cannot be used, or a gate fails, with one line on standard error that
says why; 2 when the command line itself is wrong (argparse prints the usage).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from handoff_kit import config

if TYPE_CHECKING:
    import pandas as pd

    from handoff_kit.compat import Snapshot
    from handoff_kit.registry.records import ModelVersion

# Each command imports what it needs when it runs (the imports inside the functions
# below): `handoff standards` or `handoff settings` starts without pandas, pandera
# or MLflow, and `make check` runs several such commands.

EXIT_UNUSABLE = 1
GATES = [
    "conflicts",
    "standards",
    "overrides",
    "hygiene",
    "settings",
    "format",
    "lint",
    "lock",
    "types",
    "interface",
    "tests",
    "acceptance",
    "contract",
    "enforced",
    "api",
    "odcs",
    "coverage",
    "catalog",
    "research",
    "parity",
    "candidate",
    "candidate-acceptance",
]


class UnusableError(Exception):
    """The project, an input file or the model cannot be used; one line says why."""


def one_line(error: BaseException) -> str:
    return " ".join(str(error).split())


def say(message: str) -> None:
    """Progress for people, on standard error; standard output is for data."""
    print(message, file=sys.stderr, flush=True)


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file, chosen by its suffix."""
    import pandas as pd  # noqa: PLC0415

    if path.suffix not in {".csv", ".parquet"}:
        msg = f"{path}: cannot read {path.suffix or 'suffix-less'} files; use .csv or .parquet"
        raise UnusableError(msg)
    try:
        if path.suffix == ".csv":
            return pd.read_csv(path)
        return pd.read_parquet(path)
    except FileNotFoundError:
        msg = f"{path}: no such file"
        raise UnusableError(msg) from None
    except (OSError, ValueError) as error:  # pandas' parser errors are ValueErrors.
        msg = f"{path}: unreadable: {one_line(error)}"
        raise UnusableError(msg) from error


def write_table(table: pd.DataFrame, path: Path | None) -> None:
    """Write CSV to standard output, or CSV or Parquet to `path`, chosen by its suffix."""
    if path is None:
        table.to_csv(sys.stdout, index=False)
    elif path.suffix == ".parquet":
        table.to_parquet(path, index=False)
    else:
        table.to_csv(path, index=False)


def train(settings: config.Settings) -> ModelVersion:
    """Train and evaluate the model, then register it as the new candidate."""
    from datetime import UTC, datetime  # noqa: PLC0415

    from handoff_kit import __version__, api, catalog, registry  # noqa: PLC0415
    from handoff_kit.registry.card import model_card  # noqa: PLC0415
    from handoff_kit.registry.records import (  # noqa: PLC0415
        Manifest,
        contract_signature,
        git_commit,
        lock_hash,
        who,
    )
    from handoff_kit.training import Trained  # noqa: PLC0415

    # Opened first: an unreachable registry server fails before minutes of training.
    store = registry.open_registry(settings)
    say(f"Training the model ({settings.train_function}).")
    try:
        trained = settings.trainer()()
        sources = catalog.read_catalog(
            settings.catalog, catalog.contract_schemas(settings)
        )
    except (catalog.CatalogError, KeyError, ValueError) as error:
        # ValueError covers ContractViolation: training data that breaks its schema.
        msg = f"the training data cannot be used: {one_line(error)}"
        raise UnusableError(msg) from error
    if not isinstance(trained, Trained):
        msg = f"{settings.train_function} returned a {type(trained).__name__}, not handoff_kit.Trained"
        raise UnusableError(msg)
    unknown = [name for name in trained.sources if name not in sources]
    if unknown:
        msg = (
            f"the training data cannot be used: {settings.train_function} names "
            f"{unknown[0]!r}, which is not in the data catalog ({settings.catalog})"
        )
        raise UnusableError(msg)
    used = [sources[name] for name in trained.sources]
    say(f"Learned from {', '.join(trained.sources) or 'data made in code'}.")
    say(
        "Metrics: "
        + ", ".join(f"{name} {value:.4g}" for name, value in trained.metrics.items())
    )
    manifest = Manifest(
        contract_version=settings.contract.version,
        git_commit=git_commit(settings.root),
        lock_hash=lock_hash(settings.lock),
        data_sources=trained.sources,
        metrics=trained.metrics,
        signature=contract_signature(settings.contract),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        kit_version=__version__,
        api=api.served_contract(settings.contract),
        trained_by=who(),
        contract=trained_under(settings),
    )
    say(f"Registering the model in {store.location()}.")
    card = model_card(settings, manifest, used, trained)
    version = store.register(trained.model, manifest, card, trained.example)
    say(
        f"Registered {version.name} version {version.version} as the new candidate ({version.uri})."
    )
    say("Next: `make handoff` checks it; `make promote` makes it the champion.")
    return version


def trained_under(settings: config.Settings) -> Snapshot:
    """The contract as the snapshot records it, for the registry: the contract gate
    keeps the code compatible with the champion's. Acceptance scenarios that cannot
    be read are the acceptance gate's to report, not a reason to refuse training."""
    from handoff_kit import gate  # noqa: PLC0415
    from handoff_kit.compat import describe  # noqa: PLC0415
    from handoff_kit.scenarios import ScenarioError  # noqa: PLC0415

    try:
        return gate.current_contract(settings)
    except ScenarioError:
        contract = settings.contract
        return describe(
            contract.version, contract.inputs, contract.outputs, contract.interfaces
        )


def predict(
    settings: config.Settings, model_uri: str, input_path: Path, output: Path | None
) -> None:
    """Score every row of `input_path` with the registry model `model_uri` names."""
    import pandas as pd  # noqa: PLC0415

    from handoff_kit import registry  # noqa: PLC0415

    contract = settings.contract
    try:
        model = registry.load(model_uri, settings)
    except registry.RegistryError as error:
        raise UnusableError(one_line(error)) from error
    features = read_table(input_path)
    try:
        scored = model.predict(contract.model_input.validated(features))
        predictions = contract.model_output.validated(scored)
    except (KeyError, ValueError) as error:
        # Input that breaks the contract (ContractViolation is a ValueError), or
        # that the model cannot use for another reason.
        msg = f"{input_path}: cannot be scored: {one_line(error)}"
        raise UnusableError(msg) from error
    ids = id_columns(settings, features, predictions)
    # One prediction per input row, in order: the ids go first, row by row.
    rows = [features[ids].reset_index(drop=True)] if ids else []
    write_table(pd.concat([*rows, predictions.reset_index(drop=True)], axis=1), output)


# An id by its name: id, customer_id, customer-id, customerId, CustomerID.
ID_NAME = re.compile(r"^id$|[_-]id$|[a-z]I[dD]$", re.IGNORECASE)


def id_columns(
    settings: config.Settings, features: pd.DataFrame, predictions: pd.DataFrame
) -> list[str]:
    """The input's columns that identify its rows, to keep beside the predictions:
    `id-column` of [tool.handoff] when the input has it; else any column named like
    an id that the model's input schema does not use."""
    if settings.id_column:
        return [settings.id_column] if settings.id_column in features else []
    used = set(settings.contract.model_input.to_schema().columns) | set(predictions)
    return [
        str(column)
        for column in features.columns
        if str(column) not in used and ID_NAME.search(str(column))
    ]


def serve(settings: config.Settings, args: argparse.Namespace) -> None:
    """Serve the registry model `args.model` names over HTTP until stopped."""
    from handoff_kit import api, registry  # noqa: PLC0415

    try:
        from handoff_kit import serve as server  # noqa: PLC0415  # FastAPI loads only here.
    except ImportError as error:
        msg = f"`handoff serve` needs FastAPI and uvicorn ({error}): depend on handoff-kit[serve]"
        raise UnusableError(msg) from None
    uri = args.model or f"models:/{settings.model_name}@{registry.CHAMPION}"
    say(f"Loading {uri}.")
    try:
        served = server.load(settings, uri)
        max_body = api.DEFAULT_MAX_BODY if args.max_body is None else args.max_body
        app = server.create_app(settings, served, max_body)
    except (registry.RegistryError, api.ApiError) as error:
        raise UnusableError(one_line(error)) from error
    say(
        f"Serving {served.version} under contract {settings.contract.version} on "
        f"http://{args.host}:{args.port} (POST {api.PREDICT}, GET {api.READY}; "
        "the API at /openapi.json). Stop with Ctrl-C or SIGTERM."
    )
    server.run(
        app,
        args.host,
        args.port,
        workers=args.workers or server.cores(),
        uri=uri,
        max_body=max_body,
    )


def openapi(settings: config.Settings, check: bool) -> int:
    """Write the API's OpenAPI document, or (check) say whether the committed one is current."""
    from handoff_kit import api  # noqa: PLC0415

    shown = settings.openapi.relative_to(settings.root)
    try:
        if check:
            found = api.drift(settings)
            if found.passed:
                print(
                    f"{shown} matches the contract (version {settings.contract.version})."
                )
                return 0
            say(api.drift_reason(found, settings.root))
            say("\n".join(f"  - {change}" for change in found.changes))
            return EXIT_UNUSABLE
        text = api.dumps(api.document(settings))
    except api.ApiError as error:
        raise UnusableError(one_line(error)) from error
    settings.openapi.parent.mkdir(parents=True, exist_ok=True)
    settings.openapi.write_text(text)
    version = settings.contract.version
    print(f"Wrote {shown} (the API of contract version {version}): commit it.")
    return 0


def snapshot(settings: config.Settings) -> int:
    """Record the contracts, unless that would bless a change the gate refuses."""
    from handoff_kit import gate  # noqa: PLC0415
    from handoff_kit.compat import may_record, read_snapshot, write_snapshot  # noqa: PLC0415
    from handoff_kit.history import HistoryError, committed_snapshots  # noqa: PLC0415

    shown = settings.snapshot.relative_to(settings.root)
    current = gate.current_contract(settings)
    try:
        history = committed_snapshots(settings.root, settings.snapshot)
    except HistoryError as error:
        msg = f"cannot read the snapshot's git history: {one_line(error)}"
        raise UnusableError(msg) from error
    verdict = may_record(read_snapshot(settings.snapshot), current, history.references)
    if not verdict.passed:
        say(f"Refused: {shown} stays as it is. {verdict.reason}.")
        say("\n".join(f"  - {change}" for change in verdict.changes))
        return EXIT_UNUSABLE
    write_snapshot(settings.snapshot, current)
    print(f"Wrote {shown} (contract version {settings.contract.version}): commit it.")
    return 0


def standards(settings: config.Settings, args: argparse.Namespace) -> int:
    """`handoff standards`: the offline rows, the re-render check, or the restore."""
    from handoff_kit import integrity  # noqa: PLC0415

    root = settings.root
    if not (args.rerender or args.restore):
        results = [integrity.files_result(root), integrity.overrides_result(root)]
        print(integrity.summary(results))
        return 0 if all(result.passed for result in results) else EXIT_UNUSABLE
    try:
        copier = integrity.copier_command(args.copier)
        say("Rendering the template-owned files of this project's template version.")
        if args.restore:
            restored, extras = integrity.restore(root, copier)
        else:
            found = integrity.rerendered(root, copier)
    except integrity.IntegrityError as error:
        raise UnusableError(one_line(error)) from error
    if args.restore:
        print(
            "\n".join(f"Restored {name}" for name in restored) or "Nothing to restore."
        )
        for extra in extras:
            print(f"Kept {extra.path}: not the template's; move it out of standards/.")
        return EXIT_UNUSABLE if extras else 0
    result = integrity.rendered_result(found)
    print(integrity.summary([result]))
    return 0 if result.passed else EXIT_UNUSABLE


def settings_check(settings: config.Settings) -> int:
    """`handoff settings`: the settings row of the gate, on its own (`make settings`)."""
    from handoff_kit import loosened  # noqa: PLC0415

    result = loosened.gate(settings.root)
    print("\n".join(loosened.lines(result)))
    return 0 if result.passed else EXIT_UNUSABLE


def secrets(settings: config.Settings, files: Sequence[Path]) -> int:
    """`handoff secrets`: the literal secrets and the unreasoned allowlist pragmas
    in `files` (make hygiene passes every tracked file), one line each."""
    from handoff_kit.rules.secrets import scan_secrets  # noqa: PLC0415

    findings, _ = scan_secrets(files, settings.root)
    for finding in findings:
        print(finding)
    if findings:
        say(
            "Secrets in code (above): read each from the environment or a secret "
            "store; a fake says so with its allowlist pragma and a reason."
        )
        return EXIT_UNUSABLE
    return 0


def audit_lock(settings: config.Settings, args: argparse.Namespace) -> int:
    """`handoff audit`: a line per finding and per honoured ignore, then the verdict."""
    from handoff_kit import audit  # noqa: PLC0415

    try:
        outcome = audit.run(
            settings.root, audit.Options(args.uv, args.service_url, args.no_index)
        )
    except audit.AuditError as error:
        raise UnusableError(one_line(error)) from None
    for line in outcome.lines():
        print(line)
    return 0 if outcome.passed else EXIT_UNUSABLE


def build_parser() -> argparse.ArgumentParser:
    from handoff_kit import __version__  # noqa: PLC0415

    parser = argparse.ArgumentParser(
        prog="handoff",
        description="Train, check, promote and serve a Handoff project's model.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "train", help="train the model and register it as the candidate"
    )
    gate_command = commands.add_parser(
        "gate", help="run the handoff gate and write its report"
    )
    gate_command.add_argument(
        "--only", action="append", choices=GATES, help="run only this gate"
    )
    commands.add_parser(
        "snapshot", help="record the contracts in the snapshot after a reviewed change"
    )
    standards_command = commands.add_parser(
        "standards",
        help="check that template-owned files are the template's, or put them back",
    )
    how = standards_command.add_mutually_exclusive_group()
    how.add_argument(
        "--rerender",
        action="store_true",
        help="compare with Copier's re-render of the recorded template version (CI)",
    )
    how.add_argument(
        "--restore",
        action="store_true",
        help="put the template's version of every template-owned file back",
    )
    standards_command.add_argument(
        "--copier",
        metavar="COMMAND",
        help="the command that runs Copier (default: copier, else the template's "
        "Copier version through uv, else through pipx)",
    )
    commands.add_parser(
        "settings",
        help="fail on settings looser than the template's unless waived; list the waivers",
    )
    promote_command = commands.add_parser(
        "promote", help="make the candidate the champion, if it passes the gate"
    )
    # candidate.ALLOW_DIRTY and ALLOW_MAJOR, which loading candidate.py for would
    # load the registry and pandas for every command (a kit test keeps them equal).
    promote_command.add_argument(
        "--allow-dirty",
        action="store_true",
        help="promote a candidate trained from uncommitted code",
    )
    promote_command.add_argument(
        "--allow-major",
        action="store_true",
        help="move the champion to another major contract version",
    )
    predict_command = commands.add_parser("predict", help="score a CSV or Parquet file")
    predict_command.add_argument(
        "--model",
        required=True,
        help="a registry model: models:/<name>@champion or models:/<name>/<version>",
    )
    predict_command.add_argument(
        "--input", type=Path, required=True, help="the rows to score (.csv or .parquet)"
    )
    predict_command.add_argument(
        "--output", type=Path, help="where to write the predictions (default: stdout)"
    )
    serve_command = commands.add_parser(
        "serve", help="serve the model over HTTP, with the API the contract defines"
    )
    serve_command.add_argument(
        "--model",
        help="a registry model (default: models:/<model-name>@champion)",
    )
    serve_command.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address to listen on (default: %(default)s)",
    )
    serve_command.add_argument(
        "--port", type=int, default=8000, help="the port (default: %(default)s)"
    )
    serve_command.add_argument(
        "--max-body",
        type=int,
        metavar="BYTES",
        help="refuse larger request bodies with 413 (default: api.DEFAULT_MAX_BODY, 1 MiB)",
    )
    serve_command.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="processes serving requests, each with the model (default: the cores)",
    )
    openapi_command = commands.add_parser(
        "openapi", help="write the model API's OpenAPI document (api/openapi.json)"
    )
    openapi_command.add_argument(
        "--check",
        action="store_true",
        help="write nothing; fail when the committed document differs from the contract's",
    )
    export_command = commands.add_parser(
        "contracts-export",
        help="write the contract as ODCS v3.1 files (contracts/<boundary>.odcs.yaml)",
    )
    export_command.add_argument(
        "--check",
        action="store_true",
        help="write nothing; fail when the committed files differ from the contract's",
    )
    score_command = commands.add_parser(
        "score", help="score a Parquet directory into another with Apache Spark"
    )
    score_command.add_argument("input", help="Parquet file or directory (path or URI)")
    score_command.add_argument(
        "output", help="the Parquet directory to write; must not exist"
    )
    score_command.add_argument(
        "--model", help="a registry model (default: models:/<name>@champion)"
    )
    score_command.add_argument(
        "--keep",
        action="append",
        default=[],
        metavar="COLUMN",
        help="an input column (an id) to copy beside the predictions; repeatable",
    )
    score_command.add_argument(
        "--master",
        default="local[*]",
        help="Spark master when SPARK_REMOTE is unset (default: local[*])",
    )
    add_data_and_adoption_commands(commands)
    return parser


def add_data_and_adoption_commands(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """The commands about data, secrets, dependencies, notebooks and adoption."""
    data_check_command = commands.add_parser(
        "data-check",
        help="check catalogued sources against their schemas; write a report per "
        "source for its owner (reports/data/<source>.md)",
    )
    data_check_command.add_argument(
        "source",
        nargs="?",
        help="check only this source (default: every one with a schema)",
    )
    secrets_command = commands.add_parser(
        "secrets",
        help="fail on string literals given to names that say secret, and on "
        "secret allowlist pragmas without a reason",
    )
    secrets_command.add_argument(
        "files",
        nargs="*",
        type=Path,
        help="the files to scan (.py and .ipynb are read as code)",
    )
    audit_command = commands.add_parser(
        "audit",
        help="fail on known vulnerabilities (OSV) of the locked packages, unless "
        "ignored in [tool.handoff.audit.ignore] with a reason and an expiry date",
    )
    audit_command.add_argument(
        "--uv", default="uv", metavar="COMMAND", help="the command that runs uv"
    )
    audit_command.add_argument(
        "--service-url",
        metavar="URL",
        help="an OSV-compatible vulnerability service (default: uv's, osv.dev)",
    )
    audit_command.add_argument(
        "--no-index",
        action="store_true",
        help="ask only the vulnerability service, not the package index (statuses)",
    )
    extract_command = commands.add_parser(
        "extract",
        help="move a notebook's marked cells ('# handoff: extract to <module>') into "
        "the package, with a parity test",
    )
    extract_command.add_argument(
        "notebook", type=Path, help="a notebook under research/ (.ipynb or py:percent)"
    )
    extract_command.add_argument(
        "--force",
        action="store_true",
        help="overwrite a module or parity test edited since the last extract",
    )
    extract_command.add_argument(
        "--replace",
        action="store_true",
        help="then turn the marked cells into imports from the package",
    )
    extract_command.add_argument(
        "--formatter",
        help="the formatter command, e.g. 'black' or 'ruff format' (default: the "
        "project's: black when pyproject.toml has [tool.black])",
    )
    adopt_command = commands.add_parser(
        "adopt",
        help="audit an existing repository for adoption (writes ADOPTION.md there), "
        "or adopt it with --apply",
    )
    adopt_command.add_argument("path", type=Path, help="the repository to adopt")
    adopt_command.add_argument(
        "--apply",
        action="store_true",
        help="adopt it: on a new branch, moves, the template's files, the lock and "
        "the debt baseline, committed",
    )
    adopt_command.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an answer to the template's question NAME, instead of the inferred one",
    )
    adopt_command.add_argument(
        "--template",
        type=Path,
        default=Path(),
        help="the template repository (default: the current folder)",
    )
    adopt_command.add_argument(
        "--vcs-ref",
        help="the template version to adopt (default: Copier's, the newest)",
    )
    debt_command = commands.add_parser(
        "debt", help="an adopted project's debt baseline (debt-baseline.json)"
    )
    debt_command.add_argument(
        "action",
        choices=["record", "ruff", "mypy", "pytest", "hook"],
        help="record the baseline, or run the tool against it; `hook`: the git "
        "hook's lint (ruff on the staged files, or against the baseline)",
    )
    debt_command.add_argument(
        "args", nargs="*", help="more arguments for pytest; the staged files for hook"
    )


def adopt_command(args: argparse.Namespace) -> int:
    """`handoff adopt`: the audit report, or the adoption itself."""
    from handoff_kit import adopt  # noqa: PLC0415  # Copier and tomlkit load here.

    given = {}
    for item in args.data:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UnusableError(f"--data {item!r} is not NAME=VALUE")
        given[name] = value
    if not (args.template / "copier.yml").is_file():
        raise UnusableError(
            f"{args.template.resolve()} is not the template repository (no copier.yml): "
            "run `make adopt REPO=...` there, or pass --template"
        )
    try:
        if args.apply:
            result = adopt.apply(args.path, args.template, given, args.vcs_ref)
            print(
                f"Adopted on the branch {adopt.BRANCH}: review it (git log --stat), "
                "then merge it. ADOPTION.md lists the next steps."
            )
        else:
            result = adopt.audit(args.path, args.template, given, args.vcs_ref)
            path = adopt.write_report(result)
            print(f"Wrote {path}: nothing else changed. Adopt with --apply (APPLY=1).")
    except adopt.AdoptError as error:
        raise UnusableError(one_line(error)) from None
    return 0


def debt_command(args: argparse.Namespace) -> int:
    """`handoff debt`: the baseline of an adopted project, in the current folder."""
    from handoff_kit import debt  # noqa: PLC0415

    root = Path.cwd()
    try:
        if args.action == "record":
            recorded = debt.record_baseline(root)
            print(f"Wrote {debt.BASELINE}: {recorded.summary()}.")
            return 0
        if args.action == "pytest":
            return debt.check_tests(root, args.args)
        if args.action == "hook":
            return debt.hook(root, args.args)
        return debt.check_tool(root, args.action)
    except debt.DebtError as error:
        raise UnusableError(one_line(error)) from None


def extract(settings: config.Settings, args: argparse.Namespace) -> int:
    """`handoff extract`: what moved, what it wrote, and what to run next."""
    from handoff_kit import extract as extraction  # noqa: PLC0415  # nbclient loads here.

    options = extraction.Options(
        force=args.force,
        replace=args.replace,
        formatter=tuple((args.formatter or "").split()),
    )
    try:
        outcome = extraction.extract(settings, args.notebook, options)
    except extraction.ExtractError as error:
        raise UnusableError(one_line(error)) from None
    for line in outcome.lines:
        print(line)
    print("Wrote " + ", ".join(outcome.written) + ".")
    print(
        "Next: `make check` runs the parity tests; review the diff, finish the types "
        "`make typecheck` names, and commit."
    )
    return 0


def contracts_export(settings: config.Settings, check: bool) -> int:
    """Write the contract's ODCS files, or (check) say whether the committed ones are current."""
    from handoff_kit import catalog, odcs  # noqa: PLC0415  # pandera loads here.

    shown = settings.contracts_dir.relative_to(settings.root)
    version = settings.contract.version
    try:
        if check:
            found = odcs.drift(settings)
            if found.passed:
                print(f"{shown}/ matches the contract (version {version}).")
                return 0
            say(odcs.drift_reason(found, settings.root))
            say("\n".join(f"  - {change}" for change in found.changes))
            return EXIT_UNUSABLE
        written = odcs.write(settings)
    except (odcs.ExportError, catalog.CatalogError) as error:
        raise UnusableError(one_line(error)) from error
    names = ", ".join(path.name for path in written)
    print(f"Wrote {shown}/ ({names}) for contract version {version}: commit it.")
    return 0


def data_check(settings: config.Settings, source: str | None) -> int:
    """`handoff data-check`: every catalogued source (or one) against its schema."""
    from handoff_kit import datacheck  # noqa: PLC0415  # pandera loads here.

    return datacheck.run(settings, source)


def score(settings: config.Settings, args: argparse.Namespace) -> None:
    """`handoff score`: the batch job (handoff_kit/batch.py), with its progress."""
    from handoff_kit import batch, registry  # noqa: PLC0415

    model = args.model or f"models:/{settings.model_name}@{registry.CHAMPION}"
    remote = os.environ.get("SPARK_REMOTE")
    where = f"Spark Connect ({remote})" if remote else f"Spark ({args.master})"
    say(f"Scoring {args.input} with {model} on {where}.")
    job = batch.Job(args.input, args.output, tuple(args.keep), args.master)
    rows = batch.score(settings, model, job)
    say(f"Scored {rows} rows into {args.output}.")


def dispatch(settings: config.Settings, args: argparse.Namespace) -> int:
    """Run the command `args` name; its exit status."""

    def handoff_gate() -> int:
        from handoff_kit import gate  # noqa: PLC0415

        selected = [g for g in gate.gates(settings) if g.name in (args.only or GATES)]
        return gate.run(settings, selected)

    commands: dict[str, Callable[[], object]] = {
        "train": lambda: train(settings),
        "predict": lambda: predict(settings, args.model, args.input, args.output),
        "serve": lambda: serve(settings, args),
        "openapi": lambda: openapi(settings, args.check),
        "contracts-export": lambda: contracts_export(settings, args.check),
        "score": lambda: score(settings, args),
        "extract": lambda: extract(settings, args),
        "snapshot": lambda: snapshot(settings),
        "standards": lambda: standards(settings, args),
        "settings": lambda: settings_check(settings),
        "promote": lambda: promote(settings, args),
        "secrets": lambda: secrets(settings, args.files),
        "audit": lambda: audit_lock(settings, args),
        "data-check": lambda: data_check(settings, args.source),
        "gate": handoff_gate,
    }
    status = commands[args.command]()
    # An int is an exit status; the others succeed or raise UnusableError.
    return status if isinstance(status, int) else 0


def promote(settings: config.Settings, args: argparse.Namespace) -> int:
    """`handoff promote`, with the risks its flags accept."""
    from handoff_kit import candidate  # noqa: PLC0415

    allowed = {
        flag
        for flag, given in [
            (candidate.ALLOW_DIRTY, args.allow_dirty),
            (candidate.ALLOW_MAJOR, args.allow_major),
        ]
        if given
    }
    return candidate.promote(settings, allowed=frozenset(allowed))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "adopt":  # Outside a project: no [tool.handoff] yet.
            return adopt_command(args)
        if args.command == "debt":
            return debt_command(args)
        return dispatch(config.load(), args)
    except Exception as error:
        if isinstance(error, refusals("BatchError")):  # A line per broken rule.
            print(f"{parser.prog}: error: {error}", file=sys.stderr)
            return EXIT_UNUSABLE
        if not isinstance(error, (UnusableError, config.ConfigError, *refusals())):
            raise
        print(f"{parser.prog}: error: {one_line(error)}", file=sys.stderr)
        return EXIT_UNUSABLE


# The errors of the kit's modules that say why a command cannot run (no traceback),
# by module; the batch job's have a line per broken rule.
REFUSALS = {
    "RegistryError": "handoff_kit.registry",
    "ScenarioError": "handoff_kit.scenarios",
    "BatchError": "handoff_kit.batch",
    "DataCheckError": "handoff_kit.datacheck",
}


def refusals(*names: str) -> tuple[type[Exception], ...]:
    """The error classes `names` (default: all but BatchError) of the modules this
    command loaded: a module it never loaded raised none, so none is imported here."""
    wanted = names or tuple(name for name in REFUSALS if name != "BatchError")
    return tuple(
        getattr(sys.modules[REFUSALS[name]], name)
        for name in wanted
        if REFUSALS[name] in sys.modules
    )
