"""The checks that turn a bad env into a fast error naming the fix, before any JVM starts: a
master URL Spark accepts, a usable Java, a reachable master whose authentication matches the
driver's, the shipped environment's archives present (`check_runtime`; `hooks.SparkHooks` runs
them)."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from pathlib import Path
from urllib.parse import urlparse

from pyspark import SparkConf

from spark_lgbm_tuning.spark.executor_env import ARCHIVES_KEY, check_archives
from spark_lgbm_tuning.spark.master import check_master_authentication, check_master_url
from spark_lgbm_tuning.spark.remote import LOCAL_REMOTE, REMOTE_KEY, check_remote_reachable
from spark_lgbm_tuning.vocabulary.errors import SparkConfigError

MIN_JAVA_MAJOR = 17
MASTER_CONNECT_TIMEOUT_S = 10.0


def java_executable() -> str | None:
    """The `java` Spark's launcher will use: $JAVA_HOME/bin/java if JAVA_HOME is set, else PATH."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home) / "bin" / "java"
        return str(candidate) if candidate.is_file() else None
    return shutil.which("java")


def check_java(min_major: int = MIN_JAVA_MAJOR) -> int:
    """Return the major version of the `java` Spark will launch, or fail with how to fix it."""
    java = java_executable()
    if java is None:
        where = (
            f"JAVA_HOME={os.environ['JAVA_HOME']} has no bin/java"
            if os.environ.get("JAVA_HOME")
            else "no `java` on PATH and JAVA_HOME is unset"
        )
        raise SparkConfigError(
            f"Java not found ({where}): Spark 4 needs Java {min_major} or newer "
            "(Debian: apt-get install openjdk-17-jre-headless)."
        )
    result = subprocess.run(
        [java, "-version"], capture_output=True, text=True, timeout=30, check=False
    )
    output = result.stderr + result.stdout
    match = re.search(r'version "(\d+)(?:\.(\d+))?', output)
    if match is None:
        raise SparkConfigError(
            f"Could not read the Java version from `{java} -version`: {output!r}"
        )
    major = int(match.group(1))
    if major == 1 and match.group(2):  # "1.8.0_x" means Java 8
        major = int(match.group(2))
    if major < min_major:
        raise SparkConfigError(
            f"Java {major} found at {java}, but Spark 4 needs Java {min_major} or newer "
            "(Debian: apt-get install openjdk-17-jre-headless, or point JAVA_HOME at one)."
        )
    return major


def check_master_reachable(
    master: str, timeout_s: float = MASTER_CONNECT_TIMEOUT_S
) -> tuple[str, int] | None:
    """Fail fast, naming the URL, when a standalone master does not accept connections.

    Spark itself keeps retrying registration for minutes; a TCP connect answers in seconds.
    Returns the (host, port) that answered; None for a master that is not `spark://`.
    """
    if not master.startswith("spark://"):
        return None
    unreachable = []
    for address in master.removeprefix("spark://").split(","):  # HA masters are comma-separated
        parsed = urlparse(f"spark://{address}")
        host, port = parsed.hostname, parsed.port or 7077
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                return host, port
        except OSError as error:
            unreachable.append(f"{host}:{port} ({error})")
    raise SparkConfigError(
        f"Spark master {master} is unreachable: {'; '.join(unreachable)}. Start the cluster "
        "(python tools/local_cluster.py start) or point spark.master / SPARK_MASTER at a "
        "running one."
    )


def check_runtime(conf: SparkConf, master_source: str = "spark.yml") -> None:
    """The checks that take well under a second, before any JVM starts.

    A master URL Spark accepts (`master_source` names the file it came from), a usable Java, a
    reachable master, the master's authentication matching the driver's, and every local
    archive of spark.archives (the shipped executors' environment) present.
    """
    check_archives(conf.get(ARCHIVES_KEY))
    remote = conf.get(REMOTE_KEY)
    if remote:
        if LOCAL_REMOTE.match(remote):
            check_java()  # the local Connect server is a JVM of this machine
        check_remote_reachable(remote, MASTER_CONNECT_TIMEOUT_S)
        return
    master = conf.get("spark.master")
    check_master_url(master, master_source)
    check_java()
    reached = check_master_reachable(master)
    if reached is not None:
        check_master_authentication(master, *reached, conf)
