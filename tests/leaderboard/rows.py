"""Leaderboard rows and files for tests: a valid row, raw IPC writes, tables of older schemas."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

from medganbench.core.names import is_run_id
from medganbench.leaderboard.schema import SCHEMA

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)


_LABELS: dict[str, str] = {}


def rid(label: str) -> str:
    """A valid run id for a readable test label (``"r1"``); a valid id is kept as it is.

    Leaderboard files only ever hold 16-hex-digit run ids (they become parts of paths), so tests
    name runs by label and store this stable stand-in; :func:`label` maps it back.
    """
    if is_run_id(label):
        return label
    run_id = hashlib.sha256(label.encode()).hexdigest()[:16]
    _LABELS[run_id] = label
    return run_id


def label(run_id: str) -> str:
    """The test label a run id was made from by :func:`rid` (the id itself otherwise)."""
    return _LABELS.get(run_id, run_id)


def labels(run_ids: Iterable[str]) -> list[str]:
    """:func:`label` of each run id, in order."""
    return [label(r) for r in run_ids]


def make_row(**overrides: Any) -> dict[str, Any]:
    """A complete, valid leaderboard row; keyword arguments replace single columns.

    ``run_id`` may be a readable label; it is stored as :func:`rid` of it.
    """
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
        "eval_unit": "slice",
        "eval_grid": "image_size",
        "protocol": "final",
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
        "track": "budgeted",
        "budget_steps": 300,
        "budget_kimg": None,
        "budget_seconds": None,
        "steps_done": 300,
        "selected_step": 300,
        "kimg_done": 1.2,
        "train_seconds": 3.5,
        "device_seconds": 3.5,
        "eval_seconds": 0.5,
        "eval_seconds_per_image": 0.01,
        "sampling_steps": 1,
        "peak_memory_mb": 512.0,
        "device": "cpu",
        "world_size": 1,
        "per_device_batch": None,
        "global_batch": None,
        "precision": "fp32",
        "channels_last": False,
        "parameters": 0,
        "flops_per_step": 0,
        "medganbench_version": "0.1.0",
        "provenance": "{}",
        "status": "ok",
    }
    unknown = set(overrides) - set(row)
    assert not unknown, f"make_row got unknown columns {unknown}"
    row.update(overrides)
    if isinstance(row["run_id"], str):
        row["run_id"] = rid(row["run_id"])
    return row


def write_raw(path: Path, table: pa.Table) -> None:
    """Write an IPC file directly, bypassing append_rows (to fake other versions)."""
    with ipc.new_file(str(path), table.schema) as writer:
        writer.write_table(table)


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


V3_COLUMNS = ("track", "provenance")
V4_COLUMNS = ("eval_unit", "eval_grid")
V5_COLUMNS = ("protocol", "selected_step")
V6_COLUMNS = ("device_seconds", "world_size", "per_device_batch", "global_batch")
V7_COLUMNS = ("eval_seconds_per_image", "sampling_steps")


#: The columns each schema version added, by version (v1 had none of them).
ADDED_IN = {
    2: V2_COLUMNS,
    3: V3_COLUMNS,
    4: V4_COLUMNS,
    5: V5_COLUMNS,
    6: V6_COLUMNS,
    7: V7_COLUMNS,
}


def _table_of_version(version: int, rows: tuple[dict[str, Any], ...]) -> pa.Table:
    """``rows`` as medganbench wrote them with schema ``version``: without every column a later
    version added, and with that version in the metadata."""
    dropped = {c for added, columns in ADDED_IN.items() if added > version for c in columns}
    schema = pa.schema(
        [f for f in SCHEMA if f.name not in dropped],
        metadata={b"medganbench.schema_version": str(version).encode()},
    )
    plain = [{k: v for k, v in row.items() if k not in dropped} for row in rows]
    return pa.Table.from_pylist(plain, schema=schema)


def v1_table(*rows: dict[str, Any]) -> pa.Table:
    """A table as medganbench 0.1 (schema v1, without the v2 … v7 columns) wrote it."""
    return _table_of_version(1, rows)


def v2_table(*rows: dict[str, Any]) -> pa.Table:
    """A table as medganbench wrote it with schema v2 (without ``track``, ``provenance``,
    ``eval_unit`` and ``eval_grid``)."""
    return _table_of_version(2, rows)


def v3_table(*rows: dict[str, Any]) -> pa.Table:
    """A table as medganbench wrote it with schema v3: no ``eval_unit`` / ``eval_grid``
    columns; a per-patient row said so in its ``metric_args`` (pass them as the row's
    ``metric_args``; the rows' own ``eval_unit`` / ``eval_grid`` are dropped)."""
    return _table_of_version(3, rows)


def v4_table(*rows: dict[str, Any]) -> pa.Table:
    """A table as medganbench wrote it with schema v4: no ``protocol`` / ``selected_step``."""
    return _table_of_version(4, rows)


def v5_table(*rows: dict[str, Any]) -> pa.Table:
    """A table as medganbench wrote it with schema v5: no device columns (``device_seconds``,
    ``world_size``, ``per_device_batch``, ``global_batch``)."""
    return _table_of_version(5, rows)


def v6_table(*rows: dict[str, Any]) -> pa.Table:
    """A table as medganbench wrote it with schema v6: no cost columns
    (``eval_seconds_per_image``, ``sampling_steps``)."""
    return _table_of_version(6, rows)


def table_of(*rows: dict[str, Any]) -> pa.Table:
    return pa.Table.from_pylist(list(rows), schema=SCHEMA)
