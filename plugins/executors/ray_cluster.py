"""The ``ray`` executor: each trial a Ray task, on a local Ray instance or an existing cluster.

Every task asks Ray for the same resources — ``cpus_per_trial`` CPUs and, where the cluster has
GPUs, one GPU — so every trial runs on the same device share, and Ray's scheduler (not ours)
places them. A sweep with ``devices = N`` reserves N such shares per trial on one node (a
placement group of one bundle, ``STRICT_PACK``, removed when the trial ends), and the task
starts the trial's N processes there with torchrun (:mod:`medganbench.sweep.device_trial`). Ray sets ``CUDA_VISIBLE_DEVICES`` for a GPU task, so a trial sees exactly its GPU;
on CPU the trial uses ``cpus_per_trial`` torch threads unless ``--threads`` says otherwise.

Each task is a Ray *streaming generator*: it yields the trial's events and, last, its outcome,
straight back to the driver that owns it. The driver's bookkeeping is therefore in the driver
process itself — no helper actor that Ray could place on a node that then dies — and when a node
is lost, exactly the trials running there fail (Ray raises ``NodeDiedError`` for their next
item) while the others go on. Every Ray call of the driver handles Ray's errors: a lost trial
becomes a failed outcome with a one-line reason, a lost cluster fails the trials still running.

Trials return their rows to the driver, which appends them, so workers need no access to the
leaderboard. They do need medganbench (and any third-party plugin the sweep uses) installed, the
dataset files (``--data-dir`` or the cache on each node) and, for a lost trial to resume where
it stopped rather than from step 0, a ``--runs-dir`` on storage every node reaches.

Ray is an optional dependency (``pip install 'medganbench[ray]'``); it is imported only when a
sweep runs on this executor.
"""

from __future__ import annotations

import contextlib
import dataclasses
import platform
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from medganbench.core.hookspecs import hookimpl
from medganbench.core.params import Param
from medganbench.core.specs import ExecutorSpec
from medganbench.errors import UsageError
from medganbench.sweep.executor import Executor, TrialEvent, TrialOutcome, TrialRequest
from medganbench.sweep.trial import run_trial
from medganbench_plugins.executors.ray_connect import connect

#: How long the driver waits for any trial's next item before looking again, in seconds.
POLL_S = 0.25


class RayExecutor(Executor):
    """Trials as Ray tasks with equal resource requests."""

    def __init__(self, args: Any) -> None:
        super().__init__(args)
        self._ray: Any = None
        self._started_here = False
        self._gpus = 0

    def open(self) -> None:
        """Join the cluster (or start Ray here) unless this process already has Ray running."""
        if self._ray is not None:
            return
        ray = _import_ray()
        if not ray.is_initialized():
            connect(ray, str(self.args["address"]), int(self.args["num_cpus"]) or None)
            self._started_here = True
        self._ray = ray
        try:
            gpus = int(self.args["gpus_per_trial"])
            if gpus < 0:
                gpus = 1 if ray.cluster_resources().get("GPU", 0) > 0 else 0
        except Exception as exc:  # noqa: BLE001 - a cluster that fails its first call
            self.close()
            raise UsageError(
                f"Joined the Ray cluster, but it did not answer: {type(exc).__name__}: {exc}"
            ) from None
        self._gpus = gpus

    def close(self) -> None:
        """Leave the cluster (or stop the Ray instance started here)."""
        ray, self._ray = self._ray, None
        if ray is not None and self._started_here:
            self._started_here = False
            # A lost cluster has nothing left to stop; close() never raises.
            with contextlib.suppress(Exception):
                ray.shutdown()

    def execute(
        self,
        requests: Sequence[TrialRequest],
        on_event: Callable[[TrialEvent], None],
        on_outcome: Callable[[TrialOutcome], None],
    ) -> None:
        self.open()
        cpus = int(self.args["cpus_per_trial"])
        task = self._ray.remote(
            num_cpus=cpus, num_gpus=self._gpus, max_retries=0, num_returns="streaming"
        )(_trial_stream)
        groups: dict[str, Any] = {}

        def submit(request: TrialRequest) -> Any:
            devices = request.trial.spec.devices
            if devices == 1:
                return task.remote(request, cpus)
            # A trial on N devices: one bundle of N device shares on one node (its processes
            # talk through the node's memory or NVLink), held until the trial ends.
            group = self._ray.util.placement_group(
                [{"CPU": cpus * devices, **({"GPU": self._gpus * devices} if self._gpus else {})}],
                strategy="STRICT_PACK",
            )
            groups[request.trial.run_id] = group
            strategy = self._ray.util.scheduling_strategies.PlacementGroupSchedulingStrategy(
                placement_group=group, placement_group_bundle_index=0
            )
            return task.options(
                num_cpus=cpus * devices,
                num_gpus=self._gpus * devices,
                scheduling_strategy=strategy,
            ).remote(request, cpus)

        def ended(outcome: TrialOutcome) -> None:
            group = groups.pop(outcome.run_id, None)
            if group is not None:
                with contextlib.suppress(Exception):  # a lost cluster took it already
                    self._ray.util.remove_placement_group(group)
            on_outcome(outcome)

        _Streams(self._ray, on_event, ended).run(submit, requests)


class _ClusterLost(Exception):
    """A Ray call of the driver itself failed: the cluster, not one trial, is gone."""


class _Streams:
    """The driver's loop over the trials' streams: events on, outcomes recorded, errors caught.

    Only Ray's calls are guarded here; an error of the sweep's own callbacks (a leaderboard
    that cannot be written) propagates, since it is not the cluster's.
    """

    def __init__(
        self,
        ray: Any,
        on_event: Callable[[TrialEvent], None],
        on_outcome: Callable[[TrialOutcome], None],
    ) -> None:
        self.ray = ray
        self.on_event = on_event
        self.on_outcome = on_outcome
        self.running: dict[Any, TrialRequest] = {}
        self.unsubmitted: list[TrialRequest] = []

    def run(self, submit: Callable[[TrialRequest], Any], requests: Sequence[TrialRequest]) -> None:
        self.unsubmitted = list(requests)
        try:
            while self.unsubmitted:
                stream = self._ray_call(submit, self.unsubmitted[0])
                self.running[stream] = self.unsubmitted.pop(0)
            while self.running:
                ready, _ = self._ray_call(
                    self.ray.wait, list(self.running), num_returns=1, timeout=POLL_S
                )
                for stream in ready:
                    self._advance(stream)
        except KeyboardInterrupt:
            self._cancel_all()
            raise
        except _ClusterLost as lost:
            reason = f"the driver lost the Ray cluster ({lost}); {RETRY}"
            for request in [*self.running.values(), *self.unsubmitted]:
                self.on_outcome(TrialOutcome(request.trial.run_id, "failed", reason))
            self.running.clear()
            self.unsubmitted.clear()

    def _advance(self, stream: Any) -> None:
        """Take every item ``stream`` has ready; stop at its outcome, its error or its end."""
        request = self.running[stream]
        while True:
            try:
                ref = self._ray_call(next, stream)
            except StopIteration:
                del self.running[stream]
                self.on_outcome(_lost(request, "its Ray task ended without an outcome"))
                return
            try:
                item = self.ray.get(ref)
            except Exception as exc:  # noqa: BLE001 - Ray's error for this trial's task
                del self.running[stream]
                self.on_outcome(_lost(request, _why_lost(self.ray, exc)))
                return
            if isinstance(item, TrialOutcome):
                del self.running[stream]
                self.on_outcome(item)
                return
            self.on_event(item)
            more, _ = self._ray_call(self.ray.wait, [stream], num_returns=1, timeout=0)
            if not more:
                return

    @staticmethod
    def _ray_call(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs)
        except (StopIteration, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - whatever Ray raises when its cluster is gone
            raise _ClusterLost(_one_line(exc)) from exc

    def _cancel_all(self) -> None:
        for stream in self.running:
            # Stopping what is left is best effort: the cluster may be gone already.
            with contextlib.suppress(Exception):
                self.ray.cancel(stream, force=True)


def _trial_stream(request: TrialRequest, threads: int) -> Iterator[TrialEvent | TrialOutcome]:
    """The body of a Ray task: the trial's events as they happen, then its outcome.

    The trial runs in a thread of the task so that its events can be yielded while it trains.
    """
    import ray

    # The CPUs Ray reserved for the trial are its threads, unless --threads gave a count.
    options = dataclasses.replace(request.options, threads=request.options.threads or threads)
    request = dataclasses.replace(request, options=options)
    node = ray.get_runtime_context().get_node_id()
    # Several Ray nodes can share one machine; the node names where the trial ran.
    host = f"{platform.node()} (Ray node {node[:8]})"
    items: queue.SimpleQueue[TrialEvent | TrialOutcome] = queue.SimpleQueue()

    def trial() -> None:
        try:
            items.put(run_trial(request, items.put, host))
        except BaseException as exc:  # noqa: BLE001 - the stream must end with an outcome
            items.put(TrialOutcome(request.trial.run_id, "failed", _one_line(exc), host=host))

    threading.Thread(target=trial, name="medganbench-trial", daemon=True).start()
    while True:
        item = items.get()
        yield item
        if isinstance(item, TrialOutcome):
            return


def _lost(request: TrialRequest, reason: str) -> TrialOutcome:
    return TrialOutcome(request.trial.run_id, "failed", reason)


#: Why Ray lost a trial, by the class of the error it raised, in words.
_LOST_BECAUSE = {
    "NodeDiedError": "its Ray node died or became unreachable",
    # The driver's own node: Ray fails the trials it had not started once it marks it dead.
    "LocalRayletDiedError": "the Ray node this sweep's driver is attached to died",
    "OutOfMemoryError": "Ray killed its worker because the node ran out of memory",
    "WorkerCrashedError": "its Ray worker process died (killed, out of memory, or node lost)",
    "TaskCancelledError": "its Ray task was cancelled",
}
RETRY = "rerun the sweep to retry it from its last checkpoint"


def _why_lost(ray: Any, exc: BaseException) -> str:
    """A one-line reason for a trial Ray lost (the sweep adds its host and time)."""
    if isinstance(exc, ray.exceptions.RayTaskError):
        cause = exc.cause if isinstance(exc.cause, BaseException) else exc
        missing = isinstance(cause, ImportError)
        return f"its Ray worker could not run it: {_one_line(cause)}" + (
            " (is medganbench installed on every node?)" if missing else ""
        )
    for cls in type(exc).__mro__:
        if cls.__name__ in _LOST_BECAUSE:
            return f"{_LOST_BECAUSE[cls.__name__]} ({type(exc).__name__}); {RETRY}"
    return f"Ray lost it ({_one_line(exc)}); {RETRY}"


def _one_line(exc: BaseException) -> str:
    first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UsageError(
            "The ray executor needs Ray, which is not installed here.",
            hint="Install it with: python3 -m pip install 'medganbench[ray]'",
        ) from None
    return ray


@hookimpl
def medganbench_executors() -> list[ExecutorSpec]:
    return [
        ExecutorSpec(
            name="ray",
            summary="Ray: each trial a task with equal CPU/GPU requests, locally or on a cluster.",
            version="1",
            factory="medganbench_plugins.executors.ray_cluster:RayExecutor",
            params=(
                Param(
                    "address",
                    "",
                    "Ray cluster address (HOST:PORT or auto); empty = start Ray on this machine",
                ),
                Param("num_cpus", 0, "CPUs of a Ray instance started here (0 = all)", minimum=0),
                Param(
                    "cpus_per_trial",
                    1,
                    "CPUs each trial asks for (and its torch threads, unless --threads)",
                    minimum=1,
                ),
                Param(
                    "gpus_per_trial",
                    -1,
                    "GPUs each trial asks for; -1 = one where the cluster has GPUs, else none",
                    minimum=-1,
                ),
            ),
        )
    ]
