"""Secrets in code: a string literal given to a name that says secret.

detect-secrets (`make hygiene` runs it on every tracked file) finds secrets by
their shape: high entropy, a known key format, or a keyword its KeywordDetector
sees in a line. Its keyword regexes see `API_KEY = "..."`, `password="..."`,
`os.environ["PASSWORD"] = "..."` and `{"password": "..."}` in a .py file; they miss
`os.environ.setdefault(...)`, `os.putenv`, `monkeypatch.setenv`, annotated
assignments (`password: str = "..."`), any name with TOKEN or CREDENTIAL in it,
and nearly everything in a notebook (its JSON escapes the quotes the regexes
need). This scan reads .py files and notebooks' code cells as Python does and
fails every string literal given to a name that says secret, whatever its
entropy, in every form:

- an assignment to a name, an attribute or a string key: `API_KEY = "..."`,
  `self.token = "..."`, `os.environ["DB_PASSWORD"] = "..."`, and a pydantic-style
  `password: str = Field(default="...")`;
- a keyword argument (`connect(password="...")`, `os.environ.update(TOKEN="...")`),
  a dict entry (`{"password": "..."}`), a parameter's default
  (`def f(token="...")`) and a comparison (`password == "..."`);
- an environment variable or setting set or defaulted by a call: any object's
  `setdefault`, `setenv` (pytest's monkeypatch) or `putenv`, `os.putenv`,
  `os.getenv` and `os.environ.get` with a default.

A name says secret by its last word (its head noun): PASSWORD, PASSWD,
PASSPHRASE, SECRET, TOKEN, CREDENTIAL(S), a compound KEY (API_KEY, APIKEY,
PRIVATE_KEY, SECRET_KEY, ACCESS_KEY...), or PWD and PASS after another word
(DB_PWD; a bare PWD is the shell's working directory). Words split at `_`, `-`,
`.` and case changes, case-insensitively; a word that ends with one counts
(`DBPASSWORD`). A name about a secret is no secret: TOKEN_URL, PASSWORD_FILE,
SECRET_NAME, AWS_ACCESS_KEY_ID.

YAML files (a catalog entry, a CI workflow) are read as YAML: a key that says
secret given a literal value fails, and so does any value that is a URL with a
password in its user part (a database URL, say): a catalog entry names the
environment variable that holds such a URL in `credentials_env` instead. A CI
workflow's `permissions:` (`id-token: write`) are access scopes, not values.

What passes: an empty string; a placeholder that reads the real value from
elsewhere: `$NAME`, `${NAME}`, `%NAME%`, `{name}` (in Jinja's double braces
too), `${{ secrets.NAME }}` (GitHub Actions), the shell's and Compose's
`${NAME:?message}` and `${NAME:-}` (but not a default value), `<your token>`.
Tests are held to the same rule: a fake in git is indistinguishable from a key
(a low-entropy password is the case detect-secrets misses), so a test fake says
so with detect-secrets' allowlist pragma and its reason (pragmas.py), which the
report lists.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from handoff_kit.rules.pragmas import Allowlisted, secret_pragmas, waiving_pragma
from handoff_kit.rules.walker import TOO_DEEP, Check, Finding, Module, Package, Walker

# The head nouns that say secret, also at the end of one word (DBPASSWORD).
SECRET_WORDS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "secrets",
    "token",
    "credential",
    "credentials",
)
# KEY says secret after one of these (API_KEY, APIKEY, privateKey).
KEY_KINDS = (
    "api",
    "private",
    "secret",
    "access",
    "auth",
    "client",
    "encryption",
    "signing",
    "service",
    "account",
    "master",
    "db",
    "database",
)
# Short words that say secret only after another word (DB_PWD, SMTP_PASS).
_AFTER_A_WORD = {"pwd", "pass"}
_WORDS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
# Calls that set or default an environment variable or setting: (name, value).
_SETTER_METHODS = {"setdefault", "setenv", "putenv", "__setitem__"}
_ENV_CALLS = {"os.putenv", "os.getenv", "os.environ.get", "os.environ.setdefault"}
_PLACEHOLDER = re.compile(
    r"\$\{\{[^{}]*\}\}"  # ${{ secrets.NAME }}
    r"|\$\{?[A-Za-z_]\w*\}?"  # $NAME, ${NAME}
    r"|\$\{[A-Za-z_]\w*(?::?\?[^{}]*|:?-)\}"  # ${NAME:?message}, ${NAME:-}
    r"|%[A-Za-z_]\w*%"  # %NAME%
    r"|\{\{?[^{}]*\}?\}"  # {name}, and in double braces (Jinja)
    r"|<[^<>]*>"  # <your token>
)
_YAML_SUFFIXES = {".yml", ".yaml"}
_URL_MESSAGE = (
    "{url} holds a password: a secret in git stays in its history; put the URL in an "
    "environment variable (a catalog entry names it in credentials_env), or mark a "
    "fake with detect-secrets' allowlist pragma and ' -- <reason>'"
)
_MESSAGE = (
    "{name} is given a string literal: a secret in git stays in its history; read "
    "it from the environment (os.environ[{shown}]) or a secret store, or mark a "
    "fake with detect-secrets' allowlist pragma and ' -- <reason>'"
)


def says_secret(name: str) -> bool:
    """Whether `name` (a variable, attribute, key or environment variable) names
    a secret, by its last word."""
    words = [word.lower() for word in _WORDS.findall(name)]
    if not words:
        return False
    last = words[-1]
    if last.endswith(SECRET_WORDS) or last.endswith(
        tuple(f"{kind}key" for kind in KEY_KINDS)
    ):
        return True
    before = words[-2] if len(words) > 1 else None
    if before is None:
        return False
    return (last == "key" and before in KEY_KINDS) or last in _AFTER_A_WORD


def is_literal_secret(value: ast.expr | None) -> bool:
    """Whether `value` is a string literal that would be the secret itself."""
    if not isinstance(value, ast.Constant) or not isinstance(value.value, str | bytes):
        return False
    text = (
        value.value.decode(errors="replace")
        if isinstance(value.value, bytes)
        else value.value
    )
    text = text.strip()
    return bool(text) and not _PLACEHOLDER.fullmatch(text)


def scan_secrets(
    files: Iterable[Path], root: Path
) -> tuple[list[Finding], list[Allowlisted]]:
    """The literal secrets in the Python files and notebooks among `files`, and
    every detect-secrets allowlist pragma in any of them; a pragma without a reason
    is a finding too. Files are named from `root`."""
    findings: list[Finding] = []
    pragmas: list[Allowlisted] = []
    for path in files:
        shown = (
            path.relative_to(root)
            if path.is_absolute() and path.is_relative_to(root)
            else path
        )
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # Not text: detect-secrets' other plugins judge it.
        found = secret_pragmas(shown, text)
        pragmas += found
        findings += [
            Finding(shown, pragma.line, pragma.problem)
            for pragma in found
            if pragma.problem
        ]
        if path.suffix == ".py":
            findings += _literals(shown, [(None, text)])
        elif path.suffix == ".ipynb":
            findings += _literals(shown, _cells(text))
        elif path.suffix in _YAML_SUFFIXES:
            findings += _yaml_secrets(shown, text)
    return sorted(findings, key=lambda f: (str(f.file), f.cell or 0, f.line)), pragmas


def _yaml_secrets(shown: Path, text: str) -> list[Finding]:
    """A YAML file's literal values under keys that say secret, and its URLs with
    a password, each on its line; a pragma with a reason waives one."""
    lines = text.splitlines()
    findings = []
    try:
        for document in yaml.compose_all(text, Loader=yaml.SafeLoader):
            for line, message in _yaml_nodes(document):
                if waiving_pragma(lines, line) is None:
                    findings.append(Finding(shown, line, message))
    except yaml.YAMLError:
        return []  # Not YAML: the file's own checks say so.
    return findings


def _yaml_nodes(node: yaml.Node | None) -> Iterator[tuple[int, str]]:
    """(line, message) for each secret under `node`."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else None
            if name == "permissions" and isinstance(value, yaml.MappingNode):
                # GitHub Actions' access scopes: `id-token: write` grants, holds nothing.
                continue
            if (
                isinstance(name, str)
                and isinstance(value, yaml.ScalarNode)
                and value.tag.endswith(":str")
                and says_secret(name)
                and is_literal_secret(ast.Constant(value.value))
            ):
                shown = json.dumps(name)
                yield (
                    value.start_mark.line + 1,
                    _MESSAGE.format(name=name, shown=shown).replace(
                        "string literal", "literal value"
                    ),
                )
            else:
                yield from _yaml_nodes(key)
                yield from _yaml_nodes(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _yaml_nodes(item)
    elif isinstance(node, yaml.ScalarNode) and isinstance(node.value, str):
        for word in node.value.split():
            url = _url_with_password(word)
            if url is not None:
                yield node.start_mark.line + 1, _URL_MESSAGE.format(url=url)


def _url_with_password(text: str) -> str | None:
    """`text` with its password masked, if it is a URL with a literal password."""
    if "://" not in text or "@" not in text:
        return None
    try:
        password = urlsplit(text).password
    except ValueError:
        return None
    if not password or _PLACEHOLDER.fullmatch(password):
        return None
    return text.replace(f":{password}@", ":***@", 1)


def _cells(text: str) -> list[tuple[int | None, str]]:
    """A notebook's code cells, numbered from 1 among all its cells."""
    try:
        cells = json.loads(text).get("cells", [])
    except (ValueError, AttributeError):
        return []
    return [
        (number, _python("".join(cell.get("source", []))))
        for number, cell in enumerate(cells, 1)
        if isinstance(cell, dict) and cell.get("cell_type") == "code"
    ]


def _python(cell: str) -> str:
    """A cell as Python: IPython's magics and shell lines (% and !) left blank,
    so lines keep their numbers."""
    return "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line
        for line in cell.splitlines()
    )


def _literals(shown: Path, sources: Sequence[tuple[int | None, str]]) -> list[Finding]:
    findings = []
    for cell, code in sources:
        try:
            tree = ast.parse(code)
        except (SyntaxError, ValueError, RecursionError):
            continue  # The lint row reports code Python cannot parse.
        module = Module.named(shown.stem, False, shown, code.encode(), tree)
        check = _Literals()
        try:
            Walker(Package("", {module.name: module}), module, [check]).visit(tree)
        except RecursionError:
            findings.append(Finding(shown, 0, TOO_DEEP, cell=cell))
            continue
        lines = code.splitlines()
        for line, name in check.found:
            shown_name = json.dumps(name)
            message = _MESSAGE.format(name=name, shown=shown_name)
            findings.append(
                Finding(shown, line, message, waiving_pragma(lines, line), cell=cell)
            )
    return [finding for finding in findings if finding.waived is None]


class _Literals(Check):
    """Collects (line, name) for each string literal given to a secret's name."""

    def __init__(self) -> None:
        self.found: list[tuple[int, str]] = []

    def _given(self, name: str | None, value: ast.expr | None) -> None:
        if name is not None and says_secret(name) and is_literal_secret(value):
            assert value is not None  # noqa: S101  # is_literal_secret said so.
            self.found.append((value.lineno, name))

    def node(self, walker: Walker, node: ast.AST) -> None:
        match node:
            case ast.Assign(targets=targets, value=value):
                for target in targets:
                    self._assigned(target, value)
            case (
                ast.AnnAssign(target=target, value=value)
                | ast.NamedExpr(target=target, value=value)
            ):
                self._assigned(target, value)
            case ast.keyword(arg=str(name), value=value):
                self._given(name, value)
            case ast.Dict(keys=keys, values=values):
                for key, value in zip(keys, values, strict=True):
                    self._given(_text(key), value)
            case (
                ast.FunctionDef(args=arguments)
                | ast.AsyncFunctionDef(args=arguments)
                | ast.Lambda(args=arguments)
            ):
                self._defaults(arguments)
            case ast.Compare(left=left, comparators=[right]):
                self._given(_named(left), right)
                self._given(_named(right), left)
            case ast.Call(func=func, args=[name, value, *_]):
                if _sets(walker, func):
                    self._given(_text(name), value)

    def _assigned(self, target: ast.expr, value: ast.expr | None) -> None:
        if isinstance(target, ast.Tuple | ast.List) and isinstance(
            value, ast.Tuple | ast.List
        ):
            for each, given in zip(target.elts, value.elts, strict=False):
                self._assigned(each, given)
            return
        if isinstance(value, ast.Call):  # password: str = Field(default="...")
            for keyword in value.keywords:
                if keyword.arg == "default":
                    self._given(_named(target), keyword.value)
        self._given(_named(target), value)

    def _defaults(self, arguments: ast.arguments) -> None:
        positional = [*arguments.posonlyargs, *arguments.args]
        for arg, default in zip(
            positional[len(positional) - len(arguments.defaults) :],
            arguments.defaults,
            strict=True,
        ):
            self._given(arg.arg, default)
        for arg, given in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True):
            self._given(arg.arg, given)


def _sets(walker: Walker, func: ast.expr) -> bool:
    """Whether calling `func` sets or defaults an environment variable or setting."""
    if isinstance(func, ast.Attribute) and func.attr in _SETTER_METHODS:
        return True
    return bool(_ENV_CALLS & set(walker.package.names(func, walker.scope)))


def _named(target: ast.expr) -> str | None:
    """The name an assignment target or compared value says: a variable, an
    attribute, or a string key (`os.environ["TOKEN"]`)."""
    match target:
        case ast.Name(id=name) | ast.Attribute(attr=name):
            return name
        case ast.Subscript(slice=key):
            return _text(key)
    return None


def _text(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None
