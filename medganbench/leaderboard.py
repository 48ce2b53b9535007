"""The Arrow leaderboard: one Arrow IPC file per dataset, one row per (run, metric).

The file ``<dir>/<dataset>.arrow`` is an Arrow IPC *file* (the random-access format), so plain
pyarrow (``pyarrow.ipc.open_file``), pandas (``pd.read_feather``), polars (``pl.read_ipc``) and
anything else that speaks Arrow can read it without medganbench.

Writing is crash- and concurrency-safe: :func:`append_rows` takes an exclusive lock on a sidecar
``<file>.lock``, reads the current file, writes old plus new rows to a temporary file in the same
directory, fsyncs it and ``os.replace``-s it over the target. Readers therefore see either the
old or the new file, never a partial one; concurrent writers queue on the lock and lose no row;
an error or Ctrl-C at any point leaves the previous file untouched.

Ranking (:func:`ranked_groups`) only compares rows that are comparable: equal
:data:`COMPARABLE_KEYS` and, per metric column, the same metric *version*.
"""

from __future__ import annotations

import json
import math
import numbers
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import filelock
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
from rich.table import Table as RichTable

from medganbench.errors import LeaderboardError, UsageError
from medganbench.fileio import atomic_write
from medganbench.runspec import canonical_json

SCHEMA_VERSION = 2
_VERSION_KEY = b"medganbench.schema_version"

# Budget columns are nullable because a budget sets any subset of its three limits; model size
# columns because rows upgraded from schema v1 never measured them. Every other column is always
# known when a row is written, so a null there is a bug upstream.
_NULLABLE = frozenset(
    {"budget_steps", "budget_kimg", "budget_seconds", "parameters", "flops_per_step", "noise_floor"}
)


def _field(name: str, type_: pa.DataType) -> pa.Field:
    return pa.field(name, type_, nullable=name in _NULLABLE)


SCHEMA: pa.Schema = pa.schema(
    [
        _field("run_id", pa.string()),
        _field("created_at", pa.timestamp("us", tz="UTC")),
        _field("model", pa.string()),
        _field("model_version", pa.string()),
        _field("model_args", pa.string()),
        _field("dataset", pa.string()),
        _field("dataset_version", pa.string()),
        _field("dataset_args", pa.string()),
        _field("dataset_fingerprint", pa.string()),
        _field("image_size", pa.int32()),
        _field("direction", pa.string()),
        _field("eval_split", pa.string()),
        _field("metric", pa.string()),
        _field("metric_version", pa.string()),
        _field("metric_convention", pa.string()),
        _field("metric_args", pa.string()),
        _field("metric_details", pa.string()),
        _field("value", pa.float64()),
        _field("noise_floor", pa.float64()),
        _field("weights", pa.string()),
        _field("higher_is_better", pa.bool_()),
        _field("seed", pa.int64()),
        _field("budget_steps", pa.int64()),
        _field("budget_kimg", pa.float64()),
        _field("budget_seconds", pa.float64()),
        _field("steps_done", pa.int64()),
        _field("kimg_done", pa.float64()),
        _field("train_seconds", pa.float64()),
        _field("eval_seconds", pa.float64()),
        _field("peak_memory_mb", pa.float64()),
        _field("device", pa.string()),
        # Effective settings (what the device honoured), added in schema v2.
        _field("precision", pa.string()),
        _field("channels_last", pa.bool_()),
        _field("parameters", pa.int64()),
        _field("flops_per_step", pa.int64()),
        _field("medganbench_version", pa.string()),
        _field("status", pa.string()),
    ],
    metadata={_VERSION_KEY: str(SCHEMA_VERSION).encode()},
)

# Rows are ranked together only if all of these are equal. ``direction`` is included on top of
# the data/budget/split keys because A→B and B→A scores are measured in different target
# domains (different units and windows), so ranking them against each other is meaningless.
COMPARABLE_KEYS: tuple[str, ...] = (
    "dataset",
    "dataset_version",
    "dataset_fingerprint",
    "image_size",
    "budget_steps",
    "budget_kimg",
    "budget_seconds",
    "eval_split",
    "direction",
)

EXPORT_FORMATS: tuple[str, ...] = ("csv", "md", "parquet")

# How long a writer waits for another writer before giving up. Appends take milliseconds, and
# the lock is an OS lock released when its holder dies, so hitting this means something is
# badly wrong (a hung process, a dead network filesystem) rather than ordinary contention.
LOCK_TIMEOUT_S = 300.0

_NO_RUNS_HINT = "No runs yet for this dataset; run `medganbench run ...` to add some."
_JSON_COLUMNS = frozenset({"model_args", "dataset_args", "metric_args", "metric_details", "weights"})


def leaderboard_path(directory: Path, dataset: str) -> Path:
    """Where the leaderboard of ``dataset`` lives.

    Args:
        directory: the leaderboard directory.
        dataset: registered dataset name.

    Returns:
        ``directory / f"{dataset}.arrow"``.

    Raises:
        LeaderboardError: ``dataset`` is empty or would escape ``directory`` (contains a path
            separator or is ``.``/``..``).
    """
    # Dataset names come from plugins; refuse anything that would write outside the directory.
    if not dataset or dataset in (".", "..") or "/" in dataset or os.sep in dataset:
        raise LeaderboardError(f"Dataset name {dataset!r} cannot be used as a leaderboard name.")
    return Path(directory) / f"{dataset}.arrow"


# --------------------------------------------------------------------------------------------
# Row validation
# --------------------------------------------------------------------------------------------


def _check_value(field: pa.Field, value: Any) -> Any:
    """Return ``value`` ready for ``pa.array(..., type=field.type)``, or raise ``TypeError``.

    pyarrow's own conversion is too lenient for a results table (it silently truncates 1.5 to
    an int64 1 and reads a naive datetime as UTC), so every type is checked explicitly here.
    """
    if value is None:
        if field.nullable:
            return None
        raise TypeError("must not be None")
    type_ = field.type
    if field.name in _JSON_COLUMNS:
        # Stored as canonical JSON so equal arguments give equal strings, whatever the caller's
        # key order or spacing; a mapping is accepted and serialised the same way.
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError as exc:
                raise TypeError(f"is not valid JSON ({exc})") from None
        if not isinstance(value, Mapping):
            raise TypeError(f"must be a JSON object or a mapping, got {type(value).__name__}")
        return canonical_json(dict(value))
    if pa.types.is_string(type_):
        if not isinstance(value, str):
            raise TypeError(f"expected a string, got {type(value).__name__} {value!r}")
        return value
    if pa.types.is_boolean(type_):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"expected a bool, got {type(value).__name__} {value!r}")
        return bool(value)
    if pa.types.is_integer(type_):
        # bool is an int subclass; True as a seed is certainly a mistake.
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
            raise TypeError(f"expected an integer, got {type(value).__name__} {value!r}")
        return int(value)
    if pa.types.is_floating(type_):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise TypeError(f"expected a number, got {type(value).__name__} {value!r}")
        return float(value)
    if pa.types.is_timestamp(type_):
        # A naive datetime has no defined instant; refuse it rather than guess a timezone.
        if not isinstance(value, datetime) or value.utcoffset() is None:
            raise TypeError(f"expected a timezone-aware datetime, got {value!r}")
        return value
    raise TypeError(f"unsupported column type {type_}")  # pragma: no cover - schema is fixed


def _rows_to_table(rows: list[dict[str, Any]]) -> pa.Table:
    """Validate ``rows`` against :data:`SCHEMA` and build a table.

    Raises:
        LeaderboardError: a row is not a mapping, misses or adds a column, or has a value of
            the wrong type (the message names the row index and the column).
    """
    expected = set(SCHEMA.names)
    columns: dict[str, list[Any]] = {name: [] for name in SCHEMA.names}
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise LeaderboardError(
                f"Leaderboard row {index} is a {type(row).__name__}, not a mapping."
            )
        missing = [name for name in SCHEMA.names if name not in row]
        unknown = sorted(set(row) - expected, key=str)
        if missing:
            raise LeaderboardError(
                f"Leaderboard row {index} is missing column(s): {', '.join(missing)}."
            )
        if unknown:
            raise LeaderboardError(
                f"Leaderboard row {index} has unknown column(s): {', '.join(map(str, unknown))}."
            )
        for field in SCHEMA:
            try:
                columns[field.name].append(_check_value(field, row[field.name]))
            except TypeError as exc:
                raise LeaderboardError(
                    f"Leaderboard row {index}, column {field.name!r}: {exc}."
                ) from None
    arrays = []
    for field in SCHEMA:
        try:
            arrays.append(pa.array(columns[field.name], type=field.type))
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
            # Out-of-range integers (e.g. an image size above 2**31) end up here.
            raise LeaderboardError(f"Leaderboard column {field.name!r}: {exc}") from None
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


# --------------------------------------------------------------------------------------------
# Schema versions
# --------------------------------------------------------------------------------------------

def _upgrade_v1_to_v2(table: pa.Table) -> pa.Table:
    """v2 added metric arguments, details, noise floor and weights around ``value``, and
    precision, channels_last, parameters and flops_per_step after ``device``.

    v1 had only argument-free metrics without pretrained weights (psnr, ssim, mae), so their
    arguments, details and weights are empty objects and they have no noise floor. v1 runs were
    all fp32 in the default memory format (the runner had no AMP then); their model size was not
    measured, so those two columns are null rather than a guess.
    """
    n = table.num_rows

    def insert(after: str, added: list[tuple[str, pa.Array]]) -> None:
        nonlocal table
        at = table.schema.get_field_index(after) + 1
        for offset, (name, values) in enumerate(added):
            table = table.add_column(at + offset, name, values)

    empty = pa.array(["{}"] * n, pa.string())
    insert("metric_convention", [("metric_args", empty), ("metric_details", empty)])
    insert("value", [("noise_floor", pa.nulls(n, pa.float64())), ("weights", empty)])
    insert(
        "device",
        [
            ("precision", pa.array(["fp32"] * n, pa.string())),
            ("channels_last", pa.array([False] * n, pa.bool_())),
            ("parameters", pa.nulls(n, pa.int64())),
            ("flops_per_step", pa.nulls(n, pa.int64())),
        ],
    )
    return table


# Upgrade steps: ``_UPGRADES[n]`` maps a table of schema version ``n`` to version ``n + 1``.
_UPGRADES: dict[int, Callable[[pa.Table], pa.Table]] = {1: _upgrade_v1_to_v2}


def _schema_version(schema: pa.Schema, path: Path) -> int:
    """The schema version recorded in a file's metadata.

    Raises:
        LeaderboardError: no version recorded, or not an integer.
    """
    raw = (schema.metadata or {}).get(_VERSION_KEY)
    if raw is None:
        raise LeaderboardError(
            f"{path} is not a medganbench leaderboard (no schema version in its metadata)."
        )
    try:
        return int(raw.decode())
    except (UnicodeDecodeError, ValueError):
        raise LeaderboardError(f"{path} has an invalid schema version {raw!r}.") from None


def _to_current_schema(table: pa.Table, path: Path) -> pa.Table:
    """Bring a table read from ``path`` to :data:`SCHEMA`, upgrading older versions.

    Args:
        table: the table as read from the file.
        path: the file, for messages.

    Returns:
        The table with exactly :data:`SCHEMA` (metadata included).

    Raises:
        LeaderboardError: the file was written by a newer medganbench, has a version with no
            upgrade path, or its columns do not match its declared version.
    """
    version = _schema_version(table.schema, path)
    if version > SCHEMA_VERSION:
        raise LeaderboardError(
            f"{path} was written by a newer medganbench (leaderboard schema v{version}; "
            f"this version understands up to v{SCHEMA_VERSION}).",
            hint="Upgrade medganbench to read or append to it.",
        )
    while version < SCHEMA_VERSION:
        step = _UPGRADES.get(version)
        if step is None:
            raise LeaderboardError(
                f"{path} has leaderboard schema v{version}, which this medganbench cannot "
                "upgrade."
            )
        table = step(table)
        version += 1
    actual = [(f.name, f.type) for f in table.schema]
    wanted = [(f.name, f.type) for f in SCHEMA]
    if actual != wanted:
        raise LeaderboardError(
            f"{path} claims leaderboard schema v{SCHEMA_VERSION} but its columns differ: "
            f"{_describe_schema_diff(actual, wanted)}."
        )
    try:
        # Same names and types; the cast only restores our nullability flags and metadata and
        # refuses nulls where a column must not have them.
        return table.cast(SCHEMA)
    except (pa.ArrowInvalid, ValueError) as exc:
        raise LeaderboardError(f"{path} has invalid contents: {exc}") from None


def _describe_schema_diff(
    actual: list[tuple[str, pa.DataType]], wanted: list[tuple[str, pa.DataType]]
) -> str:
    actual_d, wanted_d = dict(actual), dict(wanted)
    parts = []
    if missing := [n for n in wanted_d if n not in actual_d]:
        parts.append("missing " + ", ".join(missing))
    if extra := [n for n in actual_d if n not in wanted_d]:
        parts.append("unexpected " + ", ".join(extra))
    if changed := [
        f"{n} is {actual_d[n]} not {t}"
        for n, t in wanted_d.items()
        if n in actual_d and actual_d[n] != t
    ]:
        parts.append("; ".join(changed))
    return "; ".join(parts) or "columns are in a different order"


# --------------------------------------------------------------------------------------------
# Reading and writing
# --------------------------------------------------------------------------------------------


def _read_file(path: Path) -> pa.Table:
    """Read an IPC file fully into memory and bring it to the current schema.

    An ``OSFile`` (not a memory map) is used so the returned table owns its buffers and does not
    depend on the file staying open or unchanged.

    Raises:
        FileNotFoundError: ``path`` does not exist (callers decide what that means).
        LeaderboardError: the file cannot be read or is not a valid leaderboard.
    """
    try:
        with pa.OSFile(str(path), "rb") as source:
            table = ipc.open_file(source).read_all()
    except FileNotFoundError:
        raise
    except pa.ArrowException as exc:  # malformed content (pyarrow's I/O errors are OSErrors)
        raise LeaderboardError(
            f"Cannot read leaderboard {path}: it is corrupt, truncated or not an Arrow IPC file "
            f"({exc}).",
            hint="Restore it from a backup or move it aside; medganbench will not overwrite it.",
        ) from None
    except OSError as exc:  # permissions, a directory in the way, a failing disk
        raise LeaderboardError(f"Cannot read leaderboard {path}: {exc}") from None
    return _to_current_schema(table, path)


def read_leaderboard(path: Path) -> pa.Table:
    """Read a leaderboard file.

    Args:
        path: the ``.arrow`` file (see :func:`leaderboard_path`).

    Returns:
        All rows, with exactly :data:`SCHEMA` (older schema versions are upgraded in memory).

    Raises:
        LeaderboardError: the file does not exist (with a hint to run something first), is
            corrupt or truncated, or was written by a newer medganbench.
    """
    path = Path(path)
    try:
        return _read_file(path)
    except FileNotFoundError:
        raise LeaderboardError(f"No leaderboard at {path}.", hint=_NO_RUNS_HINT) from None


def _write_ipc(sink: IO[bytes], table: pa.Table) -> None:
    """Write ``table`` as an Arrow IPC file to the open binary ``sink``."""
    with ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def append_rows(path: Path, rows: list[dict[str, Any]]) -> None:
    """Append rows to a leaderboard file, creating it (and its directory) if needed.

    Every row must have exactly the columns of :data:`SCHEMA`. ``model_args`` and
    ``dataset_args`` may be JSON strings or mappings; both are stored as canonical JSON.
    ``created_at`` must be a timezone-aware datetime. An empty ``rows`` list is a no-op.

    The append holds an exclusive lock on ``<path>.lock`` while it reads the current file, and
    replaces the file atomically, so concurrent appends from several processes all land and a
    failure at any point leaves the previous file intact.

    Args:
        path: the ``.arrow`` file (see :func:`leaderboard_path`).
        rows: one dict per (run, metric).

    Raises:
        LeaderboardError: a row misses a column, has an unknown one, or a value of the wrong
            type; the existing file is corrupt or was written by a newer medganbench; the lock
            cannot be acquired within :data:`LOCK_TIMEOUT_S`.
    """
    path = Path(path)
    # Validate before taking the lock: a bad row must fail fast and never touch the file.
    new = _rows_to_table(rows)
    if new.num_rows == 0:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(f"{path}.lock", timeout=LOCK_TIMEOUT_S)
    try:
        with lock:
            # Re-read under the lock: another writer may have replaced the file since we last
            # looked, and concatenating onto a stale copy would drop its rows.
            try:
                old = _read_file(path)
            except FileNotFoundError:
                table = new
            else:
                table = pa.concat_tables([old, new])
            # One record batch per file keeps readers fast however many appends happened.
            table = table.combine_chunks()
            atomic_write(path, lambda sink: _write_ipc(sink, table))
    except filelock.Timeout:
        raise LeaderboardError(
            f"Timed out after {LOCK_TIMEOUT_S:.0f} s waiting for the lock on {path}.",
            hint=f"Another medganbench process is holding {path}.lock; check for a hung run.",
        ) from None


# --------------------------------------------------------------------------------------------
# Ranking
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricColumn:
    """One metric column of a group: a metric at one version.

    Attributes:
        metric: metric name.
        version: metric version; different versions are separate columns, never ranked
            together.
        higher_is_better: ranking direction.
        args: canonical JSON of the metric's arguments; LPIPS with AlexNet and with VGG are
            different measures, so different arguments are separate columns too.
    """

    metric: str
    version: str
    higher_is_better: bool
    args: str = "{}"

    @property
    def label(self) -> str:
        """Header text, e.g. ``"psnr ↑ (v1)"`` or ``"lpips ↓ (v1, net=vgg)"``."""
        arrow = "↑" if self.higher_is_better else "↓"
        version = self.version if self.version.startswith("v") else f"v{self.version}"
        args = _format_args(self.args)
        return f"{self.metric} {arrow} ({version}{', ' + args if args else ''})"


@dataclass(frozen=True)
class RankedRow:
    """One run within a group.

    Attributes:
        run_id: the run's id.
        model: model name.
        model_version: model version.
        model_args: canonical JSON of the model arguments.
        seed: the run's seed.
        steps_done: optimiser steps taken.
        kimg_done: thousands of real images shown.
        train_seconds: training wall time.
        device: device the run trained on.
        values: one value per column of the group's ``metrics`` (same order); ``None`` where
            the run has no finite value for that column.
        noise_floors: per column, the row's noise floor (distribution metrics), else ``None``.
        rank: competition rank ("1224") by the group's ``ranked_by`` column, ``None`` if the
            run has no value for it.
        precision: effective training precision (``"fp32"``, ``"bf16"``, ...). Carried so that
            seed aggregation (:mod:`medganbench.seedstats`) does not pool runs that differ in
            precision as if they were seed replicates.
    """

    run_id: str
    model: str
    model_version: str
    model_args: str
    seed: int
    steps_done: int
    kimg_done: float
    train_seconds: float
    device: str
    values: tuple[float | None, ...]
    rank: int | None
    noise_floors: tuple[float | None, ...] = ()
    precision: str = "fp32"


@dataclass(frozen=True)
class RankedGroup:
    """Runs that are comparable with each other, ranked.

    Attributes:
        key: the :data:`COMPARABLE_KEYS` values shared by every row of the group.
        metrics: metric columns, in the order they first appear in the file.
        ranked_by: the column the rows are ranked by; ``None`` if the requested metric is not
            in this group (then every rank is ``None``).
        rows: ranked rows first (best first), then unranked ones.
    """

    key: dict[str, Any]
    metrics: tuple[MetricColumn, ...]
    ranked_by: MetricColumn | None
    rows: tuple[RankedRow, ...]


def _sort_key(values: tuple[Any, ...]) -> tuple[tuple[bool, Any], ...]:
    # None sorts first and is never compared with a real value.
    return tuple((v is not None, v) for v in values)


def _competition_ranks(values: list[float], higher_is_better: bool) -> list[int]:
    """Rank = 1 + number of strictly better values, so ties share a rank ("1224")."""
    return [
        1 + sum(1 for other in values if (other > v if higher_is_better else other < v))
        for v in values
    ]


def ranked_groups(table: pa.Table, by: str | None = None) -> list[RankedGroup]:
    """Group comparable runs and rank them.

    Only rows with ``status == "ok"`` take part. Rows form one group when all
    :data:`COMPARABLE_KEYS` are equal; within a group, each (metric, metric_version,
    higher_is_better) is its own column. If the same run has several rows for one column (the
    run was repeated), the most recent (``created_at``) wins.

    Args:
        table: a leaderboard table (see :func:`read_leaderboard`).
        by: metric name to rank by; default: in each group, the first metric column. If a
            group has that metric at several versions, the first one to appear is used.

    Returns:
        Groups ordered by their key; within each, ranked rows best first (ties by model and
        run id), then unranked rows.

    Raises:
        LeaderboardError: ``table`` lacks leaderboard columns.
        UsageError: ``by`` is not a metric of any group.
    """
    if missing := [name for name in SCHEMA.names if name not in table.column_names]:
        raise LeaderboardError(
            f"Not a leaderboard table; missing column(s): {', '.join(missing)}."
        )
    ok = table.filter(pc.equal(table["status"], "ok"))

    # key -> run_id -> {"info": latest row, "values": {column: (created_at, value)}}
    groups: dict[tuple[Any, ...], dict[str, dict[str, Any]]] = {}
    columns: dict[tuple[Any, ...], list[MetricColumn]] = {}
    for row in ok.to_pylist():
        key = tuple(row[k] for k in COMPARABLE_KEYS)
        column = MetricColumn(
            row["metric"], row["metric_version"], row["higher_is_better"], row["metric_args"]
        )
        group_columns = columns.setdefault(key, [])
        if column not in group_columns:
            group_columns.append(column)
        run = groups.setdefault(key, {}).setdefault(row["run_id"], {"info": row, "values": {}})
        if row["created_at"] >= run["info"]["created_at"]:
            run["info"] = row
        previous = run["values"].get(column)
        if previous is None or row["created_at"] >= previous[0]:
            run["values"][column] = (row["created_at"], row["value"], row["noise_floor"])

    if by is not None and not any(c.metric == by for cols in columns.values() for c in cols):
        available = sorted({c.metric for cols in columns.values() for c in cols})
        raise UsageError(
            f"Cannot rank by {by!r}: no run on this leaderboard has that metric.",
            hint="Available metrics: " + (", ".join(available) if available else "none"),
        )

    result = []
    for key in sorted(groups, key=_sort_key):
        metrics = tuple(columns[key])
        if by is None:
            ranked_by: MetricColumn | None = metrics[0]
        else:
            ranked_by = next((c for c in metrics if c.metric == by), None)
        rows = []
        for run_id, run in groups[key].items():
            info = run["info"]
            values, floors = [], []
            for column in metrics:
                _, value, floor = run["values"].get(column, (None, None, None))
                # A NaN score cannot be ranked; show and treat it as missing.
                values.append(None if value is None or math.isnan(value) else value)
                floors.append(floor)
            rows.append((run_id, info, tuple(values), tuple(floors)))
        rank_of: dict[str, int] = {}
        if ranked_by is not None:
            index = metrics.index(ranked_by)
            scored = [
                (run_id, values[index]) for run_id, _, values, _ in rows if values[index] is not None
            ]
            ranks = _competition_ranks([v for _, v in scored], ranked_by.higher_is_better)
            rank_of = {run_id: rank for (run_id, _), rank in zip(scored, ranks)}
        ranked_rows = [
            RankedRow(
                run_id=run_id,
                model=info["model"],
                model_version=info["model_version"],
                model_args=info["model_args"],
                seed=info["seed"],
                steps_done=info["steps_done"],
                kimg_done=info["kimg_done"],
                train_seconds=info["train_seconds"],
                device=info["device"],
                values=values,
                rank=rank_of.get(run_id),
                noise_floors=floors,
                precision=info["precision"],
            )
            for run_id, info, values, floors in rows
        ]
        # Ranked first by rank, unranked last; model and run id make the order deterministic.
        ranked_rows.sort(
            key=lambda r: (r.rank is None, r.rank or 0, r.model, r.model_version, r.run_id)
        )
        result.append(
            RankedGroup(
                key=dict(zip(COMPARABLE_KEYS, key)),
                metrics=metrics,
                ranked_by=ranked_by,
                rows=tuple(ranked_rows),
            )
        )
    return result


# --------------------------------------------------------------------------------------------
# Rendering and export (rendering itself lives in medganbench.leaderboard_render)
# --------------------------------------------------------------------------------------------


def _format_args(model_args: str) -> str:
    """``{"a":1,"b":"x"}`` -> ``"a=1 b=x"``, skipping empty values."""
    try:
        args = json.loads(model_args)
    except ValueError:
        return model_args
    if not isinstance(args, dict):
        return model_args
    parts = []
    for name, value in args.items():
        if value is None or value == "" or value == [] or value == {}:
            continue
        text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
        parts.append(f"{name}={text}")
    return " ".join(parts)


def render_groups(groups: list[RankedGroup]) -> list[RichTable]:
    """One rich table per group, one row per run (the ``--runs`` view).

    Thin re-export of :func:`medganbench.leaderboard_render.render_groups`, kept here because
    callers import it from this module. Imported lazily: the render module imports this one.
    """
    from medganbench.leaderboard_render import render_groups as _render_groups

    return _render_groups(groups)


def export(
    table: pa.Table, fmt: str, out: Path, by: str | None = None, *, runs: bool = False
) -> None:
    """Export a leaderboard table.

    The output is written atomically (temporary sibling, then ``os.replace``); parent
    directories are created.

    Args:
        table: a leaderboard table (see :func:`read_leaderboard`).
        fmt: ``"csv"`` (all rows), ``"parquet"`` (all rows, schema metadata kept) or ``"md"``
            (one markdown table per comparable group: by default one row per model
            configuration aggregated over seeds, see :mod:`medganbench.seedstats`).
        out: the file to write.
        by: for ``"md"``, the metric to rank by (see :func:`ranked_groups`); ignored otherwise.
        runs: for ``"md"``, one row per run instead of the aggregate over seeds; ignored
            otherwise.

    Raises:
        UsageError: unknown ``fmt``; for ``"md"``, unknown ``by``.
    """
    out = Path(out)
    write: Callable[[IO[bytes]], None]
    if fmt == "csv":
        write = lambda sink: pa_csv.write_csv(table, sink)
    elif fmt == "parquet":
        write = lambda sink: pq.write_table(table, sink)
    elif fmt == "md":
        # Lazy: the render module imports this one.
        from medganbench.leaderboard_render import markdown

        # Rank before opening anything, so a bad ``by`` leaves no file behind.
        text = markdown(table, by=by, runs=runs).encode("utf-8")
        write = lambda sink: sink.write(text)
    else:
        raise UsageError(
            f"Unknown export format {fmt!r}.", hint="Use one of " + "|".join(EXPORT_FORMATS) + "."
        )
    atomic_write(out, write)


__all__ = [
    "COMPARABLE_KEYS",
    "EXPORT_FORMATS",
    "LOCK_TIMEOUT_S",
    "SCHEMA",
    "SCHEMA_VERSION",
    "MetricColumn",
    "RankedGroup",
    "RankedRow",
    "append_rows",
    "export",
    "leaderboard_path",
    "ranked_groups",
    "read_leaderboard",
    "render_groups",
]
