"""A Spark standalone cluster (one master, N workers) on 127.0.0.1, without Docker.

A developer tool, not part of the installed package; run it from the repository root. The CLI and
the test fixtures share `LocalSparkCluster`:

    export SPARK_MASTER=$(python -m tools.local_cluster start --workers 2 --cores 1)
    kedro run --env cluster
    python -m tools.local_cluster status
    python -m tools.local_cluster stop

`start` prints only the master URL on stdout (progress goes to the log on stderr). Pids, ports,
the master URL and log paths are kept in a JSON state file (default `.local-cluster/state.json`
under the current directory, or `--run-dir`/`--state-file`), and `stop` signals exactly those
process groups. tools/spark_daemons.py launches and stops the processes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tools.spark_daemons import (
    HOST,
    POLL_INTERVAL_S,
    ClusterState,
    ProcessInfo,
    SparkDaemons,
    alive,
    fetch_json,
    free_ports,
    log_tail,
    spark_home,
    write_auth_defaults,
)

__all__ = ["LocalClusterError", "LocalSparkCluster", "fetch_json", "free_ports", "spark_home"]

logger = logging.getLogger(__name__)

DEFAULT_RUN_DIR = Path(".local-cluster")
STATE_FILE_NAME = "state.json"
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"


class LocalClusterError(RuntimeError):
    """The local cluster could not be started, queried or stopped."""


def auth_secret(variable: str) -> str:
    """The spark.authenticate secret in environment variable `variable`; refuses an empty one."""
    secret = os.environ.get(variable, "")
    if not secret:
        raise LocalClusterError(
            f"--auth-secret-env {variable}: that environment variable is unset or "
            "empty; export a long random secret in it, e.g. "
            f"export {variable}=$(python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))')"
        )
    return secret


class ClusterView:
    """What can be asked of a started cluster: its URL, the master's page, which daemons live."""

    def __init__(self, state: ClusterState | None = None, startup_timeout_s: float = 90.0) -> None:
        self.state = state
        self.startup_timeout_s = startup_timeout_s

    @property
    def master_url(self) -> str:
        return self._started().master_url

    def _started(self) -> ClusterState:
        if self.state is None:
            raise LocalClusterError("The local cluster is not started.")
        return self.state

    def master_json(self) -> dict[str, Any]:
        """The master's status page (`/json/`): workers, active and completed applications."""
        return fetch_json(f"{self._started().master_webui_url}/json/")

    @staticmethod
    def alive_workers(master_json: dict[str, Any]) -> int:
        if "aliveworkers" in master_json:
            return int(master_json["aliveworkers"])
        return sum(1 for worker in master_json.get("workers", []) if worker["state"] == "ALIVE")

    def running(self) -> bool:
        """True when any process of this cluster still runs."""
        return self.state is not None and any(alive(info) for info in self.state.processes)

    def status(self) -> dict[str, Any]:
        """Processes (alive or not) and, when the master answers, its worker and app counts."""
        state = self._started()
        report: dict[str, Any] = {
            "master_url": state.master_url,
            "master_webui_url": state.master_webui_url,
            "processes": [
                {"role": info.role, "pid": info.pid, "alive": alive(info), "log": info.log_path}
                for info in state.processes
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

    def wait_until(self, ready: Callable[[dict[str, Any]], bool], what: str) -> None:
        """Poll the master's JSON page until `ready(page)`; fail early if a daemon died."""
        deadline = time.monotonic() + self.startup_timeout_s
        page: dict[str, Any] = {}
        while time.monotonic() < deadline:
            for info in self.state.processes:
                if not alive(info):
                    raise LocalClusterError(
                        f"The Spark {info.role} (pid {info.pid}) exited during start-up; "
                        f"end of {info.log_path}:\n{log_tail(info.log_path)}"
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
            f"end of {master_log}:\n{log_tail(master_log)}"
        )


class LocalSparkCluster(ClusterView):
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
        base_env: Mapping[str, str] | None = None,
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
        # spark.authenticate: the master, workers and every driver share the secret in this
        # variable; drivers without it are refused.
        self.auth_secret_env = auth_secret_env
        conf_dir = self.run_dir / "conf" if auth_secret_env else None
        # The daemons' environment instead of this process's (SparkDaemons), e.g. a bare one.
        self.daemons = SparkDaemons(self.run_dir, python, conf_dir, base_env)
        super().__init__(None, startup_timeout_s)

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
        if self.auth_secret_env:
            write_auth_defaults(self.daemons.conf_dir, auth_secret(self.auth_secret_env))
        master_port, master_webui, *worker_webuis = free_ports(2 + self.workers)
        self.state = ClusterState(
            master_url=f"spark://{HOST}:{master_port}",
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
            self._start_daemons(master_port, master_webui, worker_webuis)
        except BaseException:
            self.stop()
            raise
        logger.info(
            "Spark standalone cluster %s up in %.1f s: %d worker(s) x %d core(s), %s each; "
            "master UI %s",
            self.state.master_url,
            time.monotonic() - began,
            self.workers,
            self.cores,
            self.memory,
            self.state.master_webui_url,
        )
        return self.state.master_url

    def _start_daemons(self, master_port: int, master_webui: int, worker_webuis: list[int]) -> None:
        master_args = ["--host", HOST, "--port", str(master_port)]
        master_args += ["--webui-port", str(master_webui)]
        self._add(self.daemons.launch("master", [MASTER_CLASS, *master_args], master_webui))
        # A worker that starts before the master is ALIVE retries registration only after
        # 5-15 s; starting the workers once the master answers keeps start-up at seconds.
        self.wait_until(lambda master: master.get("status") == "ALIVE", "the master is ALIVE")
        for index, webui_port in enumerate(worker_webuis, start=1):
            work_dir = self.run_dir / "work" / f"worker-{index}"
            work_dir.mkdir(parents=True, exist_ok=True)
            worker_args = ["--host", HOST, "--webui-port", str(webui_port)]
            worker_args += ["--cores", str(self.cores), "--memory", self.memory]
            worker_args += ["--work-dir", str(work_dir), self.state.master_url]
            role = f"worker-{index}"
            self._add(self.daemons.launch(role, [WORKER_CLASS, *worker_args], webui_port))
        self.wait_until(
            lambda master: self.alive_workers(master) >= self.workers,
            f"{self.workers} worker(s) registered",
        )

    def _add(self, info: ProcessInfo) -> None:
        """Record a launched daemon in the state file at once, so `stop` finds it even now."""
        self.state.processes.append(info)
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps(asdict(self.state), indent=2), encoding="utf-8")

    def stop(self, timeout_s: float = 10.0) -> float:
        """Stop every daemon (workers first, SIGKILL after `timeout_s`); return the seconds taken."""
        began = time.monotonic()
        if self.state is None:
            return 0.0
        # Workers first, so that the master does not log every worker as lost.
        ordered = sorted(self.state.processes, key=lambda info: info.role == "master")
        still = self.daemons.stop(ordered, timeout_s)
        if still:
            raise LocalClusterError(f"Processes {still} survived SIGKILL; see {self.state_file}")
        self.state_file.unlink(missing_ok=True)
        elapsed = time.monotonic() - began
        logger.info("Stopped the Spark cluster %s in %.1f s", self.state.master_url, elapsed)
        return elapsed

    def __enter__(self) -> LocalSparkCluster:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.local_cluster",
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
