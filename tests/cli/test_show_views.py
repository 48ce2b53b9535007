"""``leaderboard show`` at the terminal's width: COLUMNS is honoured, and the compact view fits
80 columns without cutting a cell."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BOARDS = ROOT / "leaderboards"


def _show(*args: str, columns: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    if columns is not None:
        env["COLUMNS"] = columns
    return subprocess.run(
        [sys.executable, "-m", "medganbench", "leaderboard", "show"]
        + ["--leaderboard-dir", str(BOARDS), *args],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def _width(text: str) -> int:
    return max(len(line) for line in text.splitlines())


@pytest.mark.slow
def test_show_takes_its_width_from_columns() -> None:
    proc = _show(columns="80")
    assert proc.returncode == 0, proc.stderr
    assert _width(proc.stdout) == 80


@pytest.mark.slow
def test_piped_output_without_columns_is_200_wide() -> None:
    proc = _show(columns=None)
    assert proc.returncode == 0, proc.stderr
    assert 80 < _width(proc.stdout) <= 200


@pytest.mark.slow
def test_compact_view_at_80_columns_cuts_no_cell() -> None:
    proc = _show("--compact", columns="80")
    assert proc.returncode == 0, proc.stderr
    assert "…" not in proc.stdout and _width(proc.stdout) <= 80
    # One line per model: an entry's rank, name, arguments, seeds and mean ± std on one line.
    lines = proc.stdout.splitlines()
    for entry in (
        r"1 +pix2pix v3 +defaults \[bf16-mixed\] +3 +30\.124 ± 0\.063",
        r"4 +intensity-lookup v1 +defaults +3 +18\.23323 ± 0\.00026",
        r"1 +hagan v2 +defaults \[bf16-mixed\] +3 +293 ± 17",
    ):
        assert any(re.search(entry, line) for line in lines), entry


@pytest.mark.slow
def test_a_metric_no_board_has_is_one_error() -> None:
    proc = _show("--metric", "lpips", columns="80")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "has the metric(s) lpips" in proc.stderr
