"""A leaderboard row's reproduce command, run again, gives the same run id and the same values.

The row is the identity baseline's seed 0 of the CPU track (``sweeps/cpu-track-translation.toml``):
it trains nothing, so its values depend on the data and the metrics only, and it runs in seconds.
Its command is built exactly as the site shows it (:func:`medganbench.site.reproduce.reproduce`)
and run through the command line in an empty folder.

The row is read from the committed leaderboard, ``leaderboards/phantom-brain.arrow``, recorded
by the CPU-track sweep; the test fails if that file is missing.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from medganbench.core.manager import build_registries, make_plugin_manager
from medganbench.leaderboard.store import leaderboard_path, read_leaderboard
from medganbench.site.reproduce import reproduce
from tests.folders import DEFAULT_BOARDS

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "leaderboards" / "phantom-brain.arrow"
MODEL, SEED = "identity", 0


def _values(rows: list[dict[str, Any]]) -> dict[tuple[str, ...], float]:
    keys = ("direction", "metric", "metric_args", "eval_unit", "eval_grid")
    return {tuple(r[k] for k in keys): r["value"] for r in rows}


@pytest.mark.slow
def test_a_baseline_rows_reproduce_command_gives_its_run_id_and_values(tmp_path: Path) -> None:
    board = COMMITTED
    assert board.is_file(), f"{board} is not committed"
    rows = [
        r
        for r in read_leaderboard(board).to_pylist()
        if r["model"] == MODEL
        and r["seed"] == SEED
        and r["status"] == "ok"
        and json.loads(r["dataset_args"]).get("domain", "both") == "both"
    ]
    assert rows, f"no {MODEL} seed {SEED} row in {board}"
    run_ids = {r["run_id"] for r in rows}
    assert len(run_ids) == 1
    # One device's rows: a row recorded on several devices is reproduced against each alone.
    rows = [r for r in rows if r["device"] == rows[0]["device"]]
    registries = build_registries(make_plugin_manager(autoload=False))
    reproduction = reproduce(rows, None, registries)
    assert reproduction.checked

    again = tmp_path / "again"
    again.mkdir()
    words = shlex.split(reproduction.command)
    assert words[:2] == ["medganbench", "run"]
    proc = subprocess.run(
        [sys.executable, "-m", "medganbench", *words[1:], "--no-progress"],
        cwd=again,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    rerun = read_leaderboard(leaderboard_path(again / DEFAULT_BOARDS, "phantom-brain")).to_pylist()
    assert {r["run_id"] for r in rerun} == run_ids
    expected = _values(rows)
    got = _values(rerun)
    assert got.keys() == expected.keys()
    # Identity trains nothing, so only kernel rounding of the metrics could move a value: far
    # below the 4 significant figures the tables show.
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-6, abs=1e-9), key
