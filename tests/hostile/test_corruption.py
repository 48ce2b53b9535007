"""Point 4: corruption is refused, not spread.

A leaderboard is validated in full when read (offsets, and UTF-8 in every string column); one
flipped byte inside a string is one message naming the file, and a run refuses to append to
such a file before it trains.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from medganbench.errors import LeaderboardError
from medganbench.leaderboard.store import append_rows, leaderboard_path, read_leaderboard
from tests.folders import DEFAULT_BOARDS
from tests.hostile.conftest import TINY_RUN, assert_one_message, cli
from tests.leaderboard.rows import make_row


def _flip_a_byte_in(path: Path, text: bytes) -> None:
    """Make the first byte of ``text`` in the file invalid UTF-8 (0xFF), keeping its length."""
    data = bytearray(path.read_bytes())
    at = data.find(text)
    assert at >= 0, f"{text!r} is not in {path}"
    data[at] = 0xFF
    path.write_bytes(bytes(data))


@pytest.fixture
def corrupt_board(tmp_path: Path) -> Path:
    path = leaderboard_path(tmp_path / DEFAULT_BOARDS, "phantom-brain")
    append_rows(path, [make_row(metric_convention="a convention no other column holds")])
    _flip_a_byte_in(path, b"a convention no other column holds")
    return path


def test_a_flipped_byte_in_a_string_column_is_refused_naming_the_file(corrupt_board: Path) -> None:
    with pytest.raises(LeaderboardError, match="phantom-brain.arrow") as info:
        read_leaderboard(corrupt_board)
    assert "corrupt" in info.value.message


@pytest.mark.slow
def test_show_gives_one_message(corrupt_board: Path) -> None:
    proc = cli("leaderboard", "show", cwd=corrupt_board.parents[2])
    assert_one_message(proc)
    assert "phantom-brain.arrow" in proc.stderr and "corrupt" in proc.stderr


@pytest.mark.slow
def test_a_run_refuses_to_append_before_training(corrupt_board: Path) -> None:
    before = corrupt_board.read_bytes()
    proc = cli(
        "run", "--model", "identity", *TINY_RUN, "--no-progress", cwd=corrupt_board.parents[2]
    )
    assert_one_message(proc)
    assert "corrupt" in proc.stderr and "trained" not in proc.stderr
    assert corrupt_board.read_bytes() == before
