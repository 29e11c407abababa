"""Hand the cookiecutter answers to Copier, which writes the project.

copier.yml stays the one source of truth: its validators judge the answers and its
template renders the files, so `cookiecutter <repo> --directory cookiecutter` makes
the same project as `copier copy` with the same answers, `.copier-answers.yml`
included, and `copier update` keeps it current afterwards. If Copier refuses an
answer, this hook exits non-zero with Copier's message and cookiecutter removes
the half-made folder.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# Cookiecutter renders this file: the context arrives as a JSON string literal.
CONTEXT = json.loads({{ cookiecutter | tojson | tojson }})  # fmt: skip
COPIER = "copier==9.19.1"


def copier_command() -> list[str]:
    """Copier from cookiecutter's own environment, else pinned through uvx or pipx."""
    if importlib.util.find_spec("copier"):
        return [sys.executable, "-m", "copier"]
    if shutil.which("uvx"):
        return ["uvx", "--from", COPIER, "copier"]
    return ["pipx", "run", "--spec", COPIER, "copier"]


def template_root() -> Path:
    """The Copier template: the repository this cookiecutter/ folder lives in."""
    repo_dir = Path(CONTEXT["_repo_dir"]).expanduser()
    # A local template given as a relative path is relative to where cookiecutter
    # was started, which the shell records in PWD (this hook runs in the new project).
    root = (Path(os.environ.get("PWD", ".")) / repo_dir).resolve().parent
    if not (root / "copier.yml").is_file():
        sys.exit(
            f"No copier.yml above {repo_dir}: give cookiecutter an absolute path or a git URL."
        )
    return root


def main() -> int:
    template = template_root()
    # Record where the user got the template: its git URL (or gh:/gl: abbreviation)
    # when cookiecutter cloned it, so `copier update` can fetch newer versions, else
    # the local folder; and pin the exact commit cookiecutter checked out.
    given = CONTEXT["_template"]
    source = given if re.match(r"[\w+.-]{2,}:|\w+@", given) else str(template)
    commit = subprocess.run(
        ["git", "-C", str(template), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    answers = {key: value for key, value in CONTEXT.items() if not key.startswith("_")}

    with tempfile.TemporaryDirectory() as tmp:
        data_file = Path(tmp, "answers.yml")
        data_file.write_text(json.dumps(answers))  # JSON is YAML.
        command = [*copier_command(), "copy", "--defaults", "--overwrite", "--quiet"]
        command += ["--data-file", str(data_file)]
        command += ["--vcs-ref", commit] if commit else []
        copier = subprocess.run(
            [*command, source, str(Path.cwd())], stderr=subprocess.PIPE, text=True
        )
    if copier.returncode:
        # A refused answer ends Copier's traceback with its validator's message: show
        # that message alone; any other failure in full.
        last = copier.stderr.strip().splitlines()[-1:] or [""]
        refused = last[0].startswith("ValueError: Validation error")
        print(last[0].removeprefix("ValueError: ") if refused else copier.stderr, file=sys.stderr)
    else:
        print(next_steps(template, answers))
    return copier.returncode


def next_steps(template: Path, answers: dict[str, object]) -> str:
    """copier.yml's message after copy, rendered as Copier renders it (quiet here, so
    that its list of written files stays out of cookiecutter's output)."""
    import jinja2  # cookiecutter's own dependencies, like PyYAML.
    import yaml

    class Loader(yaml.SafeLoader):
        """copier.yml without following Copier's `!include` tags."""

    Loader.add_constructor("!include", lambda loader, node: None)
    config = yaml.load((template / "copier.yml").read_text(), Loader=Loader)
    message = jinja2.Environment().from_string(config["_message_after_copy"])
    return message.render(**answers, _copier_conf={"dst_path": Path.cwd()}).rstrip()


if __name__ == "__main__":
    sys.exit(main())
