"""``--tracker tensorboard``: a run's history and sample grids as TensorBoard event files.

Scalars are tagged by their series (``loss/G_gan``, ``val/a2b/psnr``) with the training step as
x, written as float64 tensors (``double_precision``), so TensorBoard's reader gives back the
history's values exactly (a classic ``simple_value`` would round them to float32). Sample
grids are images under their tags (``val/samples``, ``samples``, ``samples-b2a``); the run's
identity (``spec.json``) is a text entry at step 0.

The events go to ``runs/<run id>/trackers/tensorboard``, or to ``LOGDIR/<run id>`` with the
argument ``logdir=LOGDIR``, so that several runs share one ``tensorboard --logdir LOGDIR``
page. Every writer starts with a purge step: a fresh run at 0
(events an earlier attempt left in its folder are dropped from view), a resumed one at the step
after its checkpoint, so the points a killed run logged after that checkpoint, which the
resumed run logs again, are not shown twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medganbench.core.history import HistoryRecord
from medganbench.core.hookspecs import hookimpl
from medganbench.core.params import Param
from medganbench.core.specs import TrackerSpec
from medganbench.core.tracker import Tracker, TrackerContext
from medganbench.errors import UsageError
from medganbench.fileio import writable_dir_problem

#: The tag of the run's identity (its spec.json), written once at step 0.
IDENTITY_TAG = "medganbench/run"


def event_folder(args: Mapping[str, Any], ctx: TrackerContext) -> Path:
    """Where the run's event files go (see the module)."""
    if args["logdir"]:
        return Path(str(args["logdir"])).expanduser() / ctx.run_id
    return ctx.run_dir / "trackers" / "tensorboard"


def identity_text(identity: Mapping[str, Any]) -> str:
    """The run's identity as Markdown: its JSON, indented four spaces (a code block)."""
    lines = json.dumps(dict(identity), indent=2, sort_keys=True, default=str).splitlines()
    return "\n".join(f"    {line}" for line in lines)


class TensorBoardTracker(Tracker):
    """Writes the run's records and grids with ``torch.utils.tensorboard.SummaryWriter``.

    Raises:
        UsageError: the event folder cannot be created or written.
    """

    def __init__(self, args: Mapping[str, Any], ctx: TrackerContext) -> None:
        super().__init__(args, ctx)
        # Imported here: only a run that asks for TensorBoard pays for (or needs) it.
        from torch.utils.tensorboard import SummaryWriter

        self.folder = event_folder(args, ctx)
        problem = writable_dir_problem(self.folder)
        if problem is not None:
            raise UsageError(
                f"TensorBoard cannot write its events: {problem}.",
                hint="Give the tracker another folder (its argument logdir=DIR).",
            )
        resumed = ctx.resumed_from_step
        try:
            self.writer = SummaryWriter(
                log_dir=str(self.folder),
                purge_step=0 if resumed is None else resumed + 1,
                flush_secs=int(args["flush_secs"]),
            )
        except OSError as exc:
            raise UsageError(
                f"TensorBoard cannot write its events into {self.folder}: {exc}"
            ) from exc
        if resumed is None:
            self.writer.add_text(IDENTITY_TAG, identity_text(ctx.identity), global_step=0)

    def log_records(self, records: Sequence[HistoryRecord]) -> None:
        for record in records:
            self.writer.add_scalar(
                record.series,
                record.value,
                global_step=record.step,
                new_style=True,
                double_precision=True,
            )

    def log_image(self, tag: str, step: int, image: np.ndarray) -> None:
        self.writer.add_image(tag, image, global_step=step, dataformats="HWC")

    def close(self) -> None:
        # SummaryWriter.close() flushes and may be called again: it does nothing then.
        self.writer.close()


@hookimpl
def medganbench_trackers() -> list[TrackerSpec]:
    return [
        TrackerSpec(
            name="tensorboard",
            summary="TensorBoard event files: losses and validation metrics by step, sample grids.",
            version="1",
            factory=f"{__name__}:TensorBoardTracker",
            params=(
                Param(
                    "logdir",
                    "",
                    "folder shared by runs: events go to LOGDIR/<run id> (default: "
                    "runs/<run id>/trackers/tensorboard)",
                    location=True,
                ),
                Param(
                    "flush_secs",
                    30,
                    "seconds between flushes to disk (and at the end of the run)",
                    minimum=1,
                    maximum=86400,
                ),
            ),
            requires=("tensorboard",),
            install="pip install 'medganbench[tensorboard]'",
        )
    ]
