"""Secrets in code: a string literal given to a name that says secret fails, in
every form and in notebooks; an allowlist pragma is a waiver with a reason.

The planted values are written `<fake>` here and replaced when planted: this
file is in every project, whose `make hygiene` scans it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from textwrap import dedent

import pytest

from handoff_kit import config, gate
from handoff_kit.cli import main
from handoff_kit.rules.secrets import says_secret, scan_secrets

FAKE = "hunter2"  # Low entropy: detect-secrets' entropy plugins never see it.
# The pragma, written so that detect-secrets does not honour it in this file.
PRAGMA = "# pragma: allowlist" + " secret"
NEXTLINE = "# pragma: allowlist nextline" + " secret"
GIVEN = "is given a string literal: a secret in git stays in its history"


def plant(root: Path, name: str, code: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dedent(code).replace("<fake>", FAKE))
    return path


def scan(root: Path, *paths: Path) -> list[str]:
    findings, _ = scan_secrets(paths, root)
    return [str(finding) for finding in findings]


def said(findings: list[str]) -> list[str]:
    """Each finding up to its name: `file:line: NAME`."""
    return [finding.partition(f" {GIVEN}")[0] for finding in findings]


@pytest.mark.parametrize(
    ("code", "found"),
    [
        ('import os\n\nos.environ["DB_PASSWORD"] = "<fake>"\n', "3: DB_PASSWORD"),
        (
            'import os\n\nos.environ.setdefault("DB_PASSWORD", "<fake>")\n',
            "3: DB_PASSWORD",
        ),
        (
            'from os import environ as env\n\nenv.setdefault("TOKEN", "<fake>")\n',
            "3: TOKEN",
        ),
        ('import os\n\nos.environ.update(API_TOKEN="<fake>")\n', "3: API_TOKEN"),
        ('import os\n\nos.environ.update({"API_TOKEN": "<fake>"})\n', "3: API_TOKEN"),
        ('import os\n\nos.putenv("SECRET", "<fake>")\n', "3: SECRET"),
        ('import os\n\nx = os.getenv("DB_PASSWD", "<fake>")\n', "3: DB_PASSWD"),
        ('import os\n\nx = os.environ.get("HF_TOKEN", "<fake>")\n', "3: HF_TOKEN"),
        (
            'def test_login(monkeypatch):\n    monkeypatch.setenv("GITHUB_TOKEN", "<fake>")\n',
            "2: GITHUB_TOKEN",
        ),
        ('API_KEY = "<fake>"\n', "1: API_KEY"),
        ('OPENAI_APIKEY = "<fake>"\n', "1: OPENAI_APIKEY"),
        ('CREDENTIALS = b"<fake>"\n', "1: CREDENTIALS"),
        ('DB_PWD = "<fake>"\n', "1: DB_PWD"),
        ("class Settings:\n    private_key: str = '<fake>'\n", "2: private_key"),
        (
            "class User:\n    def __init__(self):\n        self.apiKey = '<fake>'\n",
            "3: apiKey",
        ),
        ('connect(host="db", password="<fake>")\n', "1: password"),
        ('settings = {"client_secret": "<fake>"}\n', "1: client_secret"),
        ('def login(user, passphrase="<fake>"):\n    pass\n', "1: passphrase"),
        ('def login(*, token="<fake>"):\n    pass\n', "1: token"),
        ('def ok(token):\n    return token == "<fake>"\n', "2: token"),
        ('password: str = Field(default="<fake>")\n', "1: password"),
        ('config["db"]["PASSWORD"] = "<fake>"\n', "1: PASSWORD"),
        ('USER, SECRET_KEY = "<user>", "<fake>"\n', "1: SECRET_KEY"),
        ('if (dbPassword := "<fake>"):\n    pass\n', "1: dbPassword"),
    ],
)
def test_every_way_code_gives_a_secret_a_literal_is_found_with_file_line_and_name(
    tmp_path: Path, code: str, found: str
) -> None:
    path = plant(tmp_path, "research/scratch.py", code)

    findings = scan(tmp_path, path)

    assert said(findings) == [f"research/scratch.py:{found}"], (
        f"a literal secret in {code!r} should be found once, naming the line and name"
    )
    assert "read it from the environment" in findings[0], "the message says what to do"


def test_literal_secrets_are_found_in_notebooks_cell_by_cell(tmp_path: Path) -> None:
    cells = [
        {"cell_type": "markdown", "source": ['password = "<fake>" in prose']},
        {
            "cell_type": "code",
            "source": ["%pip install requests\n", "import os\n", 'API_KEY = "<fake>"'],
        },
        {"cell_type": "code", "source": ["!echo hello\n", "broken(:\n"]},
        {
            "cell_type": "code",
            "source": ['os.environ.setdefault("DB_PASSWORD", "<fake>")'],
        },
    ]
    notebook = plant(tmp_path, "research/explore.ipynb", json.dumps({"cells": cells}))
    percent = plant(
        tmp_path,
        "research/explore.py",
        '# %%\nimport os\n\n# %%\nos.environ["DB_PASSWORD"] = "<fake>"\n',
    )

    findings = scan(tmp_path, notebook, percent)

    assert said(findings) == [
        "research/explore.ipynb cell 2:3: API_KEY",
        "research/explore.ipynb cell 4:1: DB_PASSWORD",
        "research/explore.py:5: DB_PASSWORD",
    ], "a notebook's code cells (magics aside) and a py:percent file are code"


def test_placeholders_reads_and_names_about_secrets_pass(tmp_path: Path) -> None:
    path = plant(
        tmp_path,
        "package/settings.py",
        """\
        import os

        PASSWORD = ""
        TOKEN = "   "
        DB_PASSWORD = "${DB_PASSWORD}"
        API_KEY = "$API_KEY"
        SECRET = "%SECRET%"
        vault = {"password": "{{ vault_password }}", "token": "<your token>"}
        CREDENTIALS = os.environ["CREDENTIALS"]
        GITHUB_TOKEN = os.environ.get("GITHUB_TOKEN", "")
        TOKEN_URL = "https://example.com/oauth/token"
        PASSWORD_FILE = "/run/secrets/db"
        SECRET_NAME = "/prod/db"
        PWD = "/tmp"
        OLDPWD = "/home"
        key = "name"
        monkey = "banana"
        max_tokens = 100
        token_type = "bearer"
        password = f"{os.environ['USER']}"
        if token_type == "bearer":
            pass
        """,
    )

    assert scan(tmp_path, path) == [], "no literal secret: everything here passes"


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("password", True),
        ("DB_PASSWORD", True),
        ("dbPassword", True),
        ("DBPASSWORD", True),
        ("api_key", True),
        ("APIKEY", True),
        ("apiKey", True),
        ("AWS_SECRET_ACCESS_KEY", True),
        ("SECRET_KEY", True),
        ("my-token", True),
        ("auth.token", True),
        ("SMTP_PASS", True),
        ("PWD", False),
        ("PASS", False),
        ("bypass", False),
        ("key", False),
        ("turkey", False),
        ("AWS_ACCESS_KEY_ID", False),
        ("TOKEN_URL", False),
        ("password_file", False),
        ("tokenizer", False),
        ("", False),
    ],
)
def test_a_name_says_secret_by_its_last_word(name: str, secret: bool) -> None:
    assert says_secret(name) is secret, (
        f"{name!r} {'names' if secret else 'does not name'} a secret"
    )


# --- The allowlist pragma ---------------------------------------------------------


def test_a_pragma_with_a_reason_waives_the_secret_and_is_listed(tmp_path: Path) -> None:
    path = plant(
        tmp_path,
        "package/tests/test_login.py",
        f"""\
        API_KEY = "<fake>"  {PRAGMA} -- test fixture, no real account
        {NEXTLINE} -- the server's documented demo token
        TOKEN = "<fake>"
        """,
    )

    findings, pragmas = scan_secrets([path], tmp_path)

    assert findings == [], "a pragma with a reason waives the line it covers"
    assert [str(pragma) for pragma in pragmas] == [
        "package/tests/test_login.py:1 (test fixture, no real account)",
        "package/tests/test_login.py:2 (the server's documented demo token)",
    ]


def test_a_pragma_without_a_reason_is_a_finding_and_waives_nothing(
    tmp_path: Path,
) -> None:
    code = plant(tmp_path, "package/keys.py", f'API_KEY = "<fake>"  {PRAGMA}\n')
    config_file = plant(
        tmp_path, "deploy/values.yaml", f"password: abc123xyz  {PRAGMA}  # later\n"
    )

    findings = scan(tmp_path, code, config_file)

    no_reason = "a secret allowlist pragma needs a reason on its line, after ' -- '"
    assert [finding.split(" (")[0] for finding in findings] == [
        f"deploy/values.yaml:1: {no_reason}",
        "deploy/values.yaml:1: password is given a literal value: a secret in git "
        "stays in its history; read it from the environment",
        f"package/keys.py:1: {no_reason}",
        f"package/keys.py:1: API_KEY {GIVEN}; read it from the environment",
    ], "each pragma without a reason fails, wherever it is, and waives nothing"


def test_detect_secrets_still_honours_the_pragma_with_its_reason(
    tmp_path: Path,
) -> None:
    """The reason follows the pragma on its line: detect-secrets must still skip it."""
    key = "AKIA" + "ABCDEFGHIJKLMNOP"  # The shape of an AWS key id.
    waived = plant(tmp_path, "waived.py", f'KEY_ID = "{key}"  {PRAGMA} -- a fake\n')
    bare = plant(tmp_path, "bare.py", f'KEY_ID = "{key}"\n')
    hook = [sys.executable, "-m", "detect_secrets.pre_commit_hook"]

    kept = subprocess.run([*hook, str(waived)], capture_output=True, check=False)
    found = subprocess.run([*hook, str(bare)], capture_output=True, check=False)

    assert found.returncode == 1, "detect-secrets should find the key without a pragma"
    assert kept.returncode == 0, (
        f"detect-secrets no longer honours the pragma followed by its reason:\n"
        f"{kept.stdout.decode()}"
    )


# --- The command and the gate -------------------------------------------------------


def test_handoff_secrets_fails_naming_each_secret(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plant(
        project,
        "research/load.py",
        'import os\nos.environ.setdefault("DB_PASSWORD", "<fake>")\n',
    )
    plant(
        project, "research/clean.py", 'import os\nPASSWORD = os.environ["PASSWORD"]\n'
    )

    assert main(["secrets", "research/clean.py"]) == 0
    assert main(["secrets", "research/load.py", "research/clean.py"]) == 1

    out = capsys.readouterr().out
    assert f"research/load.py:2: DB_PASSWORD {GIVEN}" in out


def test_the_hygiene_row_lists_every_allowlisted_secret_with_its_reason(
    settings: config.Settings,
) -> None:
    root = settings.root
    plant(
        root, "package/tests/test_api.py", f'TOKEN = "<fake>"  {PRAGMA} -- test fake\n'
    )
    plant(root, "research/untracked.py", f'TOKEN = "<fake>"  {PRAGMA} -- not in git\n')
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run(["git", "add", "package", "pyproject.toml"], cwd=root, check=True)

    passed = gate.hygiene_gate(settings, ["true"])
    failed = gate.hygiene_gate(settings, ["false"])

    listed = "1 allowlisted secret: package/tests/test_api.py:1 (test fake)"
    assert passed.passed, passed.reason
    assert passed.reason == f"`true` passed; {listed}"
    assert not failed.passed
    assert failed.reason.endswith(listed), "a failed row lists them too"


def test_a_catalog_entry_with_a_password_in_its_url_fails_the_scan(
    tmp_path: Path,
) -> None:
    entry = plant(
        tmp_path,
        "data/catalog/sales.yml",
        """\
        name: sales
        location: postgresql://analyst:<fake>@db.example.com/sales
        table: orders
        """,
    )

    assert scan(tmp_path, entry) == [
        "data/catalog/sales.yml:2: postgresql://analyst:***@db.example.com/sales "
        "holds a password: a secret in git stays in its history; put the URL in an "
        "environment variable (a catalog entry names it in credentials_env), or mark "
        "a fake with detect-secrets' allowlist pragma and ' -- <reason>'"
    ], "the password must be found, and never shown"


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("password: <fake>\n", ["1: password"]),
        ("warehouse:\n  aws_secret_access_key: <fake>\n", ["2: aws_secret_access_key"]),
        ("steps:\n- env:\n    API_TOKEN: <fake>\n", ["3: API_TOKEN"]),
        ("script:\n- psql postgres://me:<fake>@db/x -c 'SELECT 1'\n", ["2: postgres://me:***@db/x"]),
        ("location: s3://bucket/x.csv\ncredentials_env: WAREHOUSE_URL\n", []),
        ("password: ${{ secrets.DB_PASSWORD }}\n", []),
        ("password: $DB_PASSWORD\nurl: postgresql://me:${DB_PASSWORD}@db/x\n", []),
        ("POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:?set it}\nB_PASSWORD: ${B:-}\n", []),
        ("POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:-<fake>}\n", ["1: POSTGRES_PASSWORD"]),
        ("token: ''\nkey: value\n", []),
        (f"password: <fake>  {PRAGMA} -- a fake for the docs\n", []),
        ("password: [unclosed\n", []),
        ("jobs:\n  image:\n    permissions:\n      id-token: write\n", []),
    ],
    ids=["key", "nested", "list", "url-in-text", "env-name", "actions", "placeholders", "compose", "default", "empty", "pragma", "not-yaml", "permissions"],
)  # fmt: skip
def test_yaml_values_under_secret_names_and_urls_with_passwords_fail(
    tmp_path: Path, text: str, found: list[str]
) -> None:
    file = plant(tmp_path, "ci.yml", text)

    findings = scan(tmp_path, file)

    assert [f.partition(" is given")[0].partition(" holds")[0] for f in findings] == [
        f"ci.yml:{where}" for where in found
    ]


# --- The kit itself: every project gets its files -----------------------------------

KIT = Path(__file__).resolve().parents[1]


def kit_files_projects_get() -> list[Path]:
    """What `copier copy` puts in standards/handoff-kit: all but the kit's tests."""
    tests = KIT / "tests"
    return sorted(
        path
        for path in KIT.rglob("*")
        if path.is_file()
        and not path.is_relative_to(tests)
        and "__pycache__" not in path.parts
        and not any(part.startswith(".") for part in path.relative_to(KIT).parts)
    )


def test_the_kit_every_project_gets_passes_both_secret_scans() -> None:
    """The kit's files pass both secret scans (detect-secrets by shape, and the
    kit's own scan), and the kit allowlists no secret: scanned here once, they are
    what `make hygiene` in a project skips (its standards row fails any kit file
    that is not the template's). The fast tier scans the rest of what the template
    writes."""
    files = kit_files_projects_get()
    baseline = KIT.parent / "template" / ".secrets.baseline"
    assert len(files) > 40, f"the kit's files were not found under {KIT}: {files}"

    shaped = subprocess.run(
        ["detect-secrets-hook", "--baseline", str(baseline), *map(str, files)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    findings, pragmas = scan_secrets(files, KIT)

    assert shaped.returncode == 0, (
        f"detect-secrets finds secrets in the kit:\n{shaped.stdout}"
    )
    assert not findings, "the kit's secret scan fails the kit:\n" + "\n".join(
        map(str, findings)
    )
    assert not pragmas, f"the kit allowlists secrets: {list(map(str, pragmas))}"
