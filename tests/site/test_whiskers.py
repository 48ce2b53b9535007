"""A comparable group's dot-and-whisker chart (medganbench.site.whiskers): one panel per metric
column, the table's own means and intervals, the direction of better."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from medganbench.leaderboard.seeds import AggregatedGroup, aggregate_groups
from medganbench.site.whiskers import dot_whisker_chart
from tests.leaderboard.rows import make_row, table_of
from tests.site.histories import SVG_NS, classes, group_rows, svgs


@pytest.fixture(scope="module")
def group() -> AggregatedGroup:
    (only,) = aggregate_groups(table_of(*group_rows()))
    return only


def _panels(html: str) -> list[ET.Element]:
    return [svg for svg in svgs(html) if "dots" in classes(svg)]


def _entries(panel: ET.Element) -> list[ET.Element]:
    return [g for g in panel.iter(f"{SVG_NS}g") if g.get("class") == "entry"]


def _dot_and_whisker(entry: ET.Element) -> tuple[float, tuple[float, float] | None]:
    circle = entry.find(f"{SVG_NS}circle")
    assert circle is not None
    lines = entry.findall(f"{SVG_NS}line")
    whisker = (float(lines[0].get("x1", "")), float(lines[0].get("x2", ""))) if lines else None
    return float(circle.get("cx", "")), whisker


def test_one_panel_per_metric_column(group: AggregatedGroup) -> None:
    panels = _panels(dot_whisker_chart(group))
    assert [p.findtext(f"{SVG_NS}text") for p in panels] == [c.label for c in group.metrics]
    assert all(len(_entries(p)) == len(group.entries) for p in panels)


def test_dots_are_the_tables_means_and_whiskers_its_intervals(group: AggregatedGroup) -> None:
    psnr = group.metrics.index(next(c for c in group.metrics if c.metric == "psnr"))
    panel = _panels(dot_whisker_chart(group))[psnr]
    drawn = [_dot_and_whisker(e) for e in _entries(panel)]
    summaries = [e.summaries[psnr] for e in group.entries]
    assert [float(e.get("data-mean", "")) for e in _entries(panel)] == [s.mean for s in summaries]
    # One linear scale: each dot sits in its whisker where its mean sits in its interval.
    for (cx, whisker), summary in zip(drawn, summaries, strict=True):
        assert whisker is not None and summary.ci_low is not None and summary.ci_high is not None
        where = (summary.mean - summary.ci_low) / (summary.ci_high - summary.ci_low)
        assert (cx - whisker[0]) / (whisker[1] - whisker[0]) == pytest.approx(where, abs=0.02)
    # Higher PSNR is further right.
    assert [cx for cx, _ in drawn] == sorted((cx for cx, _ in drawn), reverse=True)


def test_each_panel_says_which_way_is_better(group: AggregatedGroup) -> None:
    better = {
        p.findtext(f"{SVG_NS}text"): next(
            t.text for t in p.iter(f"{SVG_NS}text") if t.get("class") == "better"
        )
        for p in _panels(dot_whisker_chart(group))
    }
    assert better == {"psnr ↑ (v1)": "higher is better →", "mae ↓ (v1)": "← lower is better"}


def test_a_dots_tooltip_is_the_full_cell_text_with_its_interval(group: AggregatedGroup) -> None:
    entry = _entries(_panels(dot_whisker_chart(group))[0])[0]
    tooltip = entry.findtext(f"{SVG_NS}title") or ""
    assert tooltip.startswith("1. pix2pix v1") and " ± " in tooltip and " [" in tooltip


def test_a_single_seed_is_a_hollow_dot_without_whisker() -> None:
    (single,) = aggregate_groups(
        table_of(make_row(run_id="one"), make_row(run_id="two", model="hlsnc"))
    )
    entry = _entries(_panels(dot_whisker_chart(single))[0])[0]
    circle = entry.find(f"{SVG_NS}circle")
    assert circle is not None and circle.get("fill") == "#fff"
    assert entry.findall(f"{SVG_NS}line") == []


def test_a_column_without_any_value_gets_no_panel() -> None:
    rows = [
        make_row(run_id="r", value=float("nan")),
        make_row(run_id="r", metric="mae", higher_is_better=False),
    ]
    (group,) = aggregate_groups(table_of(*rows))
    assert [p.findtext(f"{SVG_NS}text") for p in _panels(dot_whisker_chart(group))] == [
        "mae ↓ (v1)"
    ]


def test_model_names_from_a_leaderboard_are_escaped() -> None:
    (group,) = aggregate_groups(table_of(make_row(model="<b>x</b>")))
    html = dot_whisker_chart(group)
    assert "<b>" not in html and "&lt;b&gt;" in html
