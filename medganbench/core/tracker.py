"""The tracker contract: exporters that mirror a run's history to an experiment tracker.

A tracker (TensorBoard, MLflow, W&B, ...) is a plugin component (``medganbench_trackers`` hook,
:class:`~medganbench.core.specs.TrackerSpec`) chosen per run with ``--tracker NAME``. It receives
the same :class:`~medganbench.core.history.HistoryRecord` s the run writes to its
``history.arrow``, as they are made, and the sample grids. Nothing a tracker does can change a
result: trackers are not part of the run id, and none is required for a run.

Contract:

* :meth:`Tracker.log_records` receives each batch of new records once, in step order;
* :meth:`Tracker.log_image` receives sample grids: the validation grid of the model's primary
  direction at every ``--eval-every`` step (``"val/samples"``), and the final grids
  (``"samples"``, ``"samples-<direction>"``) at the last step;
* :meth:`Tracker.close` is called once, after the run ends (also when it fails); it must flush.

A resumed run builds its trackers again with ``ctx.resumed_from_step`` set; records after that
step may already be in the tracker's store (the run was killed after logging them), and a
tracker that can should drop them (TensorBoard's ``purge_step``) before the run logs them again.
A tracker that cannot reach its store raises :class:`~medganbench.errors.UsageError` from its
constructor, before training starts.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medganbench.core.history import HistoryRecord


@dataclass(frozen=True)
class TrackerContext:
    """What a tracker is told about the run it mirrors.

    Attributes:
        run_id: the run's id.
        run_dir: the run's folder (``runs/<run id>``); a tracker with a local store keeps it
            below ``run_dir / "trackers" / <tracker name>`` unless its arguments say otherwise.
        identity: the run's spec as recorded in ``spec.json`` (model, dataset, budget, seed,
            ...): plain JSON values, for a tracker's parameters or tags.
        resumed_from_step: the checkpoint step a resumed run continues from, else ``None``.
    """

    run_id: str
    run_dir: Path
    identity: Mapping[str, Any] = field(default_factory=dict)
    resumed_from_step: int | None = None


class Tracker(ABC):
    """Mirrors one run's history to an experiment tracker (see the module for the contract).

    Args:
        args: the tracker's resolved arguments (its declared :class:`~medganbench.core.params.Param` s).
        ctx: the run it mirrors.
    """

    def __init__(self, args: Mapping[str, Any], ctx: TrackerContext) -> None:
        self.args = dict(args)
        self.ctx = ctx

    @abstractmethod
    def log_records(self, records: Sequence[HistoryRecord]) -> None:
        """Log new history records (in step order; each record exactly once)."""

    @abstractmethod
    def log_image(self, tag: str, step: int, image: np.ndarray) -> None:
        """Log one sample grid: ``image`` is (H, W, 3) uint8 RGB."""

    def close(self) -> None:
        """Flush and release the store (called once, also after a failed run)."""
