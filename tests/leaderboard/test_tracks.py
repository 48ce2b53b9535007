"""Outputs made elsewhere (track external) are never ranked with budgeted runs, and every view
shows them apart."""

from __future__ import annotations

import pyarrow as pa

from medganbench.leaderboard.ranking import ranked_groups
from medganbench.leaderboard.render import markdown
from medganbench.leaderboard.seeds import aggregate_groups
from medganbench.leaderboard.terminal import render_groups
from medganbench.leaderboard.titles import EXTERNAL_HEADING
from tests.leaderboard.rows import make_row, table_of

NO_BUDGET = {"budget_steps": None, "budget_kimg": None, "budget_seconds": None}


def _board() -> pa.Table:
    return table_of(
        make_row(run_id="trained", model="identity", value=20.0),
        # The best value on the board, but made elsewhere: it must not take rank 1 above.
        make_row(run_id="outside", model="my-unet", value=30.0, track="external", **NO_BUDGET),
    )


def test_external_rows_form_their_own_group_after_the_budgeted_ones() -> None:
    groups = ranked_groups(_board())
    assert [(g.key["track"], [r.model for r in g.rows]) for g in groups] == [
        ("budgeted", ["identity"]),
        ("external", ["my-unet"]),
    ]
    assert [r.rank for g in groups for r in g.rows] == [1, 1]


def test_external_rows_never_pool_with_budgeted_ones_over_seeds() -> None:
    groups = aggregate_groups(_board())
    assert [[e.model for e in g.entries] for g in groups] == [["identity"], ["my-unet"]]


def test_markdown_puts_external_groups_under_their_own_heading() -> None:
    text = markdown(_board())
    assert text.count(EXTERNAL_HEADING) == 1
    assert text.index("identity v1") < text.index(EXTERNAL_HEADING) < text.index("my-unet v1")


def test_the_terminal_title_marks_an_external_group() -> None:
    tables = render_groups(ranked_groups(_board()))
    titles = [str(t.title) for t in tables]
    assert "budget steps=300" in titles[0] and "EXTERNAL" not in titles[0]
    assert "EXTERNAL outputs" in titles[1] and "budget steps" not in titles[1]
