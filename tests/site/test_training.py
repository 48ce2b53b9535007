"""Training curves on the pages (medganbench.site.training): a run page's "Training" section with
its losses and validation values, the scored checkpoint marked, and a group's overlay."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from medganbench.leaderboard.seeds import aggregate_groups
from medganbench.site.curves import Curve
from medganbench.site.history import UNREADABLE, RunHistory, ValCurve, summarise
from medganbench.site.reproduce import Reproduction
from medganbench.site.runs import run_body
from medganbench.site.training import MAX_OVERLAID, group_curves, training_section
from tests.leaderboard.rows import table_of
from tests.site.histories import (
    PROTOCOL,
    SVG_NS,
    group_rows,
    loss,
    mark_x,
    marks,
    polyline_points,
    run_rows,
    svgs,
    training_records,
)

ROWS = run_rows("r1", selected=200)


def _charts(html: str) -> dict[str, ET.Element]:
    """The curve charts by title."""
    return {svg.findtext(f"{SVG_NS}title") or "": svg for svg in svgs(html)}


def test_the_run_page_shows_a_loss_chart_with_one_line_per_loss() -> None:
    html = run_body(
        ROWS,
        [],
        None,
        Reproduction("medganbench run", False),
        history=summarise(training_records()),
    )
    losses = _charts(html)["Training losses against step"]
    assert [line.get("data-series") for line in losses.iter(f"{SVG_NS}polyline")] == ["G_gan", "D"]
    assert [len(p) for p in polyline_points(losses)] == [30, 30]  # every 10 steps to 300


def test_the_run_page_shows_one_validation_chart_per_metric_and_direction() -> None:
    html = training_section(summarise(training_records()), ROWS)
    titles = [t for t in _charts(html) if t.startswith("Validation")]
    assert titles == ["Validation psnr against step — a2b", "Validation mae against step — a2b"]


def test_each_validation_chart_marks_the_selected_step_with_the_protocol() -> None:
    charts = _charts(training_section(summarise(training_records()), ROWS))
    psnr = charts["Validation psnr against step — a2b"]
    (mark,) = marks(psnr, "selected")
    (vertices,) = polyline_points(psnr)  # steps 50, 100, ..., 300
    assert mark.get("data-step") == "200" and mark_x(mark) == vertices[3][0]
    assert f"selected ({PROTOCOL})" in "".join(mark.itertext())


def test_the_section_names_the_protocol_and_the_scored_step() -> None:
    html = training_section(summarise(training_records()), ROWS)
    assert "step 200 of 300" in html and f"<code>{PROTOCOL}</code>" in html


def test_the_loss_chart_marks_where_training_diverged() -> None:
    records = [loss(10, "G", 1.0), loss(20, "G", 2.0), loss(30, "G", float("nan"))]
    losses = _charts(training_section(summarise(records), ROWS))["Training losses against step"]
    (mark,) = marks(losses, "diverged")
    assert mark.get("data-step") == "30"
    assert [len(p) for p in polyline_points(losses)] == [2]


def test_a_run_without_a_history_file_has_no_training_section() -> None:
    html = run_body(ROWS, [], None, Reproduction("medganbench run", False), history=None)
    assert "Training" not in html and "<svg" not in html


def test_an_empty_history_has_no_training_section() -> None:
    assert training_section(summarise([]), ROWS) == ""


def test_an_unreadable_history_is_said_and_nothing_drawn() -> None:
    html = training_section(UNREADABLE, ROWS)
    assert "History unreadable" in html and "<svg" not in html


def test_provenance_names_the_protocol_and_the_selected_step() -> None:
    html = run_body(ROWS, [], None, Reproduction("medganbench run", False))
    provenance = html[html.index("<h2>Provenance</h2>") :]
    assert f"<dt>protocol</dt><dd>{PROTOCOL}</dd>" in provenance
    assert "<dt>selected step</dt><dd>200</dd>" in provenance


def test_directions_and_metrics_from_a_history_file_are_escaped() -> None:
    hostile = RunHistory(val=(ValCurve("<i>", "<b>", Curve("<b>", ((1, 1.0), (2, 2.0)))),))
    html = training_section(hostile, ROWS)
    assert "<b>" not in html and "<i>" not in html and "&lt;b&gt;" in html


@pytest.fixture(scope="module")
def histories() -> dict[str, RunHistory]:
    """Every run of :func:`group_rows` but the identity runs has a history."""
    run_ids = dict.fromkeys(r["run_id"] for r in group_rows() if r["model"] != "identity")
    return {run_id: summarise(training_records(offset=i)) for i, run_id in enumerate(run_ids)}


def test_a_groups_overlay_draws_one_line_per_run_with_validation_values(
    histories: dict[str, RunHistory],
) -> None:
    (group,) = aggregate_groups(table_of(*group_rows()))
    html = group_curves(group, histories)
    assert html.startswith('<details class="overlay">')  # collapsed until opened
    charts = _charts(html)
    assert list(charts) == ["Validation psnr against step", "Validation mae against step"]
    assert len(polyline_points(charts["Validation psnr against step"])) == len(histories)


def test_a_groups_overlay_draws_a_bounded_number_of_runs() -> None:
    rows = [row for seed in range(MAX_OVERLAID + 4) for row in run_rows(f"s{seed}", seed=seed)]
    (group,) = aggregate_groups(table_of(*rows))
    history = summarise(training_records())
    html = group_curves(group, {r["run_id"]: history for r in rows})
    psnr = _charts(html)["Validation psnr against step"]
    assert len(polyline_points(psnr)) == MAX_OVERLAID
    assert f"the first {MAX_OVERLAID} of {MAX_OVERLAID + 4} runs" in html


def test_a_group_whose_runs_have_no_history_has_no_overlay() -> None:
    (group,) = aggregate_groups(table_of(*group_rows()))
    assert group_curves(group, {}) == ""
