"""How a run shows its progress (:mod:`medganbench.progress`): a bar per phase on a terminal,
a heartbeat line at least every 30 seconds otherwise (``--no-progress``, a log, a sweep
worker)."""

from __future__ import annotations

import threading
import time
from types import TracebackType

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from medganbench.progress import HEARTBEAT_SECONDS, Phase


class BarSink:
    """A rich progress bar per phase; a finished phase's bar goes, its last line stays."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[count]}"),
            TextColumn("[cyan]{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._tasks: dict[int, TaskID] = {}

    def __enter__(self) -> BarSink:
        self._progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.stop()

    def begin(self, phase: Phase) -> None:
        self._tasks[id(phase)] = self._progress.add_task(
            escape(phase.label), total=phase.total, count="", detail=""
        )
        self.update(phase)

    def update(self, phase: Phase) -> None:
        task = self._tasks.get(id(phase))
        if task is not None:
            of = f"/{phase.total}" if phase.total else ""
            count = f"{phase.done}{of} {phase.unit}".rstrip()
            self._progress.update(
                task, completed=phase.done, count=count, detail=escape(phase.detail)
            )

    def end(self, phase: Phase) -> None:
        task = self._tasks.pop(id(phase), None)
        if task is not None:
            self._progress.remove_task(task)
            self._progress.console.print(_done(phase), markup=False, highlight=False)


class HeartbeatSink:
    """A plain line when a phase starts and ends, and one at least every ``interval`` seconds
    while it runs: a thread keeps the beat, so one slow unit (a sampler step, a big volume)
    cannot silence it."""

    def __init__(self, console: Console, interval: float = HEARTBEAT_SECONDS) -> None:
        self.console, self.interval = console, interval
        self._phases: list[Phase] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="progress-heartbeat", daemon=True)
        self._last = time.monotonic()

    def __enter__(self) -> HeartbeatSink:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval)

    def _say(self, text: str) -> None:
        self.console.print(text, markup=False, highlight=False)
        self._last = time.monotonic()

    def _beat(self) -> None:
        while not self._stop.wait(min(self.interval, 1.0)):
            with self._lock:
                if self._phases and time.monotonic() - self._last >= self.interval:
                    self._say(self._phases[-1].describe())

    def begin(self, phase: Phase) -> None:
        with self._lock:
            self._phases.append(phase)
            self._say(f"{phase.label}: started")

    def update(self, phase: Phase) -> None:
        pass  # the beat reports: a line per unit would flood a log

    def end(self, phase: Phase) -> None:
        with self._lock:
            if phase in self._phases:
                self._phases.remove(phase)
            self._say(_done(phase))


def _done(phase: Phase) -> str:
    return phase.describe().replace(": ", ": done, ", 1)


def sink_for(console: Console, bar: bool) -> BarSink | HeartbeatSink:
    """A bar when ``bar`` and the console is a terminal, else the heartbeat."""
    return BarSink(console) if bar and console.is_terminal else HeartbeatSink(console)


__all__ = ["BarSink", "HeartbeatSink", "sink_for"]
