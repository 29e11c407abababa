"""The acceptance scenarios and golden samples, as the contract snapshot records them.

What the handoff promises the other team is also in the acceptance folder: the
Gherkin scenarios every candidate must pass and the golden samples they score.
The snapshot records them so that deleting or weakening one is a reported
contract change, not a silent pass:

- a scenario, a step, an example row, a golden row or a whole file removed, a
  step reworded or the steps reordered, or a tag added (a tag can skip a
  scenario) is breaking, like a loosened output check: callers lose a guarantee;
- a scenario, a step, an example row or a golden row added, or a tag removed, is
  compatible.

The step code is reviewed as code, like the rest of package/tests/ (its hash
would differ with every package name, so the snapshot could not ship with the
template).

Feature files are read with Cucumber's own parser (gherkin-official, which
pytest-bdd uses too), so what counts as a scenario is what runs.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path
from typing import Any, cast

from gherkin.errors import CompositeParserException, ParserException
from gherkin.parser import Parser

Snapshot = dict[str, Any]
# What a conjunction (And, But) or `*` continues; the others say it themselves.
KEYWORDS = {"Context": "Given", "Action": "When", "Outcome": "Then"}


class ScenarioError(Exception):
    """A feature or sample file cannot be read; one line names the file and line."""


def describe_acceptance(folder: Path) -> Snapshot:
    """Every scenario of the .feature files and every golden sample (.csv)
    under `folder`, as plain JSON data."""
    files = sorted(path for path in folder.rglob("*") if path.is_file())
    scenarios: Snapshot = {}
    samples: Snapshot = {}
    for path in files:
        name = path.relative_to(folder).as_posix()
        if path.suffix == ".feature":
            scenarios |= _scenarios(path, name)
        elif path.suffix == ".csv":
            samples[name] = _sample(path, name)
    return {"scenarios": scenarios, "samples": samples}


def _scenarios(path: Path, name: str) -> Snapshot:
    try:
        # Plain dicts: the parser's TypedDicts are more than this reads.
        document = cast("dict[str, Any]", Parser().parse(path.read_text()))
    except (CompositeParserException, ParserException) as error:
        first = getattr(error, "errors", [error])[0]
        line = getattr(first, "location", {}).get("line", "?")
        # Its text starts with "(line:column): ", said once already.
        message = " ".join(str(first).split()).split("): ", 1)[-1]
        msg = f"{name}:{line}: not valid Gherkin: {message}"
        raise ScenarioError(msg) from None
    feature = document.get("feature")
    if feature is None:
        return {}
    return _children(name, feature["children"], background=[])


def _children(
    name: str, children: list[dict[str, Any]], background: list[str]
) -> Snapshot:
    found: Snapshot = {}
    steps = list(background)
    for child in children:
        if "background" in child:
            steps += _steps(child["background"]["steps"])
        elif "rule" in child:
            rule = child["rule"]
            found |= _children(
                f"{name}: {rule['name']}", rule["children"], background=steps
            )
        elif "scenario" in child:
            scenario = child["scenario"]
            found[f"{name}: {scenario['name']}"] = {
                "steps": [*steps, *_steps(scenario["steps"])],
                "examples": [
                    row for table in scenario["examples"] for row in _rows(table, name)
                ],
                "tags": sorted(tag["name"] for tag in scenario["tags"]),
            }
    return found


def _steps(steps: list[dict[str, Any]]) -> list[str]:
    described, keyword = [], "Given"
    for step in steps:
        keyword = KEYWORDS.get(step["keywordType"], keyword)
        text = step["text"]
        if "dataTable" in step:
            text += "".join(
                "\n| " + " | ".join(cell["value"] for cell in row["cells"]) + " |"
                for row in step["dataTable"]["rows"]
            )
        if "docString" in step:
            text += "\n" + step["docString"]["content"]
        described.append(f"{keyword} {text}")
    return described


def _rows(table: dict[str, Any], name: str) -> list[str]:
    header = table.get("tableHeader")
    if header is None:
        return []
    columns = [cell["value"] for cell in header["cells"]]
    return [
        ", ".join(
            f"{column}={cell['value']}"
            for column, cell in zip(columns, row["cells"], strict=True)
        )
        for row in table.get("tableBody", [])
    ] or [f"{name}: {', '.join(columns)} (no rows)"]


def _sample(path: Path, name: str) -> Snapshot:
    try:
        rows = list(csv.reader(io.StringIO(path.read_text())))
    except (csv.Error, UnicodeDecodeError) as error:
        msg = f"{name}: not a readable CSV file ({error})"
        raise ScenarioError(msg) from None
    if not rows:
        return {"columns": [], "rows": []}
    return {"columns": rows[0], "rows": [",".join(row) for row in rows[1:]]}


# --- Comparing -------------------------------------------------------------------


def compare_acceptance(old: Snapshot, new: Snapshot) -> list[tuple[str, str, bool]]:
    """Every difference as (where, what, breaking)."""
    changes: list[tuple[str, str, bool]] = []
    old_scenarios, new_scenarios = old["scenarios"], new["scenarios"]
    for name in sorted(old_scenarios.keys() - new_scenarios.keys()):
        changes.append((name, "acceptance scenario removed", True))
    for name in sorted(new_scenarios.keys() - old_scenarios.keys()):
        changes.append((name, "acceptance scenario added", False))
    for name in sorted(old_scenarios.keys() & new_scenarios.keys()):
        changes += _compare_scenario(name, old_scenarios[name], new_scenarios[name])
    old_samples, new_samples = old["samples"], new["samples"]
    for name in sorted(old_samples.keys() | new_samples.keys()):
        changes += _compare_sample(name, old_samples.get(name), new_samples.get(name))
    return changes


def _compare_scenario(
    name: str, old: Snapshot, new: Snapshot
) -> list[tuple[str, str, bool]]:
    changes = []
    for field, what in (("steps", "step"), ("examples", "example row")):
        removed, added = _differences(old[field], new[field])
        changes += [(name, f"{what} removed: {item}", True) for item in removed]
        changes += [(name, f"{what} added: {item}", False) for item in added]
    if old["steps"] != new["steps"] and Counter(old["steps"]) == Counter(new["steps"]):
        changes.append((name, "steps reordered", True))
    removed_tags, added_tags = _differences(old["tags"], new["tags"])
    changes += [(name, f"tag {tag} added (it may skip)", True) for tag in added_tags]
    changes += [(name, f"tag {tag} removed", False) for tag in removed_tags]
    return changes


def _compare_sample(
    name: str, old: Snapshot | None, new: Snapshot | None
) -> list[tuple[str, str, bool]]:
    if old is None:
        return [(name, "golden sample added", False)]
    if new is None:
        return [(name, "golden sample removed", True)]
    if old["columns"] != new["columns"]:
        what = (
            f"golden sample's columns changed from {old['columns']} to {new['columns']}"
        )
        return [(name, what, True)]
    removed, added = _differences(old["rows"], new["rows"])
    changes = []
    if removed:
        changes.append(
            (name, f"{_count(removed)} removed from the golden sample", True)
        )
    if added:
        changes.append((name, f"{_count(added)} added to the golden sample", False))
    return changes


def _differences(old: list[str], new: list[str]) -> tuple[list[str], list[str]]:
    """What `new` lacks of `old`, and what it adds, counting repeats."""
    before, after = Counter(old), Counter(new)
    return list((before - after).elements()), list((after - before).elements())


def _count(rows: list[str]) -> str:
    return f"{len(rows)} row{'s' if len(rows) != 1 else ''}"
