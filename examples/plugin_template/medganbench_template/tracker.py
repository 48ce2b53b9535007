"""Template: an experiment tracker for medganbench. Copy this file to send runs elsewhere (W&B,
Neptune, Aim, a database of your own).

A tracker plugin returns :class:`TrackerSpec` objects from ``medganbench_trackers``; ``medganbench
run --tracker template-jsonl`` then mirrors the run to it. This one writes what a hosted
tracker would upload, to local files: one JSON line per history record (``kind``, ``series``,
``step``, ``value``, ...) in ``runs/<run id>/trackers/template-jsonl/history.jsonl``, and each
sample grid as ``images/<tag>-<step>.npy`` with a JSON line naming it.

The contract (``medganbench/core/tracker.py``): ``log_records`` gets each batch of new records
once, in step order (a loss may be NaN, at the step where training diverged); ``log_image``
gets (H, W, 3) uint8 RGB grids, read-only; ``close`` flushes and may be called more than once.
A store that cannot be used is a :class:`UsageError` from the constructor, before training. A
resumed run builds the tracker again with ``ctx.resumed_from_step`` set: drop what the store
holds after that step (the killed run logged it; the resumed run logs it again). A tracker that
raises while the run trains is reported and dropped; the run goes on. Its name and version are
not part of any run id: a tracker cannot change a result. ``medganbench check tracker
template-jsonl`` checks it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from medganbench.plugin import (
    HistoryRecord,
    Param,
    Tracker,
    TrackerContext,
    TrackerSpec,
    UsageError,
    hookimpl,
)


class JsonLinesTracker(Tracker):
    """Appends the run's records and grids to local files, as a hosted tracker would upload."""

    def __init__(self, args: Mapping[str, Any], ctx: TrackerContext) -> None:
        super().__init__(args, ctx)
        self.folder = ctx.run_dir / "trackers" / "template-jsonl"
        try:
            (self.folder / "images").mkdir(parents=True, exist_ok=True)
            if ctx.resumed_from_step is not None:
                self._drop_after(ctx.resumed_from_step)
            self.lines = (self.folder / "history.jsonl").open("a", encoding="utf-8")
        except OSError as exc:  # a service would report an unreachable server here
            raise UsageError(f"template-jsonl cannot write into {self.folder}: {exc}") from exc

    def _drop_after(self, step: int) -> None:
        path = self.folder / "history.jsonl"
        if path.exists():
            kept = [
                line
                for line in path.read_text(encoding="utf-8").splitlines(keepends=True)
                if json.loads(line)["step"] <= step
            ]
            path.write_text("".join(kept), encoding="utf-8")

    def _write(self, entry: dict[str, Any]) -> None:
        self.lines.write(json.dumps(entry, sort_keys=True) + "\n")

    def log_records(self, records: Sequence[HistoryRecord]) -> None:
        for r in records:
            # JSON has no NaN: a diverged loss is written as null.
            value = r.value if math.isfinite(r.value) else None
            self._write(
                {
                    "step": r.step,
                    "kimg": r.kimg,
                    "seconds": r.seconds,
                    "kind": r.kind,
                    "series": r.series,
                    "value": value,
                }
            )
        if self.args["flush_every_batch"]:
            self.lines.flush()

    def log_image(self, tag: str, step: int, image: np.ndarray) -> None:
        name = f"{tag.replace('/', '_')}-{step:08d}.npy"
        np.save(self.folder / "images" / name, image, allow_pickle=False)
        self._write({"step": step, "image": f"images/{name}", "tag": tag})

    def close(self) -> None:
        self.lines.close()  # closing a closed file does nothing: close() may come twice


@hookimpl
def medganbench_trackers() -> list[TrackerSpec]:
    return [
        TrackerSpec(
            name="template-jsonl",
            summary="Template: history as JSON lines, grids as .npy files (examples/plugin_template).",
            version="1",
            factory=f"{__name__}:JsonLinesTracker",
            params=(Param("flush_every_batch", True, "flush the file after every batch"),),
        )
    ]
