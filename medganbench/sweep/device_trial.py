"""A sweep trial on several devices: its processes started with torchrun, its outcome handed back.

:func:`medganbench.sweep.trial.run_trial` calls :func:`run_trial_on_devices` for a trial whose
spec asks for more than one device, wherever the executor runs it (in the driver, in a local
worker, in a Ray task that reserved the devices). The trial's request travels to the processes
as a JSON file, each process runs :func:`~medganbench.sweep.trial.run_trial` inside the
process group, and process 0 writes the outcome (its rows as an Arrow file of the leaderboard's
schema) for this process to read back. All of it stays on one machine: the processes of one
trial share its devices, and its run folder.

Live progress of such a trial is its start and its end (the processes report to no driver).
"""

from __future__ import annotations

import dataclasses
import json
import platform
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from medganbench.leaderboard.schema import rows_from_table
from medganbench.leaderboard.store import read_leaderboard
from medganbench.run.budget import Budget
from medganbench.run.launch import launch
from medganbench.run.options import RunOptions
from medganbench.run.spec import RunSpec
from medganbench.sweep.executor import Trial, TrialEvent, TrialOutcome, TrialRequest

#: The entry point of each of the trial's processes.
WORKER_MODULE = "medganbench.sweep.device_worker"
REQUEST_NAME = "request.json"
OUTCOME_NAME = "outcome.json"
ROWS_NAME = "rows.arrow"


def request_json(request: TrialRequest) -> dict[str, Any]:
    """``request`` as plain JSON values (paths as strings)."""
    data: dict[str, Any] = json.loads(json.dumps(dataclasses.asdict(request), default=str))
    return data


def request_from_json(data: Mapping[str, Any]) -> TrialRequest:
    """The request :func:`request_json` wrote."""
    trial, options = dict(data["trial"]), dict(data["options"])
    spec = dict(trial["spec"])
    spec["budget"] = Budget(**spec["budget"])
    spec["metrics"] = tuple(spec["metrics"])
    for key in ("leaderboard_dir", "runs_dir", "cache_dir", "data_dir"):
        if options[key] is not None:
            options[key] = Path(options[key])
    options["trackers"] = tuple(options["trackers"])
    return TrialRequest(
        Trial(trial["index"], trial["label"], RunSpec(**spec), trial["run_id"]),
        RunOptions(**options),
    )


def run_trial_on_devices(
    request: TrialRequest,
    report: Callable[[TrialEvent], None],
    host: str | None,
    returned_files: Callable[[Path], dict[str, bytes]],
) -> TrialOutcome:
    """Run ``request``'s trial as ``spec.devices`` processes here; never raises for a failed
    run (as :func:`~medganbench.sweep.trial.run_trial`)."""
    host = host or platform.node()
    trial = request.trial
    start = time.perf_counter()
    report(TrialEvent(trial.run_id, "started", host=host))
    run_dir = Path(request.options.runs_dir) / trial.run_id
    with tempfile.TemporaryDirectory(prefix="medganbench-trial-") as folder:
        (Path(folder) / REQUEST_NAME).write_text(json.dumps(request_json(request)))
        failure = launch(trial.spec.devices, [folder], run_dir, module=WORKER_MODULE)
        outcome_path = Path(folder) / OUTCOME_NAME
        if failure is not None or not outcome_path.exists():
            message = failure.message if failure is not None else "no outcome was written"
            return TrialOutcome(
                trial.run_id, "failed", message, seconds=time.perf_counter() - start, host=host
            )
        outcome = json.loads(outcome_path.read_text())
        rows_path = Path(folder) / ROWS_NAME
        rows = rows_from_table(read_leaderboard(rows_path)) if rows_path.exists() else []
    ok = outcome["status"] == "ok"
    if ok:
        report(TrialEvent(trial.run_id, "progress", rows[0].steps_done if rows else 0, 1.0, host))
    return TrialOutcome(
        trial.run_id,
        outcome["status"],
        outcome["error"],
        rows=rows,
        files=returned_files(run_dir) if ok else {},
        seconds=time.perf_counter() - start,
        host=host,
        resumed_from_step=outcome["resumed_from_step"],
    )
