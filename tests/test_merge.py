"""`leaderboard merge`: duplicates, conflicts, schema versions, determinism, the CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_leaderboard import make_row, v1_table, write_raw

from medganbench import leaderboard as lb
from medganbench.errors import LeaderboardError
from medganbench.merge import MergeConflictError, merge_leaderboards, write_merged


def _board(path: Path, *rows: dict) -> Path:
    lb.append_rows(path, list(rows))
    return path


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "medganbench.cli", "leaderboard", "merge", *args],
                          cwd=cwd, capture_output=True, text=True, check=False)


def test_overlapping_inputs_keep_each_row_once(tmp_path: Path) -> None:
    shared = make_row(run_id="shared")
    a = _board(tmp_path / "a.arrow", shared, make_row(run_id="only-a"))
    b = _board(tmp_path / "b.arrow", shared, make_row(run_id="only-b"))
    result = merge_leaderboards([a, b])
    assert sorted(result.table.column("run_id").to_pylist()) == ["only-a", "only-b", "shared"]
    assert result.duplicates == 1 and result.conflicts == ()


def test_a_duplicate_written_at_another_time_is_still_a_duplicate(tmp_path: Path) -> None:
    from datetime import timedelta

    a = _board(tmp_path / "a.arrow", make_row())
    later = make_row(created_at=make_row()["created_at"] + timedelta(hours=1))
    b = _board(tmp_path / "b.arrow", later)
    result = merge_leaderboards([b, a])
    assert result.table.num_rows == 1 and result.duplicates == 1
    assert result.table.column("created_at").to_pylist() == [make_row()["created_at"]]


def test_a_conflict_fails_and_names_the_differing_column(tmp_path: Path) -> None:
    a = _board(tmp_path / "a.arrow", make_row(value=20.0))
    b = _board(tmp_path / "b.arrow", make_row(value=21.5))
    with pytest.raises(MergeConflictError, match=r"value: 20.0 vs 21.5") as info:
        merge_leaderboards([a, b])
    assert "nothing was written" in info.value.message


def test_policy_first_keeps_the_earliest_inputs_row(tmp_path: Path) -> None:
    a = _board(tmp_path / "a.arrow", make_row(value=20.0))
    b = _board(tmp_path / "b.arrow", make_row(value=21.5))
    result = merge_leaderboards([b, a], on_conflict="first")
    assert result.table.column("value").to_pylist() == [21.5]
    (conflict,) = result.conflicts
    assert conflict.files == (b, a) and conflict.columns == {"value": (21.5, 20.0)}


def test_policy_keep_all_keeps_both_rows(tmp_path: Path) -> None:
    a = _board(tmp_path / "a.arrow", make_row(value=20.0))
    b = _board(tmp_path / "b.arrow", make_row(value=21.5))
    result = merge_leaderboards([a, b], on_conflict="keep-all")
    assert sorted(result.table.column("value").to_pylist()) == [20.0, 21.5]


def test_a_v1_input_is_upgraded(tmp_path: Path) -> None:
    old = tmp_path / "old.arrow"
    write_raw(old, v1_table(make_row(run_id="old")))
    new = _board(tmp_path / "new.arrow", make_row(run_id="new"))
    result = merge_leaderboards([old, new])
    assert [i.schema_version for i in result.inputs] == [1, 2]
    assert result.table.schema.names == lb.SCHEMA.names and result.table.num_rows == 2


def test_a_newer_schema_is_refused_naming_the_file(tmp_path: Path) -> None:
    import pyarrow as pa

    future = tmp_path / "future.arrow"
    table = pa.Table.from_pylist([make_row()], schema=lb.SCHEMA)
    write_raw(future, table.replace_schema_metadata({b"medganbench.schema_version": b"99"}))
    with pytest.raises(LeaderboardError, match="future.arrow"):
        merge_leaderboards([future])


def test_inputs_of_different_datasets_are_refused(tmp_path: Path) -> None:
    a = _board(tmp_path / "a.arrow", make_row())
    b = _board(tmp_path / "b.arrow", make_row(run_id="x", dataset="kaggle-brain"))
    with pytest.raises(LeaderboardError, match="more than one dataset"):
        merge_leaderboards([a, b])


def test_merging_is_deterministic_and_order_independent(tmp_path: Path) -> None:
    a = _board(tmp_path / "a.arrow", make_row(run_id="r1"), make_row(run_id="r2", metric="ssim"))
    b = _board(tmp_path / "b.arrow", make_row(run_id="r3"), make_row(run_id="r1"))
    write_merged(merge_leaderboards([a, b]), tmp_path / "ab.arrow")
    write_merged(merge_leaderboards([b, a]), tmp_path / "ba.arrow")
    assert (tmp_path / "ab.arrow").read_bytes() == (tmp_path / "ba.arrow").read_bytes()
    assert lb.read_leaderboard(tmp_path / "ab.arrow").num_rows == 3


def test_cli_merges_into_one_of_its_inputs(tmp_path: Path) -> None:
    a = _board(tmp_path / "a.arrow", make_row(run_id="r1"))
    _board(tmp_path / "b.arrow", make_row(run_id="r2"))
    proc = _cli("a.arrow", "b.arrow", "--out", "a.arrow", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert sorted(lb.read_leaderboard(a).column("run_id").to_pylist()) == ["r1", "r2"]


def test_cli_conflict_exits_1_writes_nothing_and_reports(tmp_path: Path) -> None:
    _board(tmp_path / "a.arrow", make_row(value=20.0))
    _board(tmp_path / "b.arrow", make_row(value=21.5))
    proc = _cli("a.arrow", "b.arrow", "--out", "c.arrow", "--report", "conflicts.json", cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "--on-conflict" in proc.stderr and not (tmp_path / "c.arrow").exists()
    (entry,) = json.loads((tmp_path / "conflicts.json").read_text())
    assert entry["columns"] == {"value": ["20.0", "21.5"]}


def test_cli_missing_input_is_one_clear_error(tmp_path: Path) -> None:
    proc = _cli("absent.arrow", "--out", "c.arrow", cwd=tmp_path)
    assert proc.returncode != 0 and "absent.arrow" in proc.stderr and "Traceback" not in proc.stderr
