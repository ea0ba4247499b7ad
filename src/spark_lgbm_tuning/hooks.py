"""The project's one entry point to Spark: build the SparkSession from conf/<env>/spark.yml."""

from __future__ import annotations

import logging
import re
import shutil
import socket
import subprocess
from typing import Any
from urllib.parse import urlparse

from kedro.framework.hooks import hook_impl
from pyspark import SparkConf
from pyspark.sql import SparkSession

logger = logging.getLogger(__name__)

MIN_JAVA_MAJOR = 17
MASTER_CONNECT_TIMEOUT_S = 10.0


class SparkConfigError(RuntimeError):
    """The Spark configuration or runtime cannot give a working session."""


def check_java(min_major: int = MIN_JAVA_MAJOR) -> int:
    """Return the major version of `java` on PATH, or fail with how to fix it."""
    java = shutil.which("java")
    if java is None:
        raise SparkConfigError(
            f"Java not found: Spark needs Java {min_major} or newer on PATH "
            "(Debian: apt-get install openjdk-17-jre-headless)."
        )
    result = subprocess.run(
        [java, "-version"], capture_output=True, text=True, timeout=30, check=False
    )
    output = result.stderr + result.stdout
    match = re.search(r'version "(\d+)(?:\.(\d+))?', output)
    if match is None:
        raise SparkConfigError(f"Could not read the Java version from `java -version`: {output!r}")
    major = int(match.group(1))
    if major == 1 and match.group(2):  # "1.8.0_x" means Java 8
        major = int(match.group(2))
    if major < min_major:
        raise SparkConfigError(
            f"Java {major} found at {java}, but Spark 4 needs Java {min_major} or newer "
            "(Debian: apt-get install openjdk-17-jre-headless)."
        )
    return major


def check_master_reachable(master: str, timeout_s: float = MASTER_CONNECT_TIMEOUT_S) -> None:
    """Fail fast, naming the URL, when a standalone master does not accept connections.

    Spark itself keeps retrying registration for minutes; a TCP connect answers in seconds.
    """
    if not master.startswith("spark://"):
        return
    unreachable = []
    for address in master.removeprefix("spark://").split(","):  # HA masters are comma-separated
        parsed = urlparse(f"spark://{address}")
        host, port = parsed.hostname, parsed.port or 7077
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                return
        except OSError as error:
            unreachable.append(f"{host}:{port} ({error})")
    raise SparkConfigError(
        f"Spark master {master} is unreachable: {'; '.join(unreachable)}. Start the cluster "
        "(docs/running.md) or point spark.master / SPARK_MASTER at a running one."
    )


def build_spark_conf(settings: dict[str, Any]) -> SparkConf:
    """Turn the flat `spark.*` mapping of spark.yml into a SparkConf, refusing an unset master."""
    master = settings.get("spark.master")
    if not master:
        raise SparkConfigError(
            "spark.master is not set. With `--env cluster`, export SPARK_MASTER first, e.g. "
            "SPARK_MASTER=spark://127.0.0.1:7077 kedro run --env cluster"
        )
    conf = SparkConf()
    for key, value in settings.items():
        if value is None:
            continue
        text = str(value).lower() if isinstance(value, bool) else str(value)
        conf.set(key, text)
    return conf


class SparkHooks:
    """Builds the run's SparkSession when the Kedro context is created and stops it at the end."""

    def __init__(self) -> None:
        self._owns_session = False

    @hook_impl
    def after_context_created(self, context) -> None:
        settings = dict(context.config_loader["spark"])
        conf = build_spark_conf(settings)
        active = SparkSession.getActiveSession()
        if active is not None:
            # A session already exists (a notebook, a test fixture): reuse it and leave it running.
            logger.info("Reusing the active SparkSession on %s", active.sparkContext.master)
            self._owns_session = False
            return
        check_java()
        master = conf.get("spark.master")
        check_master_reachable(master)
        spark = SparkSession.builder.config(conf=conf).getOrCreate()
        spark.sparkContext.setLogLevel("WARN")
        self._owns_session = True
        logger.info(
            "SparkSession '%s' on %s (default parallelism %d); Spark UI: %s",
            spark.sparkContext.appName,
            spark.sparkContext.master,
            spark.sparkContext.defaultParallelism,
            spark.sparkContext.uiWebUrl,
        )

    @hook_impl
    def after_pipeline_run(self) -> None:
        self._stop_session()

    @hook_impl
    def on_pipeline_error(self) -> None:
        self._stop_session()

    def _stop_session(self) -> None:
        if not self._owns_session:
            return
        spark = SparkSession.getActiveSession()
        if spark is not None:
            logger.info("Stopping the SparkSession on %s", spark.sparkContext.master)
            spark.stop()
        self._owns_session = False
