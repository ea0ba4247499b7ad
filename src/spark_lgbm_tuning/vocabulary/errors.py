"""The project's explained errors: a message that names the problem and its fix is the whole story.

`kedro run` (the project's `cli.py`) prints such an error as its message and a hint, without the
traceback Kedro's rich handler would print; any other exception keeps its full traceback, as does
`kedro run --verbose`. Raise a subclass of `ExplainedError` (mixed with the built-in type callers
catch, e.g. `class TrialStoreError(ExplainedError, ValueError)`) only when the message says
what to fix: a traceback would add nothing for the user.

A failure to read or write one of the project's files (a dataset's save or load, the trial store,
a report's copy) is explained the same way, wherever Kedro wrapped it: `explained` finds the
`ExplainedError` or the file-system `OSError` in an exception's chain, and `file_error_fix` says
what to do about the OS error (a file where a folder should be, an immutable folder, a full disk).
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import struct
from pathlib import Path


class ExplainedError(Exception):
    """An error whose message tells the user what is wrong and how to fix it."""


class SparkConfigError(ExplainedError, RuntimeError):
    """The Spark configuration or runtime cannot give a working session."""


class InputDataError(ExplainedError, ValueError):
    """The run's data, folds or columns cannot give a meaningful search; the message names the fix."""


class ConfigError(ExplainedError, ValueError):
    """A configuration file or `--params` value cannot give the run's parameters; the message
    names the file (or --params) and the key."""


class SparkServerLostError(ExplainedError, RuntimeError):
    """The Spark Connect server went away mid-run; names its URL and how to rerun."""


class ProjectFileError(ExplainedError, RuntimeError):
    """A file or folder of the project's data cannot be read or written; names it and the fix."""


# Kedro's DataCatalog wraps a dataset's failure as "<name>: Failed while saving data to ...".
_KEDRO_DATASET_FAILURE = re.compile(r"^(?P<name>\S+): Failed while (?P<action>saving|loading)")
_WHAT_FAILED = {"saving": "save '{}' to", "loading": "load '{}' from"}


def os_reason(error: OSError) -> str:
    """`[Errno 20] Not a directory (path)`: the OS error without a Python class name."""
    if error.strerror is None:
        return str(error)
    where = f" ({error.filename})" if error.filename else ""
    return f"[Errno {error.errno}] {error.strerror}{where}"


def file_in_the_way(path: Path) -> Path | None:
    """The nearest ancestor of `path` that exists and is not a folder (a plain file), if any."""
    for parent in Path(path).parents:
        if parent.exists():
            return None if parent.is_dir() else parent
    return None


# Linux's FS_IOC_GETFLAGS (what `lsattr` reads) and the attributes that refuse a write even to
# root: `chattr +i` (immutable) and `chattr +a` (append only).
_FS_IOC_GETFLAGS = 0x80086601
_WRITE_REFUSING = {0x10: "i", 0x20: "a"}
_ATTRIBUTE_NAMES = {"i": "immutable", "a": "append-only"}


def write_refusing_attributes(path: Path) -> str:
    """The attributes of `path` that refuse writes (`i`, `a`, as `lsattr -d` shows them); ''
    when it has none, does not exist, or its file system cannot tell."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError:
        return ""
    try:
        flags = struct.unpack("i", fcntl.ioctl(descriptor, _FS_IOC_GETFLAGS, bytes(8))[:4])[0]
    except OSError:
        return ""
    finally:
        os.close(descriptor)
    return "".join(letter for bit, letter in _WRITE_REFUSING.items() if flags & bit)


def _attributes_fix(path: Path) -> str | None:
    """How to clear the attributes that refuse writes to `path` or its folder, if either has any."""
    found = {
        where: attributes
        for where in (path.parent, path)
        if (attributes := write_refusing_attributes(where))
    }
    if not found:
        return None
    named = " and ".join(
        f"{where} is {' and '.join(_ATTRIBUTE_NAMES[letter] for letter in attributes)} "
        f"(`lsattr -d` shows `{attributes}`)"
        for where, attributes in found.items()
    )
    letters = "".join(sorted(set("".join(found.values()))))
    return (
        f"{named}, which refuses writes, root's too: run `chattr -{letters} "
        f"{' '.join(map(str, found))}` (as root), then rerun"
    )


def file_error_fix(error: OSError) -> str:
    """What to do about a file-system error on the project's data, by its errno."""
    path = Path(error.filename) if error.filename else None
    if error.errno in (errno.ENOTDIR, errno.EEXIST) and path is not None:
        blocker = path if path.exists() and not path.is_dir() else file_in_the_way(path)
        if blocker is not None:
            return (
                f"{blocker} is a file where a folder should be: move it away (or delete it) "
                "and rerun"
            )
    if error.errno in (errno.EPERM, errno.EACCES) and path is not None:
        folder = path.parent
        return _attributes_fix(path) or (
            f"{folder} (or the file) cannot be written: if `lsattr -d {folder}` shows `i`, it is "
            f"immutable (`chattr -i {folder}`); else check its owner and mode (`chmod u+w`); or "
            "point the dataset elsewhere in conf/local/catalog.yml; then rerun"
        )
    if error.errno == errno.EROFS:
        return "the file system is read-only: remount it writable or point the dataset elsewhere"
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return "the disk (or your quota) is full: free some space and rerun"
    if error.errno == errno.EISDIR:
        return "a folder stands where the file should be: move it away (or delete it) and rerun"
    return "check the path and rerun"


def explained(error: BaseException) -> ExplainedError | None:
    """The explained form of `error`: the first `ExplainedError` in its chain, else a
    `ProjectFileError` for the first `OSError` on a path in it; None when there is neither."""
    what_failed, seen = "use", set()
    link: BaseException | None = error
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        if isinstance(link, ExplainedError):
            return link
        wrapped = _KEDRO_DATASET_FAILURE.match(str(link))
        if wrapped and what_failed == "use":
            what_failed = _WHAT_FAILED[wrapped["action"]].format(wrapped["name"])
        if isinstance(link, OSError) and link.filename:
            reason = f"[Errno {link.errno}] {link.strerror}" if link.strerror else str(link)
            return ProjectFileError(
                f"Cannot {what_failed} {link.filename}: {reason}; {file_error_fix(link)}"
            )
        link = link.__cause__ or link.__context__
    return None
