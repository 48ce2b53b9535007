"""What the site shows of the tracks other than the budgeted one and of provenance: the section of
outputs made elsewhere on a dataset page, the note on their run pages, the section of reader
studies, and the packages that provided a run's components."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from medganbench.leaderboard.seeds import AggregatedGroup
from medganbench.leaderboard.titles import EXTERNAL_HEADING, format_budget, is_external
from medganbench.site.html import esc

#: The note at the top of an external run's page.
EXTERNAL_RUN_NOTE = (
    '<p><span class="badge">external</span> Outputs made elsewhere and scored here '
    "(<code>medganbench score</code>): no training budget; ranked only among external rows.</p>"
)


def external_section(group_sections: Sequence[str]) -> str:
    """A dataset page's external groups (already rendered) under their own heading, after
    every budgeted table: never one ranking with them."""
    return (
        f'<section id="external"><h2>{esc(EXTERNAL_HEADING)} '
        '<span class="badge">external</span></h2><p class="muted">Outputs a user made with '
        "their own code for this dataset's split and scored here with the same metrics, "
        "conventions and split (<code>medganbench score</code>). Nothing was trained under "
        "a budget here, so these rows are never ranked with the tables above.</p>"
        + "".join(group_sections)
        + "</section>"
    )


def budget_note(group: AggregatedGroup) -> tuple[str, str]:
    """A group's budget in words, and the badge after its title (external groups only)."""
    if is_external(group):
        return (
            "External outputs: no training budget, ranked only among themselves",
            ' <span class="badge">external</span>',
        )
    return f"Budget {format_budget(group.key)}", ""


def external_check(run_id: str) -> str:
    """What the reproduce command of an external run guarantees."""
    return (
        f"Scoring the same output files again with this command gives run id {run_id} "
        "(the id hashes the outputs' values, the data and the metrics)."
    )


def _package(entry: Any) -> str:
    if not isinstance(entry, Mapping):
        return "outputs made elsewhere (no package)"
    return f"{entry.get('name', '?')} {entry.get('version', '')}".strip()


def provenance_facts(rows: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """The packages that provided a run's model, dataset and metrics, one fact each; "unknown"
    for rows recorded before the leaderboard kept them (schema v3)."""
    decoded = []
    for row in rows:
        try:
            provenance = json.loads(row.get("provenance", "{}"))
        except ValueError:
            provenance = {}
        if isinstance(provenance, dict) and provenance:
            decoded.append((row["metric"], provenance))
    if not decoded:
        return [("provided by", "unknown (recorded before provenance was kept)")]
    first = decoded[0][1]
    metrics = dict.fromkeys(f"{m}: {_package(p.get('metric'))}" for m, p in decoded)
    return [
        ("model provided by", _package(first.get("model"))),
        ("dataset provided by", _package(first.get("dataset"))),
        ("metrics provided by", "; ".join(metrics)),
    ]


#: The heading above a dataset page's reader-study groups.
READER_STUDY_HEADING = "Reader studies: can readers tell the runs' images from real ones?"


def reader_study_section(group_sections: Sequence[str]) -> str:
    """A dataset page's reader-study groups (already rendered) under their own heading, last:
    readers' answers (``medganbench study score``), never ranked with computed metrics."""
    return (
        f'<section id="reader-studies"><h2>{esc(READER_STUDY_HEADING)} '
        '<span class="badge">reader study</span></h2><p class="muted">Blinded real-vs-synthetic '
        "trials answered by readers (docs/reader-study.md): accuracy, sensitivity and "
        "specificity with synthetic as the positive class, AUC from the confidence ratings "
        "(0.5 = chance), inter-reader κ. Not ranked: an accuracy near chance means the readers "
        "could not tell.</p>" + "".join(group_sections) + "</section>"
    )
