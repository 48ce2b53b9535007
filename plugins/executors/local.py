"""The ``local`` executor: trials one after another in this process, or in N worker processes.

With ``workers=1`` (the default) each trial runs in the driver process, so a sweep needs nothing
beyond the base install and a traceback-free Ctrl-C stops it cleanly. With ``workers=N`` the
trials run in N spawned processes (never forked: CUDA and torch's thread pools do not survive a
fork), at most N at a time. Each worker gets an equal share of the machine: ``cores // N`` torch
threads (unless ``--threads`` gives the trials a count) and, where GPUs exist, GPU
``k mod n_gpus`` for worker ``k``, so every trial runs on the same device share. The share is
fixed, not the run's default of the cores left free at its start (``medganbench.run.threads``),
which trials starting beside each other would count differently. With ``workers=1`` the trial
runs in this process with the run's default. A worker that dies (killed, out of memory) fails only the trials it was
running; the pool is rebuilt and the sweep goes on.
"""

from __future__ import annotations

import dataclasses
import os
import queue
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from medganbench.core.hookspecs import hookimpl
from medganbench.core.params import Param
from medganbench.core.specs import ExecutorSpec
from medganbench.sweep.executor import Executor, TrialEvent, TrialOutcome, TrialRequest
from medganbench.sweep.trial import run_trial

#: How often the driver looks for finished trials and progress events, in seconds.
POLL_S = 0.25


class LocalExecutor(Executor):
    """Sequential in-process execution, or a pool of ``workers`` spawned processes."""

    def execute(
        self,
        requests: Sequence[TrialRequest],
        on_event: Callable[[TrialEvent], None],
        on_outcome: Callable[[TrialOutcome], None],
    ) -> None:
        workers = int(self.args["workers"])
        if workers == 1:
            for request in requests:
                on_outcome(run_trial(request, on_event))
            return
        _Pool(workers).run(list(requests), on_event, on_outcome)


class _Pool:
    """At most ``workers`` trials at once in spawned processes, with events over a queue."""

    def __init__(self, workers: int) -> None:
        import multiprocessing

        self.workers = workers
        self.context = multiprocessing.get_context("spawn")
        self.threads = max(1, (os.cpu_count() or 1) // workers)
        self.gpus = _gpu_count()

    def run(
        self,
        pending: list[TrialRequest],
        on_event: Callable[[TrialEvent], None],
        on_outcome: Callable[[TrialOutcome], None],
    ) -> None:
        with self.context.Manager() as manager:
            events = manager.Queue()
            slots = manager.Queue()
            pool = self._new_pool(slots)
            running: dict[Future[TrialOutcome], TrialRequest] = {}
            try:
                while pending or running:
                    while pending and len(running) < self.workers:
                        request = self._with_share(pending.pop(0))
                        running[pool.submit(_trial_with_queue, request, events)] = request
                    done, _ = wait(running, timeout=POLL_S, return_when=FIRST_COMPLETED)
                    _drain(events, on_event)
                    broken = False
                    for future in done:
                        request = running.pop(future)
                        try:
                            outcome = future.result()
                        except BrokenProcessPool:
                            broken = True
                            outcome = _died(request)
                        on_outcome(outcome)
                    if broken:
                        # Every trial still in the dead pool is lost with it; record them and
                        # carry on with a fresh pool.
                        for request in running.values():
                            on_outcome(_died(request))
                        running.clear()
                        pool.shutdown(wait=False, cancel_futures=True)
                        pool = self._new_pool(slots)
                _drain(events, on_event)
            finally:
                pool.shutdown(wait=True, cancel_futures=True)

    def _with_share(self, request: TrialRequest) -> TrialRequest:
        """``request`` with this worker's share of the cores as its threads, unless it has some."""
        if request.options.threads is not None:
            return request
        options = dataclasses.replace(request.options, threads=self.threads)
        return dataclasses.replace(request, options=options)

    def _new_pool(self, slots: Any) -> ProcessPoolExecutor:
        while not slots.empty():
            slots.get_nowait()
        for index in range(self.workers):
            slots.put(index)
        return ProcessPoolExecutor(
            self.workers,
            mp_context=self.context,
            initializer=_init_worker,
            initargs=(self.gpus, slots),
        )


def _gpu_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _init_worker(gpus: int, slots: Any) -> None:
    """Give this worker its share: a GPU of its own, where there are any."""
    index = slots.get()
    if gpus:
        # Before torch initialises CUDA in this process, so the worker sees one device.
        os.environ["CUDA_VISIBLE_DEVICES"] = str(index % gpus)


def _trial_with_queue(request: TrialRequest, events: Any) -> TrialOutcome:
    return run_trial(request, events.put)


def _drain(events: Any, on_event: Callable[[TrialEvent], None]) -> None:
    while True:
        try:
            on_event(events.get_nowait())
        except queue.Empty:
            return


def _died(request: TrialRequest) -> TrialOutcome:
    return TrialOutcome(
        request.trial.run_id,
        "failed",
        "its worker process died (killed, or out of memory); rerun the sweep to retry it, "
        "from its last checkpoint",
    )


@hookimpl
def medganbench_executors() -> list[ExecutorSpec]:
    return [
        ExecutorSpec(
            name="local",
            summary="This machine: trials one after another, or in N worker processes.",
            version="1",
            factory="medganbench_plugins.executors.local:LocalExecutor",
            params=(
                Param(
                    "workers",
                    1,
                    "trials at once, each in its own process (1 = in this process)",
                    minimum=1,
                ),
            ),
        )
    ]
