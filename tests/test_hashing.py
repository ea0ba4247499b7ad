"""Stable digests: the same payload, the same digest; any changed value, another."""

from __future__ import annotations

import subprocess
import sys

from spark_lgbm_tuning.hashing import stable_hash


def test_stable_hash_ignores_key_order_and_sees_values():
    assert stable_hash({"a": 1, "b": [1, 2]}) == stable_hash({"b": [1, 2], "a": 1})
    assert stable_hash({"a": 1}) != stable_hash({"a": 2})
    assert stable_hash({"a": 1}) != stable_hash({"a": 1.0})


def test_a_digest_is_the_same_in_another_process_and_pinned():
    payload = {"task": "classification", "params": {"num_leaves": 7}, "fold_id": 0}
    code = f"from spark_lgbm_tuning.hashing import stable_hash; print(stable_hash({payload!r}))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert other.stdout.strip() == stable_hash(payload)
    assert len(stable_hash(payload, length=8)) == 8
