"""Metric-against-budget charts as inline SVG (no chart library, no script, no network)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from medganbench.site.html import esc
from medganbench.site.svg import PALETTE, fmt, svg_open, ticks

_W, _H = 640, 300
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 170, 16, 44


@dataclass(frozen=True)
class Point:
    """One budget's mean, with its interval where there is one."""

    x: float
    y: float
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class Series:
    """One model configuration across budgets."""

    label: str
    points: tuple[Point, ...]


def line_chart(series: Sequence[Series], x_label: str, y_label: str, title: str) -> str:
    """An SVG line chart of ``series``: points joined per series, interval whiskers, a legend.

    Every point has a ``<title>`` (its exact values), shown by browsers on hover.
    """
    xs = [p.x for s in series for p in s.points]
    ys = [v for s in series for p in s.points for v in (p.y, p.low, p.high) if v is not None]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    if y1 == y0:
        y0, y1 = y0 - 1, y1 + 1
    pad = (y1 - y0) * 0.08
    y0, y1 = y0 - pad, y1 + pad
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM

    def sx(x: float) -> float:
        return _LEFT + (0.5 if x1 == x0 else (x - x0) / (x1 - x0)) * plot_w

    def sy(y: float) -> float:
        return _TOP + (1 - (y - y0) / (y1 - y0)) * plot_h

    parts = [
        svg_open(_W, _H, title),
        f'<rect x="{_LEFT}" y="{_TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#d5dae0"/>',
    ]
    for tick in ticks(y0, y1):
        y = sy(tick)
        parts.append(
            f'<line x1="{_LEFT - 4}" x2="{_LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eef0f2"/>'
        )
        parts.append(
            f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{esc(fmt(tick))}</text>'
        )
    for x in sorted(set(xs)):
        parts.append(
            f'<text x="{sx(x):.1f}" y="{_TOP + plot_h + 16}" text-anchor="middle">{esc(fmt(x))}</text>'
        )
    parts.append(
        f'<text x="{_LEFT + plot_w / 2:.1f}" y="{_H - 6}" text-anchor="middle">{esc(x_label)}</text>'
    )
    parts.append(
        f'<text transform="translate(14 {_TOP + plot_h / 2:.1f}) rotate(-90)" text-anchor="middle">{esc(y_label)}</text>'
    )
    for index, one in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        points = sorted(one.points, key=lambda p: p.x)
        path = " ".join(f"{sx(p.x):.1f},{sy(p.y):.1f}" for p in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for p in points:
            if p.low is not None and p.high is not None:
                parts.append(
                    f'<line x1="{sx(p.x):.1f}" x2="{sx(p.x):.1f}" y1="{sy(p.low):.1f}" y2="{sy(p.high):.1f}" stroke="{colour}"/>'
                )
            interval = (
                f" [{fmt(p.low)}, {fmt(p.high)}]"
                if p.low is not None and p.high is not None
                else ""
            )
            parts.append(
                f'<circle cx="{sx(p.x):.1f}" cy="{sy(p.y):.1f}" r="3.5" fill="{colour}">'
                f"<title>{esc(one.label)}: {esc(fmt(p.y))}{esc(interval)} at {esc(fmt(p.x))}</title></circle>"
            )
        ly = _TOP + 12 + index * 16
        parts.append(
            f'<rect x="{_W - _RIGHT + 10}" y="{ly - 8}" width="10" height="10" fill="{colour}"/>'
        )
        label = one.label if len(one.label) <= 24 else one.label[:23] + "…"
        parts.append(f'<text x="{_W - _RIGHT + 24}" y="{ly + 1}">{esc(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)
