"""`leaderboard merge`: duplicates, conflicts and policies, schema versions, determinism, CLI."""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from pyarrow import ipc

from medganbench.errors import LeaderboardError
from medganbench.leaderboard.merge import (
    merge_leaderboards,
    merge_to_file,
    write_merged,
)
from medganbench.leaderboard.merge_report import ColumnDiff, MergeConflictError
from medganbench.leaderboard.ranking import ranked_groups
from medganbench.leaderboard.schema import SCHEMA
from medganbench.leaderboard.store import append_rows, read_leaderboard
from tests.cli_runner import cli_in_process
from tests.leaderboard.rows import T0, label, labels, make_row, v1_table, write_raw


def _board(path: Path, *rows: dict[str, Any]) -> Path:
    append_rows(path, list(rows))
    return path


def _run_ids(table: pa.Table) -> list[str]:
    return sorted(labels(table.column("run_id").to_pylist()))


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # In this process: the same command group and error handling, without a second of start-up.
    return cli_in_process("leaderboard", "merge", *args, cwd=cwd)


# ------------------------------------------------------------------------------- duplicates


def test_overlapping_inputs_give_the_union_once(tmp_path: Path) -> None:
    shared = make_row(run_id="shared")
    a = _board(tmp_path / "a.arrow", shared, make_row(run_id="only-a"))
    b = _board(tmp_path / "b.arrow", shared, make_row(run_id="only-b"))
    result = merge_leaderboards([a, b])
    assert _run_ids(result.table) == ["only-a", "only-b", "shared"]
    assert (result.rows_out, result.duplicates, result.conflicts) == (3, 1, ())


def test_a_copy_written_later_is_a_duplicate_and_the_earliest_is_kept(tmp_path: Path) -> None:
    a = _board(tmp_path / "a.arrow", make_row(created_at=T0 + timedelta(hours=1)))
    b = _board(tmp_path / "b.arrow", make_row(created_at=T0))
    result = merge_leaderboards([a, b])
    assert result.duplicates == 1
    assert result.table.column("created_at").to_pylist() == [T0]


def test_nan_values_are_equal_for_deduplication(tmp_path: Path) -> None:
    a = _board(tmp_path / "a.arrow", make_row(value=float("nan")))
    b = _board(tmp_path / "b.arrow", make_row(value=float("nan")))
    result = merge_leaderboards([a, b])
    assert (result.rows_out, result.duplicates, result.conflicts) == (1, 1, ())


def test_a_row_repeated_within_one_input_is_a_duplicate(tmp_path: Path) -> None:
    a = _board(tmp_path / "a.arrow", make_row(), make_row())
    result = merge_leaderboards([a])
    assert (result.rows_out, result.duplicates) == (1, 1)


# -------------------------------------------------------------------------------- conflicts


def test_a_conflict_fails_reporting_the_column_both_values_and_files(tmp_path: Path) -> None:
    a = _board(tmp_path / "a.arrow", make_row(value=20.0))
    b = _board(tmp_path / "b.arrow", make_row(value=21.5))
    with pytest.raises(MergeConflictError, match="nothing was written") as info:
        merge_leaderboards([a, b])
    (conflict,) = info.value.conflicts
    assert conflict.key == ("0123456789abcdef", "a2b", "psnr", "1", "{}", "slice", "image_size")
    assert conflict.files == (a, b)
    assert conflict.columns == (ColumnDiff("value", (20.0, 21.5)),)
    assert "value: 20.0" in conflict.describe() and "21.5" in conflict.describe()
    assert "--on-conflict first" in (info.value.hint or "")


def test_a_conflict_in_a_non_value_column_is_named(tmp_path: Path) -> None:
    a = _board(tmp_path / "a.arrow", make_row(train_seconds=3.5))
    b = _board(tmp_path / "b.arrow", make_row(train_seconds=9.0))
    with pytest.raises(MergeConflictError) as info:
        merge_leaderboards([a, b])
    (conflict,) = info.value.conflicts
    assert [d.column for d in conflict.columns] == ["train_seconds"]


def test_a_runs_rows_keep_their_metric_order_so_the_default_ranking_column_survives(
    tmp_path: Path,
) -> None:
    # The runner writes psnr before mae; sorted by name, mae would come first and become the
    # column a merged board is ranked by.
    a = _board(
        tmp_path / "a.arrow",
        make_row(run_id="r", metric="psnr", value=21.0),
        make_row(run_id="r", metric="mae", value=250.0, higher_is_better=False),
    )
    b = _board(
        tmp_path / "b.arrow", make_row(run_id="s", metric="psnr", created_at=T0 + timedelta(days=1))
    )
    for inputs in ([a, b], [b, a]):
        table = merge_leaderboards(inputs).table
        assert table.column("metric").to_pylist() == ["psnr", "mae", "psnr"]
        (group,) = ranked_groups(table)
        assert group.ranked_by is not None and group.ranked_by.metric == "psnr"


# ------------------------------------------------------------------------------- replicates

_XEON = "cpu; Intel(R) Xeon(R) Processor; AVX512; 2 threads; torch 2.14.1"
_EPYC = "cpu; AMD EPYC 7B13; AVX2; 2 threads; torch 2.14.1"


def test_one_run_from_two_devices_is_kept_as_replicates_not_a_conflict(tmp_path: Path) -> None:
    a = _board(tmp_path / "a.arrow", make_row(device=_XEON, value=21.07))
    b = _board(tmp_path / "b.arrow", make_row(device=_EPYC, value=21.17))
    result = merge_leaderboards([a, b])
    assert result.conflicts == () and result.replicated == 1
    assert sorted(result.table.column("value").to_pylist()) == [21.07, 21.17]
    assert result.to_json()["replicated"] == 1


def test_one_device_with_two_values_stays_a_conflict_beside_a_replicate(tmp_path: Path) -> None:
    a = _board(tmp_path / "a.arrow", make_row(device=_XEON, value=21.07))
    b = _board(
        tmp_path / "b.arrow",
        make_row(device=_XEON, value=20.5),
        make_row(device=_EPYC, value=21.17),
    )
    with pytest.raises(MergeConflictError) as info:
        merge_leaderboards([a, b])
    (conflict,) = info.value.conflicts
    assert conflict.columns == (ColumnDiff("value", (21.07, 20.5)),)


def test_one_device_in_two_precisions_is_kept_as_replicates_not_a_conflict(
    tmp_path: Path,
) -> None:
    # `--precision auto` trained in fp32 on CPUs before bf16 was turned on for CPUs with it:
    # one run id, one device, other arithmetic.
    a = _board(tmp_path / "a.arrow", make_row(device=_XEON, precision="fp32", value=21.07))
    b = _board(tmp_path / "b.arrow", make_row(device=_XEON, precision="bf16-mixed", value=20.9))
    result = merge_leaderboards([a, b])
    assert result.conflicts == () and result.replicated == 1
    assert sorted(result.table.column("precision").to_pylist()) == ["bf16-mixed", "fp32"]


def test_a_failed_merge_writes_nothing_and_leaves_an_existing_output_alone(
    tmp_path: Path,
) -> None:
    a = _board(tmp_path / "a.arrow", make_row(value=20.0))
    b = _board(tmp_path / "b.arrow", make_row(value=21.5))
    before = a.read_bytes()
    with pytest.raises(MergeConflictError):
        merge_to_file([a, b], tmp_path / "new.arrow")
    with pytest.raises(MergeConflictError):
        merge_to_file([a, b], a)
    assert not (tmp_path / "new.arrow").exists() and a.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".lock")) == [
        "a.arrow",
        "b.arrow",
    ]


def test_policy_first_keeps_the_earliest_listed_inputs_row(tmp_path: Path) -> None:
    a = _board(tmp_path / "a.arrow", make_row(value=20.0))
    b = _board(tmp_path / "b.arrow", make_row(value=21.5))
    result = merge_leaderboards([b, a], on_conflict="first")
    assert result.table.column("value").to_pylist() == [21.5]
    (conflict,) = result.conflicts  # still reported
    assert conflict.files == (b, a) and conflict.columns == (ColumnDiff("value", (21.5, 20.0)),)
    assert result.discarded == 1


def test_policy_keep_all_keeps_every_version_in_any_order(tmp_path: Path) -> None:
    a = _board(tmp_path / "a.arrow", make_row(value=20.0))
    b = _board(tmp_path / "b.arrow", make_row(value=21.5))
    ab = merge_leaderboards([a, b], on_conflict="keep-all")
    ba = merge_leaderboards([b, a], on_conflict="keep-all")
    assert ab.table.column("value").to_pylist() == [20.0, 21.5]  # same created_at: tie-broken
    assert ab.table.equals(ba.table) and len(ab.conflicts) == 1


def test_a_rerun_recorded_in_one_input_is_not_a_conflict(tmp_path: Path) -> None:
    # One leaderboard legitimately holds a run twice (ranking uses the latest); merging it
    # with another machine's file must not refuse because of that.
    rerun = make_row(value=20.5, created_at=T0 + timedelta(days=1))
    a = _board(tmp_path / "a.arrow", make_row(value=20.0), rerun)
    b = _board(tmp_path / "b.arrow", make_row(value=20.0), make_row(run_id="other"))
    result = merge_leaderboards([a, b])
    assert result.conflicts == () and result.duplicates == 1
    assert result.table.column("value").to_pylist() == [20.0, 20.0, 20.5]


# ------------------------------------------------------------------------- inputs refused


def test_a_v1_input_is_upgraded(tmp_path: Path) -> None:
    old = tmp_path / "old.arrow"
    write_raw(old, v1_table(make_row(run_id="old")))
    new = _board(tmp_path / "new.arrow", make_row(run_id="new"))
    result = merge_leaderboards([old, new])
    assert [(i.path, i.rows, i.schema_version_read) for i in result.inputs] == [
        (old, 1, 1),
        (new, 1, 7),
    ]
    write_merged(result, tmp_path / "out.arrow")
    with pa.OSFile(str(tmp_path / "out.arrow"), "rb") as source:
        written = ipc.open_file(source).read_all()
    assert written.schema.equals(SCHEMA, check_metadata=True)
    rows = {label(r["run_id"]): r for r in written.to_pylist()}
    assert rows["old"]["precision"] == "fp32"


def test_a_newer_schema_is_refused_naming_the_file(tmp_path: Path) -> None:
    ok = _board(tmp_path / "ok.arrow", make_row())
    future = tmp_path / "future.arrow"
    table = pa.Table.from_pylist([make_row()], schema=SCHEMA)
    write_raw(future, table.replace_schema_metadata({b"medganbench.schema_version": b"99"}))
    with pytest.raises(LeaderboardError, match=r"future\.arrow.*newer medganbench"):
        merge_leaderboards([ok, future])


def test_inputs_of_different_datasets_are_refused(tmp_path: Path) -> None:
    a = _board(tmp_path / "a.arrow", make_row())
    b = _board(tmp_path / "b.arrow", make_row(run_id="x", dataset="kaggle-brain"))
    with pytest.raises(LeaderboardError, match="more than one dataset") as info:
        merge_leaderboards([a, b])
    assert "kaggle-brain in " + str(b) in info.value.message


def test_missing_inputs_are_all_named(tmp_path: Path) -> None:
    a = _board(tmp_path / "a.arrow", make_row())
    with pytest.raises(LeaderboardError, match=r"no such file: .*x\.arrow, .*y\.arrow"):
        merge_leaderboards([tmp_path / "x.arrow", a, tmp_path / "y.arrow"])


# ---------------------------------------------------------------------------- determinism


def _two_boards(tmp_path: Path) -> tuple[Path, Path]:
    # Rows out of time order, a shared row, and a nullable column null in one file only (so
    # the inputs' validity bitmaps differ).
    a = _board(
        tmp_path / "a.arrow",
        make_row(run_id="r1", created_at=T0 + timedelta(hours=2)),
        make_row(run_id="r2", metric="ssim", value=0.8, noise_floor=0.01),
    )
    b = _board(
        tmp_path / "b.arrow",
        make_row(run_id="r3", created_at=T0 - timedelta(hours=1)),
        make_row(run_id="r1", created_at=T0 + timedelta(hours=2)),
    )
    return a, b


def test_merging_is_order_independent_and_byte_deterministic(tmp_path: Path) -> None:
    a, b = _two_boards(tmp_path)
    write_merged(merge_leaderboards([a, b]), tmp_path / "ab.arrow")
    write_merged(merge_leaderboards([a, b]), tmp_path / "ab2.arrow")
    write_merged(merge_leaderboards([b, a]), tmp_path / "ba.arrow")
    ab = (tmp_path / "ab.arrow").read_bytes()
    assert ab == (tmp_path / "ab2.arrow").read_bytes() == (tmp_path / "ba.arrow").read_bytes()
    merged = read_leaderboard(tmp_path / "ab.arrow")
    assert labels(merged.column("run_id").to_pylist()) == ["r3", "r2", "r1"]  # by created_at first


def test_merging_a_merged_file_again_changes_nothing(tmp_path: Path) -> None:
    a, b = _two_boards(tmp_path)
    out = tmp_path / "out.arrow"
    merge_to_file([a, b], out)
    first = out.read_bytes()
    result = merge_to_file([out, a, b], out)
    assert out.read_bytes() == first and result.conflicts == ()


def test_merging_into_a_live_leaderboard_waits_for_its_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A run appending to OUT holds <OUT>.lock; the merge must not replace OUT under it.
    import filelock

    from medganbench.leaderboard import merge

    a, b = _two_boards(tmp_path)
    before = a.read_bytes()
    monkeypatch.setattr(merge, "LOCK_TIMEOUT_S", 0.2)
    with filelock.FileLock(f"{a}.lock"), pytest.raises(LeaderboardError, match="lock"):
        merge_to_file([a, b], a)
    assert a.read_bytes() == before


# -------------------------------------------------------------------------------------- CLI


def test_cli_merges_into_one_of_its_inputs(tmp_path: Path) -> None:
    a = _board(tmp_path / "a.arrow", make_row(run_id="r1"), make_row(run_id="r2"))
    _board(tmp_path / "b.arrow", make_row(run_id="r2"), make_row(run_id="r3"))
    proc = _cli("a.arrow", "b.arrow", "--out", "a.arrow", "--report", "r.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "3 row(s) out; 1 duplicate(s) dropped; 0 conflict(s)" in proc.stdout
    assert _run_ids(read_leaderboard(a)) == ["r1", "r2", "r3"]
    report = json.loads((tmp_path / "r.json").read_text())
    assert (report["written"], report["rows_out"], report["conflicts"]) == (True, 3, [])


def test_cli_output_matches_the_library_byte_for_byte(tmp_path: Path) -> None:
    a, b = _two_boards(tmp_path)
    assert _cli("b.arrow", "a.arrow", "--out", "cli.arrow", cwd=tmp_path).returncode == 0
    write_merged(merge_leaderboards([a, b]), tmp_path / "lib.arrow")
    assert (tmp_path / "cli.arrow").read_bytes() == (tmp_path / "lib.arrow").read_bytes()


def test_cli_conflict_exits_1_writes_nothing_and_reports_all(tmp_path: Path) -> None:
    runs = [f"run{i:02d}" for i in range(25)]
    _board(tmp_path / "a.arrow", *(make_row(run_id=r, value=20.0) for r in runs))
    _board(tmp_path / "b.arrow", *(make_row(run_id=r, value=21.5) for r in runs))
    proc = _cli("a.arrow", "b.arrow", "--out", "c.arrow", "--report", "r.json", cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "c.arrow").exists()
    assert proc.stderr.count("conflict:") == 20 and "5 more conflict(s)" in proc.stderr
    assert "--on-conflict first" in proc.stderr and "keep-all" in proc.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["written"] is False and len(report["conflicts"]) == 25
    assert report["conflicts"][0]["columns"] == {"value": [20.0, 21.5]}
    assert report["conflicts"][0]["files"] == ["a.arrow", "b.arrow"]


def test_cli_keep_all_exits_0_and_still_lists_conflicts(tmp_path: Path) -> None:
    _board(tmp_path / "a.arrow", make_row(value=20.0))
    _board(tmp_path / "b.arrow", make_row(value=21.5))
    proc = _cli("a.arrow", "b.arrow", "--out", "c.arrow", "--on-conflict", "keep-all", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "conflict:" in proc.stderr and "value: 20.0" in proc.stderr
    assert read_leaderboard(tmp_path / "c.arrow").num_rows == 2


@pytest.mark.parametrize("case", ["missing", "newer", "corrupt", "datasets"])
def test_cli_refused_inputs_are_one_clear_error(tmp_path: Path, case: str) -> None:
    _board(tmp_path / "a.arrow", make_row())
    other = tmp_path / "b.arrow"
    if case == "newer":
        table = pa.Table.from_pylist([make_row()], schema=SCHEMA)
        write_raw(other, table.replace_schema_metadata({b"medganbench.schema_version": b"9"}))
    elif case == "corrupt":
        other.write_bytes(b"ARROW1 but truncated")
    elif case == "datasets":
        _board(other, make_row(dataset="kaggle-brain"))
    proc = _cli("a.arrow", "b.arrow", "--out", "c.arrow", cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "error:" in proc.stderr and "b.arrow" in proc.stderr
    assert not (tmp_path / "c.arrow").exists()
