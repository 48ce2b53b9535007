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

The workers and the pool's manager process live only as long as the driver: on Linux the kernel
kills them when it ends, even by SIGKILL (``PR_SET_PDEATHSIG``), elsewhere a thread in each
watches for the driver to go. Ctrl-C to the driver alone (``kill -INT``, as a job manager sends
it) interrupts the running trials (their checkpoints stay, so the next run of the sweep resumes
them) and ends the sweep within seconds: a worker that does not stop within
:data:`INTERRUPT_GRACE_S` is killed.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.managers import SyncManager
from types import FrameType
from typing import Any

from medganbench import interrupts
from medganbench.core.hookspecs import hookimpl
from medganbench.core.params import Param
from medganbench.core.specs import ExecutorSpec
from medganbench.sweep.executor import Executor, TrialEvent, TrialOutcome, TrialRequest
from medganbench.sweep.trial import run_trial

#: How often the driver looks for finished trials and progress events, in seconds.
POLL_S = 0.25
#: After an interrupt, how long the running trials get to stop before their workers are killed.
INTERRUPT_GRACE_S = 10.0
#: ``prctl`` option: the signal this process gets when its parent ends (Linux).
_PR_SET_PDEATHSIG = 1


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
        manager = SyncManager(ctx=self.context)
        # The manager process ignores SIGINT (multiprocessing sets that) and ends with us.
        manager.start(_die_with_parent, (os.getpid(),))
        with manager:
            events = manager.Queue()
            slots = manager.Queue()
            pids = manager.list()  # the workers' process ids, each added by the worker
            pool = self._new_pool(slots, pids)
            waiting = deque(pending)
            running: dict[Future[TrialOutcome], TrialRequest] = {}
            try:
                while waiting or running:
                    while waiting and len(running) < self.workers:
                        request = self._with_share(waiting.popleft())
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
                        pool = self._new_pool(slots, pids)
                _drain(events, on_event)
            except BaseException:  # Ctrl-C (or a failure of the driver's own bookkeeping)
                _stop_running(running, pids)
                raise
            finally:
                pool.shutdown(wait=True, cancel_futures=True)

    def _with_share(self, request: TrialRequest) -> TrialRequest:
        """``request`` with this worker's share of the cores as its threads, unless it has some."""
        if request.options.threads is not None:
            return request
        options = dataclasses.replace(request.options, threads=self.threads)
        return dataclasses.replace(request, options=options)

    def _new_pool(self, slots: Any, pids: Any) -> ProcessPoolExecutor:
        while not slots.empty():
            slots.get_nowait()
        for index in range(self.workers):
            slots.put(index)
        return ProcessPoolExecutor(
            self.workers,
            mp_context=self.context,
            initializer=_init_worker,
            initargs=(self.gpus, slots, pids, os.getpid()),
        )


def _stop_running(running: dict[Future[TrialOutcome], TrialRequest], pids: Any) -> None:
    """Interrupt the trials still running (SIGINT to their workers: each ends its trial as a
    Ctrl-C ends a run, checkpoints kept), and kill the workers of those that do not stop within
    :data:`INTERRUPT_GRACE_S`. A second Ctrl-C meanwhile waits for this to finish."""
    with interrupts.deferred():
        try:
            ours = set(pids)
        except (OSError, EOFError):  # the manager is gone: no way to tell workers apart
            ours = set()
        workers = [p for p in multiprocessing.active_children() if p.pid in ours]
        busy = [future for future in running if not future.done()]
        if not busy:
            return
        for process in workers:
            _signal(process.pid, signal.SIGINT)
        wait(busy, timeout=INTERRUPT_GRACE_S)
        if all(future.done() for future in busy):
            return
        for process in workers:
            process.kill()
        for process in workers:
            process.join(timeout=5.0)


def _signal(pid: int | None, signum: int) -> None:
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


def _die_with_parent(parent: int) -> None:
    """End this process when the process ``parent`` (the sweep's driver) ends, however it ends.

    Linux: the kernel sends SIGKILL when the parent ends (``PR_SET_PDEATHSIG``). Elsewhere, or
    where that cannot be set, a daemon thread checks once a second whether the parent is gone.
    """
    armed = False
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
        except (OSError, AttributeError):
            armed = False
    if os.getppid() != parent:  # the parent ended before the line above could take effect
        os._exit(1)
    if not armed:
        threading.Thread(
            target=_watch_parent, args=(parent,), name="medganbench-watch-driver", daemon=True
        ).start()


def _watch_parent(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


#: Whether this worker is running a trial now: SIGINT interrupts a trial, never an idle worker.
_in_trial = False


def _interrupt_trial(signum: int, frame: FrameType | None) -> None:
    if _in_trial:
        raise KeyboardInterrupt


def _gpu_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _init_worker(gpus: int, slots: Any, pids: Any, driver: int) -> None:
    """Give this worker its share (a GPU of its own where there are any; its threads come with
    each trial, see ``_Pool._with_share``), tie its life to the driver's, and let SIGINT
    interrupt its trials only."""
    _die_with_parent(driver)
    signal.signal(signal.SIGINT, _interrupt_trial)
    pids.append(os.getpid())
    index = slots.get()
    if gpus:
        # Before torch initialises CUDA in this process, so the worker sees one device.
        os.environ["CUDA_VISIBLE_DEVICES"] = str(index % gpus)


def _trial_with_queue(request: TrialRequest, events: Any) -> TrialOutcome:
    global _in_trial
    _in_trial = True
    try:
        return run_trial(request, events.put)
    except KeyboardInterrupt:
        # Interrupted (the driver's Ctrl-C, or someone's SIGINT to this worker alone): the trial
        # stops like an interrupted run, its checkpoints kept; the driver decides what follows.
        return TrialOutcome(
            request.trial.run_id,
            "failed",
            "interrupted (SIGINT); rerun the sweep to resume it from its last checkpoint",
        )
    finally:
        _in_trial = False


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
