"""The table of numbers the source papers report: kept apart from the measured rows.

Reported results are shown for reference on a dataset's page, in their own table under a "not
measured here" badge. They never enter :mod:`medganbench.leaderboard` ranking: they are
:class:`~medganbench.core.specs.ReportedResult` values from the plugins, not leaderboard rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from medganbench.leaderboard.numbers import format_value
from medganbench.site.html import table, text_cell

if TYPE_CHECKING:
    from medganbench.core.specs import ReportedResult

_EMPTY = "—"


def reported_section(reported: Sequence[ReportedResult]) -> str:
    """Numbers the source papers report, in their own table: never ranked with measured runs."""
    if not reported:
        return ""
    headers = [
        "source",
        "table",
        "method",
        "our model",
        "direction",
        "metric",
        "value",
        "image size",
        "note",
    ]
    rows = [
        [
            text_cell(r.source),
            text_cell(r.table),
            text_cell(r.method),
            text_cell(r.model or _EMPTY),
            text_cell(r.direction),
            text_cell(r.metric),
            text_cell(format_value(r.value), r.value, numeric=True),
            text_cell(
                r.image_size if r.image_size is not None else _EMPTY, r.image_size, numeric=True
            ),
            text_cell(r.note or ""),
        ]
        for r in reported
    ]
    return (
        '<section id="reported"><h2>Reported in papers <span class="badge">not measured here</span></h2>'
        '<p class="muted">What the source papers report for this dataset, under their own '
        "budgets, splits and metric conventions. These numbers are shown for reference only: they "
        "were not measured by medganbench and take no part in any ranking above.</p>"
        + table(
            headers, rows, css_class="reported", numeric_headers=frozenset({"value", "image size"})
        )
        + "</section>"
    )
