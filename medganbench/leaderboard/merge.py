"""Merging leaderboards recorded on several machines into one file.

A row is identified by its run and what it measures: the key ``(run_id, direction, metric,
metric_version, metric_args, eval_unit, eval_grid)``, so a run's per-slice and per-patient rows
of one metric are two keys, never duplicates or conflicts of each other. The run id is a hash of
the run's spec, so the same run recorded on two machines has the same key.

* Rows of one key that agree on every column except ``created_at`` are **duplicates** (when a
  copy was written says nothing about the result): one is kept, the earliest.
* Rows of one key recorded on different devices (the ``device`` column: CPU model, kernel
  instruction set, threads and torch; or GPU, driver and CUDA) are **replicates**: the same run
  on other arithmetic, which GAN training amplifies into other values. They are all kept, and
  ranking averages them per run and shows their range
  (:mod:`medganbench.leaderboard.devices`).
* Rows of one key and one device trained in different precisions (the ``precision`` column:
  ``--precision auto`` gave fp32 on CPUs before medganbench turned bf16 on for CPUs with native
  bf16) are other arithmetic too: all are kept, and ranking shows them as separate entries.
* Rows of one key, one device and one precision that differ anywhere else (the value, the noise
  floor, the ledger) are **versions** of that key. Versions that one input already holds
  together are a re-run that input recorded itself; the leaderboard's own rule (the latest
  ``created_at`` wins when ranking) covers them, so they are kept as they are. Versions that no
  single input holds together are a **conflict**: one device gave two results for one run, and
  a merge never picks one silently. The policy decides: refuse and write nothing (``fail``, the
  default), keep the versions of the earliest input listed that holds the key (``first``), or
  keep every version (``keep-all``).

The merged rows are sorted by ``(created_at, run_id)``, a run's rows in the order its runner
wrote them (its metric order, which ranking's default column follows), then by ``(direction,
metric)`` with every other column as a tie-break, and the table is rebuilt from Python values, so
the same inputs in any order give byte-identical files (except under ``first``, whose choice
depends on the order by design).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import filelock
import pyarrow as pa
from pyarrow import ipc

from medganbench.errors import LeaderboardError, UsageError
from medganbench.leaderboard.merge_report import (
    KEY_COLUMNS,
    ColumnDiff,
    Conflict,
    InputSummary,
    MergeConflictError,
    MergeResult,
    RowKey,
)
from medganbench.leaderboard.schema import SCHEMA
from medganbench.leaderboard.store import (
    LOCK_TIMEOUT_S,
    lock_for,
    read_leaderboard,
    real_path,
    write_table,
)
from medganbench.leaderboard.versions import schema_version

#: Conflict policies, the default first.
POLICIES: tuple[str, ...] = ("fail", "first", "keep-all")

# Excluded from the duplicate test: the same result copied or re-recorded later is still the
# same result.
_IGNORED = frozenset({"created_at"})

# Leading sort columns of the merged file: the run, then (after the row's place in its run) what
# the row measures; every remaining column breaks ties (see _sort_key).
_RUN: tuple[str, ...] = ("created_at", "run_id")
_MEASURES: tuple[str, ...] = ("direction", "metric")


@dataclass
class _Version:
    """One distinct version of a key while merging: its kept row and the inputs holding it."""

    row: dict[str, Any]
    holders: list[int] = field(default_factory=list)
    #: The row's place among its run's rows in the input it was read from (see _sort_key).
    place: int = 0


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _same(a: Any, b: Any) -> bool:
    # A NaN score (a diverged run) is the same result as another NaN, though NaN != NaN.
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def _identical(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all(_same(a[c], b[c]) for c in SCHEMA.names if c not in _IGNORED)


def _differences(rows: Sequence[dict[str, Any]]) -> tuple[ColumnDiff, ...]:
    first = rows[0]
    return tuple(
        ColumnDiff(column, tuple(row[column] for row in rows))
        for column in SCHEMA.names
        if column not in _IGNORED and not all(_same(first[column], row[column]) for row in rows)
    )


def _sort_key(version: _Version) -> tuple[Any, ...]:
    # Oldest run first, as append_rows leaves a file; within a run, its rows stay in the order
    # the runner wrote them (their place in the input), because that order is the run's metric
    # order and ranking takes the first metric as its default column: a merge must not turn a
    # board ranked by psnr or fid into one ranked by whichever metric sorts first by name. Every
    # runner writes a run's rows in one order, so this does not depend on the order of the
    # inputs. The other columns only make the order total, so that keep-all rows sharing those
    # columns do not end up in input order. repr() is total and stable for every column type,
    # NaN and None included.
    row = version.row
    rest = tuple(repr(row[c]) for c in SCHEMA.names if c not in _RUN + _MEASURES)
    return (*(row[c] for c in _RUN), version.place, *(row[c] for c in _MEASURES), rest)


def _read_input(path: Path) -> tuple[pa.Table, int]:
    """Read one input at the current schema, and the schema version its file records.

    Raises:
        LeaderboardError: the file is missing, corrupt, or of a newer schema; the message
            names it.
    """
    table = read_leaderboard(path)  # upgrades older schemas; its errors name the path
    try:
        # Only the footer is read: the version the file was written with, for the summary.
        with open(path, "rb") as source:
            version = schema_version(ipc.open_file(source).schema, path)
    except (pa.ArrowException, OSError) as exc:  # the file changed under us since the read
        raise LeaderboardError(f"Cannot read leaderboard {path}: {exc}") from None
    return table, version


# --------------------------------------------------------------------------------------------
# Merging
# --------------------------------------------------------------------------------------------


def merge_leaderboards(paths: Sequence[Path], on_conflict: str = "fail") -> MergeResult:
    """Merge leaderboard files of one dataset.

    Args:
        paths: the input files; older schema versions are upgraded on read.
        on_conflict: ``"fail"`` (raise, so nothing can be written), ``"first"`` (keep the
            versions from the earliest input listed that holds the key) or ``"keep-all"``
            (keep every version).

    Returns:
        The merged, sorted rows and what happened to them.

    Raises:
        UsageError: no inputs, or an unknown policy.
        LeaderboardError: an input is missing, corrupt or of a newer schema (the message names
            it), or the inputs hold more than one dataset.
        MergeConflictError: conflicts under ``"fail"``; it carries every conflict.
    """
    if not paths:
        raise UsageError("Nothing to merge: give at least one leaderboard file.")
    if on_conflict not in POLICIES:
        raise UsageError(
            f"Unknown conflict policy {on_conflict!r}.", hint="Use one of " + ", ".join(POLICIES)
        )
    paths = [Path(p) for p in paths]
    # Name every missing input at once, and without read_leaderboard's "run something first"
    # hint, which is meant for a leaderboard directory, not for files given to merge.
    if missing := [str(p) for p in paths if not p.exists()]:
        raise LeaderboardError(f"Cannot merge: no such file: {', '.join(missing)}.")

    inputs: list[InputSummary] = []
    versions: dict[RowKey, list[_Version]] = {}
    datasets: dict[str, list[Path]] = {}
    duplicates = 0
    for index, path in enumerate(paths):
        table, version = _read_input(path)
        inputs.append(InputSummary(path, table.num_rows, version))
        places: dict[tuple[str, Any], int] = {}
        for row in table.to_pylist():
            run = (row["run_id"], row["created_at"])
            place = places[run] = places.get(run, -1) + 1
            holders = datasets.setdefault(row["dataset"], [])
            if path not in holders:
                holders.append(path)
            known = versions.setdefault(tuple(row[c] for c in KEY_COLUMNS), [])
            twin = next((v for v in known if _identical(v.row, row)), None)
            if twin is None:
                known.append(_Version(row, [index], place))
                continue
            duplicates += 1
            if row["created_at"] < twin.row["created_at"]:
                # keep the earliest copy: when the result was first recorded
                twin.row, twin.place = row, place
            if index not in twin.holders:
                twin.holders.append(index)
    if len(datasets) > 1:
        where = "; ".join(
            f"{name} in {', '.join(map(str, files))}" for name, files in sorted(datasets.items())
        )
        raise LeaderboardError(
            f"The inputs hold more than one dataset ({where}).",
            hint="There is one leaderboard file per dataset; merge each dataset's files "
            "separately.",
        )

    kept: list[_Version] = []
    conflicts: list[Conflict] = []
    discarded = 0
    replicated: set[RowKey] = set()
    for key, found in _by_arithmetic(versions):
        if len({_arithmetic(v.row) for v in versions[key]}) > 1:
            replicated.add(key)
        # One input holding every version (a run it recorded twice, or just one version) is
        # not a disagreement between machines: that leaderboard already ranks the latest.
        if set.intersection(*(set(v.holders) for v in found)):
            kept.extend(found)
            continue
        # Versions were created in input order, so files and values read in input order too.
        conflicts.append(
            Conflict(
                key=key,
                files=tuple(paths[v.holders[0]] for v in found),
                columns=_differences([v.row for v in found]),
            )
        )
        if on_conflict == "first":
            earliest = min(min(v.holders) for v in found)
            chosen = [v for v in found if earliest in v.holders]
            discarded += len(found) - len(chosen)
            kept.extend(chosen)
        else:
            kept.extend(found)
    if conflicts and on_conflict == "fail":
        raise MergeConflictError(tuple(conflicts), tuple(inputs), duplicates)

    kept.sort(key=_sort_key)
    # Rebuilt from Python values rather than taken from the input tables, so the bytes written
    # depend on the row values alone, never on how an input happened to lay out its buffers
    # (chunks, validity bitmaps, bytes under nulls). Writing an IPC file adds no timestamp.
    table = pa.Table.from_pylist([v.row for v in kept], schema=SCHEMA)
    return MergeResult(
        table=table,
        inputs=tuple(inputs),
        duplicates=duplicates,
        conflicts=tuple(conflicts),
        rows_out=table.num_rows,
        policy=on_conflict,
        discarded=discarded,
        replicated=len(replicated),
    )


def _arithmetic(row: dict[str, Any]) -> tuple[str, str]:
    """What decides a row's arithmetic besides its run: the device and the precision it used."""
    return (row["device"], row["precision"])


def _by_arithmetic(
    versions: dict[RowKey, list[_Version]],
) -> list[tuple[RowKey, list[_Version]]]:
    """Each key's versions split by device and precision, keys in order: only versions of one
    device and one precision can conflict; the others are replicates."""
    split: list[tuple[RowKey, list[_Version]]] = []
    for key in sorted(versions):
        arithmetics: dict[tuple[str, str], list[_Version]] = {}
        for version in versions[key]:
            arithmetics.setdefault(_arithmetic(version.row), []).append(version)
        split.extend((key, arithmetics[a]) for a in sorted(arithmetics))
    return split


def write_merged(result: MergeResult, out: Path) -> None:
    """Write merged rows as a leaderboard file (current schema and metadata), atomically.

    ``out`` may be one of the inputs: everything was read into memory by
    :func:`merge_leaderboards`, and the file is replaced in one ``os.replace``. This function
    takes no lock; :func:`merge_to_file` does.

    Args:
        result: from :func:`merge_leaderboards`.
        out: the file to create or replace; parent directories are created.
    """
    write_table(Path(out), result.table)


def merge_to_file(paths: Sequence[Path], out: Path, on_conflict: str = "fail") -> MergeResult:
    """Merge ``paths`` and write the result to ``out``, locked against concurrent appends.

    If ``out`` already exists it may be a live leaderboard (often it is one of the inputs); its
    ``<out>.lock`` is held from before the inputs are read until the file is replaced, so a run
    appending to it meanwhile waits instead of having its row overwritten.

    Args:
        paths: the input files.
        out: the merged file; may be one of the inputs.
        on_conflict: see :func:`merge_leaderboards`.

    Returns:
        What was written.

    Raises:
        UsageError, LeaderboardError, MergeConflictError: as :func:`merge_leaderboards`; then
            ``out`` is untouched. LeaderboardError also when the lock is not acquired within
            :data:`~medganbench.leaderboard.store.LOCK_TIMEOUT_S`.
    """
    out = real_path(out)
    if not out.exists():
        # Nothing there to lose; not creating a lock file keeps a failed merge free of traces.
        result = merge_leaderboards(paths, on_conflict)
        write_merged(result, out)
        return result
    try:
        with lock_for(out, timeout=LOCK_TIMEOUT_S):
            result = merge_leaderboards(paths, on_conflict)
            write_merged(result, out)
    except filelock.Timeout:
        raise LeaderboardError(
            f"Timed out after {LOCK_TIMEOUT_S:.0f} s waiting for the lock on {out}.",
            hint=f"Another medganbench process is holding {out}.lock; check for a hung run.",
        ) from None
    return result


__all__ = [
    "POLICIES",
    "merge_leaderboards",
    "merge_to_file",
    "write_merged",
]
