"""A whole run: prepare → train → evaluate → record.

Each phase is a function of its own (:mod:`~medganbench.run.prepare`,
:mod:`~medganbench.run.train`, :mod:`~medganbench.run.evaluate`,
:mod:`~medganbench.run.record`) that tests and tools may call alone; :func:`execute_run` is
only their composition.
"""

from __future__ import annotations

from collections.abc import Callable

from medganbench.core.manager import Registries
from medganbench.run.budget import Ledger
from medganbench.run.device import pick_device
from medganbench.run.evaluate import evaluate
from medganbench.run.options import RunOptions
from medganbench.run.prepare import StatusSink, prepare
from medganbench.run.record import RunResult, record
from medganbench.run.spec import RunSpec
from medganbench.run.threads import threads_for_run
from medganbench.run.train import train


def execute_run(
    spec: RunSpec,
    registries: Registries,
    options: RunOptions = RunOptions(),
    on_status: StatusSink = lambda message: None,
    on_step: Callable[[Ledger], None] | None = None,
) -> RunResult:
    """Train, evaluate and record one run.

    Args:
        spec: what to run.
        registries: the component registries (see :func:`medganbench.core.manager.build_registries`).
        options: where to write, which device and how many CPU threads to use (the threads are
            set for the run's duration, see :func:`~medganbench.run.threads.threads_for_run`).
        on_status: receives one-line status messages (the CLI prints them).
        on_step: called with the ledger after every training step (sweeps report progress
            with it).

    Returns:
        The run's id, directory, metric values, ledger and the leaderboard rows appended.

    Raises:
        UsageError: a bad spec, an incompatible combination, or a run already recorded.
        DataError: the dataset does not honour its contract.
        RunError: training diverged (a non-finite loss) or evaluation failed.
        KeyboardInterrupt: passed through; nothing has been appended to the leaderboard.
    """
    with threads_for_run(options.threads, pick_device(options.device)):
        prepared = prepare(spec, registries, options, on_status)
        trained = train(prepared, on_status, on_step)
        evaluation = evaluate(prepared, trained)
        return record(prepared, trained, evaluation)
