"""What the train phase hands to evaluation and recording (kept apart from the training loop, so
that evaluation, which validation during training also uses, does not import the loop)."""

from __future__ import annotations

from dataclasses import dataclass

from medganbench.run.budget import Ledger


@dataclass(frozen=True)
class TrainedRun:
    """What training left behind.

    Attributes:
        ledger: steps, images and training seconds used (including those before a resume).
        flops_per_step: FLOPs of one training step, counted on the run's first step.
        peak_memory_mb: the largest peak memory of any process that trained the run.
        resumed_from_step: the checkpoint step training continued from, or ``None``.
        selected_step: the step whose weights the model holds now and evaluation scores:
            the last step (``None`` means the same), or the best validation step under
            ``--select best:METRIC``.
    """

    ledger: Ledger
    flops_per_step: int
    peak_memory_mb: float
    resumed_from_step: int | None
    selected_step: int | None = None
