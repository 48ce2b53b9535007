"""Keeping what libraries print on their own out of the sweep's terminal, in the sweep's log.

While a sweep runs, the libraries under it write to this process's standard output and error
whenever they like: Ray's driver prints the last 20 lines of a dead raylet's log and repeats
"node marked dead" notices, its C++ core logs every retry of a connection, torch warns. Those
lines would break a live table, and in a CI log (``--no-progress``) they would bury the one line
per event. :class:`CapturedOutput` sends all of it to a log file: Python's ``sys.stdout`` and
``sys.stderr`` *and* the file descriptors 1 and 2 that native code writes to directly (and that
child processes inherit). The sweep's own display writes to :attr:`CapturedOutput.terminal`, a
stream on the standard error the process had before.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from pathlib import Path
from types import TracebackType
from typing import IO, TextIO


class CapturedOutput:
    """While entered, this process's stdout and stderr go to a log; :attr:`terminal` does not.

    Output is first held in an anonymous temporary file, so nothing appears where the user
    looks until :meth:`keep_at` names the log; a sweep calls it once its executor has reached
    its workers, so a sweep that cannot start leaves no file behind. Output never kept is
    discarded on exit. Captures nest (each restores what it found), but must be entered and
    left in the same thread, the main one: ``sys.stdout`` and the descriptors are per process.

    Attributes:
        terminal: a text stream on the standard error from before the capture; valid while
            entered.
    """

    def __init__(self) -> None:
        self.terminal: TextIO = sys.stderr
        self._saved_fds: tuple[int, int] = (-1, -1)
        self._saved_streams: tuple[TextIO, TextIO] = (sys.stdout, sys.stderr)
        self._own_terminal = False
        self._sink: IO[bytes] | None = None
        self._kept = False

    def __enter__(self) -> CapturedOutput:
        _flush(sys.stdout, sys.stderr)
        self._saved_streams = (sys.stdout, sys.stderr)
        self._saved_fds = (os.dup(1), os.dup(2))
        self.terminal, self._own_terminal = _terminal_stream(sys.stderr, self._saved_fds[1])
        self._sink = tempfile.TemporaryFile()
        self._point_at(self._sink.fileno())
        # Streams of our own over the descriptors, so that Python-level writers (print, Ray's
        # logging handler, warnings) are captured even where sys.stdout was not fd 1 (pytest,
        # click's test runner). Line-buffered, so the log is readable while the sweep runs.
        sys.stdout = _open_fd(1)
        sys.stderr = _open_fd(2)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _flush(sys.stdout, sys.stderr, self.terminal)
        # Our streams are dropped, not closed: a library thread may still hold one mid-write.
        sys.stdout, sys.stderr = self._saved_streams
        out_fd, err_fd = self._saved_fds
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        os.close(out_fd)
        os.close(err_fd)
        if self._own_terminal:
            self.terminal.close()
        if self._sink is not None:
            self._sink.close()
            self._sink = None

    def keep_at(self, path: Path, heading: str = "") -> None:
        """From now on append the output to ``path``, after ``heading`` (a line that says which
        run of the sweep follows) and what was held so far."""
        sink = self._active_sink()
        path.parent.mkdir(parents=True, exist_ok=True)
        log = open(path, "ab")  # noqa: SIM115 - held until __exit__ closes it
        if heading:
            log.write(f"{heading}\n".encode())
        _flush(sys.stdout, sys.stderr)
        sink.seek(0)
        shutil.copyfileobj(sink, log)
        self._point_at(log.fileno())
        # A native thread may have written between the copy and the switch: keep that too.
        shutil.copyfileobj(sink, log)
        log.flush()
        sink.close()
        self._sink = log
        self._kept = True

    def text(self) -> str:
        """What was captured and not yet kept (a connection's messages, to diagnose them)."""
        sink = self._active_sink()
        if self._kept:
            return ""
        _flush(sys.stdout, sys.stderr)
        position = sink.tell()
        sink.seek(0)
        data = sink.read()
        sink.seek(position)
        return data.decode("utf-8", errors="replace")

    def _active_sink(self) -> IO[bytes]:
        if self._sink is None:
            raise RuntimeError("CapturedOutput is used outside its `with` block")
        return self._sink

    def _point_at(self, fd: int) -> None:
        """Point descriptors 1 and 2 (and so Python's streams over them) at ``fd``."""
        _flush(sys.stdout, sys.stderr)
        os.dup2(fd, 1)
        os.dup2(fd, 2)


def _terminal_stream(stderr: TextIO, saved_fd: int) -> tuple[TextIO, bool]:
    """A stream that keeps reaching where ``stderr`` wrote, and whether we opened it."""
    try:
        on_fd_2 = stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):
        on_fd_2 = False
    if not on_fd_2:
        # A Python-level stream (pytest's capture, click's test runner): redirecting the
        # descriptors does not touch it, so the display can keep writing to it.
        return stderr, False
    encoding = getattr(stderr, "encoding", None) or "utf-8"
    return open(os.dup(saved_fd), "w", buffering=1, encoding=encoding, errors="replace"), True


def _open_fd(fd: int) -> TextIO:
    return open(fd, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)


def _flush(*streams: IO[str]) -> None:
    for stream in streams:
        # A closed or broken stream has nothing left to lose.
        with contextlib.suppress(OSError, ValueError):
            stream.flush()


__all__ = ["CapturedOutput"]
