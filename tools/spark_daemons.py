"""The processes of a local Spark standalone cluster: launching, recognising and stopping them.

`tools.local_cluster.LocalSparkCluster` decides which daemons to run and when they are ready;
`SparkDaemons` runs the Master and Worker classes that ship inside the pyspark wheel
(`pyspark/bin/spark-class`), so the cluster uses exactly the Spark and Python of this environment.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pyspark

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
# Heap of the Master/Worker daemons themselves (not of the executors they launch): they only
# book-keep, and the JVM default of 1 GiB each adds up on a small machine.
DAEMON_MEMORY = "256m"
POLL_INTERVAL_S = 0.25
LOG_TAIL_CHARS = 2000


@dataclass
class ProcessInfo:
    """One daemon of the cluster: enough to find it again, and to tell it from a reused pid."""

    role: str
    pid: int
    create_time: float
    log_path: str
    webui_port: int


@dataclass
class ClusterState:
    """What `start` writes to the state file and `stop`/`status` read back."""

    master_url: str
    master_port: int
    master_webui_url: str
    run_dir: str
    workers: int
    cores: int
    memory: str
    python: str
    processes: list[ProcessInfo] = field(default_factory=list)
    # The environment variable the spark.authenticate secret was read from (never the secret).
    auth_secret_env: str | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClusterState:
        processes = [ProcessInfo(**process) for process in data.pop("processes", [])]
        return cls(**data, processes=processes)


def spark_home() -> Path:
    """The Spark distribution inside the installed pyspark wheel."""
    return Path(pyspark.__file__).resolve().parent


def free_ports(count: int, host: str = HOST) -> list[int]:
    """`count` distinct ports the OS reports free now (all sockets held until all are picked)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind((host, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def fetch_json(url: str, timeout_s: float = 2.0) -> dict[str, Any]:
    """GET a Spark web UI's JSON page (`.../json/`)."""
    with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310 - loopback http
        return json.loads(response.read().decode("utf-8"))


def alive(info: ProcessInfo) -> bool:
    """True when the pid still runs the process we started (not a later one reusing the pid)."""
    try:
        process = psutil.Process(info.pid)
        return (
            abs(process.create_time() - info.create_time) < 1.0
            and process.status() != psutil.STATUS_ZOMBIE
        )
    except psutil.NoSuchProcess:
        return False


def log_tail(path: str) -> str:
    """The end of a daemon's log, for an error message."""
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")[-LOG_TAIL_CHARS:]
    except OSError:
        return "<no log>"


def write_auth_defaults(conf_dir: Path, secret: str) -> None:
    """spark-defaults.conf with the shared secret, readable by this user only.

    A file in SPARK_CONF_DIR rather than -D options: command lines are visible to every user in
    `ps`. docker/entrypoint.sh does the same for the compose cluster.
    """
    conf_dir.mkdir(parents=True, exist_ok=True)
    defaults = conf_dir / "spark-defaults.conf"
    descriptor = os.open(defaults, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(f"spark.authenticate true\nspark.authenticate.secret {secret}\n")
    defaults.chmod(0o600)


class SparkDaemons:
    """Launches Spark daemons as child processes of their own session, and stops them.

    `conf_dir`, when given, becomes SPARK_CONF_DIR (the spark.authenticate defaults).
    `base_env`, when given, replaces this process's environment as the one the daemons (and so
    the executors and their Python workers) start from: e.g. workers without this venv.
    """

    def __init__(
        self,
        run_dir: Path,
        python: str,
        conf_dir: Path | None = None,
        base_env: Mapping[str, str] | None = None,
    ) -> None:
        self.run_dir = run_dir
        self.python = python
        self.conf_dir = conf_dir
        self.base_env = base_env
        # Popen handles exist only in the process that started the daemons; they let stop() reap.
        self._popens: dict[int, subprocess.Popen] = {}

    def env(self) -> dict[str, str]:
        """This environment for the daemons: loopback, small heaps, this Python for executors."""
        env = dict(os.environ if self.base_env is None else self.base_env)
        env.update(
            {
                "SPARK_HOME": str(spark_home()),
                "SPARK_LOCAL_IP": HOST,
                "SPARK_PUBLIC_DNS": HOST,
                "SPARK_DAEMON_MEMORY": DAEMON_MEMORY,
                # Executors launched by these workers run this environment's Python.
                "PYSPARK_PYTHON": self.python,
            }
        )
        # No REST submission server: it would take the fixed port 6066 on every cluster.
        env["SPARK_MASTER_OPTS"] = (
            env.get("SPARK_MASTER_OPTS", "") + " -Dspark.master.rest.enabled=false"
        ).strip()
        if self.conf_dir is not None:
            env["SPARK_CONF_DIR"] = str(self.conf_dir)
        # A SPARK_MASTER exported for `kedro run --env cluster` must not leak into the daemons.
        env.pop("SPARK_MASTER", None)
        return env

    def launch(self, role: str, args: list[str], webui_port: int) -> ProcessInfo:
        """Start `spark-class ARGS` as `role`, its output in <run_dir>/logs/<role>.log."""
        log_path = self.run_dir / "logs" / f"{role}.log"
        command = [str(spark_home() / "bin" / "spark-class"), *args]
        with log_path.open("ab") as log:
            # A new session per daemon: stop() signals its whole process group, and the daemons
            # outlive the CLI process that started them.
            popen = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env(),
                cwd=self.run_dir,
                start_new_session=True,
            )
        self._popens[popen.pid] = popen
        try:
            create_time = psutil.Process(popen.pid).create_time()
        except psutil.NoSuchProcess:
            create_time = 0.0
        logger.info("Started %s (pid %d), log %s", role, popen.pid, log_path)
        return ProcessInfo(role, popen.pid, create_time, str(log_path), webui_port)

    def stop(self, processes: list[ProcessInfo], timeout_s: float) -> list[int]:
        """SIGTERM each process group in order, SIGKILL what outlives `timeout_s`; pids left.

        Only the recorded pids are signalled, and only while they still belong to the process
        that was started (checked by creation time).
        """
        for info in processes:
            self._signal(info, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for info in processes:
            if not self._wait_gone(info, deadline):
                logger.warning("%s (pid %d) ignored SIGTERM; sending SIGKILL", info.role, info.pid)
                self._signal(info, signal.SIGKILL)
                self._wait_gone(info, time.monotonic() + timeout_s)
        return [info.pid for info in processes if alive(info)]

    @staticmethod
    def _signal(info: ProcessInfo, signum: signal.Signals) -> None:
        if not alive(info):
            return
        with contextlib.suppress(ProcessLookupError):
            # start_new_session made the daemon its group's leader: pgid == pid.
            if os.getpgid(info.pid) == info.pid:
                os.killpg(info.pid, signum)
            else:
                os.kill(info.pid, signum)

    def _wait_gone(self, info: ProcessInfo, deadline: float) -> bool:
        popen = self._popens.get(info.pid)
        while time.monotonic() < deadline:
            if popen is not None:
                popen.poll()  # reaps our own child, so it does not linger as a zombie
            if not alive(info):
                return True
            time.sleep(POLL_INTERVAL_S)
        return not alive(info)
