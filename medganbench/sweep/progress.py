"""The sweep's display: one live table of every trial, and the summary at the end.

On a terminal the table redraws in place (rich ``Live``); in a log or a pipe every change of a
trial's status is one line instead, so CI logs stay readable. The sweep passes on only events of
trials still running (:mod:`~medganbench.sweep.runner`), so a finished trial stays finished.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from medganbench.sweep.executor import Trial, TrialEvent, TrialOutcome
from medganbench.sweep.runner import SweepObserver, SweepReport
from medganbench.sweep.spec import SweepSpec

_STYLE = {"ok": "green", "failed": "bold red", "skipped": "dim", "running": "cyan", "pending": ""}
_ORDER = ("ok", "running", "failed", "skipped", "pending")


@dataclass
class _TrialState:
    status: str
    steps: int = 0
    fraction: float = 0.0
    host: str = ""
    note: str = ""


class SweepDisplay(SweepObserver):
    """Shows a sweep's trials as they start, progress and end.

    Args:
        console: where to draw.
        live: redraw a table in place (a terminal); otherwise print one line per change.

    Use as a context manager around :func:`~medganbench.sweep.runner.run_sweep`.
    """

    def __init__(self, console: Console, *, live: bool) -> None:
        self.console = console
        self.live = live
        self.sweep_name = ""
        self.trials: list[Trial] = []
        self._by_id: dict[str, Trial] = {}
        self.states: dict[str, _TrialState] = {}
        self._live: Live | None = None

    def __enter__(self) -> SweepDisplay:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def begin(self, sweep: SweepSpec, trials: list[Trial], status: Mapping[str, str]) -> None:
        self.sweep_name = sweep.name
        self.trials = trials
        self._by_id = {t.run_id: t for t in trials}
        self.states = {t.run_id: _TrialState(status[t.run_id]) for t in trials}
        for trial in trials:
            if status[trial.run_id] == "skipped":
                self.states[trial.run_id].note = "already on the leaderboard"
        if self.live:
            self._live = Live(
                self.render(),
                console=self.console,
                refresh_per_second=4,
                vertical_overflow="visible",
                # Others' prints must not go through the table's console: while a sweep runs
                # they belong in its log (see medganbench.sweep.capture).
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._live.start()
        else:
            self.console.print(self._headline(), markup=False, highlight=False, soft_wrap=True)

    def event(self, event: TrialEvent) -> None:
        state = self.states[event.run_id]
        first = state.status != "running"
        state.status, state.steps, state.fraction, state.host = (
            "running",
            event.steps,
            event.fraction,
            event.host,
        )
        if self._live is not None:
            self._live.update(self.render())
        elif first:
            self.console.print(
                f"started   {self._label(event.run_id)} on {event.host}",
                markup=False,  # labels, hosts and errors are data, not markup
                highlight=False,
                soft_wrap=True,  # one line per event, however long: logs are read by lines
            )

    def finished(self, outcome: TrialOutcome) -> None:
        state = self.states[outcome.run_id]
        state.status = outcome.status
        state.fraction = 1.0 if outcome.status == "ok" else state.fraction
        state.note = (
            f"{outcome.seconds:.1f} s"
            + (
                f", resumed at step {outcome.resumed_from_step}"
                if outcome.resumed_from_step
                else ""
            )
            if outcome.status == "ok"
            else _one_line(outcome.error)
        )
        if self._live is not None:
            self._live.update(self.render())
        else:
            self.console.print(
                f"{outcome.status:<9} {self._label(outcome.run_id)}: {state.note}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )

    def _label(self, run_id: str) -> str:
        trial = self._by_id[run_id]  # not a scan: a line per event of 10,000 trials
        return f"[{trial.index + 1}/{len(self.trials)}] {trial.label} ({run_id[:8]})"

    def _headline(self) -> str:
        counts = {s: 0 for s in _ORDER}
        for state in self.states.values():
            counts[state.status] = counts.get(state.status, 0) + 1
        done = counts["ok"]
        parts = [f"{done} done", *(f"{counts[s]} {s}" for s in _ORDER[1:])]
        return f"sweep {self.sweep_name}: {len(self.trials)} trials · " + " · ".join(parts)

    def render(self) -> Group:
        """The headline and one row per trial."""
        table = Table(show_edge=False, pad_edge=False)
        for column, justify in (
            ("#", "right"),
            ("trial", "left"),
            ("run id", "left"),
            ("status", "left"),
            ("progress", "right"),
            ("note", "left"),
        ):
            table.add_column(column, justify=justify)  # type: ignore[arg-type]
        for trial in self.trials:
            state = self.states[trial.run_id]
            progress = (
                f"{100 * state.fraction:.0f}% · step {state.steps}"
                if state.status == "running"
                else ""
            )
            table.add_row(
                str(trial.index + 1),
                Text(trial.label),  # labels, notes (errors) and hosts are data, not markup
                trial.run_id[:8],
                Text(state.status, style=_STYLE.get(state.status, "")),
                progress,
                Text(state.note if state.status != "running" else state.host),
            )
        return Group(Text(self._headline(), style="bold"), table)


def summary_table(report: SweepReport) -> Table:
    """The end-of-sweep summary: counts in the title, every trial's final status and note."""
    counts = " · ".join(f"{report.count(s)} {s}" for s in ("ok", "failed", "skipped", "pending"))
    table = Table(title=f"sweep finished in {report.seconds:.1f} s — {counts}")
    for column in ("#", "trial", "run id", "status", "time / error"):
        table.add_column(column)
    for trial in report.trials:
        status = report.status[trial.run_id]
        outcome = report.outcomes.get(trial.run_id)
        if outcome is None:
            note = "already on the leaderboard" if status == "skipped" else ""
        elif outcome.status == "ok":
            note = f"{outcome.seconds:.1f} s on {outcome.host}"
        else:
            note = _one_line(outcome.error)
        table.add_row(
            str(trial.index + 1),
            Text(trial.label),  # labels and errors are data, not markup
            trial.run_id[:8],
            Text(status, style=_STYLE.get(status, "")),
            Text(note),
        )
    return table


#: Longest error shown in a table cell; the sweep record keeps the whole message.
_NOTE_CHARS = 160


def _one_line(error: str | None) -> str:
    """An error message on one line, cut to :data:`_NOTE_CHARS`, for a table cell."""
    text = " ".join((error or "").split())
    return text if len(text) <= _NOTE_CHARS else text[: _NOTE_CHARS - 1] + "…"
