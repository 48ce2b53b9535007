"""The terminal's tables of ranked leaderboard groups (``leaderboard show``): rich tables of the
cells :mod:`~medganbench.leaderboard.render` makes, and the compact one-line-per-model form."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, TypeAlias

from rich import box
from rich.markup import escape
from rich.table import Table as RichTable
from rich.text import Text

from medganbench.leaderboard.naming import PLAIN, Naming
from medganbench.leaderboard.numbers import format_estimate, format_value
from medganbench.leaderboard.ranking import RankedGroup
from medganbench.leaderboard.render import (
    COST_HEADER,
    EMPTY,
    args_cell,
    args_legend,
    args_text,
    seed_legend,
    table_cells,
)
from medganbench.leaderboard.seeds import AggregatedGroup, SeedSummary
from medganbench.leaderboard.titles import group_title
from medganbench.leaderboard.views import FULL, View

__all__ = ["compact_cells", "render_groups"]

_AnyGroup: TypeAlias = RankedGroup | AggregatedGroup


def compact_cells(group: _AnyGroup, naming: Naming) -> tuple[list[str], list[list[str]]]:
    """One short line per entry (or run): rank, model, args, seeds and mean ± std per column."""

    def rank(value: int | None) -> str:
        return EMPTY if value is None else str(value)

    labels = [c.label for c in group.metrics]
    if not isinstance(group, AggregatedGroup):
        rows = [
            [rank(r.rank), f"{r.model} v{r.model_version}"]
            + [args_text(r.model, r.model_version, r.model_args, r.precision, naming, r.world_size)]
            + [str(r.seed), *(format_value(v) for v in r.values)]
            for r in group.rows
        ]
        return ["rank", "model", "args", "seed", *labels], rows

    def estimate(summary: SeedSummary | None) -> str:
        if summary is None:
            return EMPTY
        if summary.std is None:
            return format_value(summary.mean)
        return format_estimate(summary.mean, summary.std)

    entries = [
        [rank(e.rank), f"{e.model} v{e.model_version}", args_cell(e, naming), str(e.n_seeds)]
        + [estimate(s) for s in e.summaries]
        for e in group.entries
    ]
    return ["rank", "model", "args", "seeds", *labels], entries


def render_groups(
    groups: Sequence[_AnyGroup], naming: Naming = PLAIN, view: View = FULL
) -> list[RichTable]:
    """One rich table per group, for the terminal.

    Args:
        groups: from :func:`~medganbench.leaderboard.ranking.ranked_groups` (one row per run: columns
            rank, model, args, seed, one per metric, steps, train s, device, run id) or from
            :func:`~medganbench.leaderboard.seeds.aggregate_groups` (one row per configuration:
            rank, model, args, seeds, one per metric as ``mean ± std [lo, hi]``, steps,
            train s, device, run ids; with a caption explaining the interval).

        naming: how arguments and directions are named (:mod:`~medganbench.leaderboard.naming`).
        view: what the cells leave out (:class:`~medganbench.leaderboard.views.View`: no
            interval; compact: rank, model, args, seeds and mean ± std only). Columns are
            chosen beforehand, by :func:`~medganbench.leaderboard.views.select`.

    Returns:
        Tables titled with the group key; numbers rounded as
        :mod:`~medganbench.leaderboard.numbers` says (a spread to 2 significant figures and
        the mean to its decimal place; a value without a spread to 4 significant figures).
    """
    tables = []
    for group in groups:
        headers, cells = (
            compact_cells(group, naming)
            if view.compact
            else table_cells(group, naming, intervals=view.intervals)
        )
        legend = (
            [seed_legend(group, intervals=view.shows_intervals)]
            if isinstance(group, AggregatedGroup)
            else []
        )
        caption = "; ".join(legend + [t for t in (args_legend([group], naming),) if t])
        # Cells, titles and captions are data, never rich markup: "[bf16-mixed]" must show.
        title = Text(group_title(group, naming))
        legend_text = Text(caption) if caption else None
        if view.compact:
            # No outer frame, no edge padding, a rule under the header only, one space between
            # columns: the columns' text gets the width.
            table = RichTable(
                title=title,
                caption=legend_text,
                box=box.SIMPLE_HEAD,
                show_edge=False,
                pad_edge=False,
                collapse_padding=True,
            )
        else:
            table = RichTable(title=title, caption=legend_text)
        numeric = {"rank", "seed", "steps", "train s", COST_HEADER} | {
            c.label for c in group.metrics
        }
        if view.compact:
            numeric.add("seeds")  # a bare count there
        # A compact cell is never cut with "…": a word wider than its column folds onto the
        # next line.
        overflow: Literal["fold", "ellipsis"] = "fold" if view.compact else "ellipsis"
        for header in headers:
            justify: Literal["left", "right"] = "right" if header in numeric else "left"
            table.add_column(escape(header), justify=justify, overflow=overflow)
        for row in cells:
            table.add_row(*(Text(cell) for cell in row))
        tables.append(table)
    return tables
