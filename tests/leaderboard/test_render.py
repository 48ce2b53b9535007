"""Terminal rendering of ranked groups."""

from __future__ import annotations

from pathlib import Path

from medganbench.leaderboard.export import export
from medganbench.leaderboard.ranking import ranked_groups
from medganbench.leaderboard.terminal import render_groups
from tests.leaderboard.rows import make_row, table_of


def test_render_groups_has_expected_headers() -> None:
    table = table_of(
        make_row(run_id="r1", metric="psnr", value=25.0),
        make_row(run_id="r1", metric="mae", value=0.3, higher_is_better=False),
    )
    (rich_table,) = render_groups(ranked_groups(table))
    headers = [column.header for column in rich_table.columns]
    assert headers == [
        "rank", "model", "args", "seed", "psnr ↑ (v1)", "mae ↓ (v1)",
        "steps", "train s", "eval s/img", "device", "run id",
    ]  # fmt: skip
    assert rich_table.row_count == 1
    assert "phantom-brain" in str(rich_table.title) and "64px" in str(rich_table.title)


def test_render_groups_formats_values_to_four_significant_figures() -> None:
    table = table_of(
        make_row(run_id="0123456789abcdef", value=21.987654),
        make_row(run_id="fedcba9876543210", value=20.0, model_args='{"bins":64,"note":""}'),
    )
    (rich_table,) = render_groups(ranked_groups(table))
    cells = {column.header: [str(c) for c in column.cells] for column in rich_table.columns}
    assert cells["psnr ↑ (v1)"] == ["21.99", "20.00"]
    assert cells["run id"] == ["01234567", "fedcba98"]
    assert cells["args"] == ["direction=a2b", "bins=64"]  # empty values are left out


def test_noise_floor_is_shown_next_to_the_value(tmp_path: Path) -> None:
    table = table_of(
        make_row(run_id="r1", metric="fid", value=231.78, noise_floor=14.4, higher_is_better=False),
    )
    out = tmp_path / "board.md"
    export(table, "md", out)
    # 4 significant figures, like values; the default view marks the lone seed.
    assert "231.8 (1 seed) (floor 14.40)" in out.read_text()


def test_per_run_view_names_a_precision_other_than_fp32() -> None:
    table = table_of(
        make_row(run_id="0123456789abcdef", value=21.0, precision="bf16-mixed"),
        make_row(run_id="fedcba9876543210", value=20.0),
    )
    (rich_table,) = render_groups(ranked_groups(table))
    cells = {column.header: [str(c) for c in column.cells] for column in rich_table.columns}
    assert cells["args"] == ["direction=a2b [bf16-mixed]", "direction=a2b"]
