"""`handoff adopt PATH`: bring an existing repository under the Handoff template.

The audit (the default) only reads the repository, and writes one file into it,
ADOPTION.md: the template's answers inferred from the repository with where each
came from, where each file goes, the files both sides have and how each is
resolved, and the debt `make check` and `make handoff` would report. It builds
the adopted project in a temporary folder to measure that debt with the
template's own tools; the same input gives the same report, byte for byte.

`--apply` then does it, on a new branch of a clean tree: `git mv` for every move
(history follows), `copier copy` of the template into the repository with the
inferred answers (`--data NAME=VALUE` overrides one), the four shared files
merged, `make setup` (the lock), the formatter, and the debt baseline
(handoff_kit/debt.py), committed. `.copier-answers.yml` records the template
version, so `make update` works as in a project made by `copier copy`.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from handoff_kit import debt, integrity
from handoff_kit.adopt import infer, merge, plan
from handoff_kit.adopt.infer import AdoptError, Answer
from handoff_kit.rules.secrets import scan_secrets

REPORT = "ADOPTION.md"
ANSWERS_FILE = ".copier-answers.yml"
MANIFEST = "standards/template-owned.sha256"
LARGE = (
    1000 * 1024
)  # What `make hygiene` refuses (check-added-large-files --maxkb=1000).
BRANCH = "handoff-adoption"

__all__ = ["AdoptError", "Audit", "apply", "audit", "report"]


def git(root: Path, *args: str, check: bool = True) -> str:
    said = subprocess.run(  # noqa: S603
        ["git", *args],  # noqa: S607
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if check and said.returncode != 0:
        raise AdoptError(
            f"git {' '.join(args)} failed: {' '.join(said.stderr.split())}"
        )
    return said.stdout


@dataclass
class Debt:
    lint: dict[str, int] = field(default_factory=dict)  # file -> violations
    types: dict[str, int] = field(default_factory=dict)
    coverage: float | None = None
    notebooks_with_outputs: list[str] = field(default_factory=list)
    large_files: list[tuple[str, int]] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    settings: list[str] = field(default_factory=list)


@dataclass
class Audit:
    root: Path
    answers: list[Answer]
    notebooks: Answer
    package_folder: str | None
    moves: list[plan.Move]
    collisions: list[plan.Collision]
    notes: list[str]
    skipped: list[
        str
    ]  # Template files not written: the team's code lacks what they use.
    debt: Debt
    next_steps: list[str]
    retired: list[plan.Retired] = field(default_factory=list)
    # The team's lines that name a retired file, as next steps.
    still_named: list[str] = field(default_factory=list)

    @property
    def data(self) -> dict[str, object]:
        return {a.name: a.value for a in self.answers}


# --- Bad input ----------------------------------------------------------------------


def check_repository(root: Path) -> None:
    """Refuse, with one line, what cannot be adopted; nothing is written before."""
    if not root.is_dir():
        raise AdoptError(f"{root} is not a folder: name the repository to adopt")
    top = git(root, "rev-parse", "--show-toplevel", check=False).strip()
    if not top or Path(top).resolve() != root.resolve():
        raise AdoptError(
            f"{root} is not the top of a git repository: adoption moves files with "
            "git mv to keep their history, so run `git init` and commit first"
        )
    if not git(root, "rev-parse", "--verify", "--quiet", "HEAD", check=False).strip():
        raise AdoptError(f"{root} has no commit yet: commit its files first")
    if (root / ANSWERS_FILE).exists():
        raise AdoptError(
            f"{root} already has {ANSWERS_FILE}: it was made from or adopted into a "
            "template already; take new template versions with `make update`"
        )
    dirty = [
        line
        for line in git(
            root, "status", "--porcelain", "--untracked-files=all"
        ).splitlines()
        if line[3:] != REPORT
    ]
    if dirty:
        raise AdoptError(
            f"{root} has uncommitted changes ({dirty[0][3:]}"
            f"{f' and {len(dirty) - 1} more' if len(dirty) > 1 else ''}): commit or "
            "stash them first, so that adoption stays apart from your work"
        )


# --- The template ---------------------------------------------------------------------


def render(
    template: Path, answers: Mapping[str, object], into: Path, vcs_ref: str | None
) -> None:
    """A fresh copy of the template with `answers`, judged by its own validators."""
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # Copier's notices.
            _copy(template, answers, into, vcs_ref)
    except ValueError as error:  # Copier's validators: the message says what is wrong.
        raise AdoptError(
            f"the template refuses an inferred answer: {' '.join(str(error).split())} "
            "(choose another with --data NAME=VALUE)"
        ) from None


def _copy(
    template: Path, answers: Mapping[str, object], into: Path, vcs_ref: str | None
) -> None:
    import copier  # noqa: PLC0415  # The template repository's environment has it.

    copier.run_copy(
        str(template),
        into,
        data=dict(answers),
        defaults=True,
        quiet=True,
        unsafe=False,
        vcs_ref=vcs_ref,
    )


def rendered_files(folder: Path) -> set[str]:
    return {
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(folder).parts
    }


def template_owned(folder: Path) -> set[str]:
    manifest = folder / MANIFEST
    if not manifest.is_file():
        return set()
    owned = {
        line.split("  ", 1)[1]
        for line in manifest.read_text().splitlines()
        if "  " in line
    }
    return owned | {MANIFEST}


# --- Imports the team's code cannot satisfy ---------------------------------------------


def _defined(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


def _module_file(root: Path, module: str) -> Path | None:
    base = root / "package" / "src" / Path(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return base if base.is_dir() else None


def unsatisfied(root: Path, package: str, written: set[str]) -> list[str]:
    """The template's package files that import what the team's modules (kept in
    their place) do not define, or what is missing, and the template's tests of
    the team's modules: they are not written."""
    removed: list[str] = []
    changed = True
    while changed:
        changed = False
        for path in sorted(written):
            if not path.startswith("package/") or not path.endswith(".py"):
                continue
            file = root / path
            tree = ast.parse(file.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if not isinstance(node, ast.ImportFrom):
                    continue
                module = node.module or ""
                if node.level:
                    parent = PurePosixPath(path).relative_to("package/src").parent
                    parts = list(parent.parts)[: len(parent.parts) - node.level + 1]
                    module = ".".join([*parts, *([module] if module else [])])
                if module.split(".")[0] != package:
                    continue
                target = _module_file(root, module)
                if target is None:
                    missing = True
                elif (
                    target.is_file()
                    and target.relative_to(root).as_posix() not in written
                ):
                    have = _defined(ast.parse(target.read_text(encoding="utf-8")))
                    # A template test of the team's module tests the template's
                    # version of it (its starter __version__, say): not theirs.
                    test = path.startswith("package/tests/")
                    submodules = {
                        n.name
                        for n in node.names
                        if (sub := _module_file(root, f"{module}.{n.name}")) is not None
                        and not (
                            test
                            and sub.is_file()
                            and sub.relative_to(root).as_posix() not in written
                        )
                    }
                    missing = any(
                        (test or n.name not in have) and n.name not in submodules
                        for n in node.names
                    )
                else:
                    missing = False
                if missing:
                    file.unlink()
                    written.discard(path)
                    removed.append(path)
                    changed = True
                    break
    return sorted(removed)


# --- Putting the project together ---------------------------------------------------------


def _show(root: Path, path: str) -> str | None:
    """`path` as the team's last commit has it (None: it has none)."""
    return debt.git_blob(root, "HEAD", path)


def _requirements(root: Path, found: infer.Found) -> infer.Declared:
    """Every requirement the repository declares outside pyproject.toml: its
    requirements files, and setup()'s in setup.py or setup.cfg."""
    declared = infer.setup_requirements(found)
    for file in infer.requirement_files(found):
        # As committed: `--apply` has removed the file by the time it merges.
        listed = merge.read_requirements(_show(root, file) or "")
        dev = any(w in file for w in ("dev", "test", "lint"))
        (declared.dev if dev else declared.runtime).extend(listed)
    return declared


def merge_shared(
    root: Path,
    into: Path,
    audit_: Audit,
    found: infer.Found,
    render_dir: Path,
) -> list[str]:
    """Write the four merged files into `into`, from the team's committed ones
    (in `root`) and the template's render; the notes say what changed."""
    notes: list[str] = []
    declared = _requirements(root, found)
    if declared.sources:
        notes.append(
            f"pyproject.toml: the requirements of {', '.join(declared.sources)} added"
        )
    init = None
    if audit_.package_folder:
        init = _show(root, f"{audit_.package_folder}/__init__.py") or _show(
            root, f"package/src/{audit_.data['package_name']}/__init__.py"
        )
    kit = render_dir / "standards" / "handoff-kit" / "pyproject.toml"
    text, pyproject_notes = merge.merge_pyproject(
        _show(root, "pyproject.toml"),
        (render_dir / "pyproject.toml").read_text(encoding="utf-8"),
        declared.runtime,
        declared.dev,
        infer.version(found) or merge.package_version(init or ""),
        pinned=merge.kit_pins(kit.read_text(encoding="utf-8")) if kit.is_file() else {},
        extras=declared.extras,
    )
    (into / "pyproject.toml").write_text(text, encoding="utf-8")
    notes += [f"pyproject.toml: {note}" for note in pyproject_notes]
    readme = _show(root, "README.md")
    if readme is not None:
        template_readme = (render_dir / "README.md").read_text(encoding="utf-8")
        (into / "README.md").write_text(merge.merge_readme(readme, template_readme))
    makefile = _show(root, "Makefile")
    if makefile is not None:
        standard: set[str] = set()
        for mk in (render_dir / "standards").glob("*.mk"):
            standard |= merge.make_targets(mk.read_text(encoding="utf-8"))
        settings, knobs = integrity.standard_settings(render_dir)
        text, make_notes = merge.merge_makefile(
            makefile,
            standard,
            {name for target, name in settings if not target} - knobs,
        )
        (into / "Makefile").write_text(text, encoding="utf-8")
        notes += [f"Makefile: {note}" for note in make_notes]
    gitignore = _show(root, ".gitignore")
    if gitignore is not None:
        template_ignore = (render_dir / ".gitignore").read_text(encoding="utf-8")
        (into / ".gitignore").write_text(
            merge.merge_gitignore(gitignore, template_ignore)
        )
    return notes


def _kept(audit_: Audit) -> list[str]:
    return [c.path for c in audit_.collisions if c.resolution == plan.KEPT]


def _copy_tracked(root: Path, into: Path, audit_: Audit, found: infer.Found) -> None:
    """The repository's committed files where the moves put them (data left out)."""
    moved = {m.source: m for m in audit_.moves}
    retired = {r.path for r in audit_.retired}
    for file in found.files:
        move = moved.get(file)
        if (move is not None and not move.tracked) or file in retired:
            continue
        destination = into / (move.destination if move else file)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / file, destination)


def _place_render(render_dir: Path, into: Path, skip: set[str]) -> None:
    for file in sorted(rendered_files(render_dir) - skip):
        destination = into / file
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(render_dir / file, destination)


# --- The audit ------------------------------------------------------------------------------


# The merged files keep the team's lines: they may name a retired file too.
MERGED_NAMED = frozenset({"README.md", "Makefile"})


def _still_named(
    assembled: Path, team_files: list[str], retired: list[plan.Retired]
) -> list[str]:
    """Where the team's files (after the moves, in `assembled`) name a file that
    adoption removes: a task, a CI step or a Dockerfile line that would fail."""
    if not retired:
        return []
    names = re.compile(
        r"(?<![\w./-])(" + "|".join(re.escape(r.path) for r in retired) + r")(?![\w.-])"
    )
    steps = []
    for file in team_files:
        path = assembled / file
        if not path.is_file() or file.endswith(".ipynb"):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # Not text.
        for number, line in enumerate(text.splitlines(), 1):
            for named in dict.fromkeys(names.findall(line)):
                steps.append(
                    f"`{file}` line {number} still names {named}, which adoption "
                    "removed: install with `make setup` (uv.lock), build with `uv build`."
                )
    return steps


def _first_author(root: Path) -> tuple[str, str]:
    line = git(root, "log", "--reverse", "--format=%an%x00%ae").splitlines()[0]
    name, email = line.split("\0")
    return name, email


def _override(answers: list[Answer], given: Mapping[str, str]) -> list[Answer]:
    known = {a.name for a in answers}
    changed = [
        Answer(a.name, given[a.name], "--data") if a.name in given else a
        for a in answers
    ]
    return changed + [
        Answer(k, v, "--data") for k, v in sorted(given.items()) if k not in known
    ]


def _history_debt(root: Path, found: infer.Found) -> Debt:
    measured = Debt()
    for file in found.files:
        if not file.endswith(".ipynb"):
            continue
        try:
            notebook = json.loads(_show(root, file) or "{}")
        except json.JSONDecodeError:
            continue
        if any(cell.get("outputs") for cell in notebook.get("cells", [])):
            measured.notebooks_with_outputs.append(file)
    objects = git(root, "rev-list", "--objects", "--all")
    said = subprocess.run(
        ["git", "cat-file", "--batch-check=%(objecttype) %(objectsize) %(rest)"],  # noqa: S607
        cwd=root,
        input="".join(
            line.split(" ")[0] + " " + line.partition(" ")[2] + "\n"
            for line in objects.splitlines()
        ),
        capture_output=True,
        text=True,
        check=True,
    )
    sizes: dict[str, int] = {}
    for line in said.stdout.splitlines():
        kind, size, name = [*line.split(" ", 2), ""][:3]
        if kind == "blob" and int(size) > LARGE and name:
            sizes[name] = max(sizes.get(name, 0), int(size))
    measured.large_files = sorted(sizes.items())
    code = [root / f for f in found.files if f.endswith((".py", ".ipynb"))]
    findings, _ = scan_secrets(code, root)
    measured.secrets = sorted(
        f"{f.file.as_posix()}:{f.line}: {f.message}" for f in findings
    )
    return measured


def _measure(assembled: Path, formatter: str, measured: Debt) -> None:
    """What `make lint`, `make typecheck` and `make test` would count after
    adoption, in the assembled copy (formatted first, as `--apply` does)."""
    command = (
        ["black", "--quiet"] if formatter == "black" else ["ruff", "format", "--quiet"]
    )
    subprocess.run(  # noqa: S603
        [sys.executable, "-m", *command, "package", "research"],
        cwd=assembled,
        capture_output=True,
        check=False,
    )
    for tool, into in (("ruff", measured.lint), ("mypy", measured.types)):
        try:
            counts = debt.count(debt.measure(tool, assembled))
        except debt.DebtError:
            continue
        into.update({file: sum(rules.values()) for file, rules in counts.items()})
    measured.coverage = debt.measure_coverage(
        assembled, {"PYTHONPATH": str(assembled / "package" / "src")}
    )
    from handoff_kit import loosened  # noqa: PLC0415

    try:
        measured.settings = loosened.judge(assembled).failures
    except Exception as error:  # Reported, not fatal.
        measured.settings = [
            f"cannot read the settings: {' '.join(str(error).split())}"
        ]


def _next_steps(audit_: Audit, package: str) -> list[str]:
    steps = [
        f"Write the contract: the model's input and output schemas in "
        f"package/src/{package}/contracts/schemas.py and its interface in "
        "contracts/interface.py; then `make contract-snapshot`.",
        f"Connect training: `train` in package/src/{package}/training.py "
        "(named in [tool.handoff]) trains the team's model.",
        "Write the acceptance scenarios: package/tests/acceptance/scoring.feature, "
        "with a golden sample the contract validates.",
    ]
    sources = sorted(
        {
            PurePosixPath(m.destination).parts[1]
            if len(PurePosixPath(m.destination).parts) > 2  # noqa: PLR2004
            else PurePosixPath(m.destination).stem
            for m in audit_.moves
            if not m.tracked and m.destination.startswith("data/")
        }
    )
    steps += [
        f"Describe the data source `{name}` in data/catalog/{name}.yml (owner, tier, "
        "official or not)."
        for name in sources
    ]
    steps += audit_.still_named
    if audit_.skipped:
        steps.append(
            "Reconcile the team's modules with the template's files not written: "
            + ", ".join(audit_.skipped)
            + "."
        )
    steps.append("Shrink the debt baseline: each fix leaves it with `make check`.")
    return steps


def audit(
    root: Path,
    template: Path,
    given: Mapping[str, str] | None = None,
    vcs_ref: str | None = None,
    *,
    keep: Callable[[Path, Path, infer.Found], None] | None = None,
) -> Audit:
    """Read the repository at `root`, plan its adoption and measure its debt.
    `keep` is handed the render and the found files before the temporary
    folders go (what `apply` uses)."""
    root = root.resolve()
    check_repository(root)
    files = [f for f in git(root, "ls-files", "-z").split("\0") if f]
    found = infer.read_found(root, files)
    answers, folder = infer.answers(found, _first_author(root))
    answers = _override(answers, given or {})
    notebooks = infer.notebooks_folder(found)
    result = Audit(root, answers, notebooks, folder, [], [], [], [], Debt(), [])
    package = str(result.data["package_name"])
    with tempfile.TemporaryDirectory() as scratch:
        render_dir = Path(scratch) / "render"
        render(template, result.data, render_dir, vcs_ref)
        result.moves = plan.moves(
            found,
            folder,
            package,
            None if notebooks.value is None else str(notebooks.value),
        )
        moved = {m.source: m.destination for m in result.moves if m.tracked}
        result.retired, kept_notes = plan.retired(found)
        gone = {m.source for m in result.moves if not m.tracked}
        gone |= {r.path for r in result.retired}
        after = {moved.get(f, f) for f in files if f not in gone}
        rendered = rendered_files(render_dir)
        result.collisions = plan.collisions(after, rendered, template_owned(render_dir))
        assembled = Path(scratch) / "adopted"
        assembled.mkdir()
        _copy_tracked(root, assembled, result, found)
        _place_render(render_dir, assembled, set(_kept(result)))
        result.notes = merge_shared(root, assembled, result, found, render_dir)
        result.notes += kept_notes
        kept = set(_kept(result))
        result.still_named = _still_named(
            assembled,
            sorted(f for f in after if f not in rendered or f in kept | MERGED_NAMED),
            result.retired,
        )
        written = rendered - kept
        result.skipped = unsatisfied(assembled, package, written)
        result.debt = _history_debt(root, found)
        _measure(assembled, str(result.data["formatter"]), result.debt)
        result.next_steps = _next_steps(result, package)
        if keep is not None:
            keep(render_dir, assembled, found)
    return result


# --- The report ---------------------------------------------------------------------------


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(head: tuple[str, ...], rows: list[tuple[str, ...]], empty: str) -> list[str]:
    """A Markdown table, or `empty` when there is no row."""
    if not rows:
        return [empty]
    return [
        f"| {' | '.join(head)} |",
        "|" + "---|" * len(head),
        *(f"| {' | '.join(row)} |" for row in rows),
    ]


def _counts(title: str, by_file: Mapping[str, int]) -> list[str]:
    total = sum(by_file.values())
    lines = [f"- {title}: {total} in {len(by_file)} files"]
    lines += [f"  - `{file}`: {n}" for file, n in sorted(by_file.items())]
    return lines


def report(result: Audit) -> str:
    """ADOPTION.md: the same repository gives the same bytes (no dates, no paths
    outside it)."""
    lines = [
        f"# Adopting {result.root.name} into the Handoff template",
        "",
        "Written by `handoff adopt` (`make adopt REPO=...` in the template). It only "
        "read the repository; `make adopt REPO=... APPLY=1` (`handoff adopt --apply`) "
        f"does what it says, on a new branch `{BRANCH}`.",
        "",
        "## Inferred answers",
        "",
        "| Question | Answer | From |",
        "|---|---|---|",
    ]
    lines += [
        f"| {a.name} | `{_cell(a.value)}` | {_cell(a.source)} |" for a in result.answers
    ]
    lines += [
        f"| notebooks folder | `{_cell(result.notebooks.value)}` | "
        f"{_cell(result.notebooks.source)} |",
        "",
        "Override one with `--data NAME=VALUE` (`DATA='NAME=VALUE ...'` with make).",
        "",
        "## Where each file goes",
        "",
    ]
    lines += _table(
        ("From", "To", "As"),
        [(f"`{m.source}`", f"`{m.destination}`", m.kind) for m in result.moves],
        "Nothing moves.",
    )
    lines += [
        "",
        "Moves are `git mv`, so `git log --follow` shows each file's history; data "
        "leaves git (`git rm --cached`) and stays in data/, which git ignores.",
        "",
        "## Files adoption removes",
        "",
    ]
    lines += _table(
        ("File", "Why"),
        [(f"`{r.path}`", _cell(r.why)) for r in result.retired],
        "None.",
    )
    if result.retired:
        lines += ["", "`git rm`: each stays in git history."]
    lines += [
        "",
        "## Files both sides have",
        "",
    ]
    lines += _table(
        ("File", "Resolution"),
        [(f"`{c.path}`", _cell(c.resolution)) for c in result.collisions],
        "None.",
    )
    if result.notes:
        lines += ["", *[f"- {note}" for note in result.notes]]
    if result.skipped:
        lines += [
            "",
            "Template files not written (they use what the team's kept modules do "
            "not define): " + ", ".join(f"`{s}`" for s in result.skipped) + ".",
        ]
    measured = result.debt
    coverage = "not measured (the tests did not run)"
    if measured.coverage is not None:
        coverage = f"{measured.coverage:.1f}% (the template's floor: 80%)"
    lines += [
        "",
        "## Debt",
        "",
        "What `make check` and `make handoff` would report after adoption, measured "
        "with the template's tools on the adopted layout (formatted). `--apply` "
        "records the lint and type errors and the coverage in debt-baseline.json: "
        "`make check` passes with them, fails on any new one, and shrinks the "
        "baseline as they are fixed.",
        "",
        *_counts("lint errors (ruff)", measured.lint),
        *_counts("type errors (mypy --strict)", measured.types),
        f"- coverage: {coverage}",
        f"- notebooks with outputs in git: {len(measured.notebooks_with_outputs)}",
        *[f"  - `{n}`" for n in measured.notebooks_with_outputs],
        f"- large files in history (over 1000 KB): {len(measured.large_files)}",
        *[f"  - `{n}`: {size // 1024} KB" for n, size in measured.large_files],
        f"- secrets found: {len(measured.secrets)}",
        *[f"  - `{s}`" for s in measured.secrets],
        f"- settings looser than the template's: {len(measured.settings)}",
        *[f"  - {_cell(s)}" for s in measured.settings],
        "",
        "## Next steps",
        "",
        *[f"{i}. {step}" for i, step in enumerate(result.next_steps, 1)],
    ]
    return "\n".join(lines) + "\n"


def write_report(result: Audit) -> Path:
    path = result.root / REPORT
    path.write_text(report(result), encoding="utf-8")
    return path


# --- Apply --------------------------------------------------------------------------------


def _commit(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "--quiet", "--no-verify", "-m", message)


def _make(root: Path, *targets: str) -> None:
    # The project's own environment, not the one `uv run` started this in.
    outer = ("MAKE", "MFLAGS", "VIRTUAL_ENV", "UV_RUN")
    env = {k: v for k, v in os.environ.items() if not k.startswith(outer) and k != "UV"}
    said = subprocess.run(  # noqa: S603
        ["make", "--no-print-directory", *targets],  # noqa: S607
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if said.returncode != 0:
        tail = " ".join((said.stdout + said.stderr).split()[-60:])
        raise AdoptError(f"make {' '.join(targets)} failed in {root}: {tail}")


def _project_run(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    return subprocess.run(  # noqa: S603
        [str(root / ".venv" / "bin" / args[0]), *args[1:]],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def apply(
    root: Path,
    template: Path,
    given: Mapping[str, str] | None = None,
    vcs_ref: str | None = None,
) -> Audit:
    """Adopt for real, on a new branch; returns the audit it followed."""
    root = root.resolve()
    check_repository(root)
    if git(root, "rev-parse", "--verify", "--quiet", BRANCH, check=False).strip():
        raise AdoptError(
            f"the branch {BRANCH} exists already: delete it or merge it first"
        )
    kept: dict[str, Any] = {}

    def keep(render_dir: Path, _assembled: Path, found: infer.Found) -> None:
        kept["found"] = found
        kept["rendered"] = rendered_files(render_dir)
        copy = Path(tempfile.mkdtemp(prefix="handoff-render-"))
        shutil.copytree(render_dir, copy, dirs_exist_ok=True)
        kept["render"] = copy

    result = audit(root, template, given, vcs_ref, keep=keep)
    render_dir: Path = kept["render"]
    try:
        _apply(
            root,
            template,
            result,
            found=kept["found"],
            render_dir=render_dir,
            vcs_ref=vcs_ref,
        )
    finally:
        shutil.rmtree(render_dir, ignore_errors=True)
    return result


def _apply(  # noqa: PLR0913
    root: Path,
    template: Path,
    result: Audit,
    *,
    found: infer.Found,
    render_dir: Path,
    vcs_ref: str | None,
) -> None:
    import copier  # noqa: PLC0415

    git(root, "checkout", "--quiet", "-b", BRANCH)
    (root / REPORT).unlink(missing_ok=True)
    # 1. The moves alone, so that git sees renames (git log --follow).
    for move in result.moves:
        (root / move.destination).parent.mkdir(parents=True, exist_ok=True)
        if move.tracked:
            git(root, "mv", move.source, move.destination)
        else:
            git(root, "rm", "--cached", "--quiet", move.source)
            if move.destination != move.source:
                (root / move.source).rename(root / move.destination)
    for move in result.moves:  # The folders the moves emptied.
        for folder in (root / move.source).parents:
            if folder == root or not folder.is_dir() or any(folder.iterdir()):
                break
            folder.rmdir()
    git(
        root,
        "commit",
        "--quiet",
        "--no-verify",
        "-m",
        "Move the code into the Handoff layout (package/, research/; data out of git)",
    )
    # 2. The template, with Copier, into the repository; the shared files merged;
    # what they replace removed.
    for gone in result.retired:
        git(root, "rm", "--quiet", gone.path)
    copier.run_copy(
        str(template),
        root,
        data=dict(result.data),
        defaults=True,
        overwrite=True,
        skip_if_exists=_kept(result),
        quiet=True,
        unsafe=False,
        vcs_ref=vcs_ref,
    )
    merge_shared(root, root, result, found, render_dir)
    written = set(result.skipped)
    for path in written:
        (root / path).unlink(missing_ok=True)
    # 3. The environment and its lock, the formatter, the stripped notebooks.
    _make(root, "setup")
    formatter = ["black"] if result.data["formatter"] == "black" else ["ruff", "format"]
    _project_run(root, *formatter, "package", "research")
    git(root, "add", "-A")
    git(
        root,
        "add",
        "--force",
        *sorted(
            p
            for p in rendered_files(render_dir)
            if (root / p).is_file() and p not in _kept(result)
        ),
    )
    git(root, "add", "--renormalize", ".")
    # 4. The debt baseline, from the project's own tools.
    said = _project_run(root, "handoff", "debt", "record")
    if said.returncode != 0:
        raise AdoptError(
            f"recording the debt baseline failed: {' '.join(said.stderr.split())}"
        )
    (root / REPORT).write_text(report(result), encoding="utf-8")
    _commit(
        root,
        "Adopt the Handoff template: its files, merged settings, lock and debt baseline",
    )
