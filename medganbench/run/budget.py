"""Training budgets and the ledger that meters them.

A budget caps training by any of three measures: optimiser steps, kimg (thousands of real
images shown to the model) and seconds of training time. The first limit reached stops training.
Evaluation, checkpointing and sample writing are metered apart and never count against it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from medganbench.errors import UsageError

_KEYS = ("steps", "kimg", "seconds")


@dataclass(frozen=True)
class Budget:
    """Limits on training; ``None`` means "no limit on this measure".

    At least one limit must be set, so that every run ends.
    """

    steps: int | None = None
    kimg: float | None = None
    seconds: float | None = None

    def __post_init__(self) -> None:
        if self.steps is None and self.kimg is None and self.seconds is None:
            raise UsageError("A budget needs at least one of steps, kimg or seconds.")
        for key in _KEYS:
            value = getattr(self, key)
            if value is not None and not (value > 0 and math.isfinite(value)):
                raise UsageError(f"Budget {key}={value} must be a positive number.")
        # Recorded in the leaderboard's int64 column: refused now rather than after training.
        if self.steps is not None and self.steps >= 2**63:
            raise UsageError(f"Budget steps={self.steps} is too large (at most {2**63 - 1}).")

    @classmethod
    def parse(cls, text: str) -> Budget:
        """Parse ``"steps=N,kimg=K,seconds=S"`` (any subset, any order).

        Raises:
            UsageError: unknown key, repeated key, or a value that is not a positive number.
        """
        values: dict[str, float | int] = {}
        for part in text.split(","):
            part = part.strip()
            if not part:
                continue
            key, sep, raw = part.partition("=")
            key = key.strip()
            if not sep or key not in _KEYS:
                raise UsageError(
                    f"Bad budget item {part!r}.",
                    hint="Use steps=N, kimg=K and/or seconds=S, comma-separated, "
                    "e.g. --budget steps=2000,seconds=600",
                )
            if key in values:
                raise UsageError(f"Budget item {key!r} is given twice.")
            try:
                values[key] = int(raw) if key == "steps" else float(raw)
            except ValueError:
                raise UsageError(f"Budget {key}={raw!r} is not a number.") from None
        return cls(**values)  # type: ignore[arg-type]

    def __str__(self) -> str:
        return ",".join(f"{k}={getattr(self, k)}" for k in _KEYS if getattr(self, k) is not None)

    def as_dict(self) -> dict[str, float | int | None]:
        """The three limits by name (``None`` where unset)."""
        return {k: getattr(self, k) for k in _KEYS}


@dataclass
class Ledger:
    """What a run has consumed so far.

    Attributes:
        steps: optimiser steps taken.
        images: real images shown to the model (per domain: a paired batch of N counts N).
        train_seconds: wall time spent fetching batches and stepping the model.
        eval_seconds: wall time spent evaluating (not counted against the budget).
    """

    steps: int = 0
    images: int = 0
    train_seconds: float = 0.0
    eval_seconds: float = 0.0
    losses: dict[str, float] = field(default_factory=dict)

    @property
    def kimg(self) -> float:
        """Thousands of images shown."""
        return self.images / 1000.0

    def exhausted(self, budget: Budget) -> bool:
        """Whether any of ``budget``'s limits has been reached."""
        return (
            (budget.steps is not None and self.steps >= budget.steps)
            or (budget.kimg is not None and self.kimg >= budget.kimg)
            or (budget.seconds is not None and self.train_seconds >= budget.seconds)
        )

    def fraction(self, budget: Budget) -> float:
        """How far along the budget is, in [0, 1]: the largest fraction over the set limits."""
        parts = []
        if budget.steps is not None:
            parts.append(self.steps / budget.steps)
        if budget.kimg is not None:
            parts.append(self.kimg / budget.kimg)
        if budget.seconds is not None:
            parts.append(self.train_seconds / budget.seconds)
        return min(1.0, max(parts))
