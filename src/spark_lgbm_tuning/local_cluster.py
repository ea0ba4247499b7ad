"""A Spark standalone cluster (one master, N workers) on 127.0.0.1, without Docker.

Runs the Master and Worker classes that ship inside the pyspark wheel (`pyspark/bin/spark-class`),
so the cluster uses exactly the Spark and Python of this environment. The CLI and the test fixtures
share `LocalSparkCluster`:

    export SPARK_MASTER=$(python -m spark_lgbm_tuning.local_cluster start --workers 2 --cores 1)
    kedro run --env cluster
    python -m spark_lgbm_tuning.local_cluster status
    python -m spark_lgbm_tuning.local_cluster stop

`start` prints only the master URL on stdout (progress goes to the log on stderr). Pids, ports,
the master URL and log paths are kept in a JSON state file (default `.local-cluster/state.json`
under the current directory), and `stop` signals exactly those process groups.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pyspark

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
DEFAULT_RUN_DIR = Path(".local-cluster")
STATE_FILE_NAME = "state.json"
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
# Heap of the Master/Worker daemons themselves (not of the executors they launch): they only
# book-keep, and the JVM default of 1 GiB each adds up on a small machine.
DAEMON_MEMORY = "256m"
POLL_INTERVAL_S = 0.25
LOG_TAIL_CHARS = 2000


class LocalClusterError(RuntimeError):
    """The local cluster could not be started, queried or stopped."""


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


def _alive(info: ProcessInfo) -> bool:
    """True when the pid still runs the process we started (not a later one reusing the pid)."""
    try:
        process = psutil.Process(info.pid)
        return (
            abs(process.create_time() - info.create_time) < 1.0
            and process.status() != psutil.STATUS_ZOMBIE
        )
    except psutil.NoSuchProcess:
        return False


def _log_tail(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")[-LOG_TAIL_CHARS:]
    except OSError:
        return "<no log>"


class LocalSparkCluster:
    """A Spark standalone master and `workers` workers on 127.0.0.1, started as child processes.

    Use as a context manager, or call `start()` / `stop()`; `LocalSparkCluster.from_state_file()`
    reattaches to a cluster started by another process (the CLI's `stop` and `status`).
    """

    def __init__(
        self,
        *,
        workers: int = 2,
        cores: int = 1,
        memory: str = "1g",
        run_dir: str | Path = DEFAULT_RUN_DIR,
        state_file: str | Path | None = None,
        python: str = sys.executable,
        startup_timeout_s: float = 90.0,
        auth_secret_env: str | None = None,
    ) -> None:
        if workers < 0 or cores < 1:
            raise LocalClusterError(
                f"workers must be >= 0 and cores >= 1, got workers={workers}, cores={cores}"
            )
        self.workers = workers
        self.cores = cores
        self.memory = memory
        self.run_dir = Path(run_dir).resolve()
        self.state_file = (
            Path(state_file).resolve() if state_file else self.run_dir / STATE_FILE_NAME
        )
        self.python = python
        self.startup_timeout_s = startup_timeout_s
        # spark.authenticate: the master, workers and every driver share the secret in this
        # variable; drivers without it are refused.
        self.auth_secret_env = auth_secret_env
        self.state: ClusterState | None = None
        # Popen handles exist only in the process that started the daemons; they let stop() reap.
        self._popens: dict[int, subprocess.Popen] = {}

    @classmethod
    def from_state_file(cls, state_file: str | Path) -> LocalSparkCluster:
        """Reattach to a cluster described by a state file written by `start()`."""
        path = Path(state_file)
        if not path.is_file():
            raise LocalClusterError(f"No local cluster state at {path}: nothing was started there.")
        state = ClusterState.from_dict(json.loads(path.read_text(encoding="utf-8")))
        cluster = cls(
            workers=state.workers,
            cores=state.cores,
            memory=state.memory,
            run_dir=state.run_dir,
            state_file=path,
            python=state.python,
            auth_secret_env=state.auth_secret_env,
        )
        cluster.state = state
        return cluster

    @property
    def master_url(self) -> str:
        if self.state is None:
            raise LocalClusterError("The local cluster is not started.")
        return self.state.master_url

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
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
        if self.auth_secret_env:
            env["SPARK_CONF_DIR"] = str(self.run_dir / "conf")
        # A SPARK_MASTER exported for `kedro run --env cluster` must not leak into the daemons.
        env.pop("SPARK_MASTER", None)
        return env

    def _launch(self, role: str, args: list[str], webui_port: int) -> ProcessInfo:
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
                env=self._env(),
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

    def start(self) -> str:
        """Start the master and the workers, wait until every worker is ALIVE; return the URL."""
        if self.state_file.is_file():
            previous = LocalSparkCluster.from_state_file(self.state_file)
            if previous.running():
                raise LocalClusterError(
                    f"A local cluster is already running at {previous.master_url} "
                    f"(state file {self.state_file}); stop it first."
                )
        began = time.monotonic()
        (self.run_dir / "logs").mkdir(parents=True, exist_ok=True)
        self._write_auth_defaults()
        master_port, master_webui, *worker_webuis = free_ports(2 + self.workers)
        master_url = f"spark://{HOST}:{master_port}"
        self.state = ClusterState(
            master_url=master_url,
            master_port=master_port,
            master_webui_url=f"http://{HOST}:{master_webui}",
            run_dir=str(self.run_dir),
            workers=self.workers,
            cores=self.cores,
            memory=self.memory,
            python=self.python,
            auth_secret_env=self.auth_secret_env,
        )
        try:
            master_args = ["--host", HOST, "--port", str(master_port)]
            master_args += ["--webui-port", str(master_webui)]
            self.state.processes.append(
                self._launch("master", [MASTER_CLASS, *master_args], master_webui)
            )
            self._write_state()
            # A worker that starts before the master is ALIVE retries registration only after
            # 5-15 s; starting the workers once the master answers keeps start-up at seconds.
            self._wait_until(lambda master: master.get("status") == "ALIVE", "the master is ALIVE")
            for index, webui_port in enumerate(worker_webuis, start=1):
                work_dir = self.run_dir / "work" / f"worker-{index}"
                work_dir.mkdir(parents=True, exist_ok=True)
                worker_args = ["--host", HOST, "--webui-port", str(webui_port)]
                worker_args += ["--cores", str(self.cores), "--memory", self.memory]
                worker_args += ["--work-dir", str(work_dir), master_url]
                self.state.processes.append(
                    self._launch(f"worker-{index}", [WORKER_CLASS, *worker_args], webui_port)
                )
            self._write_state()
            self._wait_until(
                lambda master: self.alive_workers(master) >= self.workers,
                f"{self.workers} worker(s) registered",
            )
        except BaseException:
            self.stop()
            raise
        logger.info(
            "Spark standalone cluster %s up in %.1f s: %d worker(s) x %d core(s), %s each; "
            "master UI %s",
            master_url,
            time.monotonic() - began,
            self.workers,
            self.cores,
            self.memory,
            self.state.master_webui_url,
        )
        return master_url

    def _write_auth_defaults(self) -> None:
        """spark-defaults.conf with the shared secret, readable by this user only.

        A file in SPARK_CONF_DIR rather than -D options: command lines are visible to every
        user in `ps`. docker/entrypoint.sh does the same for the compose cluster.
        """
        if not self.auth_secret_env:
            return
        secret = os.environ.get(self.auth_secret_env, "")
        if not secret:
            raise LocalClusterError(
                f"--auth-secret-env {self.auth_secret_env}: that environment variable is unset or "
                "empty; export a long random secret in it, e.g. "
                f"export {self.auth_secret_env}=$(python -c 'import secrets; "
                "print(secrets.token_urlsafe(32))')"
            )
        conf_dir = self.run_dir / "conf"
        conf_dir.mkdir(parents=True, exist_ok=True)
        defaults = conf_dir / "spark-defaults.conf"
        descriptor = os.open(defaults, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(f"spark.authenticate true\nspark.authenticate.secret {secret}\n")
        defaults.chmod(0o600)

    def _write_state(self) -> None:
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps(asdict(self.state), indent=2), encoding="utf-8")

    def _wait_until(self, ready: Callable[[dict[str, Any]], bool], what: str) -> None:
        """Poll the master's JSON page until `ready(page)`; fail early if a daemon died."""
        deadline = time.monotonic() + self.startup_timeout_s
        page: dict[str, Any] = {}
        while time.monotonic() < deadline:
            for info in self.state.processes:
                if not _alive(info):
                    raise LocalClusterError(
                        f"The Spark {info.role} (pid {info.pid}) exited during start-up; "
                        f"end of {info.log_path}:\n{_log_tail(info.log_path)}"
                    )
            with contextlib.suppress(OSError, ValueError):
                page = self.master_json()
                if ready(page):
                    return
            time.sleep(POLL_INTERVAL_S)
        master_log = self.state.processes[0].log_path
        raise LocalClusterError(
            f"Not {what} within {self.startup_timeout_s:.0f} s on {self.state.master_url} "
            f"(alive workers: {self.alive_workers(page) if page else 'master not answering'}); "
            f"end of {master_log}:\n{_log_tail(master_log)}"
        )

    def master_json(self) -> dict[str, Any]:
        """The master's status page (`/json/`): workers, active and completed applications."""
        if self.state is None:
            raise LocalClusterError("The local cluster is not started.")
        return fetch_json(f"{self.state.master_webui_url}/json/")

    @staticmethod
    def alive_workers(master_json: dict[str, Any]) -> int:
        if "aliveworkers" in master_json:
            return int(master_json["aliveworkers"])
        return sum(1 for worker in master_json.get("workers", []) if worker["state"] == "ALIVE")

    def running(self) -> bool:
        """True when any process of this cluster still runs."""
        return self.state is not None and any(_alive(info) for info in self.state.processes)

    def status(self) -> dict[str, Any]:
        """Processes (alive or not) and, when the master answers, its worker and app counts."""
        if self.state is None:
            raise LocalClusterError("The local cluster is not started.")
        report: dict[str, Any] = {
            "master_url": self.state.master_url,
            "master_webui_url": self.state.master_webui_url,
            "processes": [
                {"role": info.role, "pid": info.pid, "alive": _alive(info), "log": info.log_path}
                for info in self.state.processes
            ],
        }
        try:
            master = self.master_json()
        except (OSError, ValueError) as error:
            report["master_status"] = f"unreachable: {error}"
        else:
            report["master_status"] = master.get("status")
            report["alive_workers"] = self.alive_workers(master)
            report["cores"] = master.get("cores")
            report["active_apps"] = [app["name"] for app in master.get("activeapps", [])]
        return report

    def stop(self, timeout_s: float = 10.0) -> float:
        """SIGTERM each daemon's process group (workers first), SIGKILL what outlives `timeout_s`.

        Returns the seconds it took. Only the pids recorded at start are signalled, and only
        while they still belong to the process that was started (checked by creation time).
        """
        began = time.monotonic()
        if self.state is None:
            return 0.0
        # Workers first, so that the master does not log every worker as lost.
        ordered = sorted(self.state.processes, key=lambda info: info.role == "master")
        for info in ordered:
            self._signal(info, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for info in ordered:
            if not self._wait_gone(info, deadline):
                logger.warning("%s (pid %d) ignored SIGTERM; sending SIGKILL", info.role, info.pid)
                self._signal(info, signal.SIGKILL)
                self._wait_gone(info, time.monotonic() + timeout_s)
        still = [info.pid for info in self.state.processes if _alive(info)]
        if still:
            raise LocalClusterError(f"Processes {still} survived SIGKILL; see {self.state_file}")
        self.state_file.unlink(missing_ok=True)
        elapsed = time.monotonic() - began
        logger.info("Stopped the Spark cluster %s in %.1f s", self.state.master_url, elapsed)
        return elapsed

    def _signal(self, info: ProcessInfo, signum: signal.Signals) -> None:
        if not _alive(info):
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
            if not _alive(info):
                return True
            time.sleep(POLL_INTERVAL_S)
        return not _alive(info)

    def __enter__(self) -> LocalSparkCluster:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m spark_lgbm_tuning.local_cluster",
        description="Start, inspect or stop a Spark standalone cluster on 127.0.0.1.",
    )
    parser.add_argument("command", choices=["start", "stop", "status"])
    parser.add_argument("--workers", type=int, default=2, help="number of workers (default 2)")
    parser.add_argument("--cores", type=int, default=1, help="cores per worker (default 1)")
    parser.add_argument("--memory", default="1g", help="executor memory per worker (default 1g)")
    parser.add_argument(
        "--run-dir",
        type=Path,
        default=DEFAULT_RUN_DIR,
        help="logs and work dirs (default .local-cluster)",
    )
    parser.add_argument(
        "--state-file", type=Path, default=None, help="default <run-dir>/state.json"
    )
    parser.add_argument("--timeout", type=float, default=90.0, help="start-up timeout, seconds")
    parser.add_argument(
        "--auth-secret-env",
        metavar="VAR",
        default=None,
        help="turn on spark.authenticate with the secret in environment variable VAR; drivers "
        "need SPARK_AUTHENTICATE=true and the same secret in SPARK_AUTH_SECRET (--env cluster)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; stdout carries only the result (the master URL, or status JSON)."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    state_file = args.state_file or args.run_dir / STATE_FILE_NAME
    try:
        if args.command == "start":
            cluster = LocalSparkCluster(
                workers=args.workers,
                cores=args.cores,
                memory=args.memory,
                run_dir=args.run_dir,
                state_file=state_file,
                startup_timeout_s=args.timeout,
                auth_secret_env=args.auth_secret_env,
            )
            sys.stdout.write(cluster.start() + "\n")
        elif args.command == "stop":
            LocalSparkCluster.from_state_file(state_file).stop()
        else:
            status = LocalSparkCluster.from_state_file(state_file).status()
            sys.stdout.write(json.dumps(status, indent=2) + "\n")
    except LocalClusterError as error:
        logger.error("%s", error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
