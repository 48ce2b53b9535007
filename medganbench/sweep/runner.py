"""Running a sweep: skip what is recorded, execute the rest, record every outcome.

The driver is idempotent. A trial whose run id already has rows on its dataset's leaderboard is
skipped; every other trial is handed to the executor and, through :func:`run_trial`, resumes
from its checkpoint if an earlier attempt left one. So re-running a sweep after a crash, a kill
or a failed trial finishes only what is missing, and a trial's rows land exactly once.

Nothing is written before the executor has reached its workers (:meth:`Executor.open`), so a
sweep that cannot connect leaves no record and no trial marked pending. Then outcomes are
recorded as they arrive: rows are appended to the leaderboard (the driver is its only writer),
the small run files a remote worker sent back are written into the local run directory, and the
sweep record ``<runs dir>/sweeps/<name>.json`` is rewritten atomically with each trial's status
(ok, failed with its error, skipped). A trial's outcome is final: a late progress event or a
second outcome for it changes nothing. What the libraries print on their own goes to
``<runs dir>/sweeps/<name>.log`` when the caller captures it (:mod:`~medganbench.sweep.capture`).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from medganbench.core.manager import Registries
from medganbench.core.names import is_file_stem, leads_outside
from medganbench.core.params import ArgValue
from medganbench.errors import LeaderboardError, StorageError
from medganbench.fileio import atomic_write, describe_os_error, write_bytes
from medganbench.leaderboard.store import (
    AlreadyRecordedError,
    append_rows,
    leaderboard_path,
    recorded_run_ids,
)
from medganbench.run.checkpoint import prune_checkpoint
from medganbench.run.options import RunOptions
from medganbench.sweep.capture import CapturedOutput
from medganbench.sweep.executor import Executor, Trial, TrialEvent, TrialOutcome, TrialRequest
from medganbench.sweep.spec import SweepSpec, expand_trials


@dataclass
class SweepReport:
    """What a sweep did: each trial's final status, in sweep order.

    Attributes:
        trials: the sweep's trials.
        status: run id → ``"ok"``, ``"failed"``, ``"skipped"`` or ``"pending"`` (not reached,
            e.g. after an interrupt).
        outcomes: run id → the outcome of trials that ran.
        seconds: wall time of the sweep.
    """

    trials: list[Trial]
    status: dict[str, str]
    outcomes: dict[str, TrialOutcome] = field(default_factory=dict)
    seconds: float = 0.0

    def count(self, status: str) -> int:
        """How many trials ended with ``status``."""
        return sum(1 for s in self.status.values() if s == status)


class SweepObserver:
    """Receives the sweep's progress (the CLI's display implements it); default: nothing."""

    def begin(self, sweep: SweepSpec, trials: list[Trial], status: Mapping[str, str]) -> None:
        """Called once, after skipped trials are known."""

    def event(self, event: TrialEvent) -> None:
        """A trial started or made progress."""

    def finished(self, outcome: TrialOutcome) -> None:
        """A trial ended (ok or failed)."""


def make_executor(registries: Registries, name: str, raw_args: Mapping[str, ArgValue]) -> Executor:
    """Build the executor registered as ``name``.

    Raises:
        UnknownNameError: no such executor (close names are suggested) or argument.
        UsageError: a bad argument value.
        PluginError: the factory did not build an :class:`Executor`.
    """
    executor: Executor = registries.executors.get(name).build(raw_args)
    return executor


def run_sweep(
    sweep: SweepSpec,
    registries: Registries,
    executor: Executor,
    options: RunOptions = RunOptions(),
    observer: SweepObserver | None = None,
    captured: CapturedOutput | None = None,
) -> SweepReport:
    """Run the trials of ``sweep`` that are not on the leaderboard yet.

    Args:
        sweep: the parsed sweep file.
        registries: component registries of the driver (names are checked here first).
        executor: where the trials run; opened before anything is written, closed at the end.
        options: directories and run options, handed to every trial.
        observer: receives progress.
        captured: the process's captured output, kept from then on in the sweep's log
            (:func:`sweep_log_path`) once the executor is open.

    Returns:
        The report; failed trials are in it, never raised.

    Raises:
        UsageError, UnknownNameError: a bad name or argument in the sweep, or an executor that
            cannot reach its workers, before anything is written.
        StorageError: ``runs_dir/sweeps`` leads outside ``runs_dir`` (a planted link).
        KeyboardInterrupt: after recording every outcome that arrived.
    """
    observer = observer or SweepObserver()
    started = time.perf_counter()
    # Relative directories are the driver's; workers run elsewhere (another working directory,
    # another machine mounting the same storage), so they get absolute ones.
    options = options.absolute()
    trials = expand_trials(sweep, registries)
    recorded = recorded_runs(options.leaderboard_dir, {t.spec.dataset for t in trials})
    report = SweepReport(
        trials, {t.run_id: "skipped" if t.run_id in recorded else "pending" for t in trials}
    )
    requests = [TrialRequest(t, options) for t in trials if report.status[t.run_id] == "pending"]
    if leads_outside(options.runs_dir, options.runs_dir / "sweeps"):
        raise StorageError(
            f"{options.runs_dir / 'sweeps'} leads outside --runs-dir {options.runs_dir} (a link "
            "medganbench did not make); the sweep's record and log are not written through it.",
            hint=f"Remove {options.runs_dir / 'sweeps'}, or choose another --runs-dir.",
        )
    record = _SweepRecord(sweep_record_path(options.runs_dir, sweep.name), sweep, trials)
    if not requests:
        record.write(report)
        observer.begin(sweep, trials, dict(report.status))
        return report
    executor.open()
    try:
        if captured is not None:
            now = datetime.now(timezone.utc).isoformat(timespec="seconds")
            heading = f"--- sweep {sweep.name}, {len(requests)} trial(s) to run, {now} ---"
            captured.keep_at(sweep_log_path(options.runs_dir, sweep.name), heading)
        record.write(report)
        observer.begin(sweep, trials, dict(report.status))
        bookkeeping = _Bookkeeping(report, record, observer, options)
        try:
            executor.execute(requests, bookkeeping.on_event, bookkeeping.on_outcome)
        finally:
            report.seconds = time.perf_counter() - started
            record.write(report)
    finally:
        executor.close()
    return report


def _record(outcome: TrialOutcome, board: Path) -> TrialOutcome:
    """Append a finished trial's rows; a trial whose rows cannot land is not lost silently.

    Recorded meanwhile by another process (another sweep ran the same trial): skipped. The
    leaderboard cannot be written: the trial failed, and its result stays in its run folder.
    """
    try:
        append_rows(board, outcome.rows, unless_recorded=True)
    except AlreadyRecordedError:
        return dataclasses.replace(
            outcome, status="skipped", error="recorded meanwhile by another process"
        )
    except (OSError, LeaderboardError) as exc:
        reason = describe_os_error(exc)[0] if isinstance(exc, OSError) else exc.message
        return dataclasses.replace(
            outcome,
            status="failed",
            error=f"its rows could not be appended to {board} ({reason}); the result is kept in "
            f"its run folder, and running the sweep again records it",
        )
    return outcome


def sweep_record_path(runs_dir: Path, name: str) -> Path:
    """The record of sweep ``name``: every trial's status, error, time and host."""
    return runs_dir / "sweeps" / f"{name}.json"


def sweep_log_path(runs_dir: Path, name: str) -> Path:
    """The log of sweep ``name``: what the libraries printed on their own (appended per run)."""
    return runs_dir / "sweeps" / f"{name}.log"


class _Bookkeeping:
    """The driver's view of each trial: records outcomes once, ignores what comes after."""

    def __init__(
        self,
        report: SweepReport,
        record: _SweepRecord,
        observer: SweepObserver,
        options: RunOptions,
    ) -> None:
        self.report = report
        self.record = record
        self.observer = observer
        self.options = options
        self.by_id = {t.run_id: t for t in report.trials}
        #: run id → (host, driver clock) of the first event heard from the trial.
        self.seen: dict[str, tuple[str, float]] = {}

    def on_event(self, event: TrialEvent) -> None:
        # An event can arrive after its trial's outcome (sent just before the trial ended, or
        # from a worker the executor already gave up on); the outcome is final.
        if self.report.status.get(event.run_id) != "pending":
            return
        self.seen.setdefault(event.run_id, (event.host, time.perf_counter()))
        self.observer.event(event)

    def on_outcome(self, outcome: TrialOutcome) -> None:
        if self.report.status.get(outcome.run_id) != "pending":
            return  # an executor's second outcome for a trial: the first stands, rows land once
        outcome = self._with_origin(outcome)
        trial = self.by_id[outcome.run_id]
        if outcome.status == "ok":
            _keep_files(self.options.runs_dir, outcome.run_id, outcome.files)
            board = leaderboard_path(self.options.leaderboard_dir, trial.spec.dataset)
            outcome = _record(outcome, board)
            if outcome.status == "ok" and not self.options.keep_checkpoint:
                prune_checkpoint(Path(self.options.runs_dir) / outcome.run_id)
        self.report.status[outcome.run_id] = outcome.status
        self.report.outcomes[outcome.run_id] = outcome
        self.record.write(self.report)
        self.observer.finished(outcome)

    def _with_origin(self, outcome: TrialOutcome) -> TrialOutcome:
        """A lost trial's outcome comes from the executor, which may not know where it ran;
        the trial's first event said so, and the driver timed it since."""
        if outcome.host or outcome.run_id not in self.seen:
            return outcome
        host, since = self.seen[outcome.run_id]
        return dataclasses.replace(
            outcome, host=host, seconds=outcome.seconds or time.perf_counter() - since
        )


def recorded_runs(leaderboard_dir: Path, datasets: set[str]) -> set[str]:
    """Run ids recorded on the leaderboards of ``datasets`` (see
    :func:`~medganbench.leaderboard.store.recorded_run_ids`, the one rule)."""
    ids: set[str] = set()
    for dataset in datasets:
        ids |= recorded_run_ids(leaderboard_path(leaderboard_dir, dataset))
    return ids


def _keep_files(runs_dir: Path, run_id: str, files: Mapping[str, bytes]) -> None:
    """Write files a worker sent back into ``runs_dir/run_id``, unless the worker already wrote
    them there.

    Only plain file names are written (a worker on another machine is not trusted to name
    paths): anything else is skipped; so is everything when the run folder leads outside
    ``runs_dir`` (a planted link; the trial refused it too, where it ran here).
    """
    run_dir = runs_dir / run_id
    if leads_outside(runs_dir, run_dir):
        return
    for name, payload in files.items():
        if not is_file_stem(name):
            continue
        target = run_dir / name
        if not target.exists() or target.read_bytes() != payload:
            write_bytes(target, payload)


class _SweepRecord:
    """The sweep's record file: each trial's spec summary, status, error and timing."""

    def __init__(self, path: Path, sweep: SweepSpec, trials: list[Trial]) -> None:
        self.path = path
        self.sweep = sweep
        self.trials = trials

    def write(self, report: SweepReport) -> None:
        entries: list[dict[str, Any]] = []
        for trial in self.trials:
            outcome = report.outcomes.get(trial.run_id)
            entries.append(
                {
                    "run_id": trial.run_id,
                    "label": trial.label,
                    "model": trial.spec.model,
                    "dataset": trial.spec.dataset,
                    "seed": trial.spec.seed,
                    "status": report.status[trial.run_id],
                    "error": outcome.error if outcome else None,
                    "seconds": outcome.seconds if outcome else None,
                    "host": outcome.host if outcome else None,
                    "resumed_from_step": outcome.resumed_from_step if outcome else None,
                }
            )
        payload = {
            "sweep": self.sweep.name,
            "description": self.sweep.description,
            "budget": str(self.sweep.budget),
            "image_size": self.sweep.image_size,
            "metrics": list(self.sweep.metrics),
            "updated_at": datetime.now(timezone.utc).isoformat(),
            "seconds": report.seconds,
            "counts": {s: report.count(s) for s in ("ok", "failed", "skipped", "pending")},
            "trials": entries,
        }
        text = json.dumps(payload, indent=2).encode()
        atomic_write(self.path, lambda sink: sink.write(text))


__all__ = [
    "SweepObserver",
    "SweepReport",
    "make_executor",
    "recorded_runs",
    "run_sweep",
    "sweep_log_path",
    "sweep_record_path",
]
