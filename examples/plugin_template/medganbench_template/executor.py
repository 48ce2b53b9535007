"""Template: a sweep executor plugin for medganbench. Copy this file to run trials elsewhere.

An executor plugin returns :class:`ExecutorSpec` objects from ``medganbench_executors``; ``medganbench
sweep FILE --executor NAME`` uses it. An executor decides where and how many trials run at once,
never what a trial computes: every trial is ``run_trial``, wherever it runs (a pool, a cluster, a
batch queue), and the executor hands each outcome back.

The contract (``medganbench/sweep/executor.py``): :meth:`open` reaches the workers and fails
within seconds if it cannot; :meth:`execute` calls ``on_outcome`` exactly once per request, in
the calling thread, as soon as that trial ends; a failed or lost trial is an outcome with
status ``"failed"``, never an exception; :meth:`close` releases what ``open`` took. ``medganbench
check executor template-in-order`` runs two tiny trials through it. An executor's name and
version are not part of any run's identity, since it cannot change a result.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from medganbench.plugin import (
    Executor,
    ExecutorSpec,
    Param,
    TrialEvent,
    TrialOutcome,
    TrialRequest,
    hookimpl,
    run_trial,
)


class InOrderExecutor(Executor):
    """Every trial in this process, one after another (last first with ``reverse=true``)."""

    def execute(
        self,
        requests: Sequence[TrialRequest],
        on_event: Callable[[TrialEvent], None],
        on_outcome: Callable[[TrialOutcome], None],
    ) -> None:
        ordered = list(reversed(requests)) if self.args["reverse"] else list(requests)
        for request in ordered:
            # run_trial never raises for a failed run: it returns a "failed" outcome.
            on_outcome(run_trial(request, on_event))


@hookimpl
def medganbench_executors() -> list[ExecutorSpec]:
    return [
        ExecutorSpec(
            name="template-in-order",
            summary="Template: trials one after another in this process (examples/plugin_template).",
            version="1",
            factory=f"{__name__}:InOrderExecutor",
            params=(Param("reverse", False, "run the sweep's trials last first"),),
        )
    ]
