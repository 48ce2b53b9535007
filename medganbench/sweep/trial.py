"""The one function every executor runs per trial, wherever it runs.

:func:`run_trial` builds a fresh plugin manager (the worker may be another process or machine),
resumes from the trial's checkpoint if one exists (through :mod:`medganbench.run.resume`, as
``medganbench run --resume`` does), runs the trial *without* touching the leaderboard and returns
the rows and the run's small files in a :class:`~medganbench.sweep.executor.TrialOutcome`.
"""

from __future__ import annotations

import platform
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from medganbench.core.manager import build_registries, make_plugin_manager
from medganbench.errors import MedganbenchError
from medganbench.run.budget import Ledger
from medganbench.run.distributed import launched_world
from medganbench.run.generator_files import GENERATOR_CONFIG, GENERATOR_WEIGHTS
from medganbench.run.runner import execute_run
from medganbench.sweep.device_trial import run_trial_on_devices
from medganbench.sweep.executor import TrialEvent, TrialOutcome, TrialRequest

#: Run-directory files sent back to the driver with the outcome, so a sweep on a cluster without
#: shared storage still has every run's spec, result, sample grids and trained generator (the
#: generator's weights are the one large file: megabytes to a few hundred; the driver checks
#: them like any generator from elsewhere when they are loaded).
RETURNED_FILES = ("spec.json", "result.json", GENERATOR_CONFIG, GENERATOR_WEIGHTS)
RETURNED_GLOBS = ("samples*.png", "nearest*.png")
#: Seconds between two progress reports of one trial (the first and last are always sent).
PROGRESS_INTERVAL_S = 1.0


def returned_files(run_dir: Path) -> dict[str, bytes]:
    """The run folder's files sent back with an outcome (:data:`RETURNED_FILES`, the grids)."""
    files = {
        name: (run_dir / name).read_bytes() for name in RETURNED_FILES if (run_dir / name).exists()
    }
    for pattern in RETURNED_GLOBS:
        files.update({path.name: path.read_bytes() for path in sorted(run_dir.glob(pattern))})
    return files


def run_trial(
    request: TrialRequest, report: Callable[[TrialEvent], None], host: str | None = None
) -> TrialOutcome:
    """Run one trial to its outcome; never raises for a failed run.

    Builds a fresh plugin manager (the worker may be another process or machine), continues
    from the trial's checkpoint if its run directory has one, and returns the rows instead of
    appending them. User-fixable errors (bad data, a diverged loss) become one-line failures;
    an unexpected exception becomes a failure carrying its traceback's last frames, since it is
    a bug worth reporting but must not take the rest of the sweep down.

    Args:
        request: the trial and where to run it.
        report: receives ``"started"`` and throttled ``"progress"`` events.
        host: where the trial runs, as events and the outcome name it; default: this machine's
            name. Executors that run several workers on one machine add which one.

    Raises:
        KeyboardInterrupt: passed through.
    """
    if request.trial.spec.devices > 1 and not launched_world().distributed:
        return run_trial_on_devices(request, report, host, returned_files)
    host = host or platform.node()
    trial = request.trial
    start = time.perf_counter()
    report(TrialEvent(trial.run_id, "started", host=host))
    last = [0.0]

    def on_step(ledger: Ledger) -> None:
        now = time.perf_counter()
        if now - last[0] >= PROGRESS_INTERVAL_S:
            last[0] = now
            fraction = ledger.fraction(trial.spec.budget)
            report(TrialEvent(trial.run_id, "progress", ledger.steps, fraction, host))

    options = request.options.for_trial()
    try:
        registries = build_registries(make_plugin_manager())
        result = execute_run(trial.spec, registries, options, on_step=on_step)
    except MedganbenchError as exc:
        message = exc.message + (f" {exc.hint}" if exc.hint else "")
        return TrialOutcome(
            trial.run_id, "failed", message, seconds=time.perf_counter() - start, host=host
        )
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
    return TrialOutcome(
        trial.run_id,
        "ok",
        rows=result.rows,
        files=returned_files(result.run_dir) if result.rows else {},
        seconds=time.perf_counter() - start,
        host=host,
        resumed_from_step=result.resumed_from_step,
    )
