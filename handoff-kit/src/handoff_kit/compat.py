"""The breaking-change gate: compare the contracts in code with their snapshot.

The snapshot (package/contracts.lock.json) records every schema's columns,
dtypes, nullability and checks, the interface's method signatures and the
contract version. `compare` classifies each difference:

- inputs (data the model receives): a column removed or renamed, a dtype
  changed, a new required column, an optional column made required, nulls
  refused or a check tightened break callers; an optional column added or a
  check loosened does not.
- outputs (data the model returns): consumers rely on the guarantees, so the
  direction flips for checks and nulls: a loosened check breaks them, a
  tightened one does not; a new column is compatible.
- the interface: a method removed, added or with a changed signature breaks
  the implementations or the callers.
- the acceptance scenarios and golden samples (`scenarios.py`): what is
  removed or weakened breaks the promise; what is added is compatible.

No maintained tool classifies schema changes, so these rules are ours.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandera.pandas as pa

from handoff_kit.scenarios import compare_acceptance

Role = Literal["input", "output"]
Direction = Literal["unchanged", "tightened", "loosened", "changed"]
Snapshot = dict[str, Any]

SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$")


@dataclass(frozen=True)
class Change:
    """One difference between the snapshot and the code."""

    where: str
    what: str
    breaking: bool

    def __str__(self) -> str:
        kind = "BREAKING" if self.breaking else "compatible"
        return f"{kind:<10}  {self.where}: {self.what}"


@dataclass(frozen=True)
class Verdict:
    """The gate's decision, with a one-line reason and the changes behind it."""

    passed: bool
    reason: str
    changes: tuple[Change, ...] = ()


@dataclass(frozen=True)
class Reference:
    """A contract the code must not break at its major version: an earlier
    committed snapshot (`path@commit`) or the one the champion was trained under."""

    name: str
    snapshot: Snapshot

    @property
    def version(self) -> str:
        return str(self.snapshot.get("version"))


# --- Describing the code ---------------------------------------------------------


def describe(
    version: str,
    inputs: Iterable[type[pa.DataFrameModel]],
    outputs: Iterable[type[pa.DataFrameModel]],
    interfaces: Iterable[type],
    acceptance: Snapshot | None = None,
) -> Snapshot:
    """The contracts as plain JSON data, the form the snapshot stores;
    `acceptance` is `scenarios.describe_acceptance`'s."""
    schemas = {model.__name__: describe_schema(model, "input") for model in inputs}
    schemas |= {model.__name__: describe_schema(model, "output") for model in outputs}
    described = {
        "version": version,
        "schemas": schemas,
        "interfaces": {
            protocol.__name__: describe_interface(protocol) for protocol in interfaces
        },
    }
    if acceptance is not None:
        described["acceptance"] = acceptance
    return described


def describe_schema(model: type[pa.DataFrameModel], role: Role) -> Snapshot:
    schema = model.to_schema()
    return {
        "role": role,
        "columns": {
            str(name): {
                "dtype": _dtype(column.dtype),
                "nullable": column.nullable,
                "required": column.required,
                "checks": {
                    check.name: _jsonable(check.statistics) for check in column.checks
                },
            }
            for name, column in schema.columns.items()
        },
    }


def describe_interface(protocol: type) -> dict[str, str]:
    """Each public method's signature, annotations as written."""
    return {
        name: str(inspect.signature(member))
        for name, member in vars(protocol).items()
        if callable(member) and not name.startswith("_")
    }


def _dtype(dtype: object) -> str:
    # pandas' string dtype names its storage (python or pyarrow), which depends
    # on what is installed, not on the contract.
    name = str(dtype)
    return "str" if name.startswith("string") or name == "str" else name


def _jsonable(statistics: dict[str, Any]) -> Snapshot:
    # Tuples (allowed values, ...) become lists, as they will in the JSON file.
    jsonable: Snapshot = json.loads(json.dumps(statistics, default=list))
    return jsonable


# --- Comparing -------------------------------------------------------------------


def compare(old: Snapshot, new: Snapshot) -> list[Change]:
    """Every difference between two snapshots, each classified."""
    changes: list[Change] = []
    old_schemas, new_schemas = old["schemas"], new["schemas"]
    for name in sorted(old_schemas.keys() - new_schemas.keys()):
        changes.append(Change(name, "schema removed", breaking=True))
    for name in sorted(new_schemas.keys() - old_schemas.keys()):
        changes.append(Change(name, "schema added", breaking=False))
    for name in sorted(old_schemas.keys() & new_schemas.keys()):
        changes += _compare_schema(name, old_schemas[name], new_schemas[name])
    changes += _compare_interfaces(old["interfaces"], new["interfaces"])
    changes += _compare_acceptance(old.get("acceptance"), new.get("acceptance"))
    return changes


def _compare_acceptance(old: Snapshot | None, new: Snapshot | None) -> list[Change]:
    if old is None and new is None:
        return []
    if old is None:
        # A snapshot from before the kit recorded them (0.2.0).
        return [Change("acceptance", "scenarios and golden samples recorded", False)]
    if new is None:
        return [Change("acceptance", "scenarios and golden samples removed", True)]
    return [Change(*change) for change in compare_acceptance(old, new)]


def _compare_schema(schema: str, old: Snapshot, new: Snapshot) -> list[Change]:
    output = new["role"] == "output"
    changes = []
    old_columns, new_columns = old["columns"], new["columns"]
    for column in old_columns:
        if column not in new_columns:
            changes.append(
                Change(f"{schema}.{column}", "column removed (or renamed)", True)
            )
    for column, spec in new_columns.items():
        where = f"{schema}.{column}"
        if column not in old_columns:
            if output:
                changes.append(Change(where, "output column added", breaking=False))
            elif spec["required"]:
                changes.append(
                    Change(where, "required input column added", breaking=True)
                )
            else:
                changes.append(
                    Change(where, "optional input column added", breaking=False)
                )
            continue
        changes += _compare_column(where, old_columns[column], spec, output=output)
    return changes


def _compare_column(
    where: str, old: Snapshot, new: Snapshot, *, output: bool
) -> list[Change]:
    changes = []
    if old["dtype"] != new["dtype"]:
        changes.append(
            Change(where, f"dtype changed from {old['dtype']} to {new['dtype']}", True)
        )
    if old["required"] != new["required"]:
        what = (
            "optional column made required"
            if new["required"]
            else "column made optional"
        )
        # A required input asks more of callers; an optional output promises less.
        changes.append(Change(where, what, breaking=new["required"] != output))
    if old["nullable"] != new["nullable"]:
        what = "nulls allowed" if new["nullable"] else "nulls refused"
        changes.append(Change(where, what, breaking=new["nullable"] == output))
    for check in sorted(old["checks"].keys() | new["checks"].keys()):
        before, after = old["checks"].get(check), new["checks"].get(check)
        direction = check_direction(check, before, after)
        if direction == "unchanged":
            continue
        what = f"check {check} {direction}: {_show(before)} -> {_show(after)}"
        breaking = direction == "changed" or (direction == "tightened") != output
        changes.append(Change(where, what, breaking))
    return changes


def _show(statistics: Snapshot | None) -> str:
    return "none" if statistics is None else json.dumps(statistics, sort_keys=True)


def check_direction(  # noqa: PLR0911  # One return per kind of check reads best.
    name: str, old: Snapshot | None, new: Snapshot | None
) -> Direction:
    """Whether a column's check accepts fewer values (tightened) or more (loosened).

    A check added tightens, a check removed loosens. Checks we cannot order,
    or that move both ways at once, count as `changed`, which is breaking.
    """
    if old == new:
        return "unchanged"
    if old is None:
        return "tightened"
    if new is None:
        return "loosened"
    if name in {"greater_than", "greater_than_or_equal_to"}:
        return _order((old["min_value"], False), (new["min_value"], False))
    if name in {"less_than", "less_than_or_equal_to"}:
        return _order((-old["max_value"], False), (-new["max_value"], False))
    if name == "in_range":
        # A bound is stricter when it moves inwards, or stays and excludes itself.
        lower = _order(
            (old["min_value"], not old["include_min"]),
            (new["min_value"], not new["include_min"]),
        )
        upper = _order(
            (-old["max_value"], not old["include_max"]),
            (-new["max_value"], not new["include_max"]),
        )
        return _combine(lower, upper)
    if name in {"isin", "notin"}:
        key = "allowed_values" if name == "isin" else "forbidden_values"
        before, after = set(old[key]), set(new[key])
        if after == before:  # The same values, in another order.
            return "unchanged"
        if after < before:
            return "tightened" if name == "isin" else "loosened"
        if after > before:
            return "loosened" if name == "isin" else "tightened"
    return "changed"


def _order(old: tuple[float, bool], new: tuple[float, bool]) -> Direction:
    """Compare two bounds, (value, exclusive), of which the higher is the stricter."""
    if new > old:
        return "tightened"
    if new < old:
        return "loosened"
    return "unchanged"


def _combine(*directions: Direction) -> Direction:
    moved = set(directions) - {"unchanged"}
    if not moved:
        return "unchanged"
    return moved.pop() if len(moved) == 1 else "changed"


def _compare_interfaces(old: Snapshot, new: Snapshot) -> list[Change]:
    changes = []
    for protocol in sorted(old.keys() | new.keys()):
        if protocol not in new:
            changes.append(Change(protocol, "interface removed", breaking=True))
            continue
        if protocol not in old:
            changes.append(Change(protocol, "interface added", breaking=False))
            continue
        before, after = old[protocol], new[protocol]
        for method in sorted(before.keys() | after.keys()):
            where = f"{protocol}.{method}"
            if method not in after:
                changes.append(Change(where, "method removed", breaking=True))
            elif method not in before:
                # Every existing implementation now lacks it.
                changes.append(Change(where, "method added", breaking=True))
            elif before[method] != after[method]:
                what = f"signature changed from {before[method]} to {after[method]}"
                changes.append(Change(where, what, breaking=True))
    return changes


# --- The gate --------------------------------------------------------------------


def _versions(snapshot: Snapshot | None, current: Snapshot) -> Verdict | None:
    """A failed verdict when either version is unusable or the version went back."""
    version = current["version"]
    if not SEMVER.match(version):
        return Verdict(
            False, f"CONTRACT_VERSION {version!r} is not a semantic version X.Y.Z"
        )
    if snapshot is None:
        return None
    recorded = str(snapshot.get("version"))
    if not SEMVER.match(recorded):
        return Verdict(
            False,
            f"the snapshot's version {recorded!r} is not a semantic version X.Y.Z: "
            "restore the committed snapshot (git checkout) before recording a change",
        )
    if _parts(version) < _parts(recorded):
        return Verdict(
            False,
            f"CONTRACT_VERSION {version} is older than the snapshot's {recorded}: "
            "versions only move forward",
        )
    return None


def _parts(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def judge(
    snapshot: Snapshot | None,
    current: Snapshot,
    references: Sequence[Reference] = (),
    notes: Sequence[str] = (),
) -> Verdict:
    """Pass when the code matches the snapshot and breaks none of the `references`
    at its major version; otherwise say what to do. `notes` say which references
    could not be read, for the reason."""
    version = current["version"]
    unusable = _versions(snapshot, current)
    if unusable is not None:
        return unusable
    changes = () if snapshot is None else tuple(compare(snapshot, current))
    breaking = [change for change in changes if change.breaking]
    if (
        snapshot is not None
        and breaking
        and major(version) <= major(snapshot["version"])
    ):
        names = ", ".join(change.where for change in breaking)
        return Verdict(
            False,
            f"breaking change without a major version bump (CONTRACT_VERSION {version}): {names}",
            changes,
        )
    broken = breaks(references, current)
    if broken is not None:
        return broken
    if snapshot is None:
        return Verdict(
            False,
            "no contract snapshot yet: run `make contract-snapshot` and commit it",
        )
    if changes or version != snapshot["version"]:
        return Verdict(
            False,
            "the contract changed since its snapshot: review the changes, then run "
            "`make contract-snapshot` and commit package/contracts.lock.json",
            changes,
        )
    kept = _kept(references, current)
    return Verdict(
        True,
        f"contracts match their snapshot (version {version})"
        + "".join(f"; {part}" for part in (kept, *notes) if part),
    )


def breaks(references: Sequence[Reference], current: Snapshot) -> Verdict | None:
    """A failed verdict naming the first of `references` (in their order) that
    `current` breaks at the same major version, or that has a later major version
    (the version went back); None when it breaks none."""
    version = current["version"]
    later = [
        reference
        for reference in references
        if SEMVER.match(reference.version) and major(reference.version) > major(version)
    ]
    if later:
        # Going back a major version would leave every reference behind.
        return Verdict(
            False,
            f"CONTRACT_VERSION {version} is older than {later[0].version}, the "
            f"version of {later[0].name}: versions only move forward, so set "
            f"CONTRACT_VERSION to {major(later[0].version)}.x.y or later",
        )
    broken = []
    for reference in _same_major(references, current):
        found = [
            change for change in compare(reference.snapshot, current) if change.breaking
        ]
        if found:
            broken.append((reference, tuple(found)))
    if not broken:
        return None
    reference, changes = broken[0]
    first = changes[0]
    more = f" (and {len(changes) - 1} more)" if len(changes) > 1 else ""
    others = len(broken) - 1
    also = (
        f"; it breaks {others} other earlier reference{'s' if others > 1 else ''} too"
        if others
        else ""
    )
    return Verdict(
        False,
        f"breaking change without a major version bump (CONTRACT_VERSION {version}) "
        f"against {reference.name} (contract {reference.version}): {first.where}: "
        f"{first.what}{more}{also}. Deleting or recording the snapshot again does not "
        f"undo its history: bump the major number (to {major(version) + 1}.0.0), "
        "agreeing it with the other team first, or undo the change",
        changes,
    )


def _same_major(references: Sequence[Reference], current: Snapshot) -> list[Reference]:
    number = major(current["version"])
    return [
        reference
        for reference in references
        if SEMVER.match(reference.version) and major(reference.version) == number
    ]


def _kept(references: Sequence[Reference], current: Snapshot) -> str:
    """The references the code was compared with, for the gate's reason."""
    same = _same_major(references, current)
    if not same:
        return ""
    shown = ", ".join(reference.name for reference in same[:3])
    more = f" and {len(same) - 3} more" if len(same) > 3 else ""  # noqa: PLR2004
    count = f"{len(same)} earlier reference{'s' if len(same) > 1 else ''}"
    return (
        f"no breaking change against {count} at major version "
        f"{major(current['version'])}: {shown}{more}"
    )


def may_record(
    snapshot: Snapshot | None,
    current: Snapshot,
    references: Sequence[Reference] = (),
) -> Verdict:
    """Whether `current` may replace `snapshot`: never a breaking change at the
    snapshot's major version, nor at the major version of any of `references`
    (the earlier committed snapshots), so recording cannot bless what the gate
    refuses."""
    unusable = _versions(snapshot, current)
    if unusable is not None:
        return unusable
    if snapshot is None:
        broken = breaks(references, current)
        if broken is not None:
            return broken
        return Verdict(True, "the first snapshot of the contracts")
    changes = tuple(compare(snapshot, current))
    breaking = tuple(change for change in changes if change.breaking)
    version, recorded = current["version"], snapshot["version"]
    if breaking and major(version) <= major(recorded):
        count = f"{len(breaking)} breaking change{'s' if len(breaking) > 1 else ''}"
        return Verdict(
            False,
            f"{count} at CONTRACT_VERSION {version}, the snapshot's major version: "
            f"bump the major number (to {major(recorded) + 1}.0.0), agreeing it with "
            "the other team first, then record the snapshot again",
            breaking,
        )
    broken = breaks(references, current)
    if broken is not None:
        return broken
    return Verdict(
        True,
        f"{len(changes)} change{'' if len(changes) == 1 else 's'} recorded at version {version}",
        changes,
    )


def major(version: str) -> int:
    """The major number of a semantic version X.Y.Z."""
    return int(version.split(".", 1)[0])


def read_snapshot(path: Path) -> Snapshot | None:
    if not path.exists():
        return None
    snapshot: Snapshot = json.loads(path.read_text())
    return snapshot


def write_snapshot(path: Path, snapshot: Snapshot) -> None:
    path.write_text(json.dumps(snapshot, indent=2, sort_keys=True) + "\n")
