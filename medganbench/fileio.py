"""Atomic file writes: a reader sees the old file or the new one, never a partial one."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable; only possible (and needed) on POSIX.
    if not hasattr(os, "O_DIRECTORY"):  # pragma: no cover - Windows
        return
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
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
