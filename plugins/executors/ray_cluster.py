"""The ``ray`` executor: each trial a Ray task, on a local Ray instance or an existing cluster.

Every task asks Ray for the same resources — ``cpus_per_trial`` CPUs and, where the cluster has
GPUs, one GPU — so every trial runs on the same device share, and Ray's scheduler (not ours)
places them. Ray sets ``CUDA_VISIBLE_DEVICES`` for a GPU task, so a trial sees exactly its GPU;
on CPU the trial uses ``cpus_per_trial`` torch threads.

Trials return their rows to the driver, which appends them, so workers need no access to the
leaderboard. They do need medganbench (and any third-party plugin the sweep uses) installed, the
dataset files (``--data-dir`` or the cache on each node) and, for exact resume after a node is
lost, a ``--runs-dir`` on storage every node can reach.

Ray is an optional dependency (``pip install 'medganbench[ray]'``); it is imported only when a
sweep runs on this executor.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from medganbench.core.hookspecs import hookimpl
from medganbench.core.params import Param
from medganbench.core.specs import ExecutorSpec
from medganbench.errors import UsageError
from medganbench.sweep.executor import Executor, TrialEvent, TrialOutcome, TrialRequest
from medganbench.sweep.trial import run_trial

#: How long the driver waits for a finished task before it collects progress events, in seconds.
POLL_S = 0.25
#: Object store of a Ray instance started here: trials return kilobytes (rows, small PNGs), so
#: Ray's default of 30% of RAM would only take memory from the trials.
LOCAL_OBJECT_STORE_BYTES = 256 * 2**20


class RayExecutor(Executor):
    """Trials as Ray tasks with equal resource requests."""

    def execute(
        self,
        requests: Sequence[TrialRequest],
        on_event: Callable[[TrialEvent], None],
        on_outcome: Callable[[TrialOutcome], None],
    ) -> None:
        ray = _import_ray()
        started_here = not ray.is_initialized()
        if started_here:
            self._connect(ray)
        try:
            self._run(ray, requests, on_event, on_outcome)
        finally:
            if started_here:
                ray.shutdown()

    def _connect(self, ray: Any) -> None:
        address = str(self.args["address"])
        try:
            if address:
                ray.init(
                    address=address,
                    include_dashboard=False,
                    log_to_driver=False,
                    logging_level="ERROR",
                )
            else:
                num_cpus = int(self.args["num_cpus"]) or None
                ray.init(
                    num_cpus=num_cpus,
                    include_dashboard=False,
                    log_to_driver=False,
                    logging_level="ERROR",
                    object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                )
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = f"the Ray cluster at {address!r}" if address else "a local Ray instance"
            raise UsageError(
                f"Could not start or reach {where}: {str(exc).splitlines()[0]}",
                hint="Start a cluster with `ray start --head` (then --address auto), or leave "
                "--address out to run on a Ray instance on this machine.",
            ) from None

    def _run(
        self,
        ray: Any,
        requests: Sequence[TrialRequest],
        on_event: Callable[[TrialEvent], None],
        on_outcome: Callable[[TrialOutcome], None],
    ) -> None:
        cpus = int(self.args["cpus_per_trial"])
        gpus = int(self.args["gpus_per_trial"])
        if gpus < 0:
            gpus = 1 if ray.cluster_resources().get("GPU", 0) > 0 else 0
        events = ray.remote(num_cpus=0)(_EventBuffer).remote()
        task = ray.remote(num_cpus=cpus, num_gpus=gpus, max_retries=0)(_trial_task)
        refs = {task.remote(request, events, cpus): request for request in requests}
        try:
            while refs:
                done, _ = ray.wait(list(refs), num_returns=1, timeout=POLL_S)
                _drain(ray, events, on_event)
                for ref in done:
                    request = refs.pop(ref)
                    try:
                        outcome = ray.get(ref)
                    except ray.exceptions.RayError as exc:
                        outcome = TrialOutcome(
                            request.trial.run_id,
                            "failed",
                            f"Ray lost the trial: {str(exc).strip().splitlines()[-1]}",
                        )
                    on_outcome(outcome)
            _drain(ray, events, on_event)
        except KeyboardInterrupt:
            for ref in refs:
                ray.cancel(ref, force=True)
            raise


class _EventBuffer:
    """A Ray actor collecting trial events until the driver drains them."""

    def __init__(self) -> None:
        self.items: list[TrialEvent] = []

    def put(self, event: TrialEvent) -> None:
        self.items.append(event)

    def drain(self) -> list[TrialEvent]:
        items, self.items = self.items, []
        return items


def _trial_task(request: TrialRequest, events: Any, threads: int) -> TrialOutcome:
    """The body of a Ray task: one trial with the task's CPU share as torch threads."""
    import torch

    torch.set_num_threads(max(1, threads))
    return run_trial(request, lambda event: events.put.remote(event))


def _drain(ray: Any, events: Any, on_event: Callable[[TrialEvent], None]) -> None:
    for event in ray.get(events.drain.remote()):
        on_event(event)


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
                    "Ray cluster address (e.g. auto); empty = start Ray on this machine",
                ),
                Param("num_cpus", 0, "CPUs of a Ray instance started here (0 = all)", minimum=0),
                Param(
                    "cpus_per_trial",
                    1,
                    "CPUs each trial asks for (and its torch threads)",
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
