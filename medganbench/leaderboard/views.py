"""Which columns a terminal view shows: all of them (the default), only some metrics' columns,
and the compact one-line-per-model form of ``leaderboard show``.

A view selects columns of groups that are already ranked (:func:`select`), so ranks never
depend on what is shown; :mod:`~medganbench.leaderboard.render` then leaves out what the view
leaves out of each cell (intervals, noise floors, sample sizes, patient spreads).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from medganbench.leaderboard.ranking import RankedGroup
from medganbench.leaderboard.seeds import AggregatedGroup

__all__ = ["FULL", "View", "select"]

_T = TypeVar("_T")


@dataclass(frozen=True)
class View:
    """What a table shows.

    Attributes:
        metrics: only the columns of these metrics (every version, argument, ``eval_unit`` and
            ``eval_grid`` of each); groups without any of them are left out. Empty: every
            column (compact: the ranking column).
        intervals: the bootstrap interval beside mean ± std.
        compact: one line per model configuration: rank, model, args, seeds and the shown
            columns as mean ± std (a run's value with ``--runs``), nothing else: no interval,
            noise floor, sample size, patient spread, steps, time, device or run ids.
    """

    metrics: tuple[str, ...] = ()
    intervals: bool = True
    compact: bool = False

    @property
    def shows_intervals(self) -> bool:
        """Whether cells carry bootstrap intervals (never in the compact view)."""
        return self.intervals and not self.compact


#: Every column, every detail: the default view and the markdown export's.
FULL = View()


def _pick(values: Sequence[_T], keep: Sequence[int]) -> tuple[_T, ...]:
    # Optional per-column tuples may be empty: they stay so.
    return tuple(values[i] for i in keep) if values else ()


def _columns(group: RankedGroup | AggregatedGroup, view: View) -> list[int]:
    if view.metrics:
        return [i for i, c in enumerate(group.metrics) if c.metric in view.metrics]
    if view.compact and group.metrics:
        ranked = group.ranked_by
        return [group.metrics.index(ranked) if ranked in group.metrics else 0]
    return list(range(len(group.metrics)))


def _select(group: RankedGroup | AggregatedGroup, keep: list[int]) -> RankedGroup | AggregatedGroup:
    metrics = _pick(group.metrics, keep)
    if isinstance(group, AggregatedGroup):
        entries = tuple(
            dataclasses.replace(
                e,
                summaries=_pick(e.summaries, keep),
                noise_floors=_pick(e.noise_floors, keep),
                sample_sizes=_pick(e.sample_sizes, keep),
                patient_spreads=_pick(e.patient_spreads, keep),
            )
            for e in group.entries
        )
        return dataclasses.replace(group, metrics=metrics, entries=entries)
    rows = tuple(
        dataclasses.replace(
            r,
            values=_pick(r.values, keep),
            noise_floors=_pick(r.noise_floors, keep),
            sample_sizes=_pick(r.sample_sizes, keep),
            replicates=_pick(r.replicates, keep),
        )
        for r in group.rows
    )
    return dataclasses.replace(group, metrics=metrics, rows=rows)


def select(
    groups: Sequence[RankedGroup | AggregatedGroup], view: View
) -> list[RankedGroup | AggregatedGroup]:
    """``groups`` with only the columns ``view`` shows; groups without any left out."""
    out = []
    for group in groups:
        keep = _columns(group, view)
        if not (view.metrics and not keep):
            out.append(_select(group, keep))
    return out
