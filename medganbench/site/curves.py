"""Curves against training step as inline SVG: the losses and validation values of a run's
history, with marked steps (the checkpoint that was scored, the step where training diverged).

The builders take plain numbers and return SVG text; what the curves are is decided by
:mod:`~medganbench.site.history` and :mod:`~medganbench.site.training`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from medganbench.site.html import esc
from medganbench.site.svg import PALETTE, Scale, fmt, integer_ticks, padded, svg_open, ticks

__all__ = ["MAX_POINTS", "Curve", "StepMark", "downsample", "step_chart"]

#: The most points one curve keeps (:func:`downsample`): a 10⁶-step run logging every 10 steps
#: would otherwise put 10⁵ points per loss into the page.
MAX_POINTS = 500
#: Curves with at most this many points also get a dot per point, whose tooltip is its value
#: (validation curves, evaluated every few hundred steps); denser curves would be a smear.
DOTS_UP_TO = 60
_W, _H = 640, 300
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 170, 30, 44
# Colours of the marks, apart from the curves' palette: the scored checkpoint in the text colour,
# divergence in red.
_MARK_COLOURS = {"selected": "#1b1f24", "diverged": "#b00020"}


@dataclass(frozen=True)
class Curve:
    """One quantity against training step.

    Attributes:
        label: what the legend and tooltips call it (escaped when drawn).
        points: ``(step, value)`` in step order; non-finite values are not drawn.
    """

    label: str
    points: tuple[tuple[int, float], ...]


@dataclass(frozen=True)
class StepMark:
    """A vertical line across the plot at one step, labelled above it.

    Attributes:
        step: where it stands.
        label: its text, e.g. ``"selected (best:psnr@val)"``.
        kind: ``"selected"`` (the scored checkpoint) or ``"diverged"`` (a loss became NaN or
            infinite); the SVG group gets ``class="mark <kind>"`` and ``data-step``.
    """

    step: int
    label: str
    kind: str


def downsample(
    points: Sequence[tuple[int, float]], limit: int = MAX_POINTS
) -> tuple[tuple[int, float], ...]:
    """At most ``limit`` of ``points`` (in step order), chosen deterministically.

    Min/max decimation: the first and the last point are kept; the points between are cut into
    ``(limit - 2) // 2`` runs of (nearly) equal length, and of each run the point with the
    lowest and the one with the highest value are kept, in step order. Unlike a plain stride it
    keeps a curve's shape: a spike of one logged step stays visible. ``points`` with at most
    ``limit`` entries come back as they are, sorted by step.

    Raises:
        ValueError: ``limit`` is below 4 (room for the ends and one run's min and max).
    """
    if limit < 4:
        raise ValueError(f"downsample needs a limit of at least 4 points, got {limit}")
    ordered = sorted(points, key=lambda p: p[0])
    if len(ordered) <= limit:
        return tuple(ordered)
    inner = ordered[1:-1]
    runs = (limit - 2) // 2
    kept = [ordered[0]]
    for index in range(runs):
        chunk = inner[index * len(inner) // runs : (index + 1) * len(inner) // runs]
        if not chunk:
            continue
        low = min(range(len(chunk)), key=lambda i: chunk[i][1])
        high = max(range(len(chunk)), key=lambda i: chunk[i][1])
        kept += [chunk[i] for i in sorted({low, high})]
    kept.append(ordered[-1])
    return tuple(kept)


def _finite(curve: Curve) -> list[tuple[int, float]]:
    return [(s, v) for s, v in curve.points if math.isfinite(v)]


def step_chart(
    curves: Sequence[Curve],
    *,
    title: str,
    y_label: str,
    desc: str = "",
    marks: Sequence[StepMark] = (),
    css_class: str = "chart curves",
) -> str:
    """An SVG chart of ``curves`` against training step, with ``marks`` as vertical lines.

    Each curve is one ``<polyline>`` (``data-series`` its label; a curve of one point is a dot
    instead), drawn in :data:`~medganbench.site.svg.PALETTE` order, with a legend on the right;
    curves of at most :data:`DOTS_UP_TO` points add a dot per point whose ``<title>`` is its
    value. Both axes span the finite points and the marks' steps, so a mark is always inside
    the plot. Non-finite values are left out (callers cut a diverged loss before drawing it);
    a curve with no finite value is only named in the legend. Every text is escaped.
    """
    drawn = [(curve, _finite(curve)) for curve in curves]
    steps = [s for _, points in drawn for s, _ in points] + [m.step for m in marks]
    values = [v for _, points in drawn for _, v in points]
    x0, x1 = (min(steps), max(steps)) if steps else (0, 1)
    y0, y1 = padded(min(values), max(values)) if values else (0.0, 1.0)
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    sx = Scale(x0, x1, _LEFT, _LEFT + plot_w)
    sy = Scale(y0, y1, _TOP + plot_h, _TOP)

    parts = [
        svg_open(_W, _H, title, desc, css_class),
        f'<rect x="{_LEFT}" y="{_TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#d5dae0"/>',
    ]
    for tick in ticks(y0, y1):
        y = sy(tick)
        parts.append(
            f'<line x1="{_LEFT - 4}" x2="{_LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eef0f2"/>'
            f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{esc(fmt(tick))}</text>'
        )
    for step in integer_ticks(x0, x1) if x1 > x0 else [x0]:
        parts.append(
            f'<text x="{sx(step):.1f}" y="{_TOP + plot_h + 16}" text-anchor="middle">{step:,}</text>'
        )
    parts.append(
        f'<text x="{_LEFT + plot_w / 2:.1f}" y="{_H - 6}" text-anchor="middle">step</text>'
        f'<text transform="translate(14 {_TOP + plot_h / 2:.1f}) rotate(-90)" '
        f'text-anchor="middle">{esc(y_label)}</text>'
    )
    for index, (curve, points) in enumerate(drawn):
        colour = PALETTE[index % len(PALETTE)]
        label = esc(curve.label)
        if len(points) > 1:
            path = " ".join(f"{sx(s):.1f},{sy(v):.1f}" for s, v in points)
            parts.append(
                f'<polyline points="{path}" data-series="{label}" fill="none" stroke="{colour}" '
                f'stroke-width="1.5"><title>{label}</title></polyline>'
            )
        if len(points) == 1 or len(points) <= DOTS_UP_TO:
            parts += [
                f'<circle cx="{sx(s):.1f}" cy="{sy(v):.1f}" r="2.5" fill="{colour}">'
                f"<title>{label}: {esc(fmt(v))} at step {s:,}</title></circle>"
                for s, v in points
            ]
        ly = _TOP + 6 + index * 16
        short = curve.label if len(curve.label) <= 24 else curve.label[:23] + "…"
        note = "" if points else " (no finite value)"
        parts.append(
            f'<rect x="{_W - _RIGHT + 10}" y="{ly - 8}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{_W - _RIGHT + 24}" y="{ly + 1}">{esc(short)}{note}<title>{label}</title></text>'
        )
    for index, mark in enumerate(marks):
        x = sx(mark.step)
        colour = _MARK_COLOURS.get(mark.kind, "#1b1f24")
        # Labels of two marks may stand at one step: the second goes one line higher.
        ty = _TOP - 6 - 12 * (index % 2)
        anchor = "end" if x > _LEFT + plot_w / 2 else "start"
        parts.append(
            f'<g class="mark {esc(mark.kind)}" data-step="{mark.step}">'
            f"<title>{esc(mark.label)}: step {mark.step:,}</title>"
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{_TOP}" y2="{_TOP + plot_h}" stroke="{colour}" '
            f'stroke-width="1.5" stroke-dasharray="5 3"/>'
            f'<text x="{x:.1f}" y="{ty}" text-anchor="{anchor}" style="fill:{colour}">'
            f"{esc(mark.label)}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)
