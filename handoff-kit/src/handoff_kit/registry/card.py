"""The model card: what a model version predicts, how well, from which data.

It is written by `handoff train` and stored with the version, so whoever loads
the model from the registry can read what it is without the research notebooks.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

import pandera.pandas as pa

from handoff_kit.catalog import Source
from handoff_kit.compat import Snapshot, describe_schema
from handoff_kit.config import Settings
from handoff_kit.registry.records import Manifest


def model_card(
    settings: Settings, manifest: Manifest, sources: Sequence[Source]
) -> str:
    """The card as Markdown, from the manifest, the contract and the catalog."""
    contract = settings.contract
    lines = [
        f"# Model card: {settings.model_name}",
        "",
        settings.description or "No description: set [project] description.",
        "",
        "| Recorded | |",
        "|---|---|",
        f"| Contract version | {manifest.contract_version} |",
        f"| Trained from commit | `{manifest.git_commit}` |",
        f"| Environment lock | `{manifest.lock_hash}` |",
        f"| Handoff kit | {manifest.kit_version} |",
        f"| Trained at | {manifest.created_at} |",
        f"| Trained by | {manifest.trained_by or 'not recorded'} |",
        "",
        "## Metrics",
        "",
        "| Metric | Value |",
        "|---|---|",
    ]
    lines += [f"| {name} | {value:.4g} |" for name, value in manifest.metrics.items()]
    lines += schema_section("Input", contract.model_input)
    lines += schema_section("Output", contract.model_output)
    lines += ["", "## Training data", ""]
    if sources:
        lines += ["| Source | Owner | Tier | Description |", "|---|---|---|---|"]
        lines += [
            f"| {s.name} | {s.owner} | {s.tier} | {_cell(s.description)} |"
            for s in sources
        ]
    else:
        lines.append("No catalogued source: the training data was made in code.")
    return "\n".join(lines) + "\n"


def schema_section(title: str, schema: type[pa.DataFrameModel]) -> list[str]:
    lines = [
        "",
        f"## {title}: {schema.__name__}",
        "",
        inspect.getdoc(schema) or "",
        "",
        "| Column | Type | Nullable | Required | Checks |",
        "|---|---|---|---|---|",
    ]
    for name, column in describe_schema(schema, "input")["columns"].items():
        lines.append(
            f"| {name} | {column['dtype']} | {_yes(column['nullable'])} "
            f"| {_yes(column['required'])} | {_checks(column['checks'])} |"
        )
    return lines


def _checks(checks: Snapshot) -> str:
    shown = [
        f"{name}({', '.join(f'{k}={v}' for k, v in statistics.items())})"
        for name, statistics in checks.items()
    ]
    return _cell(", ".join(shown)) or "none"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")
