"""Ctrl-C that is never lost, and never lands inside a write.

Python turns SIGINT into a ``KeyboardInterrupt`` raised wherever the main thread happens to be.
Two places make that unreliable: an exception raised in a finaliser (``__del__``, a weakref
callback) is printed as "Exception ignored" and dropped, so the run carries on; and one raised
inside a Python callback of native code (``torch.save`` writing to a file object) comes out as
that code's own error ("unexpected pos ..."), a traceback instead of an interrupt.

So the command line installs :func:`install`'s handler, which also *remembers* the request:
the runner calls :func:`check` at every step and batch, so an interrupt that was dropped is
raised again within one step; and :func:`deferred` holds an interrupt back while a file is being
written, raising it as soon as the write is complete. Without :func:`install` (library use,
tests, worker processes) both are no-ops and Python's default behaviour applies.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

_installed = False
_requested = False
_deferring = 0


def _handler(signum: int, frame: FrameType | None) -> None:
    global _requested
    _requested = True
    if not _deferring:
        raise KeyboardInterrupt


def install() -> None:
    """Handle SIGINT from now on (main thread only): remember it, and raise KeyboardInterrupt.

    Installed explicitly, so that a process that inherited SIGINT *ignored* (a script's
    background job) still stops on Ctrl-C.
    """
    global _installed, _requested
    signal.signal(signal.SIGINT, _handler)
    _installed, _requested = True, False


def requested() -> bool:
    """Whether SIGINT arrived since :func:`install`."""
    return _requested


def check() -> None:
    """Raise ``KeyboardInterrupt`` if an interrupt was requested (and perhaps dropped) earlier.

    Raises:
        KeyboardInterrupt: SIGINT arrived since :func:`install`.
    """
    if _requested:
        raise KeyboardInterrupt


@contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT back for the duration of the block; raise it, if it came, at the end.

    Only in the main thread of a process that called :func:`install`; elsewhere the block runs
    unchanged.

    Raises:
        KeyboardInterrupt: at the end of the block, if SIGINT arrived during it.
    """
    global _deferring
    if not _installed or threading.current_thread() is not threading.main_thread():
        yield
        return
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
    if not _deferring:
        check()
