"""The docker-compose cluster, built and run for real (docs/running.md, "On docker-compose").

In a scratch copy of the project, under a compose project name of its own: `docker compose build`,
`up -d --wait`, the default pipeline with `docker compose exec -T jupyterlab kedro run --env
docker`, the same search through the Spark Connect server (`--env connect`), the notebooks on the
Kedro kernel inside jupyterlab, Jupyter's token, loopback-only ports, a worker and the master
killed mid-search, spark.authenticate with a round-pruned search, and the image alone (`docker
run`). The stack is built and started once for the module and always removed with `docker
compose down -v`.

Needs a Docker engine (CI starts one with ../shared/docker/engine-up): without one these tests
fail under CI and are skipped elsewhere. The last tests need no engine: they check the
entrypoint script and that compose refuses to start without a Jupyter token.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from spark_lgbm_tuning.vocabulary.statuses import OK, PRUNED
from tests.docker_stack import (
    CONNECT,
    CONNECT_APP,
    CONNECT_REMOTE,
    IMAGE,
    JUPYTER,
    MASTER,
    PROJECT_ROOT,
    SERVICES,
    WORKERS,
    ComposeStack,
    DockerUnavailable,
    app_uid_for,
    compose_cli,
    copy_for_docker,
    docker_cli,
    http_get,
    http_json,
)

logger = logging.getLogger(__name__)

KERNEL = "kedro_spark_lgbm_tuning"
# Rich (Kedro's log handler) wraps at the terminal width; `exec -T` has no terminal.
WIDE = {"COLUMNS": "250"}
# A safety net only: the default run takes about a minute on an idle 2-core machine.
KEDRO_RUN_TIMEOUT_S = 900
# What a driver without the cluster's secret sees (the master closes the connection).
# The driver probes the master before starting Spark (spark/master.py) and stops with this line.
REFUSAL = "requires authentication (spark.authenticate)"
# The search's progress line once at least one trial is done.
TRIALS_DONE = re.compile(r"Trials [1-9]\d*/\d+ done")
SEARCH_DONE = re.compile(r"Search done: (\d+)/\1 trials ok")
ENTRYPOINT = PROJECT_ROOT / "docker" / "entrypoint.sh"
PRIVATE_FILES = ("conf/local/credentials.yml", "tests/test_x.py", "tools/tool.py", ".git/config")
LEADERBOARD = Path("data") / "08_reporting" / "leaderboard.parquet"
# ASHA at rungs of 10, 20, 40, ... rounds, keeping the better half of each fold's runs there and
# no margin: on the default grid most later runs of a fold stop at a rung.
ROUND_PRUNING = ",".join(
    f"tuning.search.round_pruning.{name}={value}"
    for name, value in {
        "rule": "asha",
        "eta": 2,
        "min_rounds": 10,
        "min_trials": 2,
        "margin": 0,
    }.items()
)


def _flat(result: subprocess.CompletedProcess[str]) -> str:
    return " ".join((result.stdout + result.stderr).split())


def _kedro_run(
    stack: ComposeStack, *args: str, kedro_env: str = "docker", remote: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`docker compose exec -T [-e SPARK_REMOTE=remote] jupyterlab kedro run --env kedro_env
    ARGS`, timed."""
    started = time.monotonic()
    env = WIDE | ({"SPARK_REMOTE": remote} if remote else {})
    result = stack.exec(
        JUPYTER, "kedro", "run", "--env", kedro_env, *args, env=env, timeout_s=KEDRO_RUN_TIMEOUT_S
    )
    stack.timings[f"kedro run --env {kedro_env} {' '.join(args)}".strip()] = (
        time.monotonic() - started
    )
    return result


def _completed_apps(stack: ComposeStack) -> list[dict]:
    return http_json(stack.url("HOST_PORT_SPARK_MASTER_UI", "/json/"))["completedapps"]


def _cores_held_by_active_apps(stack: ComposeStack) -> int:
    return sum(
        app["cores"]
        for app in http_json(stack.url("HOST_PORT_SPARK_MASTER_UI", "/json/"))["activeapps"]
    )


# ------------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def engine() -> tuple[list[str], list[str]]:
    """(docker, compose) command lines; fails under CI when no engine answers, skips elsewhere."""
    try:
        return docker_cli(), compose_cli()
    except DockerUnavailable as error:
        message = f"needs a Docker engine and Compose v2 ({error}); run ../shared/docker/engine-up"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture(scope="module")
def stack(
    engine: tuple[list[str], list[str]],
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Iterator[ComposeStack]:
    """The built and started cluster (docs/running.md steps 1-3); `down -v` whatever happens."""
    docker, compose = engine
    project = copy_for_docker(tmp_path_factory.mktemp("docker") / "project")
    # What must never enter the image (.dockerignore), present in the build context as in a
    # developer's checkout; `.env` is written by stack.configure() below.
    for private in PRIVATE_FILES:
        (project / private).parent.mkdir(parents=True, exist_ok=True)
        (project / private).write_text("private\n")
    stack = ComposeStack(project=project, compose=compose, docker=docker)
    stack.app_uid = app_uid_for(project / "data")
    stack.configure()
    try:
        stack.timed("build", "build")
        stack.timed("up --wait", "up", "-d", "--wait")
        yield stack
    finally:
        down = stack.down()
        # Seconds per step, for docs/running.md: .pytest_cache/v/docker/timings.
        if (cache := getattr(request.config, "cache", None)) is not None:
            cache.set("docker/timings", stack.timings)
        logger.info("docker timings (s): %s", json.dumps(stack.timings))
        assert down.returncode == 0, down.stderr
        left = subprocess.run(
            [*docker, "ps", "-aq", "--filter", f"label=com.docker.compose.project={stack.name}"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert left.stdout.strip() == "", f"containers left behind: {left.stdout}"


@dataclass
class ImageAloneRun:
    """`docker run --rm IMAGE` (the image's CMD: the default pipeline on local[*]), running in
    the background beside the cluster's runs: both pipelines are mostly single-threaded (data
    generation, reporting), so on two cores they overlap instead of queueing."""

    process: subprocess.Popen[bytes]
    log: Path
    started: float

    def result(self) -> tuple[int, str, float]:
        """(exit code, output, seconds from start to exit), waiting for it to end."""
        returncode = self.process.wait(KEDRO_RUN_TIMEOUT_S)
        return returncode, self.log.read_text(errors="replace"), time.monotonic() - self.started


@pytest.fixture(scope="module")
def image_alone(
    stack: ComposeStack, engine: tuple[list[str], list[str]]
) -> Iterator[ImageAloneRun]:
    docker, _ = engine
    name = f"{stack.name}-image-alone"
    log = stack.project / "image-alone-run.log"
    command = [*docker, "run", "--rm", "--name", name, "-e", "COLUMNS=250", IMAGE]
    with log.open("wb") as handle:
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT)
    try:
        yield ImageAloneRun(process, log, time.monotonic())
    finally:
        if process.poll() is None:
            subprocess.run(
                [*docker, "rm", "-f", name], capture_output=True, timeout=60, check=False
            )
            process.kill()
        process.wait()


@pytest.fixture(scope="module")
def default_run(
    stack: ComposeStack, image_alone: ImageAloneRun
) -> subprocess.CompletedProcess[str]:
    """The whole default pipeline, as docs/running.md step 4 runs it (with the image-alone run
    going on beside it)."""
    return _kedro_run(stack)


@pytest.fixture(scope="module")
def classic_leaderboard(
    stack: ComposeStack, default_run: subprocess.CompletedProcess[str]
) -> pd.DataFrame:
    """The default run's leaderboard (a classic session on the cluster), kept before later runs
    replace it."""
    assert default_run.returncode == 0, "the leaderboard is the default run's"
    return pd.read_parquet(stack.project / LEADERBOARD)


def _results(project: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    output = project / "data" / "07_model_output"
    results = pd.read_parquet(output / "tuning_results.parquet")
    trials = pd.read_parquet(project / "data" / "05_model_input" / "tuning_trials.parquet")
    run_info = json.loads((output / "tuning_run_info.json").read_text())
    return results, trials, run_info


def _assert_every_trial_once_and_ok(project: Path) -> dict:
    results, trials, run_info = _results(project)
    assert results["trial_id"].is_unique, results["trial_id"].value_counts().head()
    assert set(results["trial_id"]) == set(trials["trial_id"])
    assert len(results) == len(trials) == run_info["n_trials"] > 0
    assert (results["status"] == OK).all(), results.loc[results["status"] != OK, "error"]
    return run_info


# ------------------------------------------------------------------- the stack (Docker engine)
@pytest.mark.docker
def test_up_waits_for_the_master_and_four_alive_workers(stack: ComposeStack) -> None:
    states = {
        service: stack.container(service)["State"]["Health"]["Status"] for service in SERVICES
    }
    assert states == dict.fromkeys(SERVICES, "healthy")
    master = http_json(stack.url("HOST_PORT_SPARK_MASTER_UI", "/json/"))
    assert master["status"] == "ALIVE"
    alive = [worker for worker in master["workers"] if worker["state"] == "ALIVE"]
    assert len(alive) == len(WORKERS), master["workers"]
    assert all(worker["cores"] == 1 for worker in alive), alive


@pytest.mark.docker
def test_the_default_pipeline_runs_on_all_four_workers(
    stack: ComposeStack, default_run: subprocess.CompletedProcess[str]
) -> None:
    assert default_run.returncode == 0, _flat(default_run)[-5000:]
    run_info = _assert_every_trial_once_and_ok(stack.project)
    assert run_info["spark_master"] == f"spark://{MASTER}:7077"
    executors = {
        worker: [
            executor
            for executor in page["executors"] + page["finishedexecutors"]
            if executor["appid"] == run_info["app_id"]
        ]
        for worker, page in ((worker, stack.worker_json(worker)) for worker in WORKERS)
    }
    assert all(executors.values()), {worker: len(found) for worker, found in executors.items()}
    reports = list((stack.project / "data" / "08_reporting").glob("tuning_report.html/*/*.html"))
    assert len(reports) == 1, reports
    assert "LightGBM tuning report" in reports[0].read_text()


@pytest.mark.docker
def test_the_search_through_the_connect_server_gives_the_classic_leaderboard(
    stack: ComposeStack, classic_leaderboard: pd.DataFrame
) -> None:
    # docs/running.md, "Spark Connect in docker-compose": the same search and report on the same
    # data (the default run's), every trial run again, as Spark Connect jobs on the four workers.
    run = _kedro_run(
        stack,
        "--pipelines",
        "tuning,reporting",
        "--params",
        "tuning.resume=false",
        kedro_env="connect",
        remote=CONNECT_REMOTE,
    )
    assert run.returncode == 0, _flat(run)[-5000:]
    run_info = _assert_every_trial_once_and_ok(stack.project)
    assert run_info["n_run"] == run_info["n_trials"]
    assert run_info["spark_master"] == f"Spark Connect (spark://{MASTER}:7077)"
    assert "4 task slots" in _flat(run)  # the server's spark.default.parallelism
    assert run_info["n_executors"] > 1, run_info  # the workers' executors, not a local Spark
    board = pd.read_parquet(stack.project / LEADERBOARD)
    assert board["combo_id"].tolist() == classic_leaderboard["combo_id"].tolist()
    assert board["auc_roc_mean"].tolist() == pytest.approx(
        classic_leaderboard["auc_roc_mean"].tolist(), abs=1e-9
    )
    # The server gives its idle executors back (dynamic allocation), so the classic drivers of
    # the next tests get all four workers' cores.
    deadline = time.monotonic() + 120
    while _cores_held_by_active_apps(stack) and time.monotonic() < deadline:
        time.sleep(1)
    assert _cores_held_by_active_apps(stack) == 0, stack.logs()


@pytest.mark.docker
def test_the_notebooks_run_on_the_kedro_kernel_in_jupyterlab(
    stack: ComposeStack, default_run: subprocess.CompletedProcess[str]
) -> None:
    assert default_run.returncode == 0, "the notebooks read the default run's outputs"
    apps_before = len(_completed_apps(stack))
    notebooks = sorted(path.name for path in (stack.project / "notebooks").glob("*.ipynb"))
    assert notebooks
    started = time.monotonic()
    result = stack.exec(
        JUPYTER,
        "jupyter",
        "nbconvert",
        "--execute",
        "--to",
        "notebook",
        f"--ExecutePreprocessor.kernel_name={KERNEL}",
        # The kernel builds its SparkSession on the cluster before it answers (60 s by default).
        "--ExecutePreprocessor.startup_timeout=300",
        "--ExecutePreprocessor.timeout=300",
        "--output-dir",
        "/opt/project/data/08_reporting/executed_notebooks",
        *[f"notebooks/{name}" for name in notebooks],
        timeout_s=600,
    )
    stack.timings["nbconvert --execute"] = time.monotonic() - started
    assert result.returncode == 0, _flat(result)[-5000:]
    executed = stack.project / "data" / "08_reporting" / "executed_notebooks"
    for name in notebooks:
        # nbconvert exits 0 even when a kernel never started: then it writes no copy.
        assert (executed / name).is_file(), _flat(result)[-5000:]
        notebook = nbformat.read(executed / name, as_version=4)
        # The Kedro kernel starts with `--ext kedro.ipython`, so the notebook's own first cell
        # (`%load_ext kedro.ipython`) finds it loaded; on a plain python3 kernel it would load it.
        first = next(cell for cell in notebook.cells if cell.cell_type == "code")
        assert first.source.strip() == "%load_ext kedro.ipython", name
        assert "extension is already loaded" in str(first.outputs), (name, first.outputs)
        errors = [
            output
            for cell in notebook.cells
            for output in cell.get("outputs", [])
            if output.output_type == "error"
        ]
        assert errors == [], name
    # Each kernel's session ran on the cluster (KEDRO_ENV=docker in jupyterlab), not local[*]:
    # the master lists its application once the kernel has shut down.
    deadline = time.monotonic() + 60
    while len(_completed_apps(stack)) <= apps_before and time.monotonic() < deadline:
        time.sleep(1)
    assert len(_completed_apps(stack)) > apps_before


@pytest.mark.docker
def test_jupyter_needs_its_token_and_every_port_is_on_loopback(stack: ComposeStack) -> None:
    api = stack.url("HOST_PORT_JUPYTER", "/api/contents")
    assert http_get(api) == 403
    assert http_get(api, {"Authorization": f"token {secrets.token_urlsafe(24)}"}) == 403
    assert http_get(api, {"Authorization": f"token {stack.token}"}) == 200
    assert http_get(f"{api}?token={stack.token}") == 200

    published = {}
    for service in SERVICES:
        bindings = stack.container(service)["HostConfig"]["PortBindings"] or {}
        for target, hosts in bindings.items():
            for host in hosts:
                published[(service, target)] = (host["HostIp"], int(host["HostPort"]))
    assert published == {
        (MASTER, "7077/tcp"): ("127.0.0.1", stack.ports["HOST_PORT_SPARK_MASTER"]),
        (MASTER, "8080/tcp"): ("127.0.0.1", stack.ports["HOST_PORT_SPARK_MASTER_UI"]),
        (JUPYTER, "8888/tcp"): ("127.0.0.1", stack.ports["HOST_PORT_JUPYTER"]),
        (JUPYTER, "4040/tcp"): ("127.0.0.1", stack.ports["HOST_PORT_SPARK_APP_UI"]),
        (CONNECT, "4040/tcp"): ("127.0.0.1", stack.ports["HOST_PORT_SPARK_CONNECT_UI"]),
    }
    # The Spark Connect server has no authentication: its gRPC port 15002 is not published, so
    # only the compose network's containers reach it (docs/running.md).
    assert not any(target == "15002/tcp" for _, target in published)
    port = stack.run("port", JUPYTER, "8888").stdout.strip()
    assert port == f"127.0.0.1:{stack.ports['HOST_PORT_JUPYTER']}"


@dataclass
class KilledMidSearch:
    """A search whose service was killed once its first trials were done."""

    returncode: int
    ended_after_s: float  # from the kill to the run's end
    searching: bool  # the search had not ended when the kill came
    output: str


def _kill_mid_search(stack: ComposeStack, service: str, log: Path) -> KilledMidSearch:
    """`docker compose kill SERVICE` while the largest fold's 8 trials run again (the trial
    store would reuse them all): two waves on the four one-core workers, so trials still run
    when the first one ends; progress every second."""
    command = stack.command(
        "exec", "-T", "-e", "COLUMNS=250", JUPYTER, "kedro", "run", "--env", "docker",
        "--pipelines", "tuning",
        "--params", "tuning.resume=false,tuning.progress_interval_s=1,tuning.folds=[3]",
    )  # fmt: skip
    with log.open("w") as handle:
        run = subprocess.Popen(
            command, cwd=stack.project, env=stack.env(), stdout=handle, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 240
            while not TRIALS_DONE.search(log.read_text()) and run.poll() is None:
                assert time.monotonic() < deadline, log.read_text()[-3000:]
                time.sleep(0.2)
            searching = "Search done" not in log.read_text()
            killed = time.monotonic()
            stack.run("kill", service)
            returncode = run.wait(KEDRO_RUN_TIMEOUT_S)
            ended_after_s = time.monotonic() - killed
        finally:
            if run.poll() is None:
                run.kill()
    output = " ".join(log.read_text(errors="replace").split())
    return KilledMidSearch(returncode, ended_after_s, searching, output)


@pytest.mark.docker
def test_a_worker_killed_mid_search_loses_and_repeats_no_trial(
    stack: ComposeStack, default_run: subprocess.CompletedProcess[str]
) -> None:
    assert default_run.returncode == 0, "the search reads the default run's data and folds"
    victim = WORKERS[1]
    try:
        killed = _kill_mid_search(stack, victim, stack.project / "killed-worker-run.log")
        assert killed.returncode == 0, killed.output[-5000:]
        assert killed.searching, "the search ended before the worker was killed"
        run_info = _assert_every_trial_once_and_ok(stack.project)
        assert run_info["n_run"] == run_info["n_trials"]
        assert len(run_info["executors_lost"]) == 1, run_info["executors_lost"]
    finally:
        stack.run("up", "-d", "--wait", victim)


# The run must end this soon after its master dies (measured on local standalone: 4-7 s).
MASTER_LOST_LIMIT_S = 120
# Spark's own line when the driver loses its standalone master (StandaloneSchedulerBackend).
MASTER_LOST = "Disconnected from Spark cluster! Waiting for reconnection"


@pytest.mark.docker
def test_a_master_killed_mid_search_ends_the_run_in_time_and_the_rerun_resumes(
    stack: ComposeStack, default_run: subprocess.CompletedProcess[str]
) -> None:
    """The master's container killed while trials run: the executors on the four worker
    containers outlive it, so the search finishes on them (every trial once, all ok) and the
    driver's stop does not wait for the dead master; on the stack brought up again, a rerun
    reuses every stored trial and runs none."""
    assert default_run.returncode == 0, "the search reads the default run's data and folds"
    try:
        killed = _kill_mid_search(stack, MASTER, stack.project / "killed-master-run.log")
        output = killed.output
        assert killed.returncode == 0, output[-5000:]
        assert killed.searching, "the search ended before the master was killed"
        assert killed.ended_after_s < MASTER_LOST_LIMIT_S, killed.ended_after_s
        assert output.index(MASTER_LOST) < output.index("Search done:"), output[-4000:]
        run_info = _assert_every_trial_once_and_ok(stack.project)
        assert run_info["n_run"] == run_info["n_trials"]
    finally:
        # A new master knows none of the old applications: every service starts afresh.
        stack.timed(
            "up --wait (after the master was killed)", "up", "-d", "--wait", "--force-recreate"
        )
    stack.timings["run end after the master was killed"] = killed.ended_after_s
    logger.warning("master killed: the run ended %.1f s later", killed.ended_after_s)

    again = _kedro_run(stack, "--pipelines", "tuning", "--params", "tuning.folds=[3]")
    n_trials = run_info["n_trials"]
    assert again.returncode == 0, _flat(again)[-4000:]
    assert f"{n_trials} of {n_trials} trials reused, 0 to run" in _flat(again)


@pytest.mark.docker
def test_with_a_spark_auth_secret_only_a_driver_holding_it_runs_a_round_pruned_search(
    stack: ComposeStack, default_run: subprocess.CompletedProcess[str]
) -> None:
    # The tuning pipeline: only a run with a Spark node starts a session (data_generation alone
    # starts none). The allowed run is also this tier's round-pruned search (issue 23).
    assert default_run.returncode == 0, "the search reads the default run's data and folds"
    secret = secrets.token_urlsafe(24)
    stack.configure(SPARK_AUTH_SECRET=secret)
    stack.timed("up --wait (recreated with SPARK_AUTH_SECRET)", "up", "-d", "--wait")
    # The Spark Connect server's driver holds the secret too: the master admitted its application
    # (its gRPC port, which the healthcheck waits for, opens only once the master registered it).
    apps = http_json(stack.url("HOST_PORT_SPARK_MASTER_UI", "/json/"))["activeapps"]
    assert [app["name"] for app in apps] == [CONNECT_APP], apps

    # A driver whose spark-defaults.conf lacks the secret (an empty SPARK_CONF_DIR): refused by
    # the project's probe within seconds; the kill only guards against a driver that hangs.
    refused = stack.exec(
        JUPYTER,
        "sh",
        "-c",
        'conf=$(mktemp -d); SPARK_CONF_DIR="$conf" setsid kedro run --env docker '
        '--pipelines tuning >"$conf/log" 2>&1 & pid=$!; '
        f'for _ in $(seq 240); do grep -q "{REFUSAL}" "$conf/log" && break; sleep 0.5; done; '
        'kill -9 -"$pid" 2>/dev/null; cat "$conf/log"',
        env=WIDE,
        timeout_s=180,
    )
    assert REFUSAL in _flat(refused), _flat(refused)[-3000:]
    assert "Executors of" not in _flat(refused)

    allowed = _kedro_run(
        stack,
        "--pipelines",
        "tuning,reporting",
        "--params",
        f"tuning.resume=false,{ROUND_PRUNING}",
    )
    assert allowed.returncode == 0, _flat(allowed)[-5000:]
    assert f"Executors of spark://{MASTER}:7077 run Python 3.11" in _flat(allowed)

    results, trials, run_info = _results(stack.project)
    assert results["trial_id"].is_unique and set(results["trial_id"]) == set(trials["trial_id"])
    assert set(results["status"]) == {OK, PRUNED}, results["status"].value_counts()
    pruned = results[results["status"] == PRUNED]
    assert run_info["n_pruned_at_rung"] == len(pruned) > 0
    # A combination with a pruned fold is never ranked.
    board = pd.read_parquet(stack.project / LEADERBOARD)
    assert len(board) > 0 and not set(pruned["combo_id"]) & set(board["combo_id"])


@pytest.mark.docker
def test_the_image_alone_runs_the_default_pipeline_on_local_spark(
    stack: ComposeStack, image_alone: ImageAloneRun
) -> None:
    returncode, output, seconds = image_alone.result()
    stack.timings["docker run --rm (local[*], beside the cluster runs)"] = seconds
    output = " ".join(output.split())
    assert returncode == 0, output[-5000:]
    assert SEARCH_DONE.search(output), output[-5000:]
    assert "on local[*]" in output
    assert "Pipeline execution completed successfully" in output


@pytest.mark.docker
def test_the_image_holds_no_tests_tools_env_or_local_conf(
    stack: ComposeStack, engine: tuple[list[str], list[str]]
) -> None:
    docker, _ = engine
    assert (stack.project / ".env").is_file()
    result = subprocess.run(
        [*docker, "run", "--rm", "--entrypoint", "ls", IMAGE, "-A", "/opt/project", "conf/local"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    listing = result.stdout.split("\n\n")
    assert set(listing[0].split()[1:]) == {
        ".telemetry", "README.md", "conf", "data", "notebooks", "pyproject.toml", "src",
    }  # fmt: skip
    assert listing[1].split()[1:] == [], "conf/local is copied empty"


# ---------------------------------------------------------------------- no engine needed
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


@pytest.mark.parametrize("token_line", ["", "JUPYTER_TOKEN=\n"], ids=["unset", "empty"])
def test_compose_config_refuses_a_missing_token(tmp_path: Path, token_line: str) -> None:
    try:
        compose = compose_cli()
    except DockerUnavailable as error:
        pytest.skip(str(error))
    env_file = tmp_path / "compose.env"
    env_file.write_text(token_line)
    stack = ComposeStack(project=PROJECT_ROOT, compose=compose, docker=[])
    result = stack.run("--env-file", str(env_file), "config", check=False, timeout_s=60)
    assert result.returncode != 0
    assert "JUPYTER_TOKEN" in result.stderr
