"""The per-patient values of a run's volume rows (``eval_unit`` ``"volume"``), as a table of its
run page."""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from medganbench.leaderboard.columns import measure_text
from medganbench.leaderboard.numbers import format_spread, format_value
from medganbench.site.html import table, text_cell


def patient_section(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """HTML parts: one line per volume row (patients, mean, standard deviation, range) and one
    table of every patient's value; empty when the run has no volume row."""
    summary, values = [], []
    for r in rows:
        details = json.loads(r["metric_details"])
        patients = details.get("patients")
        if r["eval_unit"] != "volume" or not isinstance(patients, dict) or not patients:
            continue
        name = [
            text_cell(r["direction"]),
            text_cell(r["metric"]),
            text_cell(measure_text(r["metric_args"], r["eval_unit"], r["eval_grid"])),
        ]
        numbers = [float(v) for v in patients.values()]
        spread = statistics.stdev(numbers) if len(numbers) > 1 else 0.0
        summary.append(
            [
                *name,
                text_cell(len(numbers), len(numbers), numeric=True),
                text_cell(format_value(r["value"]), r["value"], numeric=True),
                text_cell(format_spread(spread), spread, numeric=True),
                text_cell(f"{format_value(min(numbers))} – {format_value(max(numbers))}"),
            ]
        )
        values += [
            [*name, text_cell(key), text_cell(format_value(float(v)), float(v), numeric=True)]
            for key, v in patients.items()
        ]
    if not summary:
        return []
    return [
        "<h2>Per patient</h2>",
        '<p class="muted">Rows with eval_unit=volume: each test patient scored as one volume '
        "inside its mask; the value is the mean over patients.</p>",
        table(
            ["direction", "metric", "args", "patients", "mean", "std", "range"],
            summary,
            numeric_headers=frozenset({"patients", "mean", "std"}),
        ),
        table(
            ["direction", "metric", "args", "patient", "value"],
            values,
            numeric_headers=frozenset({"value"}),
        ),
    ]
