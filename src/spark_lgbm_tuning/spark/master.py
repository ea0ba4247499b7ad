"""Checks of `spark.master` that need no JVM: the URL's form, and whether the master wants a secret.

Both mistakes otherwise surface late and point elsewhere: an unknown scheme ends in PySpark's
`JAVA_GATEWAY_EXITED ... before sending its port number` (which reads like a Java problem), and a
driver without the shared secret of a `spark.authenticate` cluster is refused only after Spark's
registration retries, its cause (SASL) buried in WARN stack traces. Measured 2026-12-08 on a
local secured master: the probe refuses in 0.01 s, Spark alone in 61 s (StandaloneAppClient's
3 registration tries 20 s apart are constants, not settings: spark.network.timeout,
spark.rpc.askTimeout and spark.rpc.io.connectionTimeout at 5 s left it at 61 s). So the probe stays.
"""

from __future__ import annotations

import os
import re
import socket
import struct
from pathlib import Path

from pyspark import SparkConf

from spark_lgbm_tuning.vocabulary.errors import SparkConfigError

# The forms SparkContext.createTaskScheduler and its cluster managers accept (Spark 4 has no
# Mesos): local, local[N|*], local[N|*,F], local-cluster[N,C,M], spark://H[:P][,H[:P]...],
# k8s://..., yarn.
_HOST_PORT = r"[^\s,/:]+(?::\d+)?"
MASTER_URL = re.compile(
    r"local"
    r"|local\[(?:\d+|\*)\]"
    r"|local\[(?:\d+|\*)\s*,\s*\d+\]"
    r"|local-cluster\[\s*\d+\s*,\s*\d+\s*,\s*\d+\s*\]"
    rf"|spark://{_HOST_PORT}(?:,{_HOST_PORT})*"
    r"|k8s://\S+"
    r"|yarn"
)
MASTER_URL_FORMS = (
    "local, local[N], local[*], local[N,F], local-cluster[N,C,M], spark://HOST:PORT "
    "(or spark://HOST1:PORT1,HOST2:PORT2), k8s://https://HOST:PORT or yarn"
)

AUTH_PROBE_TIMEOUT_S = 5.0
# Spark's network protocol (common/network-common, org.apache.spark.network.protocol): a frame
# is its length (8 bytes, itself included), a message type byte and the message.
_RPC_REQUEST, _RPC_RESPONSE, _RPC_FAILURE = 3, 4, 5
_PROBE_REQUEST_ID = 1
# The endpoint the probe asks for; no such endpoint exists, so an open master answers
# "Could not find ..." and logs nothing above INFO.
_PROBE_ENDPOINT = "spark-lgbm-tuning-auth-probe"
# What a master with spark.authenticate answers any RPC before the SASL handshake
# (SaslMessage.decode); its AuthEngine (spark.network.crypto.enabled) answers with AuthMessage.
_AUTH_REFUSALS = ("Expected SaslMessage", "AuthMessage")


def check_master_url(master: str, source: str = "spark.yml") -> None:
    """Fail with one line naming `source` when `master` is no master URL Spark accepts."""
    if MASTER_URL.fullmatch(master.strip()) is None:
        raise SparkConfigError(
            f"spark.master {master!r} in {source} is not a Spark master URL: use {MASTER_URL_FORMS}."
        )


def _utf(text: str) -> bytes:
    """Java's DataOutputStream.writeUTF for ASCII text: 2-byte length, then the bytes."""
    data = text.encode()
    return struct.pack(">H", len(data)) + data


def _probe_request() -> bytes:
    """One RpcRequest frame: a NettyRpcEnv RequestMessage to `_PROBE_ENDPOINT`.

    Body: no sender address, no receiver address, the endpoint name, then the content, the
    Java-serialised string "probe" (stream magic, TC_STRING, length, bytes).
    """
    content = b"\xac\xed\x00\x05\x74" + _utf("probe")
    body = b"\x00" + b"\x00" + _utf(_PROBE_ENDPOINT) + content
    message = struct.pack(">bqi", _RPC_REQUEST, _PROBE_REQUEST_ID, len(body)) + body
    return struct.pack(">q", 8 + len(message)) + message


def _read_frame(connection: socket.socket) -> bytes:
    """One whole response frame (empty when the master closes the connection first)."""
    data = b""
    while len(data) < 8 or len(data) < struct.unpack(">q", data[:8])[0]:
        chunk = connection.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def master_requires_authentication(
    host: str, port: int, timeout_s: float = AUTH_PROBE_TIMEOUT_S
) -> bool:
    """True when the standalone master at host:port refuses an RPC that did no SASL handshake.

    Sends one unauthenticated RPC request, as a driver without the secret would, and reads the
    reply (~30 ms). Anything else (an answer, a timeout, a closed connection) is False: the
    check only names the fix when the master says so, and leaves other failures to Spark.
    """
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as connection:
            connection.sendall(_probe_request())
            frame = _read_frame(connection)
    except OSError:
        return False
    if len(frame) < 9 or frame[8] != _RPC_FAILURE:
        return False
    reply = frame[9:].decode("utf-8", errors="replace")
    return any(refusal in reply for refusal in _AUTH_REFUSALS)


def spark_defaults_file() -> Path:
    """The spark-defaults.conf spark-submit reads for the driver: $SPARK_CONF_DIR, else
    $SPARK_HOME/conf, else the conf/ of the installed pyspark."""
    conf_dir = os.environ.get("SPARK_CONF_DIR")
    if conf_dir is None:
        import pyspark  # noqa: PLC0415 - only for where it is installed

        spark_home = os.environ.get("SPARK_HOME", str(Path(pyspark.__file__).parent))
        conf_dir = str(Path(spark_home) / "conf")
    return Path(conf_dir) / "spark-defaults.conf"


def driver_authenticates(conf: SparkConf) -> bool:
    """True when the driver JVM will run with spark.authenticate on.

    spark.yml's value wins; without one, spark-defaults.conf decides (the docker image writes the
    secret there, docker/entrypoint.sh).
    """
    value = conf.get("spark.authenticate")
    if value is None:
        defaults = spark_defaults_file()
        lines = defaults.read_text().splitlines() if defaults.is_file() else []
        for line in lines:
            key, _, rest = line.strip().replace("=", " ", 1).partition(" ")
            if key == "spark.authenticate":
                value = rest
    return (value or "false").strip().lower() == "true"


def check_master_authentication(master: str, host: str, port: int, conf: SparkConf) -> None:
    """Fail at once when the master at host:port requires a secret this driver does not send.

    Spark would retry registering for about a minute and end on a stopped SparkContext.
    A driver with `spark.authenticate` on is not probed: its SASL handshake tells a wrong secret
    itself.
    """
    if driver_authenticates(conf):
        return
    if master_requires_authentication(host, port):
        raise SparkConfigError(
            f"The Spark master {master} requires authentication (spark.authenticate): set "
            "SPARK_AUTHENTICATE=true and SPARK_AUTH_SECRET to the cluster's shared secret "
            "(read by conf/cluster/spark.yml)."
        )
