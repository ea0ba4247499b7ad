"""One search at a time per trial store: a lock file in the store's directory.

Two `kedro run`s of one project share the trial store and write the same outputs; before this
lock both exited 0 and `tuning_results` held every trial twice. The search takes the lock before
it reads the store and keeps it until its last write (`TrialStore.locked`); a second run fails at
once with one line naming the holder. The file is created with O_CREAT | O_EXCL (atomic on a
local file system) and holds the holder's pid, host and start time. A lock whose pid is no longer
alive on this host (the run was killed with SIGKILL, the machine lost power) is stale: the next
run takes it over with a warning. A lock held from another host cannot be checked and is honoured.

`holding` is the way in: within one process it is reentrant, so a run that took the lock before
Spark started (hooks.StoreLockHooks) holds it again in `run_trials` rather than being refused by
itself. A lock this process still holds at exit (a run stopped between two hooks) is released.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from spark_lgbm_tuning.vocabulary.errors import ExplainedError, file_error_fix, os_reason

logger = logging.getLogger(__name__)

LOCK_NAME = ".search.lock"
# A lock file without readable content older than this is a holder that died while writing it.
UNREADABLE_STALE_S = 10.0


class StoreInUseError(ExplainedError, RuntimeError):
    """Another live search holds the trial store's lock."""


class StoreUnwritableError(ExplainedError, RuntimeError):
    """The trial store's directory cannot be created or written; names the path, the OS error
    and its fix (`errors.file_error_fix`), kept apart so that a caller can say more between."""

    def __init__(self, problem: str, fix: str = "") -> None:
        super().__init__(f"{problem}; {fix}" if fix else problem)
        self.problem, self.fix = problem, fix

    @classmethod
    def of(cls, problem: str, error: OSError, outcome: str = "") -> StoreUnwritableError:
        """`problem: <the OS error>[; outcome]; <its fix>`."""
        return cls(
            f"{problem}: {os_reason(error)}{f'; {outcome}' if outcome else ''}",
            file_error_fix(error),
        )


@dataclass(frozen=True)
class Holder:
    pid: int
    host: str
    started_at: str
    # The process start time (Linux /proc ticks): a reused pid is not the holder.
    pid_start: str | None
    token: str

    @classmethod
    def this_process(cls) -> Holder:
        return cls(
            pid=os.getpid(),
            host=socket.gethostname(),
            started_at=datetime.now(UTC).isoformat(timespec="seconds"),
            pid_start=_process_start(os.getpid()),
            token=uuid.uuid4().hex,
        )

    def is_alive(self) -> bool:
        """False only when this host can tell the holder has ended."""
        if self.host != socket.gethostname():
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # another user's live process
        return self.pid_start is None or _process_start(self.pid) in (None, self.pid_start)


def _process_start(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22 (starttime); the command name in field 2 may hold spaces, so split after ')'.
    return stat.rsplit(")", 1)[1].split()[19]


class StoreLock:
    """The lock file of one trial store directory; `acquire` and `release` it once."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / LOCK_NAME
        self.holder: Holder | None = None
        # A folder made only to hold the lock is removed with it when nothing else was written.
        self._made_directory = False

    def acquire(self) -> None:
        try:
            self._made_directory = not self.directory.exists()
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StoreUnwritableError.of(
                f"Cannot use the trial store {self.directory}", error, "nothing was run"
            ) from error
        holder = Holder.this_process()
        for _ in range(3):
            if self._create(holder):
                self.holder = holder
                return
            self._take_over_if_stale()
        raise StoreInUseError(f"Could not take the trial store lock {self.path}; rerun")

    def _create(self, holder: Holder) -> bool:
        try:
            descriptor = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        except OSError as error:
            raise StoreUnwritableError.of(
                f"Cannot write to the trial store {self.directory}", error, "nothing was run"
            ) from error
        with os.fdopen(descriptor, "w") as handle:
            json.dump(asdict(holder), handle)
            handle.flush()
            os.fsync(handle.fileno())
        return True

    def _read(self, path: Path) -> Holder | None:
        try:
            return Holder(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def _take_over_if_stale(self) -> None:
        """Raise StoreInUseError for a live holder; move a stale lock aside."""
        holder = self._read(self.path)
        if holder is not None and holder.is_alive():
            raise StoreInUseError(
                f"The trial store {self.directory} is in use by another search: pid "
                f"{holder.pid} on {holder.host}, started {holder.started_at} (lock "
                f"{self.path}). Wait for it to end; delete the lock only if that process is gone"
            )
        if holder is None and not self._unreadable_for_long():
            raise StoreInUseError(
                f"The trial store {self.directory} is being locked by another search (lock "
                f"{self.path}); rerun in a few seconds"
            )
        # Rename, not unlink: of two runs taking over the same stale lock, one rename succeeds.
        aside = self.path.with_name(f"{LOCK_NAME}.stale-{uuid.uuid4().hex[:8]}")
        try:
            os.replace(self.path, aside)
        except FileNotFoundError:
            return  # another run took it over first; try to create ours again
        taken = self._read(aside)
        if taken is not None and holder is not None and taken.token != holder.token:
            # A live lock created since we read the stale one: put it back, let it win.
            try:
                os.link(aside, self.path)
            except FileExistsError:
                pass
            aside.unlink(missing_ok=True)
            return
        aside.unlink(missing_ok=True)
        logger.warning(
            "Took over the stale trial store lock %s%s",
            self.path,
            f" of pid {holder.pid}, started {holder.started_at}, which is no longer running"
            if holder
            else " (left unreadable by a process that died while taking it)",
        )

    def _unreadable_for_long(self) -> bool:
        try:
            return time.time() - self.path.stat().st_mtime > UNREADABLE_STALE_S
        except FileNotFoundError:
            return True

    def release(self) -> None:
        """Remove the lock if it is still ours (a run that lost it must not remove another's).

        Never raises: a lock that cannot be removed (its folder made immutable mid-run) costs a
        warning, not the error that ended the run (or its success); the next run takes it over
        as stale once the folder can be written again."""
        if self.holder is None:
            return
        current = self._read(self.path)
        self.holder, holder = None, self.holder
        if current is None or current.token != holder.token:
            return
        try:
            self.path.unlink(missing_ok=True)
        except OSError as error:
            logger.warning(
                "Could not remove the trial store lock %s: %s; %s",
                self.path,
                os_reason(error),
                file_error_fix(error),
            )
            return
        if self._made_directory:
            with contextlib.suppress(OSError):  # not empty: a batch was stored
                self.directory.rmdir()


# The locks this process holds, by absolute directory: [lock, how many `holding` blocks use it].
_held: dict[Path, list] = {}
_held_guard = threading.Lock()


@contextlib.contextmanager
def holding(directory: Path) -> Iterator[StoreLock]:
    """Hold the lock of the trial store `directory` for the block, taking it unless held here.

    StoreInUseError names another live holder at once. The lock is released when the outermost
    block of this process ends.
    """
    key = Path(os.path.abspath(directory))
    with _held_guard:
        entry = _held.get(key)
        if entry is None:
            lock = StoreLock(Path(directory))
            lock.acquire()
            entry = _held[key] = [lock, 0]
        entry[1] += 1
    try:
        yield entry[0]
    finally:
        with _held_guard:
            entry[1] -= 1
            if entry[1] == 0:
                del _held[key]
                entry[0].release()


@atexit.register
def _release_held() -> None:
    """Release what a run left held: Kedro calls no hook when a hook before the run fails."""
    with _held_guard:
        locks = [entry[0] for entry in _held.values()]
        _held.clear()
    for lock in locks:
        lock.release()
