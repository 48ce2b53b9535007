"""Quality against evaluation cost: one scatter chart per comparable group, inline SVG.

A diffusion translator may beat a GAN by a dB and cost a thousand times more per image; the
table's ranking says the first, this chart the second. Each entry of a group (a model
configuration, merged over seeds) is one point: x is the model's mean wall seconds per output
image (``eval_seconds_per_image``, logarithmic: a GAN's forward pass and a sampling chain lie
decades apart), y the mean of the group's ranked metric with its interval as a whisker, the
label the model and its network evaluations per image. Entries without a measured cost (rows
before schema v7, external outputs) are left out, and a group gets no chart with fewer than
two points. The seconds are of the device each run's row names, so points are comparable
where the group's runs shared a device (the table's device column says).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from medganbench.leaderboard.naming import PLAIN, Naming
from medganbench.leaderboard.seeds import AggregatedGroup, SeedAggregate
from medganbench.leaderboard.titles import group_title, is_external, is_reader_study
from medganbench.site.html import esc
from medganbench.site.svg import PALETTE, Scale, fmt, padded, svg_open, ticks

__all__ = ["CostPoint", "cost_chart", "cost_points", "cost_section"]

_W, _H = 640, 300
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 190, 16, 44


@dataclass(frozen=True)
class CostPoint:
    """One entry of a group: its cost per image and its mean value (with interval)."""

    label: str
    seconds: float
    value: float
    low: float | None = None
    high: float | None = None


def _label(entry: SeedAggregate) -> str:
    steps = "" if entry.sampling_steps is None else f", {entry.sampling_steps} NFE"
    return f"{entry.model}{steps}"


def cost_points(group: AggregatedGroup) -> list[CostPoint]:
    """The group's entries that measured their cost and have a value of the ranked metric (the
    first metric where the group is not ranked)."""
    if not group.metrics:
        return []
    column = group.ranked_by or group.metrics[0]
    index = group.metrics.index(column)
    points = []
    for entry in group.entries:
        seconds, summary = entry.eval_seconds_per_image, entry.summaries[index]
        if seconds is None or not seconds > 0 or not math.isfinite(seconds) or summary is None:
            continue
        points.append(
            CostPoint(_label(entry), seconds, summary.mean, summary.ci_low, summary.ci_high)
        )
    return points


def cost_chart(points: Sequence[CostPoint], y_label: str, title: str) -> str:
    """An SVG scatter of ``points``: log-scaled seconds per image against the value, interval
    whiskers, one colour per point with a legend; every point's ``<title>`` holds its numbers."""
    logs = [math.log10(p.seconds) for p in points]
    ys = [v for p in points for v in (p.value, p.low, p.high) if v is not None]
    x0, x1 = math.floor(min(logs)), math.ceil(max(logs))
    if x1 == x0:
        x1 += 1
    y0, y1 = padded(min(ys), max(ys))
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    sx = Scale(x0, x1, _LEFT, _LEFT + plot_w)
    sy = Scale(y0, y1, _TOP + plot_h, _TOP)
    parts = [
        svg_open(_W, _H, title, "each point a model configuration, mean over seeds"),
        f'<rect x="{_LEFT}" y="{_TOP}" width="{plot_w}" height="{plot_h}" fill="none" '
        'stroke="#d5dae0"/>',
    ]
    for tick in ticks(y0, y1):
        y = sy(tick)
        parts.append(
            f'<line x1="{_LEFT - 4}" x2="{_LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#eef0f2"/>'
            f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{esc(fmt(tick))}</text>'
        )
    for power in range(x0, x1 + 1):
        x = sx(power)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{_TOP}" y2="{_TOP + plot_h}" stroke="#eef0f2"/>'
            f'<text x="{x:.1f}" y="{_TOP + plot_h + 16}" text-anchor="middle">'
            f"{esc(fmt(10.0**power))}</text>"
        )
    parts.append(
        f'<text x="{_LEFT + plot_w / 2:.1f}" y="{_H - 6}" text-anchor="middle">'
        "seconds per image (log scale)</text>"
        f'<text transform="translate(14 {_TOP + plot_h / 2:.1f}) rotate(-90)" '
        f'text-anchor="middle">{esc(y_label)}</text>'
    )
    for index, (point, log) in enumerate(zip(points, logs, strict=True)):
        colour = PALETTE[index % len(PALETTE)]
        x, y = sx(log), sy(point.value)
        interval = ""
        if point.low is not None and point.high is not None:
            parts.append(
                f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{sy(point.low):.1f}" '
                f'y2="{sy(point.high):.1f}" stroke="{colour}"/>'
            )
            interval = f" [{fmt(point.low)}, {fmt(point.high)}]"
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}"><title>'
            f"{esc(point.label)}: {esc(y_label)} {esc(fmt(point.value))}{esc(interval)} at "
            f"{esc(fmt(point.seconds))} s per image</title></circle>"
        )
        ly = _TOP + 12 + index * 16
        label = point.label if len(point.label) <= 28 else point.label[:27] + "…"
        parts.append(
            f'<rect x="{_W - _RIGHT + 10}" y="{ly - 8}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{_W - _RIGHT + 24}" y="{ly + 1}">{esc(label)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def cost_section(groups: Sequence[AggregatedGroup], naming: Naming = PLAIN) -> str:
    """The dataset page's "Quality against evaluation cost" section: a chart per budgeted group
    with two or more entries that measured their cost; empty where no group has."""
    charts = []
    for group in groups:
        points = cost_points(group)
        if is_external(group) or is_reader_study(group) or len(points) < 2:
            continue
        column = group.ranked_by or group.metrics[0]
        title = f"{column.label} against seconds per image — {group_title(group, naming)}"
        charts.append(
            f"<figure>{cost_chart(points, column.label, title)}<figcaption>{esc(title)}; "
            "points are means over seeds (whiskers their 95% intervals), x the model's own "
            "time to make one evaluated image on the device its rows name; NFE: network "
            "evaluations per image.</figcaption></figure>"
        )
    if not charts:
        return ""
    return (
        '<section id="cost"><h2>Quality against evaluation cost</h2>'
        + "".join(charts)
        + "</section>"
    )
