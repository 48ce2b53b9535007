"""The checkpoint protocol (schema v5): final and best-on-validation rows are never ranked
together, old boards read as final, and a protocol is one of the two forms."""

from __future__ import annotations

from pathlib import Path

import pytest

from medganbench.errors import LeaderboardError
from medganbench.leaderboard.ranking import ranked_groups
from medganbench.leaderboard.schema import LeaderboardRow
from medganbench.leaderboard.seeds import aggregate_groups
from medganbench.leaderboard.store import append_rows, read_leaderboard
from medganbench.leaderboard.terminal import render_groups
from tests.leaderboard.rows import make_row, table_of, v4_table, write_raw


def _board():
    return table_of(
        make_row(run_id="final", model="identity", value=20.0),
        make_row(
            run_id="best", model="pix2pix", value=25.0, protocol="best:psnr@val", selected_step=150
        ),
    )


def test_final_and_best_rows_are_ranked_in_groups_of_their_own() -> None:
    groups = ranked_groups(_board())
    by_protocol = {g.key["protocol"]: [r.model for r in g.rows] for g in groups}
    assert by_protocol == {"final": ["identity"], "best:psnr@val": ["pix2pix"]}
    assert all(r.rank == 1 for g in groups for r in g.rows)


def test_final_and_best_rows_never_pool_over_seeds() -> None:
    groups = aggregate_groups(_board())
    assert sorted(len(g.entries) for g in groups) == [1, 1]


def test_a_best_group_names_its_protocol_in_its_title() -> None:
    titles = [str(t.title) for t in render_groups(ranked_groups(_board()))]
    assert sum("checkpoint best:psnr@val" in t for t in titles) == 1
    assert sum("checkpoint" not in t for t in titles) == 1


def test_a_v4_board_reads_as_final_at_its_last_step(tmp_path: Path) -> None:
    path = tmp_path / "old.arrow"
    write_raw(path, v4_table(make_row(run_id="old", steps_done=250)))
    (row,) = read_leaderboard(path).to_pylist()
    assert row["protocol"] == "final" and row["selected_step"] == 250


@pytest.mark.parametrize("protocol", ["best", "best:psnr", "best:PSNR@val", "final@val", ""])
def test_a_protocol_of_another_form_is_refused(tmp_path: Path, protocol: str) -> None:
    with pytest.raises(LeaderboardError, match="'protocol'"):
        LeaderboardRow.from_mapping(make_row(protocol=protocol))
    with pytest.raises(LeaderboardError, match="'protocol'"):
        append_rows(tmp_path / "x.arrow", [make_row(protocol=protocol)])
    assert not (tmp_path / "x.arrow").exists()
