"""The Spark Connect endpoint of spark.remote: its URL form, whether its server answers, and
whether a session is a Spark Connect one. No JVM and no gRPC import: checked before anything
starts."""

from __future__ import annotations

import re
import socket
from urllib.parse import urlparse

from pyspark.sql import SparkSession

from spark_lgbm_tuning.vocabulary.errors import SparkConfigError

# A Spark Connect session instead of a master (conf/connect/spark.yml): `local[N]` starts a local
# Connect server inside pyspark, `sc://host:port` reaches a running one.
REMOTE_KEY = "spark.remote"
CONNECT_DEFAULT_PORT = 15002
LOCAL_REMOTE = re.compile(r"^local(\[(\d+|\*)(,\d+)?\])?$")
# How to get a Spark Connect server back: the fix of every "unreachable" or "gone" error.
START_SERVER = (
    f"Start the server (sbin/start-connect-server.sh) or point {REMOTE_KEY} / SPARK_REMOTE at "
    "a running one"
)


def remote_label(remote: str) -> str:
    """`remote` without its `/;key=value` parameters (a Databricks token travels there)."""
    return remote.split("/;", maxsplit=1)[0]


def check_remote_url(remote: str) -> None:
    """Refuse, before anything starts, a spark.remote that is neither `local[...]` (a local
    Spark Connect server started by pyspark) nor `sc://host[:port][/;params]`."""
    if LOCAL_REMOTE.match(remote):
        return
    label = remote_label(remote)
    fix = (
        f"{REMOTE_KEY} (or SPARK_REMOTE with --env connect) must be local[N] or "
        f"sc://host:port, e.g. sc://127.0.0.1:{CONNECT_DEFAULT_PORT}"
    )
    parsed = urlparse(remote)
    if parsed.scheme != "sc":
        raise SparkConfigError(f"Spark Connect URL {label} has no sc:// scheme: {fix}")
    try:
        port = parsed.port
    except ValueError as error:
        raise SparkConfigError(f"Spark Connect URL {label}: bad port ({error}): {fix}") from None
    if not parsed.hostname or port == 0:
        raise SparkConfigError(f"Spark Connect URL {label} has no host or port 0: {fix}")


def check_remote_reachable(remote: str, timeout_s: float) -> None:
    """Fail fast, naming the endpoint, when a `sc://` Spark Connect server does not accept
    connections (the gRPC client would retry for minutes)."""
    parsed = urlparse(remote)
    if parsed.scheme != "sc":
        return
    host, port = parsed.hostname, parsed.port or CONNECT_DEFAULT_PORT
    error = connection_error(host, port, timeout_s)
    if error is not None:
        raise SparkConfigError(
            f"Spark Connect server {remote_label(remote)} is unreachable ({host}:{port}: "
            f"{error}). {START_SERVER}."
        )


def connection_error(host: str, port: int, timeout_s: float) -> OSError | None:
    """Why a TCP connection to host:port fails (refused, timed out), or None when it opens."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return None
    except OSError as error:
        return error


def connect_endpoint(spark: SparkSession) -> tuple[str, int] | None:
    """Host and port of the Spark Connect server `spark` talks to (a `local[N]` remote's local
    server too), or None where pyspark does not tell.

    pyspark exposes the client (`SparkSession.client`) but not its channel's target; it is read
    from the client's ChannelBuilder (`endpoint`, "host:port"), which a future pyspark may move.
    """
    endpoint = getattr(getattr(spark.client, "_builder", None), "endpoint", None)
    if not isinstance(endpoint, str) or ":" not in endpoint:
        return None
    host, _, port = endpoint.rpartition(":")
    return host.strip("[]"), int(port)


def is_connect(spark: SparkSession) -> bool:
    """True for a Spark Connect session (pyspark.sql.connect), which has no SparkContext.

    Checked by module rather than isinstance: pyspark.sql.connect imports grpc, which a classic
    install may lack.
    """
    return type(spark).__module__.startswith("pyspark.sql.connect")


def session_master(spark: SparkSession) -> str:
    """The master of `spark`; for a Spark Connect session (no SparkContext), its server's."""
    if is_connect(spark):
        return f"Spark Connect ({spark.conf.get('spark.master', None) or 'remote'})"
    return spark.sparkContext.master
