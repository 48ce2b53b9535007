"""Exports: CSV, Parquet and Markdown, written atomically."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from medganbench.errors import UsageError
from medganbench.leaderboard.export import export
from medganbench.leaderboard.store import read_leaderboard
from tests.leaderboard.rows import make_row, table_of


def test_export_csv_round_trip_row_count(board: Path, tmp_path: Path) -> None:
    import pyarrow.csv as pa_csv

    out = tmp_path / "out" / "board.csv"
    export(read_leaderboard(board), "csv", out)
    assert pa_csv.read_csv(out).num_rows == 2


def test_export_parquet_round_trip_row_count(board: Path, tmp_path: Path) -> None:
    out = tmp_path / "board.parquet"
    table = read_leaderboard(board)
    export(table, "parquet", out)
    back = pq.read_table(out)
    assert back.num_rows == 2
    assert back.schema.metadata[b"medganbench.schema_version"] == b"7"


def test_export_md_has_table_header_and_models(tmp_path: Path) -> None:
    table = table_of(
        make_row(run_id="r1", model="identity", value=20.0),
        make_row(run_id="r2", model="intensity-lookup", value=25.0),
    )
    out = tmp_path / "board.md"
    export(table, "md", out)
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
    export(table, "md", out, runs=True)
    text = out.read_text(encoding="utf-8")
    assert "| rank | model | args | seed | psnr ↑ (v1) |" in text
    assert text.index("intensity-lookup") < text.index("| 2 | identity")


def test_export_unknown_format_raises_usage_error(board: Path, tmp_path: Path) -> None:
    out = tmp_path / "board.xlsx"
    with pytest.raises(UsageError) as info:
        export(read_leaderboard(board), "xlsx", out)
    assert "csv|md|parquet" in str(info.value)
    assert not out.exists()


def test_export_replaces_existing_file_and_leaves_no_temp(board: Path, tmp_path: Path) -> None:
    out = tmp_path / "exports" / "board.csv"
    out.parent.mkdir()
    out.write_text("old")
    export(read_leaderboard(board), "csv", out)
    assert out.read_text().startswith('"run_id"')
    assert [p.name for p in out.parent.iterdir()] == ["board.csv"]


def test_export_to_a_stream_writes_what_a_file_holds(board: Path, tmp_path: Path) -> None:
    table = read_leaderboard(board)
    export(table, "csv", tmp_path / "board.csv")
    stream = io.BytesIO()
    export(table, "csv", stream)
    assert stream.getvalue() == (tmp_path / "board.csv").read_bytes()


def test_csv_keeps_every_value_at_full_precision(tmp_path: Path) -> None:
    import pyarrow.csv as pa_csv

    value = 30.052137654321987
    export(table_of(make_row(value=value)), "csv", tmp_path / "board.csv")
    assert pa_csv.read_csv(tmp_path / "board.csv").column("value").to_pylist() == [value]
