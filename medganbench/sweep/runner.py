"""Running a sweep: skip what is recorded, execute the rest, record every outcome.

The driver is idempotent. A trial whose run id already has rows on its dataset's leaderboard is
skipped; every other trial is handed to the executor and, through :func:`run_trial`, resumes
from its checkpoint if an earlier attempt left one. So re-running a sweep after a crash, a kill
or a failed trial finishes only what is missing, and a trial's rows land exactly once.

Outcomes are recorded as they arrive: rows are appended to the leaderboard (the driver is its
only writer), the small run files a remote worker sent back are written into the local run
directory, and the sweep record ``<runs dir>/sweeps/<name>.json`` is rewritten atomically with
each trial's status (ok, failed with its error, skipped).
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
from medganbench.core.names import is_file_stem
from medganbench.core.params import ArgValue
from medganbench.errors import LeaderboardError
from medganbench.fileio import atomic_write, describe_os_error, write_bytes
from medganbench.leaderboard.store import (
    AlreadyRecordedError,
    append_rows,
    leaderboard_path,
    recorded_run_ids,
)
from medganbench.run.options import RunOptions
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
) -> SweepReport:
    """Run the trials of ``sweep`` that are not on the leaderboard yet.

    Args:
        sweep: the parsed sweep file.
        registries: component registries of the driver (names are checked here first).
        executor: where the trials run.
        options: directories and run options, handed to every trial.
        observer: receives progress.

    Returns:
        The report; failed trials are in it, never raised.

    Raises:
        UsageError, UnknownNameError: a bad name or argument in the sweep, before anything runs.
        KeyboardInterrupt: after recording every outcome that arrived.
    """
    observer = observer or SweepObserver()
    started = time.perf_counter()
    trials = expand_trials(sweep, registries)
    recorded = recorded_runs(options.leaderboard_dir, {t.spec.dataset for t in trials})
    report = SweepReport(
        trials, {t.run_id: "skipped" if t.run_id in recorded else "pending" for t in trials}
    )
    record = _SweepRecord(options.runs_dir / "sweeps" / f"{sweep.name}.json", sweep, trials)
    record.write(report)
    observer.begin(sweep, trials, dict(report.status))
    by_id = {t.run_id: t for t in trials}

    def on_outcome(outcome: TrialOutcome) -> None:
        trial = by_id[outcome.run_id]
        if outcome.status == "ok":
            _keep_files(options.runs_dir / outcome.run_id, outcome.files)
            outcome = _record(
                outcome, leaderboard_path(options.leaderboard_dir, trial.spec.dataset)
            )
        report.status[outcome.run_id] = outcome.status
        report.outcomes[outcome.run_id] = outcome
        record.write(report)
        observer.finished(outcome)

    requests = [TrialRequest(t, options) for t in trials if report.status[t.run_id] == "pending"]
    try:
        if requests:
            executor.execute(requests, observer.event, on_outcome)
    finally:
        report.seconds = time.perf_counter() - started
        record.write(report)
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


def recorded_runs(leaderboard_dir: Path, datasets: set[str]) -> set[str]:
    """Run ids recorded on the leaderboards of ``datasets`` (see
    :func:`~medganbench.leaderboard.store.recorded_run_ids`, the one rule)."""
    ids: set[str] = set()
    for dataset in datasets:
        ids |= recorded_run_ids(leaderboard_path(leaderboard_dir, dataset))
    return ids


def _keep_files(run_dir: Path, files: Mapping[str, bytes]) -> None:
    """Write files a worker sent back, unless the worker already wrote them here.

    Only plain file names are written (a worker on another machine is not trusted to name
    paths): anything else is skipped.
    """
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
]
