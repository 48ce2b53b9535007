"""What every inline-SVG chart of the site shares: the palette, axis ticks, number text, linear
scales and the accessible ``<svg>`` opening tag. No chart library, no script, no network."""

from __future__ import annotations

import math
from dataclasses import dataclass

from medganbench.site.html import esc

__all__ = ["PALETTE", "Scale", "fmt", "integer_ticks", "padded", "svg_open", "ticks"]

#: Colour-blind-safe palette (Okabe–Ito), cycled over series.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")


def ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (1, 2 or 5 times a power of ten apart) inside ``[low, high]``, at most
    about ``count`` of them; ``[low]`` for an empty range, none for one wider than a float
    (values from a hostile file may span -1e308 to 1e308)."""
    if high <= low:
        return [low]
    if not math.isfinite(high - low):
        return []
    step = 10 ** math.floor(math.log10((high - low) / count))
    for factor in (1, 2, 5, 10):
        if (high - low) / (step * factor) <= count:
            step *= factor
            break
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]


def integer_ticks(low: float, high: float, count: int = 5) -> list[int]:
    """:func:`ticks` that are whole numbers (training steps): a range of 1 to 3 steps gets
    ticks 1, 2, 3, never 1.5."""
    return [int(t) for t in ticks(low, high, count) if float(t).is_integer()] or [round(low)]


def fmt(value: float) -> str:
    """A number on an axis or in a tooltip: 4 significant figures."""
    return f"{value:.4g}"


def padded(low: float, high: float, fraction: float = 0.08) -> tuple[float, float]:
    """``[low, high]`` widened by ``fraction`` of its width on each side (by 1 where it is a
    single value), so no mark sits on the plot's frame; as it is where widening would leave the
    floats."""
    if high <= low:
        return low - 1, high + 1
    pad = (high - low) * fraction
    if not (math.isfinite(low - pad) and math.isfinite(high + pad)):
        return low, high  # a range near the largest floats gets no room beyond it
    return low - pad, high + pad


@dataclass(frozen=True)
class Scale:
    """A linear map from a data range onto a pixel range (either may run backwards, as a y axis
    does); a data range of one value maps everything to the middle of the pixels."""

    low: float
    high: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        if self.high == self.low:
            return (self.start + self.end) / 2
        # Halves first: the difference of two finite floats (-1e308 and 1e308) may overflow.
        where = (value / 2 - self.low / 2) / (self.high / 2 - self.low / 2)
        return self.start + where * (self.end - self.start)


def svg_open(width: int, height: int, title: str, desc: str = "", css_class: str = "chart") -> str:
    """The opening ``<svg>`` of a chart, with ``<title>`` and ``<desc>`` for screen readers
    (``role="img"``); both texts are escaped. Close it with ``</svg>``."""
    description = f"<desc>{esc(desc)}</desc>" if desc else ""
    return (
        f'<svg class="{esc(css_class)}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{esc(title)}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{esc(title)}</title>{description}"
    )
