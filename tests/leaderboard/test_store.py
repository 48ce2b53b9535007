"""Leaderboard files: paths, round trips, other readers, concurrent and interrupted appends, bad files."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from medganbench.errors import LeaderboardError
from medganbench.leaderboard import store as lb
from medganbench.leaderboard.schema import SCHEMA
from medganbench.leaderboard.store import (
    append_rows,
    leaderboard_path,
    read_leaderboard,
)
from tests.leaderboard.rows import T0, labels, make_row, rid


def test_leaderboard_path_is_dataset_arrow_file(tmp_path: Path) -> None:
    assert leaderboard_path(tmp_path, "phantom-brain") == tmp_path / "phantom-brain.arrow"


def test_leaderboard_path_refuses_names_that_escape_the_directory(tmp_path: Path) -> None:
    with pytest.raises(LeaderboardError):
        leaderboard_path(tmp_path, "../evil")


def test_append_then_read_round_trips_values(tmp_path: Path) -> None:
    path = tmp_path / "boards" / "phantom-brain.arrow"  # directory does not exist yet
    rows = [make_row(run_id="r1", value=21.5), make_row(run_id="r2", metric="mae", value=0.25)]
    append_rows(path, rows)
    table = read_leaderboard(path)
    assert table.num_rows == 2
    got = table.to_pylist()
    assert labels(r["run_id"] for r in got) == ["r1", "r2"]
    assert [r["value"] for r in got] == [21.5, 0.25]
    assert got[0]["created_at"] == T0
    assert got[0]["budget_kimg"] is None
    assert got[1]["metric"] == "mae"


def test_second_append_keeps_earlier_rows(board: Path) -> None:
    append_rows(board, [make_row(run_id="c" * 16)])
    assert read_leaderboard(board)["run_id"].to_pylist() == ["a" * 16, "b" * 16, "c" * 16]


def test_empty_append_creates_no_file(tmp_path: Path) -> None:
    path = tmp_path / "x.arrow"
    append_rows(path, [])
    assert not path.exists()


def test_readable_by_pandas_read_feather(board: Path) -> None:
    pd = pytest.importorskip("pandas")
    df = pd.read_feather(board)
    assert list(df.columns) == SCHEMA.names
    assert len(df) == 2
    assert df["value"].tolist() == [20.0, 22.0]


def test_readable_by_polars_read_ipc(board: Path) -> None:
    pl = pytest.importorskip("polars")
    df = pl.read_ipc(board)
    assert df.columns == SCHEMA.names
    assert df.height == 2
    assert df["run_id"].to_list() == ["a" * 16, "b" * 16]


def test_readable_by_duckdb(board: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    pl = pytest.importorskip("polars")
    # duckdb 2.0 has no built-in Arrow IPC *file* reader: `read_arrow` does not exist and
    # `FROM 'x.arrow'` needs the community `nanoarrow` extension, which must be downloaded.
    # So the file is read by polars and the frame handed to duckdb through the Arrow C stream
    # interface (zero-copy); duckdb then runs SQL over the file's contents.
    frame = pl.read_ipc(board)  # noqa: F841 - referenced by name in the SQL below
    # (duckdb 2.0 relations have no fetchone(); fetchall() runs the query once.)
    assert duckdb.sql("select count(*), max(value) from frame").fetchall() == [(2, 22.0)]


WRITERS = 8


BATCHES = 5


ROWS_PER_BATCH = 3


def _append_worker(path: str, writer: int, barrier: Any) -> None:
    """Child process: wait for all writers, then append BATCHES batches of distinct runs."""
    barrier.wait()
    for batch in range(BATCHES):
        rows = [
            make_row(run_id=f"w{writer}-b{batch}-r{i}", value=float(writer * 100 + batch))
            for i in range(ROWS_PER_BATCH)
        ]
        append_rows(Path(path), rows)


@pytest.mark.slow
def test_concurrent_appends_from_eight_processes_lose_no_row(tmp_path: Path) -> None:
    path = tmp_path / "phantom-brain.arrow"
    ctx = multiprocessing.get_context("spawn")
    # The barrier makes all writers start appending at the same moment, after the (slow,
    # uneven) spawn start-up, so they genuinely contend for the lock.
    barrier = ctx.Barrier(WRITERS)
    procs = [
        ctx.Process(target=_append_worker, args=(str(path), w, barrier)) for w in range(WRITERS)
    ]
    start = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    elapsed = time.perf_counter() - start
    assert [p.exitcode for p in procs] == [0] * WRITERS, "a writer process failed"
    table = read_leaderboard(path)
    expected = {
        rid(f"w{w}-b{b}-r{i}")
        for w in range(WRITERS)
        for b in range(BATCHES)
        for i in range(ROWS_PER_BATCH)
    }
    assert table.num_rows == WRITERS * BATCHES * ROWS_PER_BATCH
    assert set(table["run_id"].to_pylist()) == expected
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []
    print(f"\n{WRITERS} processes x {BATCHES} appends took {elapsed:.2f} s")


def test_interrupt_during_write_leaves_previous_file_and_no_temp(
    board: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = board.read_bytes()
    seen: list[list[str]] = []

    def interrupted_writer(sink: Any, table: pa.Table) -> None:
        seen.append(sorted(p.name for p in board.parent.iterdir()))
        sink.write(b"ARROW1\x00\x00half a file")  # a partial write is already on disk
        raise KeyboardInterrupt

    monkeypatch.setattr(lb, "write_ipc", interrupted_writer)
    with pytest.raises(KeyboardInterrupt):
        append_rows(board, [make_row(run_id="c" * 16)])

    assert any(name.endswith(".tmp") for name in seen[0]), "temp file was open while writing"
    assert board.read_bytes() == before
    assert sorted(p.name for p in board.parent.iterdir()) == [board.name, board.name + ".lock"]


def test_lock_is_released_after_a_failed_append(
    board: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_writer(sink: Any, table: pa.Table) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(lb, "write_ipc", failing_writer)
    with pytest.raises(OSError):
        append_rows(board, [make_row(run_id="c" * 16)])
    monkeypatch.undo()
    append_rows(board, [make_row(run_id="c" * 16)])  # would time out if the lock leaked
    assert read_leaderboard(board).num_rows == 3


def test_missing_file_raises_with_hint(tmp_path: Path) -> None:
    with pytest.raises(LeaderboardError) as info:
        read_leaderboard(tmp_path / "nothing.arrow")
    assert "nothing.arrow" in info.value.message
    assert info.value.hint is not None and "medganbench run" in info.value.hint


def test_truncated_file_raises_naming_it(board: Path) -> None:
    data = board.read_bytes()
    board.write_bytes(data[: len(data) // 2])
    with pytest.raises(LeaderboardError, match="phantom-brain.arrow"):
        read_leaderboard(board)


def test_append_to_corrupt_file_refuses_and_keeps_it(board: Path) -> None:
    board.write_bytes(b"garbage, not arrow")
    with pytest.raises(LeaderboardError, match="corrupt"):
        append_rows(board, [make_row(run_id="c" * 16)])
    assert board.read_bytes() == b"garbage, not arrow"
