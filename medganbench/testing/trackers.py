"""The tracker contracts: declarations, build, logging, close, resume, and an unusable store.

Each tracker is built into a temporary run folder with a small identity and fed what a run
feeds it: training losses (one of them NaN, as at a diverging step), validation values, a
validation grid and the final grids, then closed twice. A second tracker of the same run is
built as a resumed run builds it and fed the steps after the checkpoint. A tracker whose
package is not installed has every contract after ``declares`` skipped, naming the ``pip
install`` that adds it; one that talks to a server needs arguments that reach one (``--arg``),
or its contracts skipped with the reason.

What a tracker wrote is not read back here: only the tracker knows its store. Its own tests
read it (medganbench's read the TensorBoard events and the MLflow run back).
"""

from __future__ import annotations

import shutil
import tempfile
import weakref
from pathlib import Path

import numpy as np

from medganbench.core.history import HistoryRecord
from medganbench.core.specs import TrackerSpec
from medganbench.core.tracker import Tracker, TrackerContext
from medganbench.errors import UsageError
from medganbench.testing.report import Contract, NotApplicable, Probe, expect
from medganbench.testing.support import check_declaration

#: The run id of the probe run (16 hex digits, as a real one).
PROBE_RUN_ID = "0123456789abcdef"
#: The identity of the probe run: what ``spec.json`` holds, in small.
PROBE_IDENTITY = {
    "run_id": PROBE_RUN_ID,
    "model": "identity",
    "model_version": "1",
    "model_args": {"direction": "a2b"},
    "dataset": "phantom-brain",
    "image_size": 32,
    "budget": {"steps": 8, "kimg": None, "seconds": None},
    "seed": 0,
}
#: The step the probe run is "killed" after and resumed from.
RESUME_STEP = 4
#: The last step of the probe run.
LAST_STEP = 8


def probe_records(first: int, last: int) -> tuple[HistoryRecord, ...]:
    """Steps ``first``..``last`` of a probe history: two losses every step (the second NaN at
    step 3, as a diverging model reports it) and a validation PSNR every second step."""
    records = []
    for step in range(first, last + 1):
        kimg, seconds = step * 0.004, step * 0.25
        records.append(HistoryRecord(step, kimg, seconds, "loss", "", "G_gan", 1.0 / step))
        nan = float("nan") if step == 3 else 0.5 + step / 100
        records.append(HistoryRecord(step, kimg, seconds, "loss", "", "D", nan))
        if step % 2 == 0:
            records.append(HistoryRecord(step, kimg, seconds, "val", "a2b", "psnr", 20.0 + step))
    return tuple(records)


def probe_grid(height: int = 24, width: int = 40) -> np.ndarray:
    """A (H, W, 3) uint8 RGB sample grid: a ramp per channel."""
    ramp = np.linspace(0, 255, height * width * 3) % 256
    return ramp.astype(np.uint8).reshape(height, width, 3)


def _folder(probe: Probe) -> Path:
    """The probe's temporary run folder, removed when the probe is (or at exit)."""
    if "folder" not in probe.made:
        folder = tempfile.mkdtemp(prefix="medganbench-check-")
        # Not a TemporaryDirectory in probe.made: run_contracts drops what the checks made, and
        # a TemporaryDirectory cleaned up by the garbage collector warns.
        weakref.finalize(probe, shutil.rmtree, folder, ignore_errors=True)
        probe.made["folder"] = folder
    run_dir = Path(probe.made["folder"]) / "runs" / PROBE_RUN_ID
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def _context(probe: Probe, resumed_from_step: int | None = None) -> TrackerContext:
    return TrackerContext(PROBE_RUN_ID, _folder(probe), PROBE_IDENTITY, resumed_from_step)


def _build(probe: Probe) -> str:
    spec: TrackerSpec = probe.spec
    missing = spec.missing()
    if missing:
        raise NotApplicable(
            f"{', '.join(missing)} not installed here ({spec.install or 'pip install ...'})"
        )
    tracker = spec.build(probe.args, _context(probe))
    expect(isinstance(tracker, Tracker), f"the factory built a {type(tracker).__name__}")
    probe.made["tracker"] = tracker
    return f"{type(tracker).__name__} into a fresh run folder"


def _log(probe: Probe) -> str:
    tracker: Tracker = probe.made["tracker"]
    records = probe_records(1, RESUME_STEP)
    for step in (1, 2, 3, RESUME_STEP):  # in batches, as a run hands them over
        tracker.log_records([r for r in records if r.step == step])
    tracker.log_image("val/samples", RESUME_STEP, probe_grid())
    return f"{len(records)} records (a NaN loss among them) and a validation grid"


def _close(probe: Probe) -> str:
    tracker: Tracker = probe.made["tracker"]
    tracker.close()
    tracker.close()
    return "close() returns, and again"


def _resume(probe: Probe) -> str:
    tracker = probe.spec.build(probe.args, _context(probe, RESUME_STEP))
    records = probe_records(RESUME_STEP + 1, LAST_STEP)
    tracker.log_records(records)
    tracker.log_image("val/samples", LAST_STEP, probe_grid())
    tracker.log_image("samples", LAST_STEP, probe_grid(48, 40))
    tracker.log_image("samples-b2a", LAST_STEP, probe_grid(48, 40))
    tracker.close()
    return (
        f"built again from step {RESUME_STEP}: {len(records)} more records, the validation and "
        "final grids, closed"
    )


def _unusable_store(probe: Probe) -> str:
    # A run folder below a regular file: nothing can be created there.
    blocker = _folder(probe).parent / "a-file"
    blocker.write_text("not a folder\n")
    ctx = TrackerContext(PROBE_RUN_ID, blocker / "runs" / PROBE_RUN_ID, PROBE_IDENTITY)
    try:
        tracker = probe.spec.build(probe.args, ctx)
    except UsageError as exc:
        text = " ".join(exc.message.split())
        return f"UsageError: {text if len(text) <= 100 else text[:99] + '…'}"
    tracker.close()
    raise NotApplicable("its store is not below the run folder (built with it unusable)")


CONTRACTS: tuple[Contract, ...] = (
    Contract("declares", "a version, parameters with help and valid defaults", check_declaration),
    Contract("build", "the factory builds a Tracker into a fresh run folder", _build),
    Contract(
        "log", "history records (a NaN loss too) and a sample grid are logged", _log, ("build",)
    ),
    Contract("close", "close() returns, and may be called again", _close, ("log",)),
    Contract(
        "resume",
        "built again as a resumed run, it logs the steps after the checkpoint and the final grids",
        _resume,
        ("close",),
    ),
    Contract(
        "unusable-store",
        "a store it cannot create is a UsageError from the constructor, no other exception",
        _unusable_store,
        ("build",),
    ),
)

__all__ = ["CONTRACTS", "LAST_STEP", "PROBE_IDENTITY", "RESUME_STEP", "probe_grid", "probe_records"]
