"""A comparable group at a glance: a dot-and-whisker chart above its table, as inline SVG.

One panel per metric column, one row per model configuration (the table's rows, in its order):
the dot is the configuration's mean over seeds, the whisker its bootstrap interval of the mean.
Both are the :class:`~medganbench.leaderboard.seeds.SeedSummary` numbers the table shows, never
recomputed here, and each dot's tooltip is the table cell's full text.
"""

from __future__ import annotations

from dataclasses import dataclass

from medganbench.leaderboard.naming import PLAIN, Naming
from medganbench.leaderboard.render import args_cell, patient_note, summary_cell
from medganbench.leaderboard.seeds import AggregatedGroup, SeedAggregate
from medganbench.site.html import esc
from medganbench.site.svg import PALETTE, Scale, fmt, padded, svg_open, ticks

__all__ = ["EntryLabel", "dot_whisker_chart", "entry_labels", "full_cell_text"]

# Small panels, so that four stand side by side on a laptop screen and the table below is not
# pushed out of sight.
_W = 280
_LABEL_W = 104  # the row labels' column, left of the plot
_RIGHT = 12
_ROW_H = 18
_TOP, _BOTTOM = 24, 36
#: Characters of a row label shown; the whole label is its tooltip.
_LABEL_CHARS = 16


@dataclass(frozen=True)
class EntryLabel:
    """How a chart names a configuration: ``short`` on the chart, ``full`` in its tooltip."""

    short: str
    full: str


def entry_labels(group: AggregatedGroup, naming: Naming = PLAIN) -> list[EntryLabel]:
    """One label per entry of ``group``: its rank and model, with the arguments that differ
    from the defaults (:func:`~medganbench.leaderboard.render.args_cell`) where the group holds
    several configurations of that model."""
    counts: dict[str, int] = {}
    for entry in group.entries:
        counts[entry.model] = counts.get(entry.model, 0) + 1
    labels = []
    for entry in group.entries:
        rank = f"{entry.rank}." if entry.rank is not None else "–"
        args = args_cell(entry, naming)
        short = f"{rank} {entry.model}" + (f" {args}" if counts[entry.model] > 1 else "")
        if len(short) > _LABEL_CHARS:
            short = short[: _LABEL_CHARS - 1] + "…"
        labels.append(EntryLabel(short, f"{rank} {entry.model} v{entry.model_version} {args}"))
    return labels


def full_cell_text(entry: SeedAggregate, column: int) -> str:
    """The full text of ``entry``'s cell in metric ``column``: mean ± std [interval], the noise
    floor and sample size, the patient spread (as the terminal and markdown tables print it)."""
    sizes = entry.sample_sizes or (None,) * len(entry.summaries)
    return summary_cell(
        entry.summaries[column], entry.n_seeds, entry.noise_floors[column], sizes[column]
    ) + patient_note(entry, column)


def _panel(group: AggregatedGroup, column: int, labels: list[EntryLabel]) -> str:
    """One metric column's panel; ``""`` where no entry has a value for it."""
    metric = group.metrics[column]
    summaries = [e.summaries[column] for e in group.entries]
    present = [s for s in summaries if s is not None]
    if not present:
        return ""
    x0, x1 = padded(min(s.interval[0] for s in present), max(s.interval[1] for s in present))
    height = _TOP + len(summaries) * _ROW_H + _BOTTOM
    plot_bottom = height - _BOTTOM
    sx = Scale(x0, x1, _LABEL_W, _W - _RIGHT)
    percent = f"{group.confidence * 100:g}%"
    better = "higher is better →" if metric.higher_is_better else "← lower is better"
    parts = [
        svg_open(
            _W,
            height,
            f"{metric.label}: mean and {percent} interval per configuration",
            f"Dots: means over seeds; whiskers: {percent} bootstrap intervals of the mean; "
            f"{better.strip('←→ ')}.",
            "chart dots",
        ),
        f'<text class="panel-title" x="4" y="14" style="font-weight:600">'
        f"{esc(metric.label)}</text>",
        f'<rect x="{_LABEL_W}" y="{_TOP}" width="{_W - _RIGHT - _LABEL_W}" '
        f'height="{plot_bottom - _TOP}" fill="none" stroke="#d5dae0"/>',
    ]
    for tick in ticks(x0, x1):
        x = sx(tick)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{_TOP}" y2="{plot_bottom + 4}" stroke="#eef0f2"/>'
            f'<text x="{x:.1f}" y="{plot_bottom + 14}" text-anchor="middle">{esc(fmt(tick))}</text>'
        )
    anchor, bx = ("end", _W - _RIGHT) if metric.higher_is_better else ("start", _LABEL_W)
    parts.append(
        f'<text class="better" x="{bx}" y="{height - 6}" text-anchor="{anchor}">{better}</text>'
    )
    for row, (entry, summary, label) in enumerate(
        zip(group.entries, summaries, labels, strict=True)
    ):
        y = _TOP + row * _ROW_H + _ROW_H / 2
        colour = PALETTE[row % len(PALETTE)]
        parts.append(
            f'<text x="{_LABEL_W - 6}" y="{y + 4:.1f}" text-anchor="end">{esc(label.short)}'
            f"<title>{esc(label.full)}</title></text>"
        )
        if summary is None:
            continue
        tooltip = f"<title>{esc(label.full)}: {esc(full_cell_text(entry, column))}</title>"
        low, high = summary.interval
        whisker = (
            f'<line x1="{sx(low):.1f}" x2="{sx(high):.1f}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{colour}" stroke-width="2"/>'
            + "".join(
                f'<line x1="{sx(v):.1f}" x2="{sx(v):.1f}" y1="{y - 4:.1f}" y2="{y + 4:.1f}" '
                f'stroke="{colour}" stroke-width="1.5"/>'
                for v in (low, high)
            )
            if not summary.single_seed
            else ""
        )
        # One seed has no interval: a hollow dot says "a point, not an estimate".
        fill = "#fff" if summary.single_seed else colour
        parts.append(
            f'<g class="entry" data-mean="{summary.mean!r}">{tooltip}{whisker}'
            f'<circle cx="{sx(summary.mean):.1f}" cy="{y:.1f}" r="4" fill="{fill}" '
            f'stroke="{colour}" stroke-width="1.5"/></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


def dot_whisker_chart(group: AggregatedGroup, naming: Naming = PLAIN) -> str:
    """The group's dot-and-whisker chart (a ``<figure class="dots">`` of one SVG panel per
    metric column with a value); ``""`` where no column has one."""
    labels = entry_labels(group, naming)
    panels = [p for i in range(len(group.metrics)) if (p := _panel(group, i, labels))]
    if not panels:
        return ""
    percent = f"{group.confidence * 100:g}%"
    caption = (
        f"Each dot is a configuration's mean over seeds, its whisker the {percent} bootstrap "
        "interval of that mean (the numbers of the table below; hover a dot for them); a "
        "hollow dot is a single seed, which has no interval. The arrow under each panel says "
        "which way is better."
    )
    return (
        f'<figure class="dots"><div class="panels">{"".join(panels)}</div>'
        f"<figcaption>{esc(caption)}</figcaption></figure>"
    )
