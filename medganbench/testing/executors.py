"""The executor contracts: build, declarations, open/close, and running trials.

``execute`` runs two tiny trials (the non-learned ``identity`` model on a small phantom at 32
px, one step, PSNR) in a temporary folder and checks what the sweep relies on: one outcome per
trial, each delivered in the calling thread, carrying that trial's run id, status ``ok`` and
its rows.
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

from medganbench.core.manager import Registries
from medganbench.run.budget import Budget
from medganbench.run.options import RunOptions
from medganbench.run.spec import RunSpec, resolve_run
from medganbench.sweep.executor import Executor, Trial, TrialEvent, TrialOutcome, TrialRequest
from medganbench.testing.report import Contract, Probe, expect
from medganbench.testing.support import (
    IMAGE_SIZE,
    PROBE_DATASET,
    PROBE_DATASET_ARGS,
    check_declaration,
)


def _build(probe: Probe) -> str:
    executor = probe.spec.build(probe.args)
    probe.made["executor"] = executor
    return f"{type(executor).__name__}"


def _open_close(probe: Probe) -> str:
    executor: Executor = probe.made["executor"]
    executor.open()
    executor.close()
    return "open() and close() return"


def _requests(registries: Registries, folder: Path) -> list[TrialRequest]:
    options = RunOptions(
        leaderboard_dir=folder / "leaderboards",
        runs_dir=folder / "runs",
        device="cpu",
        progress=False,
        cache_dir=folder / "cache",
    )
    requests = []
    for seed in (0, 1):
        spec = RunSpec(
            model="identity",
            dataset=PROBE_DATASET,
            dataset_args=dict(PROBE_DATASET_ARGS),
            image_size=IMAGE_SIZE,
            metrics=("psnr",),
            budget=Budget(steps=1),
            seed=seed,
        )
        trial = Trial(seed, f"identity seed={seed}", spec, resolve_run(spec, registries).run_id)
        requests.append(TrialRequest(trial, options))
    return requests


def _execute(probe: Probe) -> str:
    executor: Executor = probe.made["executor"]
    caller = threading.get_ident()
    outcomes: list[TrialOutcome] = []
    threads: set[int] = set()

    def on_event(event: TrialEvent) -> None:
        threads.add(threading.get_ident())

    def on_outcome(outcome: TrialOutcome) -> None:
        threads.add(threading.get_ident())
        outcomes.append(outcome)

    with tempfile.TemporaryDirectory(prefix="medganbench-check-") as folder:
        requests = _requests(probe.options["registries"], Path(folder))
        executor.open()
        try:
            executor.execute(requests, on_event, on_outcome)
        finally:
            executor.close()
    expect(threads <= {caller}, "callbacks were called from another thread than execute()'s")
    want = sorted(r.trial.run_id for r in requests)
    have = sorted(o.run_id for o in outcomes)
    expect(have == want, f"outcomes for run ids {have}, expected one for each of {want}")
    failed = [f"{o.run_id}: {o.error}" for o in outcomes if o.status != "ok"]
    expect(not failed, f"trials failed: {'; '.join(failed)}")
    expect(all(o.rows for o in outcomes), "an ok outcome carries no rows")
    return "two trials, one ok outcome each with rows, callbacks in the calling thread"


CONTRACTS: tuple[Contract, ...] = (
    Contract("build", "the factory builds an Executor from its arguments", _build),
    Contract("declares", "a version, parameters with help and valid defaults", check_declaration),
    Contract("open-close", "open() and close() return", _open_close, ("build",)),
    Contract(
        "execute",
        "one outcome per trial, in the calling thread, with the trial's run id and rows",
        _execute,
        ("build",),
    ),
)

__all__ = ["CONTRACTS"]
