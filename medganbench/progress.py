"""Progress of long work: reported by whoever does it, shown by whoever runs it.

The runner, datasets, metrics, encoders and samplers (plugins included) wrap long work in
:func:`phase` and call :meth:`Phase.advance` as it goes; they never print. The program that
runs them installs a :class:`Sink` with :func:`showing`: the command line shows a progress bar
on a terminal and, without one (``--no-progress``, a log file, a sweep worker), a one-line
heartbeat at least every :data:`HEARTBEAT_SECONDS`. Without a sink nothing is shown, so library
use stays quiet. Reporting costs a counter increment.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

#: The longest a command stays silent during a phase when it cannot show a bar.
HEARTBEAT_SECONDS = 30.0


@dataclass
class Phase:
    """One piece of long work in progress.

    Attributes:
        label: what it is, e.g. ``"evaluating MR → CT"``, ``"sampling (DDIM, 20 steps)"``.
        total: how many units it takes, if known.
        unit: what a unit is, e.g. ``"batches"``, ``"steps"``, ``"patients"``.
        done: units done so far.
        detail: a short, changing note (current losses, the step of a sampler).
        started: ``time.monotonic()`` when it began.
    """

    label: str
    total: int | None = None
    unit: str = ""
    done: int = 0
    detail: str = ""
    started: float = field(default_factory=time.monotonic)

    def advance(self, units: int = 1, detail: str | None = None) -> None:
        """Count ``units`` more done (and replace the detail if given)."""
        self.done += units
        if detail is not None:
            self.detail = detail
        _current().update(self)

    def describe(self) -> str:
        """One line: label, units done (of the total, as a share), the detail, time so far."""
        count = f"{self.done}/{self.total}" if self.total else str(self.done)
        share = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        unit = f" {self.unit}" if self.unit else ""
        detail = f", {self.detail}" if self.detail else ""
        return (
            f"{self.label}: {count}{unit}{share}{detail}, {time.monotonic() - self.started:.0f} s"
        )


class Sink(Protocol):
    """Where phases are shown."""

    def begin(self, phase: Phase) -> None: ...

    def update(self, phase: Phase) -> None: ...

    def end(self, phase: Phase) -> None: ...


class _Quiet:
    """The sink when nobody shows progress."""

    def begin(self, phase: Phase) -> None:
        pass

    def update(self, phase: Phase) -> None:
        pass

    def end(self, phase: Phase) -> None:
        pass


_local = threading.local()


def _current() -> Sink:
    sink: Sink = getattr(_local, "sink", None) or QUIET
    return sink


#: A sink that shows nothing (the processes of a multi-device run other than process 0).
QUIET: Sink = _Quiet()


@contextmanager
def phase(label: str, total: int | None = None, unit: str = "") -> Iterator[Phase]:
    """Report a piece of long work for as long as the block runs.

    Example::

        with progress.phase("extracting features", total=len(loader), unit="batches") as p:
            for batch in loader:
                ...
                p.advance()
    """
    sink = _current()
    current = Phase(label, total, unit)
    sink.begin(current)
    try:
        yield current
    finally:
        sink.end(current)


def installed() -> bool:
    """Whether a sink shows this thread's phases (a caller's own display takes precedence)."""
    return getattr(_local, "sink", None) is not None


@contextmanager
def showing(sink: Sink) -> Iterator[Sink]:
    """Show the phases reported in this thread with ``sink`` while the block runs."""
    previous = getattr(_local, "sink", None)
    _local.sink = sink
    try:
        yield sink
    finally:
        _local.sink = previous


__all__ = ["HEARTBEAT_SECONDS", "Phase", "Sink", "installed", "phase", "showing"]
