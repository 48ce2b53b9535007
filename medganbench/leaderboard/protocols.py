"""The values of the leaderboard's ``protocol`` column (schema v5): which checkpoint a row scores.

``"final"``: the weights at the end of the budget. ``"best:METRIC@val"``: the checkpoint with the
best value of METRIC on the validation split (``medganbench run --select best:METRIC``).
"""

from __future__ import annotations

import re

#: The ``protocol`` of rows that score the weights at the end of the budget.
FINAL_PROTOCOL = "final"
# best:METRIC@val, METRIC a registered metric name (lower-case letters, digits, - and _).
_BEST = re.compile(r"best:[a-z0-9][a-z0-9_-]{0,63}@val")


def is_protocol(value: str) -> bool:
    """``"final"``, or ``"best:METRIC@val"`` with a metric name."""
    return value == FINAL_PROTOCOL or _BEST.fullmatch(value) is not None


def best_protocol(metric: str) -> str:
    """The ``protocol`` of rows scored at the best validation value of ``metric``."""
    return f"best:{metric}@val"
