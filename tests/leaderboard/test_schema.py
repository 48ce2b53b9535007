"""The row type and the Arrow schema derived from it: columns, types, validation, upgrades."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest

from medganbench.errors import LeaderboardError
from medganbench.leaderboard.schema import SCHEMA, SCHEMA_VERSION, LeaderboardRow
from medganbench.leaderboard.store import append_rows, read_leaderboard
from tests.leaderboard.rows import labels, make_row, v1_table, v2_table, v6_table, write_raw


def test_file_records_schema_version_in_metadata(board: Path) -> None:
    schema = ipc.open_file(str(board)).schema
    assert schema.metadata[b"medganbench.schema_version"] == b"7"
    assert SCHEMA_VERSION == 7


def test_file_columns_and_types_equal_schema(board: Path) -> None:
    schema = ipc.open_file(str(board)).schema
    assert schema.equals(SCHEMA, check_metadata=True)
    assert schema.field("created_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("image_size").type == pa.int32()
    assert schema.field("budget_steps").nullable


def test_args_are_stored_as_canonical_json(tmp_path: Path) -> None:
    path = tmp_path / "x.arrow"
    append_rows(path, [make_row(model_args='{ "b": 1,  "a": 2 }', dataset_args={"z": True})])
    row = read_leaderboard(path).to_pylist()[0]
    assert row["model_args"] == '{"a":2,"b":1}'
    assert row["dataset_args"] == '{"z":true}'


def test_missing_column_raises_naming_it(tmp_path: Path) -> None:
    row = make_row()
    del row["seed"]
    with pytest.raises(LeaderboardError, match="missing column.*seed"):
        append_rows(tmp_path / "x.arrow", [row])
    assert not (tmp_path / "x.arrow").exists()


def test_unknown_column_raises_naming_it(tmp_path: Path) -> None:
    row = make_row()
    row["colour"] = "blue"
    with pytest.raises(LeaderboardError, match="unknown column.*colour"):
        append_rows(tmp_path / "x.arrow", [row])


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
        append_rows(tmp_path / "x.arrow", [make_row(**{column: value})])


def test_newer_schema_version_in_existing_file_refuses_append(tmp_path: Path) -> None:
    path = tmp_path / "x.arrow"
    table = pa.Table.from_pylist([make_row()], schema=SCHEMA)
    write_raw(path, table.replace_schema_metadata({b"medganbench.schema_version": b"8"}))
    before = path.read_bytes()
    with pytest.raises(LeaderboardError, match="newer medganbench") as info:
        append_rows(path, [make_row(run_id="new")])
    assert "pgrade" in str(info.value)
    assert path.read_bytes() == before


def test_newer_schema_version_refuses_read(tmp_path: Path) -> None:
    path = tmp_path / "x.arrow"
    table = pa.Table.from_pylist([make_row()], schema=SCHEMA)
    write_raw(path, table.replace_schema_metadata({b"medganbench.schema_version": b"8"}))
    with pytest.raises(LeaderboardError, match="newer medganbench"):
        read_leaderboard(path)


def test_unknown_older_schema_version_raises(tmp_path: Path) -> None:
    path = tmp_path / "x.arrow"
    table = pa.Table.from_pylist([make_row()], schema=SCHEMA)
    write_raw(path, table.replace_schema_metadata({b"medganbench.schema_version": b"0"}))
    with pytest.raises(LeaderboardError, match="v0"):
        read_leaderboard(path)


def test_v1_file_is_upgraded_on_read_with_fp32_and_unknown_size(tmp_path: Path) -> None:
    path = tmp_path / "x.arrow"
    write_raw(path, v1_table(make_row()))
    table = read_leaderboard(path)
    assert table.schema.names == SCHEMA.names
    row = table.to_pylist()[0]
    assert (row["precision"], row["channels_last"]) == ("fp32", False)
    assert row["parameters"] is None and row["flops_per_step"] is None
    assert (row["metric_args"], row["metric_details"], row["weights"]) == ("{}", "{}", "{}")
    assert row["noise_floor"] is None


def test_v1_file_is_upgraded_to_budgeted_rows_of_unknown_provenance(tmp_path: Path) -> None:
    path = tmp_path / "x.arrow"
    write_raw(path, v1_table(make_row()))
    row = read_leaderboard(path).to_pylist()[0]
    assert (row["track"], row["provenance"]) == ("budgeted", "{}")


def test_v2_file_is_upgraded_to_budgeted_rows_of_unknown_provenance(tmp_path: Path) -> None:
    path = tmp_path / "x.arrow"
    write_raw(path, v2_table(make_row(run_id="a"), make_row(run_id="b", value=21.0)))
    table = read_leaderboard(path)
    assert table.schema.equals(SCHEMA, check_metadata=True)
    rows = table.to_pylist()
    assert [(r["track"], r["provenance"], r["value"]) for r in rows] == [
        ("budgeted", "{}", 20.0),
        ("budgeted", "{}", 21.0),
    ]


def test_unknown_track_is_refused_naming_the_column(tmp_path: Path) -> None:
    with pytest.raises(LeaderboardError, match="track.*'elsewhere'"):
        append_rows(tmp_path / "x.arrow", [make_row(track="elsewhere")])


@pytest.mark.parametrize(
    ("column", "value", "allowed"),
    [
        ("eval_unit", "patient", "slice, volume"),
        ("eval_unit", "Volume", "slice, volume"),
        ("eval_grid", "image-size", "image_size, native"),
        ("eval_grid", "", "image_size, native"),
    ],
)
def test_unknown_evaluation_axis_is_refused_naming_the_column_and_its_values(
    tmp_path: Path, column: str, value: str, allowed: str
) -> None:
    with pytest.raises(LeaderboardError, match=f"{column}.*{value!r} is not one of {allowed}"):
        append_rows(tmp_path / "x.arrow", [make_row(**{column: value})])
    with pytest.raises(LeaderboardError, match=f"row 0, column {column!r}"):
        LeaderboardRow.from_mapping(make_row(**{column: value}))
    assert not (tmp_path / "x.arrow").exists()


def test_evaluation_axes_follow_the_split_column(board: Path) -> None:
    names = ipc.open_file(str(board)).schema.names
    at = names.index("eval_split")
    assert names[at : at + 5] == ["eval_split", "eval_unit", "eval_grid", "protocol", "metric"]


def test_append_to_v1_file_rewrites_it_as_current_keeping_old_rows(tmp_path: Path) -> None:
    path = tmp_path / "x.arrow"
    write_raw(path, v1_table(make_row(run_id="old")))
    append_rows(path, [make_row(run_id="new", parameters=11_000_000)])
    with pa.OSFile(str(path), "rb") as source:
        raw = ipc.open_file(source).read_all()
    assert raw.schema.metadata[b"medganbench.schema_version"] == b"7"
    assert labels(raw.column("run_id").to_pylist()) == ["old", "new"]
    assert raw.column("parameters").to_pylist() == [None, 11_000_000]


def test_file_without_schema_version_is_not_a_leaderboard(tmp_path: Path) -> None:
    path = tmp_path / "x.arrow"
    write_raw(path, pa.table({"a": [1, 2]}))
    with pytest.raises(LeaderboardError, match="not a medganbench leaderboard"):
        read_leaderboard(path)


def test_v6_file_is_upgraded_with_an_unmeasured_cost(tmp_path: Path) -> None:
    path = tmp_path / "x.arrow"
    write_raw(path, v6_table(make_row(run_id="old")))
    (row,) = read_leaderboard(path).to_pylist()
    assert row["eval_seconds_per_image"] is None and row["sampling_steps"] is None
    names = read_leaderboard(path).schema.names
    at = names.index("eval_seconds")
    assert names[at : at + 3] == ["eval_seconds", "eval_seconds_per_image", "sampling_steps"]
