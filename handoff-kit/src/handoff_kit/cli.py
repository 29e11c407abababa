"""The `handoff` command: train, check, promote and serve a project's model.

    handoff train                  train the model, register it as the candidate
    handoff gate [--only NAME]     run the handoff gate, write the report
    handoff snapshot               record the contracts after a reviewed change
    handoff promote                make the candidate the champion, if it passes
    handoff predict --model models:/<name>@champion --input rows.csv [--output FILE]

Run it in a project (or below one): [tool.handoff] in its pyproject.toml says
what the project's own parts are. `predict` reads CSV or Parquet and writes one
prediction per input row, as CSV to standard output or to --output (.csv or
.parquet); input and output are validated against the contract.

Exit status: 0 on success; 1 when the project, the input, the model or the
registry cannot be used, or a gate fails, with one line on standard error that
says why; 2 when the command line itself is wrong (argparse prints the usage).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from handoff_kit import __version__, candidate, catalog, config, gate, registry
from handoff_kit.compat import may_record, read_snapshot, write_snapshot
from handoff_kit.registry.card import model_card
from handoff_kit.registry.records import (
    Manifest,
    ModelVersion,
    contract_signature,
    git_commit,
    lock_hash,
    who,
)
from handoff_kit.training import Trained

EXIT_UNUSABLE = 1
GATES = [
    "conflicts",
    "hygiene",
    "format",
    "lint",
    "lock",
    "types",
    "interface",
    "tests",
    "acceptance",
    "contract",
    "catalog",
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
        trained_by=who(),
    )
    say(f"Registering the model in {store.location()}.")
    card = model_card(settings, manifest, used)
    version = store.register(trained.model, manifest, card, trained.example)
    say(
        f"Registered {version.name} version {version.version} as the new candidate ({version.uri})."
    )
    say("Next: `make handoff` checks it; `make promote` makes it the champion.")
    return version


def predict(
    settings: config.Settings, model_uri: str, input_path: Path, output: Path | None
) -> None:
    """Score every row of `input_path` with the registry model `model_uri` names."""
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
    write_table(predictions, output)


def snapshot(settings: config.Settings) -> int:
    """Record the contracts, unless that would bless a change the gate refuses."""
    shown = settings.snapshot.relative_to(settings.root)
    current = gate.current_contract(settings)
    verdict = may_record(read_snapshot(settings.snapshot), current)
    if not verdict.passed:
        say(f"Refused: {shown} stays as it is. {verdict.reason}.")
        say("\n".join(f"  - {change}" for change in verdict.changes))
        return EXIT_UNUSABLE
    write_snapshot(settings.snapshot, current)
    print(f"Wrote {shown} (contract version {settings.contract.version}): commit it.")
    return 0


def build_parser() -> argparse.ArgumentParser:
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
    commands.add_parser(
        "promote", help="make the candidate the champion, if it passes the gate"
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = config.load()
        if args.command == "train":
            train(settings)
        elif args.command == "predict":
            predict(settings, args.model, args.input, args.output)
        elif args.command == "snapshot":
            return snapshot(settings)
        elif args.command == "promote":
            return candidate.promote(settings)
        else:
            available = gate.gates(settings)
            only = args.only or GATES
            return gate.run(settings, [g for g in available if g.name in only])
    except (UnusableError, config.ConfigError, registry.RegistryError) as error:
        print(f"{parser.prog}: error: {one_line(error)}", file=sys.stderr)
        return EXIT_UNUSABLE
    return 0
