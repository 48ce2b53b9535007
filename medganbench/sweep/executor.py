"""The sweep executor contract and the messages that travel between a sweep and its trials.

A sweep is a list of :class:`Trial` s. An :class:`Executor` plugin decides where they run (in
this process, in worker processes, on a Ray cluster) and how many at once; what a trial computes
is always :func:`medganbench.sweep.trial.run_trial`, which returns a picklable
:class:`TrialOutcome` holding the rows. The sweep (the driver) is the leaderboard's only writer:
rows reach it however far away the trial ran, and a crashed worker cannot leave a half-written
file behind.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from medganbench.leaderboard.schema import LeaderboardRow
from medganbench.run.options import RunOptions
from medganbench.run.spec import RunSpec


@dataclass(frozen=True)
class Trial:
    """One run of a sweep.

    Attributes:
        index: position in the sweep (display order).
        label: a human name, e.g. ``"hlsnc loss=lsgan"``.
        spec: what to run.
        run_id: the spec's run id (resolved with the driver's plugins).
    """

    index: int
    label: str
    spec: RunSpec
    run_id: str


@dataclass(frozen=True)
class TrialRequest:
    """What a worker needs to run a trial: picklable, independent of the driver's process.

    Attributes:
        trial: the trial.
        options: the sweep's run options (directories, device, determinism, checkpoints); the
            worker runs with :meth:`~medganbench.run.options.RunOptions.for_trial` of them.
            ``runs_dir`` is where checkpoints live, so a trial re-run on the same storage
            resumes.
    """

    trial: Trial
    options: RunOptions


@dataclass(frozen=True)
class TrialEvent:
    """Progress of a running trial, sent from wherever it runs to the driver.

    Attributes:
        run_id: the trial's run id.
        kind: ``"started"`` or ``"progress"``.
        steps: training steps done.
        fraction: fraction of the budget used, in [0, 1].
        host: where the trial runs: the machine's name, and the executor's name for the worker
            where one machine holds several (e.g. ``"gpu1 (Ray node 3c20944e)"``).
    """

    run_id: str
    kind: str
    steps: int = 0
    fraction: float = 0.0
    host: str = ""


@dataclass(frozen=True)
class TrialOutcome:
    """How a trial ended.

    Attributes:
        run_id: the trial's run id.
        status: ``"ok"`` or ``"failed"``.
        error: for a failure, one line saying what went wrong.
        rows: the leaderboard rows to append (empty for a failure).
        files: small run-directory files by name (see :data:`RETURNED_FILES`).
        seconds: wall time of the trial.
        host: the machine it ran on.
        resumed_from_step: the checkpoint step it continued from, if any.
    """

    run_id: str
    status: str
    error: str | None = None
    rows: list[LeaderboardRow] = field(default_factory=list, repr=False)
    files: dict[str, bytes] = field(default_factory=dict, repr=False)
    seconds: float = 0.0
    host: str = ""
    resumed_from_step: int | None = None


class Executor(ABC):
    """Runs a sweep's trial requests and hands back each outcome as it finishes.

    The sweep calls :meth:`open`, then :meth:`execute` once, then :meth:`close` (always, even
    after an error). It writes nothing (no sweep record, no trial marked pending) before
    :meth:`open` has returned, so an executor that cannot reach its workers leaves no trace.

    Args:
        args: the executor's resolved arguments.
    """

    def __init__(self, args: Mapping[str, Any]) -> None:
        self.args = dict(args)

    def open(self) -> None:
        """Reach the workers (connect to a cluster, start a pool); the default does nothing.

        Must fail within seconds, with one message naming the likely cause, rather than
        retry for long: the user is waiting at a terminal.

        Raises:
            UsageError: the workers cannot be reached or started (a bad address, missing
                credentials, another version, the executor's library not installed).
        """

    def close(self) -> None:
        """Release what :meth:`open` acquired; the default does nothing. Never raises."""

    @abstractmethod
    def execute(
        self,
        requests: Sequence[TrialRequest],
        on_event: Callable[[TrialEvent], None],
        on_outcome: Callable[[TrialOutcome], None],
    ) -> None:
        """Run every request, each through :func:`medganbench.sweep.trial.run_trial`.

        ``on_event`` and ``on_outcome`` must be called in the calling (driver) thread, and
        ``on_outcome`` exactly once per request, as soon as that trial ends, so the sweep can
        record it before the others finish. A trial that fails (its outcome has status
        ``"failed"``, or its worker or machine is lost) must not stop the others: a lost trial
        is an outcome with status ``"failed"`` and a one-line reason; the sweep adds the host
        and time from the trial's ``"started"`` event. Events that arrive after a trial's
        outcome are ignored by the sweep. Infrastructure errors of the executor's own calls
        (a cluster that goes away) end as failed outcomes of the trials still running, never as
        an exception.

        Raises:
            UsageError: the executor cannot start here (e.g. Ray is not installed).
            KeyboardInterrupt: passed through after stopping the trials still running.
        """
