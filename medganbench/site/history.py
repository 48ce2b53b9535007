"""What the site shows of a run's ``history.arrow``: its curves, read from a runs folder that may
be hostile, and boiled down to a bounded number of points as soon as they are read.

A run recorded before histories existed has no file: :func:`load_history` returns ``None`` and
the pages show nothing. A file that cannot be read (corrupt, not a history, a link out of the
runs folder) gives :data:`UNREADABLE`, which the run page reports as "history unreadable";
the publish goes on either way.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from medganbench.core.history import HistoryRecord
from medganbench.core.names import contained
from medganbench.errors import DataError
from medganbench.run.history import HISTORY_NAME, first_non_finite, read_history
from medganbench.site.curves import MAX_POINTS, Curve, downsample

__all__ = ["MAX_CURVES", "UNREADABLE", "RunHistory", "ValCurve", "load_history", "summarise"]

#: The most curves of one kind (losses; validation values) a run's page draws: a hostile file
#: may name a million series. The rest are counted in :attr:`RunHistory.left_out`.
MAX_CURVES = 16


@dataclass(frozen=True)
class ValCurve:
    """One metric's validation values in one direction, against step."""

    direction: str
    metric: str
    curve: Curve


@dataclass(frozen=True)
class RunHistory:
    """A run's history as the site draws it.

    Attributes:
        losses: one curve per loss, in the order the file first names them, each cut at its
            first non-finite value (what follows a divergence is not a loss curve).
        val: one curve per (direction, metric), in the order the file first names them;
            non-finite values are left out.
        diverged_at: the step of the first non-finite loss, if training diverged.
        left_out: curves beyond :data:`MAX_CURVES` of a kind, not drawn.
        unreadable: the file exists but could not be read; nothing else is set then.
    """

    losses: tuple[Curve, ...] = ()
    val: tuple[ValCurve, ...] = ()
    diverged_at: int | None = None
    left_out: int = 0
    unreadable: bool = False

    def val_curve(self, direction: str, metric: str) -> Curve | None:
        """The validation curve of ``metric`` in ``direction``, if the run has one."""
        return next(
            (v.curve for v in self.val if (v.direction, v.metric) == (direction, metric)), None
        )


#: The history of a run whose file could not be read.
UNREADABLE = RunHistory(unreadable=True)


def summarise(records: Sequence[HistoryRecord], limit: int = MAX_POINTS) -> RunHistory:
    """The curves of ``records`` (see :class:`RunHistory` for what each holds), each cut down to
    at most ``limit`` points by :func:`~medganbench.site.curves.downsample`."""
    series: dict[tuple[str, str, str], list[tuple[int, float]]] = {}
    cut: set[tuple[str, str, str]] = set()
    for record in records:
        key = (record.kind, record.direction, record.name)
        points = series.setdefault(key, [])
        if key in cut:
            continue
        if math.isfinite(record.value):
            points.append((record.step, record.value))
        elif record.kind == "loss":
            cut.add(key)
    loss_keys = [k for k in series if k[0] == "loss"]
    val_keys = [k for k in series if k[0] == "val"]
    diverged = first_non_finite(records)
    return RunHistory(
        losses=tuple(
            Curve(name, downsample(series[(kind, d, name)], limit))
            for kind, d, name in loss_keys[:MAX_CURVES]
        ),
        val=tuple(
            ValCurve(d, name, Curve(name, downsample(series[(kind, d, name)], limit)))
            for kind, d, name in val_keys[:MAX_CURVES]
        ),
        diverged_at=diverged.step if diverged is not None else None,
        left_out=max(0, len(loss_keys) - MAX_CURVES) + max(0, len(val_keys) - MAX_CURVES),
    )


def load_history(runs_dir: Path, run_dir: Path) -> RunHistory | None:
    """The history of the run in ``run_dir`` (a folder of ``runs_dir``).

    Returns:
        ``None`` where the run has no history file (recorded before histories existed);
        :data:`UNREADABLE` where the file is a link out of ``runs_dir`` (a shared runs folder
        must not pull a file from elsewhere into a published site), too large, corrupt or not a
        history; else its :func:`summarise`. Never raises for a bad file: one run's history
        must not stop a publish.
    """
    path = run_dir / HISTORY_NAME
    if not os.path.lexists(path):
        return None
    if not contained(runs_dir, path):
        return UNREADABLE
    try:
        records = read_history(path)
    except FileNotFoundError:  # removed since it was seen, or a dangling link inside the folder
        return None
    # ValueError: pyarrow's own errors on a crafted file that validation did not turn into a
    # DataError.
    except (DataError, OSError, ValueError):
        return UNREADABLE
    return summarise(records)
