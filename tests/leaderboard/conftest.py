"""Fixtures of the leaderboard tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from medganbench.leaderboard.store import append_rows, leaderboard_path
from tests.leaderboard.rows import make_row


@pytest.fixture
def board(tmp_path: Path) -> Path:
    """A leaderboard with two rows already in it."""
    path = leaderboard_path(tmp_path, "phantom-brain")
    append_rows(path, [make_row(run_id="a" * 16), make_row(run_id="b" * 16, value=22.0)])
    return path
