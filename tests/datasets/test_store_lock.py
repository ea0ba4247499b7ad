"""The trial store's lock: one search at a time, a clear line for the second, stale locks taken."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys

import pytest

from spark_lgbm_tuning.datasets.store_lock import (
    LOCK_NAME,
    StoreInUseError,
    StoreLock,
    StoreUnwritableError,
)
from spark_lgbm_tuning.datasets.trial_store import TrialStore

# Holds the store's lock until stdin closes.
HOLDER_SCRIPT = """
import sys
from spark_lgbm_tuning.datasets.trial_store import TrialStore

with TrialStore(sys.argv[1]).locked():
    print("locked", flush=True)
    sys.stdin.read()
"""


def _hold(path) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER_SCRIPT, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_a_second_search_is_refused_naming_the_holder_then_runs_once_it_ends(tmp_path):
    store = TrialStore(tmp_path / "store")
    holder = _hold(store.path)
    try:
        with pytest.raises(StoreInUseError) as caught, store.locked():
            pass
    finally:
        holder.stdin.close()
        holder.wait()

    message = str(caught.value)
    assert f"in use by another search: pid {holder.pid} on {socket.gethostname()}" in message
    assert f"(lock {store.path / LOCK_NAME})" in message and "\n" not in message
    with store.locked():  # released by the holder on exit
        assert (store.path / LOCK_NAME).exists()
    assert not (store.path / LOCK_NAME).exists()


def test_the_lock_is_released_when_the_search_fails(tmp_path):
    store = TrialStore(tmp_path / "store")
    with pytest.raises(KeyboardInterrupt), store.locked():
        raise KeyboardInterrupt
    with store.locked():
        pass


def test_a_lock_whose_process_is_gone_is_taken_over_with_a_warning(tmp_path, caplog):
    store = TrialStore(tmp_path / "store")
    holder = _hold(store.path)
    holder.kill()  # SIGKILL: no cleanup, the lock file stays
    holder.wait()
    assert (store.path / LOCK_NAME).exists()

    with caplog.at_level(logging.WARNING), store.locked():
        pass
    assert f"Took over the stale trial store lock {store.path / LOCK_NAME} of pid {holder.pid}" in (
        caplog.text
    )


def test_a_reused_pid_is_not_taken_for_the_holder(tmp_path, caplog):
    store = TrialStore(tmp_path / "store")
    store.path.mkdir()
    # Our own (live) pid, with another start time: the holder was an earlier process.
    content = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started_at": "2026-01-01T00:00:00+00:00",
        "pid_start": "1",
        "token": "earlier",
    }
    (store.path / LOCK_NAME).write_text(json.dumps(content))

    with caplog.at_level(logging.WARNING), store.locked():
        pass
    assert "Took over the stale trial store lock" in caplog.text


def test_a_lock_being_written_is_honoured_and_an_old_unreadable_one_taken(tmp_path):
    store = TrialStore(tmp_path / "store")
    store.path.mkdir()
    lock = store.path / LOCK_NAME
    lock.write_text("")
    with pytest.raises(StoreInUseError, match="is being locked by another search"), store.locked():
        pass
    os.utime(lock, (0, 0))
    with store.locked():
        pass


def test_a_file_where_the_store_folder_should_be_fails_in_one_line(tmp_path):
    (tmp_path / "store").write_text("not a folder")
    with pytest.raises(StoreUnwritableError) as caught:
        StoreLock(tmp_path / "store").acquire()

    assert str(caught.value) == (
        f"Cannot use the trial store {tmp_path / 'store'}: [Errno 17] File exists "
        f"({tmp_path / 'store'}); nothing was run; {tmp_path / 'store'} is a file where a folder "
        "should be: move it away (or delete it) and rerun"
    )
    assert (tmp_path / "store").read_text() == "not a folder"


def test_an_immutable_store_is_refused_with_the_chattr_that_clears_it(tmp_path, make_immutable):
    # Before: "… [Errno 1] Operation not permitted (…/.search.lock); nothing was run", no fix.
    store = tmp_path / "store"
    store.mkdir()
    make_immutable(store)
    with pytest.raises(StoreUnwritableError) as caught:
        StoreLock(store).acquire()
    assert str(caught.value) == (
        f"Cannot write to the trial store {store}: [Errno 1] Operation not permitted "
        f"({store / LOCK_NAME}); nothing was run; {store} is immutable (`lsattr -d` shows `i`), "
        f"which refuses writes, root's too: run `chattr -i {store}` (as root), then rerun"
    )


def test_a_lock_that_cannot_be_released_does_not_mask_the_error_that_ended_the_search(
    tmp_path, make_immutable, caplog
):
    # Before: the PermissionError of the lock's unlink replaced the search's own error.
    store = TrialStore(tmp_path / "store")
    with pytest.raises(ValueError, match="the search's own error"), store.locked():
        make_immutable(store.path)
        raise ValueError("the search's own error")
    assert f"Could not remove the trial store lock {store.path / LOCK_NAME}" in caplog.text
    assert f"`chattr -i {store.path}`" in caplog.text


def test_a_process_holding_the_lock_holds_it_again_until_its_outermost_block_ends(tmp_path):
    # A run's StoreLockHooks takes the lock before Spark starts; run_trials then takes it again.
    store = TrialStore(tmp_path / "store")
    with store.locked():
        with store.locked():
            assert (store.path / LOCK_NAME).exists()
        assert (store.path / LOCK_NAME).exists()  # the outer block still holds it
        holder = subprocess.run(
            [sys.executable, "-c", HOLDER_SCRIPT, str(store.path)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            check=False,
        )
        assert "StoreInUseError" in holder.stderr  # another process is still refused
    assert not (store.path / LOCK_NAME).exists()


def test_a_folder_made_for_the_lock_alone_goes_with_it(tmp_path):
    # A run refused after StoreLockHooks took the lock leaves no empty store behind.
    store = TrialStore(tmp_path / "new-store")
    with store.locked():
        assert store.path.is_dir()
    assert not store.path.exists()
    with store.locked():
        store.append([{"trial_id": "t1", "status": "ok"}])
    assert len(store.batch_files()) == 1 and not (store.path / LOCK_NAME).exists()
