"""Atomic file writes (a reader sees the old file or the new one, never a partial one), and the
checks that a folder can be written before any work is spent on a result for it."""

from __future__ import annotations

import errno
import json
import os
import socket
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from medganbench import interrupts


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable; only possible (and needed) on POSIX.
    if not hasattr(os, "O_DIRECTORY"):  # pragma: no cover - Windows
        return
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


#: This machine's name in temporary file names, so that a process on another machine sharing the
#: folder (NFS) never takes this machine's live temporary file for a dead one, or the reverse.
_HOST = "".join(c if c.isalnum() or c == "-" else "_" for c in socket.gethostname()) or "host"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def remove_stale_temps(target: Path) -> int:
    """Remove temporary siblings of ``target`` left by dead processes of this machine.

    A process killed while writing (SIGKILL, power loss) cannot clean up after itself; the next
    write of the same file does. Temporary files of live processes, or of other machines, are
    left alone. Returns how many were removed.
    """
    removed = 0
    for tmp in target.parent.glob(f".{target.name}.{_HOST}.*.tmp"):
        pid = tmp.name[len(f".{target.name}.{_HOST}.") :].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            tmp.unlink(missing_ok=True)
            removed += 1
    return removed


def writable_dir_problem(path: Path) -> str | None:
    """Why ``path`` cannot be used as a folder to write into, or ``None`` if it can.

    The folder itself need not exist yet: then its nearest existing parent must be a folder this
    process may write into.
    """
    existing = path
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if existing != path and existing.is_file():
        return f"{existing} is a file, so {path} cannot be created"
    if existing.is_file():
        return f"{existing} is a file, not a folder"
    if not existing.is_dir():
        return f"{existing} is not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is not writable"
    return None


def describe_os_error(exc: OSError) -> tuple[str, str]:
    """One line for an I/O failure, and a hint that fits its cause."""
    where = f" ({exc.filename})" if exc.filename else ""
    what = f"{exc.strerror or type(exc).__name__}{where}"  # the CLI adds "error:"
    if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        hint = "Free disk space (or raise the quota / file-size limit) and run the command again."
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = "Check the folder's permissions, or choose another folder (--leaderboard-dir, --runs-dir, --out)."
    elif exc.errno in (errno.ENOTDIR, errno.EEXIST, errno.EISDIR):
        hint = "A file is where a folder is expected (or the reverse); choose another path."
    else:
        hint = "Check the file system, then run the command again."
    return what, hint


def atomic_write(target: Path, write: Callable[[IO[bytes]], Any]) -> None:
    """Write a file via a temporary sibling and ``os.replace``.

    The temporary file lives in the target's directory (``os.replace`` is only atomic within
    one filesystem) and is created with ``O_EXCL`` and mode 0o666 so the umask, not a
    temp-file default of 0o600, decides the final permissions. It is fsynced before the rename
    so a crash cannot leave a renamed-but-empty file, and removed in ``finally`` on any failure,
    KeyboardInterrupt included.

    Args:
        target: the file to create or replace.
        write: called with the open temporary file; writes the whole content.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(target)
    tmp = target.with_name(f".{target.name}.{_HOST}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    # Ctrl-C waits for the write: raised inside a writer's native code (torch.save into a file
    # object) it would come out as that code's error, and a half-written state helps nobody.
    with interrupts.deferred():
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        try:
            with open(fd, "wb") as sink:
                write(sink)
                sink.flush()
                os.fsync(sink.fileno())
            os.replace(tmp, target)
            _fsync_directory(target.parent)
        finally:
            # After a successful replace the temp name no longer exists; otherwise remove it.
            tmp.unlink(missing_ok=True)


def write_all(sink: IO[bytes], data: bytes) -> None:
    """Write all of ``data`` to ``sink`` (a ``write`` callback for :func:`atomic_write`)."""
    sink.write(data)


def write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    atomic_write(path, lambda sink: write_all(sink, data))


def write_json(path: Path, payload: Any) -> None:
    """Write ``payload`` as indented JSON, atomically (values JSON cannot hold become strings)."""
    write_bytes(path, json.dumps(payload, indent=2, default=str).encode())
