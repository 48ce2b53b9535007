"""The sweep executor contract and the one function every executor runs per trial.

A sweep is a list of :class:`Trial` s. An :class:`Executor` plugin decides where they run (in
this process, in worker processes, on a Ray cluster) and how many at once; what a trial computes
is always :func:`run_trial`, which resumes from the trial's checkpoint if one exists, runs it
with :func:`medganbench.runner.execute_run` *without* touching the leaderboard, and returns a
picklable :class:`TrialOutcome` holding the rows. The sweep (the driver) is the leaderboard's
only writer: rows reach it however far away the trial ran, and a crashed worker cannot leave
a half-written file behind.
"""

from __future__ import annotations

import platform
import time
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medganbench.errors import MedganbenchError
from medganbench.runspec import RunSpec

#: Run-directory files small enough to send back to the driver with the outcome, so a sweep on
#: a cluster without shared storage still has every run's spec, result and sample grids.
RETURNED_FILES = ("spec.json", "result.json")
RETURNED_GLOBS = ("samples*.png",)
#: Seconds between two progress reports of one trial (the first and last are always sent).
PROGRESS_INTERVAL_S = 1.0


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
        runs_dir: parent of run directories on the worker (checkpoints live there, so a trial
            rerun on the same storage resumes).
        device: ``None`` lets the worker pick (CUDA when present).
        data_dir: where the dataset files are on the worker, if not in its cache.
        deterministic: deterministic algorithms only (see :class:`~medganbench.runner.RunOptions`).
        checkpoint_every: steps between checkpoints; ``None`` = the runner's default.
    """

    trial: Trial
    runs_dir: Path
    device: str | None = None
    data_dir: Path | None = None
    deterministic: bool = False
    checkpoint_every: int | None = None


@dataclass(frozen=True)
class TrialEvent:
    """Progress of a running trial, sent from wherever it runs to the driver.

    Attributes:
        run_id: the trial's run id.
        kind: ``"started"`` or ``"progress"``.
        steps: training steps done.
        fraction: fraction of the budget used, in [0, 1].
        host: the machine the trial runs on.
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
    rows: list[dict[str, Any]] = field(default_factory=list, repr=False)
    files: dict[str, bytes] = field(default_factory=dict, repr=False)
    seconds: float = 0.0
    host: str = ""
    resumed_from_step: int | None = None


class Executor(ABC):
    """Runs a sweep's trial requests and hands back each outcome as it finishes.

    Args:
        args: the executor's resolved arguments.
    """

    def __init__(self, args: Mapping[str, Any]) -> None:
        self.args = dict(args)

    @abstractmethod
    def execute(
        self,
        requests: Sequence[TrialRequest],
        on_event: Callable[[TrialEvent], None],
        on_outcome: Callable[[TrialOutcome], None],
    ) -> None:
        """Run every request, each through :func:`run_trial`.

        ``on_event`` and ``on_outcome`` must be called in the calling (driver) thread, and
        ``on_outcome`` exactly once per request, as soon as that trial ends, so the sweep can
        record it before the others finish. A trial that fails (its outcome has status
        ``"failed"``, or its worker dies) must not stop the others.

        Raises:
            UsageError: the executor cannot start here (e.g. Ray is not installed).
            KeyboardInterrupt: passed through after stopping the trials still running.
        """


def run_trial(request: TrialRequest, report: Callable[[TrialEvent], None]) -> TrialOutcome:
    """Run one trial to its outcome; never raises for a failed run.

    Builds a fresh plugin manager (the worker may be another process or machine), continues
    from the trial's checkpoint if its run directory has one, and returns the rows instead of
    appending them. User-fixable errors (bad data, a diverged loss) become one-line failures;
    an unexpected exception becomes a failure carrying its traceback's last frames, since it is
    a bug worth reporting but must not take the rest of the sweep down.

    Args:
        request: the trial and where to run it.
        report: receives ``"started"`` and throttled ``"progress"`` events.

    Raises:
        KeyboardInterrupt: passed through.
    """
    from medganbench.plugins import build_registries, make_plugin_manager
    from medganbench.runner import RunOptions, execute_run

    host = platform.node()
    trial = request.trial
    start = time.perf_counter()
    report(TrialEvent(trial.run_id, "started", host=host))
    last = [0.0]

    def on_step(ledger: Any) -> None:
        now = time.perf_counter()
        if now - last[0] >= PROGRESS_INTERVAL_S:
            last[0] = now
            fraction = ledger.fraction(trial.spec.budget)
            report(TrialEvent(trial.run_id, "progress", ledger.steps, fraction, host))

    options = RunOptions(
        runs_dir=request.runs_dir,
        device=request.device,
        data_dir=request.data_dir,
        deterministic=request.deterministic,
        checkpoint_every=request.checkpoint_every,
        progress=False,
        resume=True,
        record=False,
    )
    try:
        registries = build_registries(make_plugin_manager())
        result = execute_run(trial.spec, registries, options, on_step=on_step)
    except MedganbenchError as exc:
        message = exc.message + (f" {exc.hint}" if exc.hint else "")
        return TrialOutcome(trial.run_id, "failed", message, seconds=time.perf_counter() - start, host=host)
    except Exception as exc:  # noqa: BLE001 - a bug in one trial must not stop the sweep
        frames = "".join(traceback.format_exception(exc)[-3:]).strip()
        return TrialOutcome(
            trial.run_id,
            "failed",
            f"unexpected {type(exc).__name__} (a bug; please report it): {exc}\n{frames}",
            seconds=time.perf_counter() - start,
            host=host,
        )
    report(TrialEvent(trial.run_id, "progress", result.ledger.steps, 1.0, host))
    files = {
        name: (result.run_dir / name).read_bytes()
        for name in RETURNED_FILES
        if (result.run_dir / name).exists()
    }
    for pattern in RETURNED_GLOBS:
        files.update({path.name: path.read_bytes() for path in sorted(result.run_dir.glob(pattern))})
    resumed = _resumed_from(files.get("result.json"))
    return TrialOutcome(
        trial.run_id,
        "ok",
        rows=result.rows,
        files=files,
        seconds=time.perf_counter() - start,
        host=host,
        resumed_from_step=resumed,
    )


def _resumed_from(result_json: bytes | None) -> int | None:
    import json

    if result_json is None:
        return None
    value = json.loads(result_json).get("resumed_from_step")
    return None if value is None else int(value)

