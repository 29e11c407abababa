"""The generated project's image, built for real with buildah and run on sample data.

No Docker engine and no registry here, so the test makes its own images: a Debian
base made with debootstrap from this machine's apt mirror (Python 3.11, what the
`container` answer set asks for) and a uv image holding the template repo's own uv
binary. Both go in through the Dockerfile's build arguments, as a platform team's
mirror would. The debootstrapped root file system is cached under .tools/images/,
keyed by the Debian suite, so only the first run pays for it (about a minute).

The image is lean: it is weighed against a floor image (the same base with pandas,
scikit-learn, pandera, FastAPI and uvicorn only) and built twice, for the same digest.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import os
import re
import shutil
import signal
import subprocess
import time
import tomllib
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ANSWER_SETS, REPO, Project, answers, render, run, tool_env
from tests.slow.servers import free_port, mlflow_server

pytestmark = pytest.mark.slow

CACHE = REPO / ".tools" / "images"
BASE_PACKAGES = ["python3", "ca-certificates"]
BASE_IMAGE = "localhost/handoff-base:{suite}"
UV_IMAGE = "localhost/handoff-uv:local"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
# The handoff kit, a path dependency of the project, and the project's golden sample.
KIT = "standards/handoff-kit"
GOLDEN_SAMPLE = "package/tests/acceptance/golden_sample.csv"
# What `buildah run` itself writes to stderr when the command fails.
BUILDAH_EXIT = re.compile(r"(subprocess exited with status|Error: exit status) \d+")
# The floor image's packages (issue 22): what any image serving a scikit-learn model
# with pandera checks over FastAPI holds; the project's image may weigh 1.6 times it.
FLOOR_PACKAGES = ("pandas", "scikit-learn", "pandera", "fastapi", "uvicorn")
FLOOR_RATIO = 1.6
FLOOR_IMAGE = "localhost/handoff-floor:latest"
# Where the image carries its bill of materials (the Dockerfile's runtime stage).
SBOM = "/app/sbom.cdx.json"


def apt_mirror() -> tuple[str, str]:
    """The first Debian mirror and suite this machine's apt is configured with."""
    sources = Path("/etc/apt")
    for path in [sources / "sources.list", *sorted((sources / "sources.list.d").glob("*"))]:
        if not path.is_file():
            continue
        if path.suffix == ".sources":  # deb822: blank-line separated stanzas.
            for stanza in path.read_text().split("\n\n"):
                fields = dict(
                    line.split(":", 1)
                    for line in stanza.splitlines()
                    if ":" in line and not line.startswith("#")
                )
                fields = {key.strip(): value.split() for key, value in fields.items()}
                if fields.get("Types") == ["deb"] and "debian-security" not in fields["URIs"][0]:
                    return fields["URIs"][0], fields["Suites"][0]
        elif path.suffix == ".list" or path.name == "sources.list":
            for line in path.read_text().splitlines():
                words = [w for w in line.split() if not w.startswith("[")]
                if words[:1] == ["deb"] and "security" not in words[1]:
                    return words[1], words[2]
    pytest.skip("no Debian mirror in /etc/apt: the base image is made with debootstrap")


def base_rootfs() -> Path:
    """A minimal Debian root file system with Python, made once and cached as a tarball."""
    mirror, suite = apt_mirror()
    cached = CACHE / f"debian-{suite}-minbase-{'-'.join(BASE_PACKAGES)}.tar"
    if cached.is_file():
        return cached
    if os.geteuid() != 0:
        pytest.skip("debootstrap needs root to make the base image; run the slow tier as root")
    CACHE.mkdir(parents=True, exist_ok=True)
    rootfs = CACHE / f"{cached.stem}.partial"
    shutil.rmtree(rootfs, ignore_errors=True)
    started = time.monotonic()
    run(
        ["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}",
         suite, str(rootfs), mirror],
        cwd=CACHE,
    )  # fmt: skip
    # What slim images drop too: downloaded packages and apt lists.
    for leftovers in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for path in (rootfs / leftovers).glob("*"):
            if path.is_file():
                path.unlink()
    partial = cached.with_suffix(".tar.partial")
    run(["tar", "-C", str(rootfs), "-cf", str(partial), "."], cwd=CACHE)
    partial.rename(cached)  # Only a complete tarball ever has the cached name.
    shutil.rmtree(rootfs)
    print(f"debootstrap {suite}: {time.monotonic() - started:.0f} s")
    return cached


# buildah re-executes itself from a sealed in-memory copy before it runs anything; on a
# loaded machine the kernel can refuse the seal for a moment (EBUSY while a page of the
# copy is still pinned). The command did not start then, so it is started again.
REEXEC_REFUSED = "sealing memfd copy: Device or resource busy"
REEXEC_ATTEMPTS = 3


@dataclass
class Buildah:
    """buildah with its own storage, chroot isolation and the host's network."""

    env: dict[str, str]

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        for _ in range(REEXEC_ATTEMPTS):
            result = subprocess.run(
                ["buildah", *args], env=self.env, capture_output=True, text=True, check=False
            )
            if REEXEC_REFUSED not in result.stderr:
                break
        if check and result.returncode != 0:
            pytest.fail(
                f"`buildah {' '.join(args)}` exited {result.returncode}\n"
                f"--- stdout ---\n{result.stdout[-4000:]}\n--- stderr ---\n{result.stderr[-4000:]}"
            )
        return result

    def build(self, context: Path, tag: str, *options: str) -> None:
        self("build", "--network", "host", *options, "--tag", tag, str(context))

    def size(self, tag: str) -> int:
        """The image's size in bytes: its layers, uncompressed, as the engine stores them."""
        inspected = json.loads(self("inspect", "--type", "image", tag).stdout)
        return sum(layer["size"] for layer in json.loads(inspected["Manifest"])["layers"])

    def digest(self, tag: str) -> str:
        return self("images", "--format", "{{.Digest}}", tag).stdout.strip()


def storage_env(root: Path, driver: str) -> dict[str, str]:
    conf = root / "storage.conf"
    conf.write_text(
        f'[storage]\ndriver = "{driver}"\n'
        f'graphroot = "{root / "graph"}"\nrunroot = "{root / "run"}"\n'
    )
    # chroot isolation needs no user namespaces or cgroups, which CI containers lack.
    return {**os.environ, "CONTAINERS_STORAGE_CONF": str(conf), "BUILDAH_ISOLATION": "chroot"}


@pytest.fixture(scope="module")
def buildah(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Buildah]:
    if not shutil.which("buildah"):
        pytest.skip("buildah is not installed: `make dev` installs it (Debian package, as root)")
    if not shutil.which("debootstrap"):
        pytest.skip("debootstrap is not installed: `make dev` installs it (Debian package)")
    root = tmp_path_factory.mktemp("buildah")
    # overlay shares layers (the build takes about half as long) but needs the
    # kernel's overlayfs in this namespace; vfs, full copies, works everywhere.
    engine = Buildah(storage_env(root, "overlay"))
    if engine("info", check=False).returncode != 0:
        shutil.rmtree(root / "graph", ignore_errors=True)
        engine = Buildah(storage_env(root, "vfs"))
    yield engine
    engine("rm", "--all", check=False)
    engine("rmi", "--all", "--force", check=False)
    shutil.rmtree(root, ignore_errors=True)  # Gigabytes with vfs.


@pytest.fixture(scope="module")
def base_images(buildah: Buildah, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The two images the Dockerfile takes as build arguments, made locally."""
    _, suite = apt_mirror()
    base = tmp_path_factory.mktemp("base")
    shutil.copy(base_rootfs(), base / "rootfs.tar")
    # This machine reaches PyPI through a TLS-inspecting proxy: uv must trust the
    # system store (the host's bundle, mounted at build time), not its own roots.
    (base / "Containerfile").write_text(
        'FROM scratch\nADD rootfs.tar /\nENV UV_SYSTEM_CERTS=1\nCMD ["/bin/bash"]\n'
    )
    buildah.build(base, BASE_IMAGE.format(suite=suite))

    uv = tmp_path_factory.mktemp("uv")
    shutil.copy(REPO / ".venv" / "bin" / "uv", uv / "uv")
    (uv / "Containerfile").write_text("FROM scratch\nCOPY uv /uv\n")  # Like ghcr.io/astral-sh/uv.
    buildah.build(uv, UV_IMAGE)
    return {"PYTHON_IMAGE": BASE_IMAGE.format(suite=suite), "UV_IMAGE": UV_IMAGE}


@pytest.fixture(scope="module")
def project(template_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """The `container` answer set, rendered, locked (the image needs only uv.lock) and
    committed: `make docker` takes the commit's time for a reproducible image."""
    root = tmp_path_factory.mktemp("container-project")
    project = Project(
        render(template_dir, root / "project", **ANSWER_SETS["container"]), tool_env(root)
    )
    project.make("lock")
    project.run("git", "init", "-q")
    project.commit("Start from the Handoff template")  # No hooks: `make setup` installs them.
    return project


@dataclass
class Image:
    tag: str
    slug: str
    package: str
    build_log: str


def make_docker(
    buildah: Buildah, base_images: dict[str, str], project: Project, tag: str
) -> subprocess.CompletedProcess[str]:
    """The project's own `make docker`, with buildah and the local base images."""
    options = [
        "--network host",
        *(f"--build-arg {name}={value}" for name, value in base_images.items()),
        f"--volume {HOST_CA_BUNDLE}:{HOST_CA_BUNDLE}:ro",
    ]
    project.env.update(
        {k: buildah.env[k] for k in ("CONTAINERS_STORAGE_CONF", "BUILDAH_ISOLATION")}
    )
    started = time.monotonic()
    result = project.make(
        "docker", "ENGINE=buildah", f"IMAGE={tag}", f"DOCKER_BUILD_ARGS={' '.join(options)}"
    )
    print(f"make docker ({tag}): {time.monotonic() - started:.0f} s")
    return result


@pytest.fixture(scope="module")
def image(buildah: Buildah, base_images: dict[str, str], project: Project) -> Image:
    """The project's image, built by its own `make docker`."""
    given = answers(project.path)
    slug = given["project_slug"]
    result = make_docker(buildah, base_images, project, slug)
    return Image(f"localhost/{slug}:latest", slug, given["package_name"], result.stdout)


@pytest.fixture(scope="module")
def floor_image(
    buildah: Buildah,
    base_images: dict[str, str],
    project: Project,
    tmp_path_factory: pytest.TempPathFactory,
) -> str:
    """The floor: the same base and the same uv with the project's locked versions of
    FLOOR_PACKAGES alone, installed as the Dockerfile installs (bytecode, a venv
    copied into a fresh stage); the downloads come from the build's uv cache."""
    lock = tomllib.loads((project.path / "uv.lock").read_text())
    versions = {package["name"]: package["version"] for package in lock["package"]}
    pins = " ".join(f"{name}=={versions[name]}" for name in FLOOR_PACKAGES)
    # Their dependencies as of the project's resolution date, as its lock has them.
    resolved = tomllib.loads((project.path / "uv.toml").read_text())["exclude-newer"]
    pins += f" --exclude-newer {resolved}"
    context = tmp_path_factory.mktemp("floor")
    (context / "Containerfile").write_text(
        "ARG PYTHON_IMAGE\nARG UV_IMAGE\n"
        "FROM ${UV_IMAGE} AS uv\n"
        "FROM ${PYTHON_IMAGE} AS build\n"
        "COPY --from=uv /uv /usr/local/bin/uv\n"
        "ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never\n"
        "RUN --mount=type=cache,target=/root/.cache/uv \\\n"
        f"    uv venv /app/.venv && uv pip install --python /app/.venv/bin/python {pins}\n"
        "FROM ${PYTHON_IMAGE}\n"
        "COPY --from=build /app/.venv /app/.venv\n"
    )
    buildah.build(
        context, FLOOR_IMAGE, "--volume", f"{HOST_CA_BUNDLE}:{HOST_CA_BUNDLE}:ro",
        *(f"--build-arg={name}={value}" for name, value in base_images.items()),
    )  # fmt: skip
    return FLOOR_IMAGE


@pytest.fixture(scope="module")
def container(
    buildah: Buildah, image: Image, project: Project, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Container]:
    """The image's container, with a copy of the project mounted at its own path."""
    work = tmp_path_factory.mktemp("mounted") / project.path.name
    shutil.copytree(project.path, work, ignore=shutil.ignore_patterns(".git", ".venv"))
    for directory in [work, *(p for p in work.rglob("*") if p.is_dir())]:
        directory.chmod(0o777)  # The image's user is not root and writes here.
    name = buildah("from", image.tag).stdout.strip()
    yield Container(buildah, name, image, work)
    buildah("rm", name, check=False)


@dataclass
class Container:
    """A working container of the image; the project copy `work` is mounted at its own path."""

    buildah: Buildah
    name: str
    image: Image
    work: Path

    def config(self) -> dict[str, object]:
        inspected = json.loads(self.buildah("inspect", "--type", "image", self.image.tag).stdout)
        return inspected["OCIv1"]["config"]

    def run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run `command` in the project, as `docker run -v "$PWD:$PWD" -w "$PWD"` would."""
        return self.buildah(
            "run", "--volume", f"{self.work}:{self.work}", "--workingdir", str(self.work),
            self.name, "--", *command, check=check,
        )  # fmt: skip

    def entrypoint(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """What `docker run IMAGE args` runs: the entrypoint with `args`, or the default command."""
        config = self.config()
        return self.run(*config["Entrypoint"], *(args or config["Cmd"]), check=check)


def test_make_docker_builds_the_image_and_says_with_which_engine(image: Image) -> None:
    assert "with buildah" in image.build_log
    assert f"Successfully tagged {image.tag}" in image.build_log


def test_the_image_runs_the_handoff_command_as_a_non_root_user(
    container: Container, project: Project
) -> None:
    config = container.config()
    kit = tomllib.loads((project.path / KIT / "pyproject.toml").read_text())["project"]

    assert config["Entrypoint"] == ["handoff"]
    # The default command serves the champion, on every interface of the container.
    assert config["Cmd"] == ["serve", "--host", "0.0.0.0", "--port", "8000"]
    assert "8000/tcp" in config.get("ExposedPorts", {}), "port 8000 is not exposed"
    assert container.run("id", "-u").stdout.strip() not in {"", "0"}, "the image runs as root"
    usage = container.entrypoint("--help").stdout
    assert usage.startswith("usage: handoff"), usage
    assert all(command in usage for command in ("train", "predict", "serve")), usage
    assert container.entrypoint("--version").stdout.strip() == f"handoff {kit['version']}"


def test_the_image_holds_runtime_dependencies_only(container: Container) -> None:
    package = container.image.package
    # MLflow's server stack (Flask, gunicorn, graphene, matplotlib, docker) stays out:
    # the image needs MLflow's client, and SQLAlchemy and alembic for the embedded store.
    server_stack = "'flask', 'gunicorn', 'graphene', 'docker', 'huey'"
    probe = (
        "import importlib.util, json;"
        f"names = ['handoff_kit', '{package}', 'sklearn', 'pandas', 'pyarrow', 'pytest',"
        " 'mypy', 'ruff', 'black', 'pre_commit', 'jupyterlab', 'ipykernel', 'matplotlib', 'uv',"
        f" 'mlflow', 'sqlalchemy', 'alembic', {server_stack}];"
        "found = {n: importlib.util.find_spec(n) for n in names};"
        "print(json.dumps({n: s and s.origin for n, s in found.items()}))"
    )
    present = json.loads(container.run("python", "-c", probe).stdout)

    runtime = {
        name: present.pop(name)
        for name in ("sklearn", "pandas", "pyarrow", "mlflow", "sqlalchemy", "alembic")
    }
    assert all(runtime.values()), f"runtime dependencies missing: {runtime}"
    # The kit and the package are installed as wheels, not linked to a source tree
    # (the runtime stage has none): their modules are in the environment itself.
    for name in ("handoff_kit", package):
        origin = present.pop(name)
        assert origin, f"{name} is not installed"
        assert "/site-packages/" in origin, f"{name} is not installed as a wheel: {origin}"
    assert not any(present.values()), f"dev or research packages in the image: {present}"
    assert container.run("sh", "-c", "command -v uv", check=False).returncode != 0


@pytest.fixture(scope="module")
def trained(container: Container) -> str:
    """`handoff train` in the image, in the mounted project: its registry is models/."""
    result = container.entrypoint("train")
    return result.stderr


def test_the_image_trains_and_scores_the_golden_sample(container: Container, trained: str) -> None:
    slug = container.image.slug
    assert f"Registered {slug} version 1 as the new candidate" in trained
    # The embedded registry, in the mounted project: MLflow's client wrote it.
    assert (container.work / "mlflow.db").is_file(), "no embedded registry in the project"
    rows = len(list(csv.DictReader(io.StringIO((container.work / GOLDEN_SAMPLE).read_text()))))

    result = container.entrypoint(
        "predict", "--model", f"models:/{slug}@candidate", "--input", GOLDEN_SAMPLE
    )

    predictions = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows > 0
    assert len(predictions) == rows
    assert list(predictions[0]) == ["churn_probability", "churned"]
    for row in predictions:
        probability = float(row["churn_probability"])
        assert 0.0 <= probability <= 1.0
        assert row["churned"] == str(probability >= 0.5)


def test_the_images_default_command_serves_and_answers_ready(
    container: Container, trained: str, tmp_path: Path
) -> None:
    """The default command, on 127.0.0.1 and a free port of this machine (the container
    shares its network), serving the candidate (promoting needs the dev tools)."""
    port = free_port()
    config = container.config()
    command = [{"0.0.0.0": "127.0.0.1", "8000": str(port)}.get(arg, arg) for arg in config["Cmd"]]
    model = f"models:/{container.image.slug}@candidate"
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            ["buildah", "run", "--volume", f"{container.work}:{container.work}",
             "--workingdir", str(container.work), container.name, "--",
             *config["Entrypoint"], *command, "--model", model],
            env=container.buildah.env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        ready = wait_for_ready(f"http://127.0.0.1:{port}/ready", server, log)
        # What `docker stop` does: SIGTERM to the container's command (chroot
        # isolation shares this machine's process ids), which stops gracefully: one
        # server process, or with a worker per core the parent that supervises them.
        started = re.search(r"Started (?:server|parent) process \[(\d+)\]", log.read_text())
        assert started, log.read_text()
        os.kill(int(started.group(1)), signal.SIGTERM)
        server.wait(timeout=60)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=60)

    assert ready["model"] == container.image.slug
    assert (ready["version"], ready["alias"]) == ("1", "candidate")
    assert ready["contract_version"] == "1.0.0"
    # Stopped gracefully by SIGTERM (uvicorn then exits by that signal, as docker
    # stop expects), never killed.
    output = log.read_text()
    assert "Application shutdown complete." in output, output[-2000:]
    assert "Finished server process" in output, output[-2000:]
    assert "exited on killed" not in output, output[-2000:]


def wait_for_ready(url: str, server: subprocess.Popen[bytes], log: Path) -> dict[str, object]:
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return json.loads(response.read())
        except OSError:
            pass
        if server.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the image's server did not become ready:\n{log.read_text()[-3000:]}")
        time.sleep(1)


def test_bad_input_exits_1_with_a_one_line_error(container: Container, trained: str) -> None:
    (container.work / "bad.csv").write_text("tenure_months,monthly_charges\n3,70.0\n")
    model = f"models:/{container.image.slug}@candidate"

    result = container.entrypoint("predict", "--model", model, "--input", "bad.csv", check=False)

    assert result.returncode == 1, result.stderr
    # buildah adds its own lines about the exit status; the command's are the rest.
    lines = [line for line in result.stderr.splitlines() if not BUILDAH_EXIT.fullmatch(line)]
    assert len(lines) == 1, result.stderr
    error = lines[0]
    assert error.startswith("handoff: error: bad.csv: cannot be scored"), error
    assert "contract_type" in error, "the error does not name the missing column"
    assert "Traceback" not in result.stderr


def test_the_build_context_leaves_out_data_models_research_and_secrets(
    buildah: Buildah, project: Project, tmp_path: Path
) -> None:
    """What .dockerignore lets through, seen by the engine itself: copy the context whole."""
    planted = ["data/raw/customers.csv", "models/model.pkl", "research/scratch.py",
               ".venv/bin/python", ".env", "secrets/token.txt", "id_rsa"]  # fmt: skip
    for relative in planted:
        (project.path / relative).parent.mkdir(parents=True, exist_ok=True)
        (project.path / relative).write_text("must not reach the image\n")
    (tmp_path / "Containerfile").write_text("FROM scratch\nCOPY . /context/\n")
    try:
        buildah.build(
            project.path, "localhost/context-probe", "--file", str(tmp_path / "Containerfile")
        )
        name = buildah("from", "localhost/context-probe").stdout.strip()
        mounted = Path(buildah("mount", name).stdout.strip()) / "context"
        copied = {p.relative_to(mounted).as_posix() for p in mounted.rglob("*") if p.is_file()}
        buildah("rm", name)
    finally:
        for relative in planted:
            (project.path / relative).unlink()

    assert not copied & set(planted), f"in the build context: {sorted(copied & set(planted))}"
    assert {"pyproject.toml", "uv.lock", "README.md", f"{KIT}/pyproject.toml"} <= copied
    assert any(p.startswith("package/src/") for p in copied)
    # Of standards/, only the kit the image installs.
    standards = {p for p in copied if p.startswith("standards/")}
    assert standards, "standards/handoff-kit is not in the build context"
    assert all(p.startswith(f"{KIT}/") for p in standards), sorted(standards)
    assert (project.path / "standards" / "tasks.mk").is_file()


def scored_rows(container: Container, env: dict[str, str] | None = None) -> int:
    """Train in the image, then predict the golden sample; the rows predicted."""
    variables = [f"{name}={value}" for name, value in (env or {}).items()]
    entrypoint = container.config()["Entrypoint"]
    slug = container.image.slug
    for command in (
        ["train"],
        ["predict", "--model", f"models:/{slug}@candidate", "--input", GOLDEN_SAMPLE],
    ):
        result = container.run("env", *variables, *entrypoint, *command)
    return len(list(csv.DictReader(io.StringIO(result.stdout))))


def test_the_image_trains_and_predicts_with_a_tracking_server(
    container: Container, trained: str, tmp_path: Path
) -> None:
    """MLflow's client in the image talks to a team's server (MLFLOW_TRACKING_URI),
    here `mlflow server` of the template repo's environment on this machine."""
    rows = len((container.work / GOLDEN_SAMPLE).read_text().splitlines()) - 1
    mlflow = REPO / ".venv" / "bin" / "mlflow"
    with mlflow_server(mlflow, f"sqlite:///{tmp_path / 'server.db'}", tmp_path) as url:
        assert scored_rows(container, env={"MLFLOW_TRACKING_URI": url}) == rows
    assert (tmp_path / "artifacts").is_dir(), "the model did not go to the server"


def test_the_image_trains_and_predicts_with_the_file_registry(
    container: Container, trained: str, tmp_path: Path
) -> None:
    """The same image, in a copy of the project whose registry is models/."""
    files = tmp_path / container.work.name
    shutil.copytree(
        container.work, files, ignore=shutil.ignore_patterns("mlflow.db", "mlartifacts")
    )
    pyproject = files / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('registry = "mlflow"', 'registry = "files"'))
    for directory in [files, *(p for p in files.rglob("*") if p.is_dir())]:
        directory.chmod(0o777)
    rows = len((files / GOLDEN_SAMPLE).read_text().splitlines()) - 1
    copy = Container(container.buildah, container.name, container.image, files)

    assert scored_rows(copy) == rows
    assert (files / "models" / container.image.slug / "1").is_dir(), "nothing in models/"


def test_the_image_weighs_at_most_1_6_times_the_floor(
    buildah: Buildah, image: Image, floor_image: str
) -> None:
    size, floor = buildah.size(image.tag), buildah.size(floor_image)
    # bench/run.py's image section reads this line.
    print(f"image size: {size} bytes, floor image size: {floor} bytes ({size / floor:.2f}x)")

    assert size <= FLOOR_RATIO * floor, (
        f"the image is {size / 1e6:.0f} MB, {size / floor:.2f} times the floor's "
        f"{floor / 1e6:.0f} MB (at most {FLOOR_RATIO})"
    )


def test_the_image_carries_the_sbom_of_every_package_it_holds(container: Container) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    document = container.run("cat", SBOM).stdout
    installed = json.loads(container.run("python", "-c", (
        "import importlib.metadata as m, json;"
        "print(json.dumps(sorted({d.metadata['Name'] for d in m.distributions()})))"
    )).stdout)  # fmt: skip

    error = JsonStrictValidator(SchemaVersion.V1_5).validate_str(document)
    assert error is None, f"{SBOM} is not CycloneDX 1.5: {error}"
    listed = {c["name"] for c in json.loads(document)["components"]}
    normal = {re.sub(r"[-_.]+", "-", name).lower() for name in installed}
    # The project itself is the SBOM's subject (metadata.component), not a component.
    missing = normal - {re.sub(r"[-_.]+", "-", n).lower() for n in listed} - {container.image.slug}
    assert not missing, f"installed in the image, not in its SBOM: {sorted(missing)}"
    assert not {"pytest", "mypy", "jupyterlab"} & listed, "dev packages in the SBOM"


def test_two_builds_of_one_commit_give_the_same_image_digest(
    buildah: Buildah, base_images: dict[str, str], project: Project, image: Image
) -> None:
    """`make docker` takes the commit's time: files, bytecode, SBOM and image alike."""
    again = f"{image.slug}-again"
    make_docker(buildah, base_images, project, again)

    first, second = buildah.digest(image.tag), buildah.digest(f"localhost/{again}:latest")
    assert first == second, f"two builds of one commit differ: {first} and {second}"
    config = json.loads(buildah("inspect", "--type", "image", image.tag).stdout)["OCIv1"]
    committed = int(project.run("git", "log", "-1", "--format=%ct").stdout)
    created = datetime.datetime.fromisoformat(config["created"].replace("Z", "+00:00"))
    assert created.timestamp() == committed, "the image is not dated by its commit"
