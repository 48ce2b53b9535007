"""Tests for the Arrow leaderboard: file format, safe concurrent appends, ranking, export."""

from __future__ import annotations

import multiprocessing
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest

from medganbench import leaderboard as lb
from medganbench.errors import LeaderboardError, UsageError

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


def make_row(**overrides: Any) -> dict[str, Any]:
    """A complete, valid leaderboard row; keyword arguments replace single columns."""
    row: dict[str, Any] = {
        "run_id": "0123456789abcdef",
        "created_at": T0,
        "model": "identity",
        "model_version": "1",
        "model_args": '{"direction":"a2b"}',
        "dataset": "phantom-brain",
        "dataset_version": "1",
        "dataset_args": "{}",
        "dataset_fingerprint": "fp00aa11bb22",
        "image_size": 64,
        "direction": "a2b",
        "eval_split": "test",
        "metric": "psnr",
        "metric_version": "1",
        "metric_convention": "PSNR in dB over the body mask, data range = window width",
        "metric_args": "{}",
        "metric_details": "{}",
        "value": 20.0,
        "noise_floor": None,
        "weights": "{}",
        "higher_is_better": True,
        "seed": 0,
        "budget_steps": 300,
        "budget_kimg": None,
        "budget_seconds": None,
        "steps_done": 300,
        "kimg_done": 1.2,
        "train_seconds": 3.5,
        "eval_seconds": 0.5,
        "peak_memory_mb": 512.0,
        "device": "cpu",
        "precision": "fp32",
        "channels_last": False,
        "parameters": 0,
        "flops_per_step": 0,
        "medganbench_version": "0.1.0",
        "status": "ok",
    }
    unknown = set(overrides) - set(row)
    assert not unknown, f"make_row got unknown columns {unknown}"
    row.update(overrides)
    return row


def write_raw(path: Path, table: pa.Table) -> None:
    """Write an IPC file directly, bypassing append_rows (to fake other versions)."""
    with ipc.new_file(str(path), table.schema) as writer:
        writer.write_table(table)


@pytest.fixture
def board(tmp_path: Path) -> Path:
    """A leaderboard with two rows already in it."""
    path = lb.leaderboard_path(tmp_path, "phantom-brain")
    lb.append_rows(path, [make_row(run_id="a" * 16), make_row(run_id="b" * 16, value=22.0)])
    return path


# ---------------------------------------------------------------------------------- file format


def test_leaderboard_path_is_dataset_arrow_file(tmp_path: Path) -> None:
    assert lb.leaderboard_path(tmp_path, "phantom-brain") == tmp_path / "phantom-brain.arrow"


def test_leaderboard_path_refuses_names_that_escape_the_directory(tmp_path: Path) -> None:
    with pytest.raises(LeaderboardError):
        lb.leaderboard_path(tmp_path, "../evil")


def test_append_then_read_round_trips_values(tmp_path: Path) -> None:
    path = tmp_path / "boards" / "phantom-brain.arrow"  # directory does not exist yet
    rows = [make_row(run_id="r1", value=21.5), make_row(run_id="r2", metric="mae", value=0.25)]
    lb.append_rows(path, rows)
    table = lb.read_leaderboard(path)
    assert table.num_rows == 2
    got = table.to_pylist()
    assert [r["run_id"] for r in got] == ["r1", "r2"]
    assert [r["value"] for r in got] == [21.5, 0.25]
    assert got[0]["created_at"] == T0
    assert got[0]["budget_kimg"] is None
    assert got[1]["metric"] == "mae"


def test_second_append_keeps_earlier_rows(board: Path) -> None:
    lb.append_rows(board, [make_row(run_id="c" * 16)])
    assert lb.read_leaderboard(board)["run_id"].to_pylist() == ["a" * 16, "b" * 16, "c" * 16]


def test_file_records_schema_version_in_metadata(board: Path) -> None:
    schema = ipc.open_file(str(board)).schema
    assert schema.metadata[b"medganbench.schema_version"] == b"2"
    assert lb.SCHEMA_VERSION == 2


def test_file_columns_and_types_equal_schema(board: Path) -> None:
    schema = ipc.open_file(str(board)).schema
    assert schema.equals(lb.SCHEMA, check_metadata=True)
    assert schema.field("created_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("image_size").type == pa.int32()
    assert schema.field("budget_steps").nullable


def test_args_are_stored_as_canonical_json(tmp_path: Path) -> None:
    path = tmp_path / "x.arrow"
    lb.append_rows(path, [make_row(model_args='{ "b": 1,  "a": 2 }', dataset_args={"z": True})])
    row = lb.read_leaderboard(path).to_pylist()[0]
    assert row["model_args"] == '{"a":2,"b":1}'
    assert row["dataset_args"] == '{"z":true}'


def test_empty_append_creates_no_file(tmp_path: Path) -> None:
    path = tmp_path / "x.arrow"
    lb.append_rows(path, [])
    assert not path.exists()


# ------------------------------------------------------------------------------ other readers


def test_readable_by_pandas_read_feather(board: Path) -> None:
    pd = pytest.importorskip("pandas")
    df = pd.read_feather(board)
    assert list(df.columns) == lb.SCHEMA.names
    assert len(df) == 2
    assert df["value"].tolist() == [20.0, 22.0]


def test_readable_by_polars_read_ipc(board: Path) -> None:
    pl = pytest.importorskip("polars")
    df = pl.read_ipc(board)
    assert df.columns == lb.SCHEMA.names
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


# ------------------------------------------------------------------------------- concurrency

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
        lb.append_rows(Path(path), rows)


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
    table = lb.read_leaderboard(path)
    expected = {
        f"w{w}-b{b}-r{i}"
        for w in range(WRITERS)
        for b in range(BATCHES)
        for i in range(ROWS_PER_BATCH)
    }
    assert table.num_rows == WRITERS * BATCHES * ROWS_PER_BATCH
    assert set(table["run_id"].to_pylist()) == expected
    assert [p.name for p in tmp_path.iterdir() if p.suffix == ".tmp"] == []
    print(f"\n{WRITERS} processes x {BATCHES} appends took {elapsed:.2f} s")


# ------------------------------------------------------------------------ failure atomicity


def test_interrupt_during_write_leaves_previous_file_and_no_temp(
    board: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = board.read_bytes()
    seen: list[list[str]] = []

    def interrupted_writer(sink: Any, table: pa.Table) -> None:
        seen.append(sorted(p.name for p in board.parent.iterdir()))
        sink.write(b"ARROW1\x00\x00half a file")  # a partial write is already on disk
        raise KeyboardInterrupt

    monkeypatch.setattr(lb, "_write_ipc", interrupted_writer)
    with pytest.raises(KeyboardInterrupt):
        lb.append_rows(board, [make_row(run_id="c" * 16)])

    assert any(name.endswith(".tmp") for name in seen[0]), "temp file was open while writing"
    assert board.read_bytes() == before
    assert sorted(p.name for p in board.parent.iterdir()) == [board.name, board.name + ".lock"]


def test_lock_is_released_after_a_failed_append(
    board: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_writer(sink: Any, table: pa.Table) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(lb, "_write_ipc", failing_writer)
    with pytest.raises(OSError):
        lb.append_rows(board, [make_row(run_id="c" * 16)])
    monkeypatch.undo()
    lb.append_rows(board, [make_row(run_id="c" * 16)])  # would time out if the lock leaked
    assert lb.read_leaderboard(board).num_rows == 3


# ------------------------------------------------------------------------------ bad input


def test_missing_column_raises_naming_it(tmp_path: Path) -> None:
    row = make_row()
    del row["seed"]
    with pytest.raises(LeaderboardError, match="missing column.*seed"):
        lb.append_rows(tmp_path / "x.arrow", [row])
    assert not (tmp_path / "x.arrow").exists()


def test_unknown_column_raises_naming_it(tmp_path: Path) -> None:
    row = make_row()
    row["colour"] = "blue"
    with pytest.raises(LeaderboardError, match="unknown column.*colour"):
        lb.append_rows(tmp_path / "x.arrow", [row])


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("seed", 1.5),  # pyarrow alone would silently truncate this to 1
        ("seed", "3"),
        ("image_size", 2**40),
        ("higher_is_better", 1),
        ("value", "20"),
        ("run_id", 7),
        ("created_at", datetime(2024, 1, 1)),  # naive: no defined instant
        ("model_args", "not json"),
        ("device", None),  # only budget columns may be null
    ],
)
def test_wrongly_typed_value_raises_naming_the_column(
    tmp_path: Path, column: str, value: Any
) -> None:
    with pytest.raises(LeaderboardError, match=column):
        lb.append_rows(tmp_path / "x.arrow", [make_row(**{column: value})])


def test_newer_schema_version_in_existing_file_refuses_append(tmp_path: Path) -> None:
    path = tmp_path / "x.arrow"
    table = pa.Table.from_pylist([make_row()], schema=lb.SCHEMA)
    write_raw(path, table.replace_schema_metadata({b"medganbench.schema_version": b"3"}))
    before = path.read_bytes()
    with pytest.raises(LeaderboardError, match="newer medganbench") as info:
        lb.append_rows(path, [make_row(run_id="new")])
    assert "pgrade" in str(info.value)
    assert path.read_bytes() == before


def test_newer_schema_version_refuses_read(tmp_path: Path) -> None:
    path = tmp_path / "x.arrow"
    table = pa.Table.from_pylist([make_row()], schema=lb.SCHEMA)
    write_raw(path, table.replace_schema_metadata({b"medganbench.schema_version": b"3"}))
    with pytest.raises(LeaderboardError, match="newer medganbench"):
        lb.read_leaderboard(path)


def test_unknown_older_schema_version_raises(tmp_path: Path) -> None:
    path = tmp_path / "x.arrow"
    table = pa.Table.from_pylist([make_row()], schema=lb.SCHEMA)
    write_raw(path, table.replace_schema_metadata({b"medganbench.schema_version": b"0"}))
    with pytest.raises(LeaderboardError, match="v0"):
        lb.read_leaderboard(path)


V2_COLUMNS = (
    "metric_args",
    "metric_details",
    "noise_floor",
    "weights",
    "precision",
    "channels_last",
    "parameters",
    "flops_per_step",
)


def v1_table(*rows: dict[str, Any]) -> pa.Table:
    """A table as medganbench 0.1 (schema v1, without the v2 columns) wrote it."""
    v1_schema = pa.schema(
        [f for f in lb.SCHEMA if f.name not in V2_COLUMNS],
        metadata={b"medganbench.schema_version": b"1"},
    )
    plain = [{k: v for k, v in row.items() if k not in V2_COLUMNS} for row in rows]
    return pa.Table.from_pylist(plain, schema=v1_schema)


def test_v1_file_is_upgraded_on_read_with_fp32_and_unknown_size(tmp_path: Path) -> None:
    path = tmp_path / "x.arrow"
    write_raw(path, v1_table(make_row()))
    table = lb.read_leaderboard(path)
    assert table.schema.names == lb.SCHEMA.names
    row = table.to_pylist()[0]
    assert (row["precision"], row["channels_last"]) == ("fp32", False)
    assert row["parameters"] is None and row["flops_per_step"] is None
    assert (row["metric_args"], row["metric_details"], row["weights"]) == ("{}", "{}", "{}")
    assert row["noise_floor"] is None


def test_append_to_v1_file_rewrites_it_as_v2_keeping_old_rows(tmp_path: Path) -> None:
    path = tmp_path / "x.arrow"
    write_raw(path, v1_table(make_row(run_id="old")))
    lb.append_rows(path, [make_row(run_id="new", parameters=11_000_000)])
    with pa.OSFile(str(path), "rb") as source:
        raw = ipc.open_file(source).read_all()
    assert raw.schema.metadata[b"medganbench.schema_version"] == b"2"
    assert raw.column("run_id").to_pylist() == ["old", "new"]
    assert raw.column("parameters").to_pylist() == [None, 11_000_000]


def test_file_without_schema_version_is_not_a_leaderboard(tmp_path: Path) -> None:
    path = tmp_path / "x.arrow"
    write_raw(path, pa.table({"a": [1, 2]}))
    with pytest.raises(LeaderboardError, match="not a medganbench leaderboard"):
        lb.read_leaderboard(path)


def test_missing_file_raises_with_hint(tmp_path: Path) -> None:
    with pytest.raises(LeaderboardError) as info:
        lb.read_leaderboard(tmp_path / "nothing.arrow")
    assert "nothing.arrow" in info.value.message
    assert info.value.hint is not None and "medganbench run" in info.value.hint


def test_truncated_file_raises_naming_it(board: Path) -> None:
    data = board.read_bytes()
    board.write_bytes(data[: len(data) // 2])
    with pytest.raises(LeaderboardError, match="phantom-brain.arrow"):
        lb.read_leaderboard(board)


def test_append_to_corrupt_file_refuses_and_keeps_it(board: Path) -> None:
    board.write_bytes(b"garbage, not arrow")
    with pytest.raises(LeaderboardError, match="corrupt"):
        lb.append_rows(board, [make_row(run_id="c" * 16)])
    assert board.read_bytes() == b"garbage, not arrow"


# --------------------------------------------------------------------------------- ranking


def table_of(*rows: dict[str, Any]) -> pa.Table:
    return pa.Table.from_pylist(list(rows), schema=lb.SCHEMA)


def ranks_by_run(group: lb.RankedGroup) -> dict[str, int | None]:
    return {row.run_id: row.rank for row in group.rows}


def test_higher_is_better_metric_ranks_larger_value_first() -> None:
    table = table_of(
        make_row(run_id="low", model="identity", value=18.0),
        make_row(run_id="high", model="lookup", value=25.0),
    )
    (group,) = lb.ranked_groups(table)
    assert [r.run_id for r in group.rows] == ["high", "low"]
    assert ranks_by_run(group) == {"high": 1, "low": 2}


def test_lower_is_better_metric_ranks_smaller_value_first() -> None:
    mae = {"metric": "mae", "higher_is_better": False}
    table = table_of(
        make_row(run_id="low", value=0.1, **mae),
        make_row(run_id="high", value=0.4, **mae),
    )
    (group,) = lb.ranked_groups(table)
    assert [r.run_id for r in group.rows] == ["low", "high"]
    assert group.ranked_by == lb.MetricColumn("mae", "1", False)


def test_by_selects_the_ranking_metric_and_values_line_up_with_columns() -> None:
    table = table_of(
        make_row(run_id="r1", metric="psnr", value=25.0),
        make_row(run_id="r1", metric="mae", value=0.3, higher_is_better=False),
        make_row(run_id="r2", metric="psnr", value=20.0),
        make_row(run_id="r2", metric="mae", value=0.1, higher_is_better=False),
    )
    (by_default,) = lb.ranked_groups(table)
    (by_mae,) = lb.ranked_groups(table, by="mae")
    assert [c.metric for c in by_default.metrics] == ["psnr", "mae"]
    assert [r.run_id for r in by_default.rows] == ["r1", "r2"]  # first metric: psnr
    assert [r.run_id for r in by_mae.rows] == ["r2", "r1"]
    assert by_mae.rows[0].values == (20.0, 0.1)


@pytest.mark.parametrize(
    ("column", "other"),
    [
        ("image_size", 128),
        ("budget_steps", 600),
        ("budget_seconds", 60.0),
        ("dataset_fingerprint", "ffffffffffff"),
        ("eval_split", "val"),
        ("direction", "b2a"),
    ],
)
def test_rows_differing_in_a_comparable_key_land_in_different_groups(
    column: str, other: Any
) -> None:
    table = table_of(
        make_row(run_id="r1", value=20.0), make_row(run_id="r2", value=30.0, **{column: other})
    )
    groups = lb.ranked_groups(table)
    assert len(groups) == 2
    assert sorted(g.key[column] for g in groups if g.key[column] is not None) == sorted(
        v for v in (make_row()[column], other) if v is not None
    )
    # Each run is alone in its group, so each is first: never ranked against the other.
    assert all(len(g.rows) == 1 and g.rows[0].rank == 1 for g in groups)


def test_different_metric_versions_are_separate_columns_never_ranked_together() -> None:
    table = table_of(
        make_row(run_id="old", metric_version="1", value=30.0),
        make_row(run_id="new", metric_version="2", value=20.0),
    )
    (group,) = lb.ranked_groups(table)
    assert [(c.metric, c.version) for c in group.metrics] == [("psnr", "1"), ("psnr", "2")]
    # Ranked by psnr v1: only "old" has it; "new" is unranked and listed last.
    assert [(r.run_id, r.rank) for r in group.rows] == [("old", 1), ("new", None)]
    assert group.rows[1].values == (None, 20.0)


def test_ties_share_a_rank_competition_style() -> None:
    table = table_of(
        make_row(run_id="a", value=30.0),
        make_row(run_id="b", value=25.0),
        make_row(run_id="c", value=25.0),
        make_row(run_id="d", value=10.0),
    )
    (group,) = lb.ranked_groups(table)
    assert [r.rank for r in group.rows] == [1, 2, 2, 4]


def test_only_ok_rows_are_ranked() -> None:
    table = table_of(
        make_row(run_id="good", value=20.0),
        make_row(run_id="failed", value=99.0, status="failed"),
    )
    (group,) = lb.ranked_groups(table)
    assert [r.run_id for r in group.rows] == ["good"]


def test_run_without_ranking_metric_is_unranked_and_last() -> None:
    table = table_of(
        make_row(run_id="nan", model="aaa", value=float("nan")),
        make_row(run_id="scored", model="zzz", value=20.0),
    )
    (group,) = lb.ranked_groups(table)
    assert [(r.run_id, r.rank) for r in group.rows] == [("scored", 1), ("nan", None)]


def test_repeated_run_uses_latest_value() -> None:
    table = table_of(
        make_row(run_id="r1", value=10.0, created_at=T0),
        make_row(run_id="r1", value=12.0, created_at=T0 + timedelta(hours=1)),
    )
    (group,) = lb.ranked_groups(table)
    assert len(group.rows) == 1 and group.rows[0].values == (12.0,)


def test_unknown_by_raises_usage_error_listing_metrics() -> None:
    table = table_of(
        make_row(metric="psnr"), make_row(run_id="x", metric="mae", higher_is_better=False)
    )
    with pytest.raises(UsageError) as info:
        lb.ranked_groups(table, by="fid")
    assert "mae" in str(info.value) and "psnr" in str(info.value)


# ------------------------------------------------------------------------------ rendering


def test_render_groups_has_expected_headers() -> None:
    table = table_of(
        make_row(run_id="r1", metric="psnr", value=25.0),
        make_row(run_id="r1", metric="mae", value=0.3, higher_is_better=False),
    )
    (rich_table,) = lb.render_groups(lb.ranked_groups(table))
    headers = [column.header for column in rich_table.columns]
    assert headers == [
        "rank", "model", "args", "seed", "psnr ↑ (v1)", "mae ↓ (v1)",
        "steps", "train s", "device", "run id",
    ]  # fmt: skip
    assert rich_table.row_count == 1
    assert "phantom-brain" in str(rich_table.title) and "64px" in str(rich_table.title)


def test_render_groups_formats_values_to_four_significant_figures() -> None:
    table = table_of(
        make_row(run_id="0123456789abcdef", value=21.987654),
        make_row(run_id="fedcba9876543210", value=20.0, model_args='{"bins":64,"note":""}'),
    )
    (rich_table,) = lb.render_groups(lb.ranked_groups(table))
    cells = {column.header: list(column.cells) for column in rich_table.columns}
    assert cells["psnr ↑ (v1)"] == ["21.99", "20.00"]
    assert cells["run id"] == ["01234567", "fedcba98"]
    assert cells["args"] == ["direction=a2b", "bins=64"]  # empty values are left out


# ---------------------------------------------------------------------------------- export


def test_export_csv_round_trip_row_count(board: Path, tmp_path: Path) -> None:
    import pyarrow.csv as pa_csv

    out = tmp_path / "out" / "board.csv"
    lb.export(lb.read_leaderboard(board), "csv", out)
    assert pa_csv.read_csv(out).num_rows == 2


def test_export_parquet_round_trip_row_count(board: Path, tmp_path: Path) -> None:
    out = tmp_path / "board.parquet"
    table = lb.read_leaderboard(board)
    lb.export(table, "parquet", out)
    back = pq.read_table(out)
    assert back.num_rows == 2
    assert back.schema.metadata[b"medganbench.schema_version"] == b"2"


def test_export_md_has_table_header_and_models(tmp_path: Path) -> None:
    table = table_of(
        make_row(run_id="r1", model="identity", value=20.0),
        make_row(run_id="r2", model="intensity-lookup", value=25.0),
    )
    out = tmp_path / "board.md"
    lb.export(table, "md", out)
    text = out.read_text(encoding="utf-8")
    assert "## phantom-brain" in text
    # The default md view aggregates over seeds (see tests/test_seedstats.py).
    assert "| rank | model | args | seeds | psnr ↑ (v1) |" in text
    assert "identity" in text and "intensity-lookup" in text
    assert text.index("intensity-lookup") < text.index("| 2 | identity")


def test_export_md_with_runs_has_one_row_per_run(tmp_path: Path) -> None:
    table = table_of(
        make_row(run_id="r1", model="identity", value=20.0),
        make_row(run_id="r2", model="intensity-lookup", value=25.0),
    )
    out = tmp_path / "board.md"
    lb.export(table, "md", out, runs=True)
    text = out.read_text(encoding="utf-8")
    assert "| rank | model | args | seed | psnr ↑ (v1) |" in text
    assert text.index("intensity-lookup") < text.index("| 2 | identity")


def test_export_unknown_format_raises_usage_error(board: Path, tmp_path: Path) -> None:
    out = tmp_path / "board.xlsx"
    with pytest.raises(UsageError) as info:
        lb.export(lb.read_leaderboard(board), "xlsx", out)
    assert "csv|md|parquet" in str(info.value)
    assert not out.exists()


def test_export_replaces_existing_file_and_leaves_no_temp(board: Path, tmp_path: Path) -> None:
    out = tmp_path / "exports" / "board.csv"
    out.parent.mkdir()
    out.write_text("old")
    lb.export(lb.read_leaderboard(board), "csv", out)
    assert out.read_text().startswith('"run_id"')
    assert [p.name for p in out.parent.iterdir()] == ["board.csv"]


def test_metric_arguments_make_separate_columns() -> None:
    table = table_of(
        make_row(run_id="r1", metric="lpips", metric_args='{"net":"alex"}', value=0.2, higher_is_better=False),
        make_row(run_id="r2", metric="lpips", metric_args='{"net":"vgg"}', value=0.1, higher_is_better=False),
    )
    (group,) = lb.ranked_groups(table)
    assert [c.label for c in group.metrics] == ["lpips ↓ (v1, net=alex)", "lpips ↓ (v1, net=vgg)"]
    # Ranked by the alex column only: the vgg run has no alex value, so it is unranked.
    assert [(r.run_id, r.rank) for r in group.rows] == [("r1", 1), ("r2", None)]


def test_noise_floor_is_shown_next_to_the_value(tmp_path: Path) -> None:
    table = table_of(
        make_row(run_id="r1", metric="fid", value=231.78, noise_floor=14.4, higher_is_better=False),
    )
    out = tmp_path / "board.md"
    lb.export(table, "md", out)
    # 4 significant figures, like values; the default view marks the lone seed.
    assert "231.8 (1 seed) (floor 14.40)" in out.read_text()
