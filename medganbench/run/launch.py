"""``medganbench run --devices N``: start the run's N processes with torchrun's own launcher.

The command line re-runs itself as N worker processes through
``torch.distributed.launcher.api.elastic_launch`` (what ``torchrun --standalone
--nproc_per_node N`` runs), each of which finds its place in the environment
(:mod:`medganbench.run.distributed`). The workers do not print their errors: each writes it to
a file of this launch (:func:`report_error`), and the launcher prints exactly one message for
the whole run, the first real cause: an error a process raised, else the process that stopped
without one (killed, or lost), with the command that continues the run from its checkpoint.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medganbench.run.distributed import PEER_LOST_EXIT, launched_world

#: The variable that tells a worker where to write its error (set by :func:`launch`).
ERROR_DIR_VARIABLE = "MEDGANBENCH_ERROR_DIR"


@dataclass(frozen=True)
class LaunchFailure:
    """Why a multi-device run stopped: one message (and hint) and the exit status to end with."""

    message: str
    hint: str | None
    exit_code: int


def report_error(message: str, hint: str | None, exit_code: int) -> bool:
    """In a worker started by :func:`launch`, hand the error to the launcher instead of
    printing it; returns whether it did (``False`` outside such a worker: print it)."""
    folder = os.environ.get(ERROR_DIR_VARIABLE)
    if not folder:
        return False
    rank = launched_world().rank
    path = Path(folder) / f"rank-{rank}.json"
    path.write_text(json.dumps({"message": message, "hint": hint, "exit_code": exit_code}))
    return True


def launch(
    devices: int, argv: Sequence[str], run_dir: Path, module: str = "medganbench"
) -> LaunchFailure | None:
    """Run ``python -m MODULE ARGV`` as ``devices`` processes on this machine, under
    torchrun's launcher; ``None`` when all ended well, else why the run stopped.

    Args:
        devices: the number of processes (one per GPU, or CPU processes on a CPU).
        argv: the command line after the module (the workers read their place from the
            environment torchrun sets).
        run_dir: the run's folder, for the command that continues it.
        module: the workers' entry point: the command line, or a sweep's trial
            (:mod:`medganbench.sweep.device_trial`).

    Raises:
        KeyboardInterrupt: passed through, after the workers were stopped.
    """
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    config = LaunchConfig(
        min_nodes=1,
        max_nodes=1,
        nproc_per_node=devices,
        run_id=uuid.uuid4().hex,
        rdzv_backend="c10d",
        rdzv_endpoint="localhost:0",  # torchrun --standalone: a free port of this machine
        max_restarts=0,
        monitor_interval=0.1,
    )
    with tempfile.TemporaryDirectory(prefix="medganbench-launch-") as folder:
        env = {ERROR_DIR_VARIABLE: folder, **_thread_default(devices)}
        try:
            with _environment(env), _quiet_launcher():
                elastic_launch(config, sys.executable)("-m", module, *argv)
        except ChildFailedError as exc:
            return first_cause(exc.failures, Path(folder), devices, run_dir)
    return None


def _thread_default(devices: int) -> dict[str, str]:
    """Share the CPU cores between the processes unless ``OMP_NUM_THREADS`` says otherwise
    (as torchrun does; each process's threads are on its rows)."""
    if "OMP_NUM_THREADS" in os.environ:
        return {}
    return {"OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 1) // devices))}


@contextmanager
def _environment(values: Mapping[str, str]) -> Any:
    """These variables set for the block (the workers inherit this process's environment)."""
    before = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in before.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def _quiet_launcher() -> Any:
    """torchrun's launcher logs every worker it stops; the run's one message says it instead."""
    logger = logging.getLogger("torch.distributed.elastic")
    before = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(before)


def first_cause(
    failures: Mapping[int, Any], folder: Path, devices: int, run_dir: Path
) -> LaunchFailure:
    """The error to report for a run whose processes failed (see the module's docstring)."""
    reports: dict[int, dict[str, Any]] = {}
    for path in folder.glob("rank-*.json"):
        try:
            reports[int(path.stem.partition("-")[2])] = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
    for rank in sorted(reports):
        report = reports[rank]
        if report.get("exit_code") != PEER_LOST_EXIT:
            return LaunchFailure(
                str(report.get("message")), report.get("hint"), int(report.get("exit_code", 1))
            )
    # The launcher stops the remaining processes with SIGTERM once one failed: those are
    # consequences, as are the processes that stopped because they lost a peer.
    consequences = (PEER_LOST_EXIT, -signal.SIGTERM)
    causes = sorted(r for r, f in failures.items() if f.exitcode not in consequences)
    rank = causes[0] if causes else min(failures)
    code = failures[rank].exitcode
    how = f"was killed by {_signal_name(-code)}" if code < 0 else f"exited with {code}"
    return LaunchFailure(
        f"Process {rank} of this {devices}-device run {how}, so the run stopped; no row was "
        "written, and its checkpoints are complete.",
        f"Continue it with: medganbench run --resume {run_dir} --devices {devices}",
        1,
    )


def _signal_name(number: int) -> str:
    """``SIGKILL`` for 9; the number where the signal has no name."""
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
