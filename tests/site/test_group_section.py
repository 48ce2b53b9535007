"""A comparable group on the dataset page (medganbench.site.pages.group_section): its chart above
a table that fits a laptop screen."""

from __future__ import annotations

import re

import pytest

from medganbench.leaderboard.seeds import AggregatedGroup, aggregate_groups
from medganbench.site.pages import group_section
from tests.leaderboard.rows import table_of
from tests.site.histories import group_rows


@pytest.fixture(scope="module")
def group() -> AggregatedGroup:
    (only,) = aggregate_groups(table_of(*group_rows()))
    return only


def test_the_run_links_come_right_after_the_seeds(group: AggregatedGroup) -> None:
    headers = re.findall(r'<th scope="col"[^>]*>([^<]+)', group_section(group, "g0"))
    assert headers[:5] == ["rank", "model", "args", "seeds", "runs"]


def test_a_metric_cell_shows_mean_and_std_and_keeps_its_interval_as_tooltip(
    group: AggregatedGroup,
) -> None:
    html = group_section(group, "g0")
    cell = re.search(r'<td class="num" data-value="[^"]+" title="([^"]+)">([^<]+)</td>', html)
    assert cell is not None
    tooltip, text = cell.groups()
    assert re.fullmatch(r"[\d.]+\u00a0± [\d.]+", text)  # breaks after the ±, if anywhere
    # The tooltip: the same mean ± std, then the interval.
    assert re.fullmatch(re.escape(text.replace("\u00a0", " ")) + r" \[[\d.]+, [\d.]+\]", tooltip)


def test_the_dot_and_whisker_chart_stands_above_the_table(group: AggregatedGroup) -> None:
    html = group_section(group, "g0")
    assert html.index('<figure class="dots">') < html.index("<table")


def test_the_legend_says_where_the_interval_went(group: AggregatedGroup) -> None:
    assert "the cells show mean ± std, their interval is the whisker" in group_section(group, "g0")
