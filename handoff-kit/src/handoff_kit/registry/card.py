"""The model card: what a model version is for, how well it does, from which data.

It is written by `handoff train` and stored with the version, so whoever loads
the model from the registry can read what it is without the research notebooks.
Its sections follow the model cards people know (Mitchell et al., "Model Cards
for Model Reporting", 2019, and Hugging Face's template): model details, intended
use, training data and its owners, evaluation data, metrics with the decision
threshold, limitations, ethical considerations, then the contract and the
environment. What only the team can say (intended use beyond the description,
limitations, ethical considerations) comes from its notes file (`card-notes` in
[tool.handoff]); a section it has not written yet says so, and where to write it.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Sequence
from pathlib import Path

import pandera.pandas as pa

from handoff_kit.catalog import Source
from handoff_kit.compat import Snapshot, describe_schema
from handoff_kit.config import Settings
from handoff_kit.registry.records import Manifest
from handoff_kit.training import Trained

# The sections the team writes, by their heading in the notes file.
TEAM_SECTIONS = ("Intended use", "Limitations", "Ethical considerations")


def model_card(
    settings: Settings,
    manifest: Manifest,
    sources: Sequence[Source],
    trained: Trained | None = None,
) -> str:
    """The card as Markdown, from the manifest, the contract, the catalog, what the
    training function said about its evaluation, and the team's notes."""
    contract = settings.contract
    notes = team_notes(settings.card_notes)
    where = _shown(settings.card_notes, settings.root)
    model = type(trained.model).__name__ if trained else "not recorded"
    lines = [
        f"# Model card: {settings.model_name}",
        "",
        settings.description or "No description: set [project] description.",
        "",
        "## Model details",
        "",
        "| Recorded | |",
        "|---|---|",
        f"| Model | {model} |",
        f"| Contract version | {manifest.contract_version} |",
        f"| Trained from commit | `{manifest.git_commit}` |",
        f"| Trained at | {manifest.created_at} |",
        f"| Trained by | {manifest.trained_by or 'not recorded'} |",
        "",
        "## Intended use",
        "",
        f"Primary use: {settings.description or 'not described'}",
        "",
        _team(notes, "Intended use", where),
        "",
        "## Training data",
        "",
    ]
    if sources:
        lines += ["| Source | Owner | Tier | Description |", "|---|---|---|---|"]
        lines += [
            f"| {s.name} | {s.owner} | {s.tier} | {_cell(s.description)} |"
            for s in sources
        ]
    else:
        lines.append("No catalogued source: the training data was made in code.")
    evaluation = trained.evaluation if trained else ""
    lines += [
        "",
        "## Evaluation data",
        "",
        evaluation
        or "Not described: the training function can say it (Trained(evaluation=...)).",
        "",
        "## Metrics",
        "",
        "| Metric | Value |",
        "|---|---|",
    ]
    lines += [f"| {name} | {value:.4g} |" for name, value in manifest.metrics.items()]
    threshold = trained.threshold if trained else None
    lines += [
        "",
        f"Decision threshold: {threshold:g}."
        if threshold is not None
        else "Decision threshold: none recorded (Trained(threshold=...)).",
        "",
        "## Limitations",
        "",
        _team(notes, "Limitations", where),
        "",
        "## Ethical considerations",
        "",
        _team(notes, "Ethical considerations", where),
        "",
        "## Contract",
    ]
    lines += schema_section("Input", contract.model_input)
    lines += schema_section("Output", contract.model_output)
    lines += [
        "",
        "## Environment",
        "",
        "| Recorded | |",
        "|---|---|",
        f"| Environment lock | `{manifest.lock_hash}` |",
        f"| Handoff kit | {manifest.kit_version} |",
    ]
    return "\n".join(lines) + "\n"


# An HTML comment in the notes: the template's guidance for a section, not its text.
COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def team_notes(path: Path | None) -> dict[str, str]:
    """The team's sections of its notes file, by heading ("## Limitations" ...);
    a section holding only comments (the template's prompts) is not written yet."""
    if path is None or not path.is_file():
        return {}
    sections: dict[str, str] = {}
    parts = re.split(r"^## +(.+?) *$", path.read_text(), flags=re.MULTILINE)
    for heading, body in zip(parts[1::2], parts[2::2], strict=True):
        text = COMMENT.sub("", body).strip()
        if heading in TEAM_SECTIONS and text:
            sections[heading] = text
    return sections


def _team(notes: dict[str, str], section: str, where: str) -> str:
    return notes.get(section) or (
        f"Not written yet: the team writes it under '## {section}' in {where}, "
        "and the next `make train` copies it here."
    )


def _shown(path: Path | None, root: Path) -> str:
    if path is None:
        return "the card notes"
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


def schema_section(title: str, schema: type[pa.DataFrameModel]) -> list[str]:
    lines = [
        "",
        f"### {title}: {schema.__name__}",
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
