"""How every table view prints a number: the terminal, the markdown export and the site.

The rule (stated in each aggregated table's legend, :data:`ROUNDING_RULE`):

* a value without a spread (one run, one seed, a noise floor) has 4 significant figures
  (:func:`format_value`);
* a spread over seeds has 2 significant figures, and the mean and the interval beside it are
  rounded to the spread's last decimal place (:func:`spread_decimals`): ``30.053 ± 0.091``,
  ``293 ± 17``; the digits beyond that are noise of the seeds, not information;
* a spread that is float rounding (:func:`is_float_noise`: every seed gave the same value, as
  a non-learned baseline does) is printed ``± 0`` after the 4-figure mean, never as
  ``± 1.392e-13``.

The CSV and Parquet exports and :func:`~medganbench.leaderboard.export.seed_table` are data:
they keep every value at full float64 precision.
"""

from __future__ import annotations

import math

__all__ = [
    "ABSOLUTE_NOISE",
    "RELATIVE_NOISE",
    "ROUNDING_RULE",
    "SPREAD_DIGITS",
    "fixed",
    "format_estimate",
    "format_spread",
    "format_value",
    "is_float_noise",
    "spread_decimals",
]

_EMPTY = "—"
#: Significant figures of a spread.
SPREAD_DIGITS = 2
#: A spread at most ``RELATIVE_NOISE · |mean| + ABSOLUTE_NOISE`` is float rounding, not seeds.
RELATIVE_NOISE = 1e-9
ABSOLUTE_NOISE = 1e-12
#: The rule in words, for the legends of the tables.
ROUNDING_RULE = (
    "std to 2 significant figures, mean and interval to its last decimal place; "
    "± 0: every seed gave the same value"
)


def format_value(value: float | None) -> str:
    """4 significant figures, trailing zeros kept so a column reads evenly (20 -> "20.00")."""
    if value is None:
        return _EMPTY
    # "#" keeps trailing zeros but leaves a bare point on 4-digit integers ("1234.").
    return f"{value:#.4g}".rstrip(".")


def is_float_noise(spread: float, mean: float) -> bool:
    """Whether ``spread`` (a standard deviation over seeds) is float rounding of equal values:
    at most ``RELATIVE_NOISE · |mean| + ABSOLUTE_NOISE``."""
    return abs(spread) <= RELATIVE_NOISE * abs(mean) + ABSOLUTE_NOISE


def spread_decimals(spread: float) -> int:
    """The decimal places that give ``spread`` :data:`SPREAD_DIGITS` significant figures
    (negative: rounded to tens, hundreds, ...): 0.09106 -> 3, 16.64 -> 0, 567 -> -1, and
    0.0996 -> 2 (it rounds to 0.10, not 0.100)."""
    # Rounding first settles the exponent: 0.0996 becomes 1.0e-01.
    exponent = int(f"{abs(spread):.{SPREAD_DIGITS - 1}e}".split("e")[1])
    return SPREAD_DIGITS - 1 - exponent


def fixed(value: float, decimals: int) -> str:
    """``value`` rounded to ``decimals`` places (negative: to tens, hundreds, ...), never
    ``-0``."""
    if not math.isfinite(value):
        return str(value)
    text = f"{value:.{decimals}f}" if decimals >= 0 else f"{round(value, decimals):.0f}"
    # -0.0004 at 3 places reads "-0.000": a sign on a zero says nothing.
    return text[1:] if text.startswith("-") and not text.strip("-0.") else text


def format_spread(spread: float, mean: float | None = None) -> str:
    """A spread at :data:`SPREAD_DIGITS` significant figures; ``"0"`` where it is zero or, next
    to ``mean``, float rounding (:func:`is_float_noise`)."""
    if spread == 0 or (mean is not None and is_float_noise(spread, mean)):
        return "0"
    return fixed(spread, spread_decimals(spread))


def format_estimate(mean: float, std: float, interval: tuple[float, float] | None = None) -> str:
    """A mean over seeds with its spread, and its interval where given, by the rule above:
    ``"30.053 ± 0.091 [30.000, 30.160]"``, ``"293 ± 17"``; ``"12.51 ± 0"`` where ``std`` is
    float rounding (no interval then: it is ``[mean, mean]``)."""
    if std == 0 or is_float_noise(std, mean):
        return f"{format_value(mean)} ± 0"
    decimals = spread_decimals(std)
    text = f"{fixed(mean, decimals)} ± {fixed(std, decimals)}"
    if interval is not None:
        text += f" [{fixed(interval[0], decimals)}, {fixed(interval[1], decimals)}]"
    return text
