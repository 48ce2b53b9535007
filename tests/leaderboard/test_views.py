"""What a terminal view shows: some metrics' columns, no intervals, one short line per model."""

from __future__ import annotations

from rich.console import Console

from medganbench.leaderboard.ranking import ranked_groups
from medganbench.leaderboard.seeds import aggregate_groups
from medganbench.leaderboard.terminal import render_groups
from medganbench.leaderboard.views import View, select
from tests.leaderboard.rows import make_row, table_of


def _board() -> list[dict[str, object]]:
    """Two seeds of one model, with psnr and mae."""
    return [
        make_row(run_id=f"s{seed}", seed=seed, metric=metric, value=value, higher_is_better=up)
        for seed in (0, 1)
        for metric, value, up in (("psnr", 20.0 + seed, True), ("mae", 0.3 + seed / 10, False))
    ]


def _cells(view: View, runs: bool = False) -> dict[str, list[str]]:
    table = table_of(*_board())
    groups = ranked_groups(table) if runs else aggregate_groups(table)
    (rich_table,) = render_groups(select(groups, view), view=view)
    return {str(c.header): [str(cell) for cell in c.cells] for c in rich_table.columns}


def test_a_metric_view_keeps_only_that_metrics_columns() -> None:
    (group,) = select(aggregate_groups(table_of(*_board())), View(metrics=("mae",)))
    assert [c.metric for c in group.metrics] == ["mae"]
    assert len(group.entries[0].summaries) == 1 and group.entries[0].summaries[0] is not None
    assert group.entries[0].summaries[0].mean == 0.35


def test_a_group_without_the_metric_is_left_out() -> None:
    assert select(aggregate_groups(table_of(*_board())), View(metrics=("fid",))) == []


def test_without_intervals_a_cell_is_mean_and_std() -> None:
    cells = _cells(View(intervals=False))
    assert cells["psnr ↑ (v1)"] == ["20.50 ± 0.71"]


def test_the_compact_view_is_rank_model_args_seeds_and_the_ranking_column() -> None:
    cells = _cells(View(compact=True))
    assert cells == {
        "rank": ["1"],
        "model": ["identity v1"],
        "args": ["direction=a2b"],
        "seeds": ["2"],
        "psnr ↑ (v1)": ["20.50 ± 0.71"],
    }


def test_the_compact_per_run_view_is_one_value_per_run() -> None:
    cells = _cells(View(compact=True, metrics=("mae",)), runs=True)
    # Ranked by psnr (the first metric; the command ranks by --metric): seed 1 first.
    assert cells["seed"] == ["1", "0"] and cells["mae ↓ (v1)"] == ["0.4000", "0.3000"]


def test_the_terminal_prints_brackets_in_cells_as_they_are() -> None:
    # Cells are data: rich markup would swallow "[bf16-mixed]".
    table = table_of(make_row(precision="bf16-mixed"))
    console = Console(record=True, width=200)
    for rich_table in render_groups(aggregate_groups(table)):
        console.print(rich_table)
    assert "direction=a2b [bf16-mixed]" in console.export_text()
