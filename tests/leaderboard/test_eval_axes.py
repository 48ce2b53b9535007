"""Schema v4: the evaluation axes ``eval_unit`` and ``eval_grid`` are columns, upgraded from the
``metric_args`` keys of v3 files, and every reader keeps rows of different axes apart."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest

from medganbench.core.manager import build_registries, make_plugin_manager
from medganbench.leaderboard.export import export, seed_table
from medganbench.leaderboard.merge import merge_leaderboards
from medganbench.leaderboard.merge_report import KEY_COLUMNS, MergeConflictError
from medganbench.leaderboard.naming import naming_for
from medganbench.leaderboard.ranking import ranked_groups
from medganbench.leaderboard.render import markdown
from medganbench.leaderboard.seeds import aggregate_groups
from medganbench.leaderboard.store import append_rows, read_leaderboard
from tests.leaderboard.rows import (
    V6_COLUMNS,
    V7_COLUMNS,
    label,
    make_row,
    table_of,
    v3_table,
    write_raw,
)

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "leaderboards" / "phantom-brain.arrow"
#: The committed board as schema v3 wrote it, before the CPU track's re-recording of 2026-12-07
#: rewrote it as v7: what the upgrade tests read.
V3_BOARD = ROOT / "tests" / "leaderboard" / "data" / "phantom-brain-v3.arrow"
VOLUME = '{"eval_unit":"volume"}'
NATIVE = '{"eval_grid":"native","eval_unit":"volume"}'


def _raw(path: Path) -> list[dict[str, object]]:
    """The rows of an IPC file as plain pyarrow reads them (no upgrade)."""
    with open(path, "rb") as source:
        return ipc.open_file(source).read_all().to_pylist()


def _version(path: Path) -> bytes:
    with open(path, "rb") as source:
        return ipc.open_file(source).schema.metadata[b"medganbench.schema_version"]


# ------------------------------------------------------------------------ the committed board


def test_the_v3_board_stays_v3_when_read() -> None:
    # Upgrading happens on read; the file is not rewritten.
    read_leaderboard(V3_BOARD)
    assert _version(V3_BOARD) == b"3"


def test_the_v3_board_upgrades_its_volume_rows_to_the_columns() -> None:
    before = _raw(V3_BOARD)
    after = read_leaderboard(V3_BOARD).to_pylist()
    assert len(before) == len(after) == 282
    was_volume = ['"eval_unit":"volume"' in r["metric_args"] for r in before]
    assert sum(was_volume) == 99
    assert [r["eval_unit"] == "volume" for r in after] == was_volume
    assert {r["eval_unit"] for r in after} == {"slice", "volume"}
    assert {r["eval_grid"] for r in after} == {"image_size"}
    assert not any(
        "eval_unit" in r["metric_args"] or "eval_grid" in r["metric_args"] for r in after
    )
    assert not any("eval_unit" in r["metric_details"] for r in after)
    for old, new in zip(before, after, strict=True):
        # Everything else is as it was; the details keep the per-patient values and the grid.
        assert {k: v for k, v in old.items() if k not in ("metric_args", "metric_details")} == {
            k: v
            for k, v in new.items()
            if k not in ("metric_args", "metric_details", "eval_unit", "eval_grid", "protocol")
            and k not in ("selected_step", *V6_COLUMNS, *V7_COLUMNS)
        }
        details = json.loads(old["metric_details"])
        details.pop("eval_unit", None)
        assert json.loads(new["metric_details"]) == details
    volume = next(r for r in after if r["eval_unit"] == "volume")
    assert volume["metric_args"] == "{}"
    assert json.loads(volume["metric_details"])["grid"] == "image_size"


def test_the_committed_board_ranks_and_renders_as_the_readme_shows_it() -> None:
    """The README's tables are this file's markdown export: the columns, not metric_args, now
    keep slice and volume rows apart, under the same labels."""
    board = read_leaderboard(COMMITTED)
    text = markdown(board, naming=naming_for(board, build_registries(make_plugin_manager())))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table_lines = [line for line in text.splitlines() if line.startswith("|")]
    assert len(table_lines) > 20
    missing = [line for line in table_lines if line not in readme]
    assert not missing, missing[:3]
    assert "| psnr ↑ (v1) | ssim ↑ (v1) | mae ↓ (v1) | psnr ↑ (v1, eval_unit=volume) |" in text


def test_appending_to_the_v3_board_writes_v7_that_plain_pyarrow_reads(
    tmp_path: Path,
) -> None:
    path = tmp_path / "phantom-brain.arrow"
    shutil.copyfile(V3_BOARD, path)
    append_rows(path, [make_row(run_id="new", eval_unit="volume", value=30.0)])
    assert _version(path) == b"7"
    rows = _raw(path)
    assert len(rows) == 283
    assert sum(r["eval_unit"] == "volume" for r in rows) == 100
    assert label(str(rows[-1]["run_id"])) == "new" and rows[-1]["eval_unit"] == "volume"
    assert not any("eval_unit" in str(r["metric_args"]) for r in rows)
    export(read_leaderboard(path), "parquet", tmp_path / "all.parquet")
    parquet = pq.read_table(tmp_path / "all.parquet")
    assert parquet.column("eval_unit").to_pylist().count("volume") == 100
    assert set(parquet.column("eval_grid").to_pylist()) == {"image_size"}


# ----------------------------------------------------------------------- a synthetic v3 table


def _v3_rows() -> list[dict[str, object]]:
    patients = {"p1": 20.0, "p2": 24.0}
    volume_details = json.dumps({"eval_unit": "volume", "grid": "image_size", "patients": patients})
    native_details = json.dumps({"eval_unit": "volume", "grid": "native", "patients": patients})
    return [
        make_row(run_id="r", value=21.0),
        make_row(run_id="r", value=22.0, metric_args=VOLUME, metric_details=volume_details),
        make_row(run_id="r", value=23.0, metric_args=NATIVE, metric_details=native_details),
        make_row(
            run_id="r",
            metric="lpips",
            higher_is_better=False,
            value=0.25,
            metric_args='{"eval_unit":"volume","net":"vgg"}',
        ),
    ]


def test_a_v3_table_with_volume_and_native_rows_is_upgraded_on_read(tmp_path: Path) -> None:
    path = tmp_path / "x.arrow"
    write_raw(path, v3_table(*_v3_rows()))
    rows = read_leaderboard(path).to_pylist()
    assert [(r["eval_unit"], r["eval_grid"], r["metric_args"]) for r in rows] == [
        ("slice", "image_size", "{}"),
        ("volume", "image_size", "{}"),
        ("volume", "native", "{}"),
        ("volume", "image_size", '{"net":"vgg"}'),
    ]
    assert [json.loads(r["metric_details"]).get("grid") for r in rows] == [
        None,
        "image_size",
        "native",
        None,
    ]
    assert not any("eval_unit" in r["metric_details"] for r in rows)


def test_upgraded_rows_of_every_axis_are_separate_columns_with_their_labels(
    tmp_path: Path,
) -> None:
    path = tmp_path / "x.arrow"
    write_raw(path, v3_table(*_v3_rows()))
    (group,) = ranked_groups(read_leaderboard(path))
    assert [c.label for c in group.metrics] == [
        "psnr ↑ (v1)",
        "psnr ↑ (v1, eval_unit=volume)",
        "psnr ↑ (v1, eval_unit=volume, eval_grid=native)",
        "lpips ↓ (v1, net=vgg, eval_unit=volume)",
    ]
    (row,) = group.rows
    assert row.values == (21.0, 22.0, 23.0, 0.25)
    table = seed_table(read_leaderboard(path))
    assert [
        (r["metric"], r["metric_args"], r["eval_unit"], r["eval_grid"]) for r in table.to_pylist()
    ] == [
        ("psnr", "{}", "slice", "image_size"),
        ("psnr", "{}", "volume", "image_size"),
        ("psnr", "{}", "volume", "native"),
        ("lpips", '{"net":"vgg"}', "volume", "image_size"),
    ]


def test_seeds_of_one_axis_are_pooled_and_never_mixed_with_another() -> None:
    rows = [
        make_row(run_id=f"s{seed}", seed=seed, value=20.0 + seed, eval_unit=unit)
        for seed in (0, 1)
        for unit in ("slice", "volume")
    ] + [make_row(run_id="s0", seed=0, value=99.0, eval_unit="volume", eval_grid="native")]
    (group,) = aggregate_groups(table_of(*rows))
    (entry,) = group.entries
    means = {
        (c.eval_unit, c.eval_grid): s.mean if s else None
        for c, s in zip(group.metrics, entry.summaries, strict=True)
    }
    assert means == {
        ("slice", "image_size"): 20.5,
        ("volume", "image_size"): 20.5,
        ("volume", "native"): 99.0,
    }


def test_csv_export_has_both_columns(tmp_path: Path) -> None:
    append_rows(tmp_path / "x.arrow", [make_row(), make_row(eval_unit="volume", value=1.0)])
    export(read_leaderboard(tmp_path / "x.arrow"), "csv", tmp_path / "x.csv")
    header, slice_line, volume_line = (tmp_path / "x.csv").read_text().splitlines()
    names = header.replace('"', "").split(",")
    assert names[names.index("eval_split") + 1 : names.index("eval_split") + 3] == [
        "eval_unit",
        "eval_grid",
    ]
    assert '"slice","image_size"' in slice_line and '"volume","image_size"' in volume_line


# -------------------------------------------------------------------------------------- merge


def test_merge_keys_hold_both_columns() -> None:
    assert KEY_COLUMNS[-2:] == ("eval_unit", "eval_grid")


def test_merge_keeps_a_runs_slice_and_volume_rows_of_one_metric_apart(tmp_path: Path) -> None:
    rows = [
        make_row(run_id="r", value=21.0),
        make_row(run_id="r", value=22.0, eval_unit="volume"),
        make_row(run_id="r", value=23.0, eval_unit="volume", eval_grid="native"),
    ]
    append_rows(tmp_path / "a.arrow", rows)
    append_rows(tmp_path / "b.arrow", rows)
    result = merge_leaderboards([tmp_path / "a.arrow", tmp_path / "b.arrow"])
    assert (result.rows_out, result.duplicates, result.conflicts) == (3, 3, ())
    got = sorted((r["eval_unit"], r["eval_grid"], r["value"]) for r in result.table.to_pylist())
    assert got == [
        ("slice", "image_size", 21.0),
        ("volume", "image_size", 22.0),
        ("volume", "native", 23.0),
    ]


def test_a_v3_input_and_a_current_input_of_one_run_are_duplicates(tmp_path: Path) -> None:
    old = tmp_path / "old.arrow"
    write_raw(
        old, v3_table(make_row(run_id="r"), make_row(run_id="r", value=22.0, metric_args=VOLUME))
    )
    new = tmp_path / "new.arrow"
    # The same recording, rewritten by a later version (which has no cost to add to it).
    unmeasured = dict.fromkeys(V7_COLUMNS)
    append_rows(
        new,
        [
            make_row(run_id="r", **unmeasured),
            make_row(run_id="r", value=22.0, eval_unit="volume", **unmeasured),
        ],
    )
    result = merge_leaderboards([old, new])
    assert (result.rows_out, result.duplicates, result.conflicts) == (2, 2, ())
    assert [i.schema_version_read for i in result.inputs] == [3, 7]


def test_a_conflict_on_a_volume_row_names_its_axis(tmp_path: Path) -> None:
    append_rows(
        tmp_path / "a.arrow",
        [make_row(run_id="r"), make_row(run_id="r", eval_unit="volume", value=1.0)],
    )
    append_rows(
        tmp_path / "b.arrow",
        [make_row(run_id="r"), make_row(run_id="r", eval_unit="volume", value=2.0)],
    )
    with pytest.raises(MergeConflictError) as info:
        merge_leaderboards([tmp_path / "a.arrow", tmp_path / "b.arrow"])
    (conflict,) = info.value.conflicts
    assert conflict.key[-2:] == ("volume", "image_size")
    assert "psnr v1 (eval_unit=volume): value: 1.0" in conflict.describe()
    assert conflict.to_json()["key"]["eval_unit"] == "volume"
