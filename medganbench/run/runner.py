"""A whole run: prepare → train → evaluate → record.

Each phase is a function of its own (:mod:`~medganbench.run.prepare`,
:mod:`~medganbench.run.train`, :mod:`~medganbench.run.evaluate`,
:mod:`~medganbench.run.record`) that tests and tools may call alone; :func:`execute_run` is
only their composition.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console

from medganbench import progress
from medganbench.core.manager import Registries
from medganbench.core.tracker import TrackerContext
from medganbench.run.budget import Ledger
from medganbench.run.device import pick_device
from medganbench.run.distributed import (
    World,
    launched_world,
    process_group,
    rank_device,
)
from medganbench.run.evaluate import evaluate
from medganbench.run.memory import OutOfMemory, forget_new_run_dir
from medganbench.run.options import RunOptions
from medganbench.run.prepare import StatusSink, prepare
from medganbench.run.progress import sink_for
from medganbench.run.record import RunResult, record, unrecorded_result
from medganbench.run.resume import LOCAL_NAME, SPEC_NAME
from medganbench.run.spec import RunSpec
from medganbench.run.threads import threads_for_run
from medganbench.run.trackers import open_trackers
from medganbench.run.train import train
from medganbench.run.watch import Watch, log_final_grids


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
            set for the run's duration, see :func:`~medganbench.run.threads.threads_for_run`);
            ``options.progress`` shows a bar per phase on a terminal, else a heartbeat line at
            least every 30 s (unless the caller installed its own
            :func:`medganbench.progress.showing` sink).
        on_status: receives one-line status messages (the CLI prints them).
        on_step: called with the ledger after every training step (sweeps report progress
            with it).

    Returns:
        The run's id, directory, metric values, ledger and the leaderboard rows appended.

    Raises:
        UsageError: a bad spec, an incompatible combination, or a run already recorded.
        DataError: the dataset does not honour its contract.
        RunError: training diverged (a non-finite loss) or evaluation failed.
        OutOfMemory: the model did not fit in memory while it was built or trained; a run
            folder this run created is removed again if it holds no checkpoint.
        KeyboardInterrupt: passed through; nothing has been appended to the leaderboard.
    """
    world = launched_world()
    if not world.main:
        # One voice per run: the other processes of a multi-device run show nothing.
        with progress.showing(progress.QUIET):
            return _phases(spec, registries, options, lambda message: None, None, world)
    if progress.installed():  # the caller shows progress its own way
        return _phases(spec, registries, options, on_status, on_step, world)
    with sink_for(Console(stderr=True), options.progress) as sink, progress.showing(sink):
        return _phases(spec, registries, options, on_status, on_step, world)


def _phases(
    spec: RunSpec,
    registries: Registries,
    options: RunOptions,
    on_status: StatusSink,
    on_step: Callable[[Ledger], None] | None,
    world: World,
) -> RunResult:
    device = rank_device(pick_device(options.device), world)
    with threads_for_run(options.threads, device), process_group(world, device):
        prepared = prepare(spec, registries, options, on_status, world)
        trackers = open_trackers(
            options.trackers if world.main else (),
            registries,
            TrackerContext(
                prepared.run_id,
                prepared.run_dir,
                prepared.run.recorded(),
                prepared.checkpoint.ledger.steps if prepared.checkpoint is not None else None,
            ),
            on_status=on_status,
        )
        try:
            watch = Watch(prepared, trackers, prepared.checkpoint, options.log_every, on_status)
            try:
                trained = train(prepared, on_status, on_step, watch)
            except OutOfMemory:
                # Nothing recorded and nothing to resume: a folder this run made goes again.
                if world.main:
                    forget_new_run_dir(
                        prepared.run_dir, prepared.created_run_dir, (SPEC_NAME, LOCAL_NAME)
                    )
                raise
            if not world.main:
                # Process 0 evaluates and records alone; this one's part is done.
                return unrecorded_result(prepared, trained.ledger)
            evaluation = evaluate(prepared, trained)
            log_final_grids(trackers, prepared.run_dir, trained.ledger.steps)
            return record(prepared, trained, evaluation)
        finally:
            trackers.close()
