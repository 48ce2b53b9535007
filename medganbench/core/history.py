"""A run's training history: what was measured while it trained, one record per quantity and step.

Every run keeps it in ``runs/<run id>/history.arrow`` (see :mod:`medganbench.run.history` for the
file) and hands each record, as it is made, to the run's trackers
(:class:`medganbench.core.tracker.Tracker`). Two kinds of record exist:

* ``"loss"``: a training loss the model's :meth:`~medganbench.core.model.Model.train_step`
  returned, every ``--log-every`` steps (and at the step where a loss became non-finite);
  ``direction`` is ``""``;
* ``"val"``: a metric's value on the **validation** split, every ``--eval-every`` steps;
  ``direction`` is the evaluated direction (``"a2b"``, ``"a2b2a"``, ...).

``step``, ``kimg`` and ``seconds`` place a record on the three budget axes: the optimiser steps
done, the thousands of training images seen, and the training seconds metered against the budget
(evaluation time is never among them).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

#: The values of :attr:`HistoryRecord.kind`.
HISTORY_KINDS: tuple[str, ...] = ("loss", "val")

#: The Arrow schema of ``history.arrow``: one column per :class:`HistoryRecord` field, in order.
HISTORY_SCHEMA: pa.Schema = pa.schema(
    [
        pa.field("step", pa.int64(), nullable=False),
        pa.field("kimg", pa.float64(), nullable=False),
        pa.field("seconds", pa.float64(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),
        pa.field("direction", pa.string(), nullable=False),
        pa.field("name", pa.string(), nullable=False),
        pa.field("value", pa.float64(), nullable=False),
    ],
    metadata={b"medganbench.history_version": b"1"},
)


@dataclass(frozen=True)
class HistoryRecord:
    """One measured quantity at one training step.

    Attributes:
        step: optimiser steps done when it was measured (1 after the first step).
        kimg: thousands of training images seen by then.
        seconds: training seconds metered against the budget by then.
        kind: ``"loss"`` or ``"val"`` (:data:`HISTORY_KINDS`).
        direction: ``""`` for a loss; the evaluated direction for a validation value.
        name: the loss's name as the model reports it, or the metric's registered name.
        value: the value; a loss may be NaN or infinite (the step where training diverged).
    """

    step: int
    kimg: float
    seconds: float
    kind: str
    direction: str
    name: str
    value: float

    @property
    def series(self) -> str:
        """The curve the record belongs to: ``"loss/G_gan"``, ``"val/a2b/psnr"``."""
        if self.kind == "loss":
            return f"loss/{self.name}"
        return f"{self.kind}/{self.direction}/{self.name}"
