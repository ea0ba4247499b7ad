"""The Spark Connect endpoint's checks: URL form, reachability, a session's kind."""

from __future__ import annotations

import socket
import time

import pytest

from spark_lgbm_tuning.spark.remote import (
    check_remote_reachable,
    check_remote_url,
    is_connect,
    remote_label,
    session_master,
)
from spark_lgbm_tuning.vocabulary.errors import SparkConfigError
from tools.local_cluster import free_ports

FAIL_WITHIN_S = 30


@pytest.mark.parametrize(
    "remote", ["local", "local[2]", "local[*]", "local[2,3]", "sc://h", "sc://h:15002/;token=t"]
)
def test_local_servers_and_sc_urls_pass(remote):
    check_remote_url(remote)


@pytest.mark.parametrize(
    ("remote", "reason"),
    [
        ("http://127.0.0.1:15002", "has no sc:// scheme"),
        ("spark://127.0.0.1:7077", "has no sc:// scheme"),
        ("local[two]", "has no sc:// scheme"),
        ("sc://127.0.0.1:port", "bad port"),
        ("sc://127.0.0.1:99999", "bad port"),
        ("sc://:15002", "has no host"),
        ("sc://h:0/;token=secret", "has no host or port 0"),
    ],
)
def test_a_bad_connect_url_is_refused_naming_the_form(remote, reason):
    with pytest.raises(SparkConfigError, match=reason) as error:
        check_remote_url(remote)
    assert "sc://host:port" in str(error.value)
    assert "secret" not in str(error.value)  # parameters (tokens) are never shown


def test_the_label_drops_the_parameters_where_a_token_travels():
    assert remote_label("sc://h:443/;token=secret;x-databricks-cluster-id=1") == "sc://h:443"
    assert remote_label("local[2]") == "local[2]"


def test_an_unreachable_connect_server_fails_fast_naming_it():
    remote = f"sc://127.0.0.1:{free_ports(1)[0]}/;token=secret"
    began = time.monotonic()
    with pytest.raises(SparkConfigError) as error:
        check_remote_reachable(remote, timeout_s=5.0)
    assert time.monotonic() - began < FAIL_WITHIN_S
    message = str(error.value)
    assert remote_label(remote) in message and "unreachable" in message
    assert "secret" not in message and len(message.splitlines()) == 1


def test_a_listening_server_passes_and_a_local_one_is_not_dialled():
    with socket.create_server(("127.0.0.1", 0)) as server:
        check_remote_reachable(f"sc://127.0.0.1:{server.getsockname()[1]}", timeout_s=5.0)
    check_remote_reachable("local[2]", timeout_s=0.001)


def test_a_classic_session_is_not_connect_and_names_its_master(spark):
    assert not is_connect(spark)
    assert session_master(spark) == spark.sparkContext.master
