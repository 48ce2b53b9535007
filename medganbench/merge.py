"""Merging leaderboards recorded on several machines into one.

A row is identified by its run id and what it measures: ``(run_id, direction, metric,
metric_version, metric_args)``. The same run recorded on two machines gives the same key; if
every other column is equal too (``created_at`` aside: when it was written says nothing about
the result) the copies are **duplicates** and one is kept. If anything else differs — the value,
the ledger, the device — the key is a **conflict**: the two machines disagree about one run,
and a merge must never pick one silently. The policy decides: refuse (default), keep the first
input's row, or keep every row.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from pyarrow import ipc

from medganbench.errors import LeaderboardError, UsageError
from medganbench.fileio import atomic_write
from medganbench.leaderboard import (
    SCHEMA,
    _schema_version,
    _write_ipc,
    read_leaderboard,
)

POLICIES = ("fail", "first", "keep-all")
_KEY = ("run_id", "direction", "metric", "metric_version", "metric_args")
_IGNORED = frozenset({"created_at"})
#: Deterministic row order of the merged file, so equal inputs give equal bytes.
_ORDER = ("created_at", "run_id", "direction", "metric", "metric_version", "metric_args")


class MergeConflictError(LeaderboardError):
    """Inputs disagree about a run and the policy is ``fail``; nothing was written."""


@dataclass(frozen=True)
class InputSummary:
    """One input file: its path, rows read and the schema version it was written with."""

    path: Path
    rows: int
    schema_version: int


@dataclass(frozen=True)
class Conflict:
    """One key recorded with different values.

    Attributes:
        key: ``(run_id, direction, metric, metric_version, metric_args)``.
        files: the inputs holding a version of the row, in input order.
        columns: per differing column, its value in each of ``files`` (same order).
    """

    key: tuple[str, ...]
    files: tuple[Path, ...]
    columns: dict[str, tuple[Any, ...]]

    def describe(self) -> str:
        """One line: the key and what differs."""
        diffs = "; ".join(f"{c}: {' vs '.join(map(str, v))}" for c, v in self.columns.items())
        return f"run {self.key[0]} {self.key[1]} {self.key[2]} v{self.key[3]}: {diffs}"


@dataclass(frozen=True)
class MergeResult:
    """What merging produced.

    Attributes:
        table: the merged rows (empty of conflicts unless the policy kept them).
        inputs: what was read from each input.
        duplicates: identical copies dropped.
        conflicts: keys recorded with different values.
        policy: how conflicts were resolved.
    """

    table: pa.Table
    inputs: tuple[InputSummary, ...]
    duplicates: int
    conflicts: tuple[Conflict, ...]
    policy: str


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def _differences(rows: Sequence[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    first = rows[0]
    return {
        column: tuple(row[column] for row in rows)
        for column in SCHEMA.names
        if column not in _IGNORED and not all(_same(first[column], row[column]) for row in rows[1:])
    }


def merge_leaderboards(paths: Sequence[Path], on_conflict: str = "fail") -> MergeResult:
    """Merge leaderboard files of one dataset.

    Args:
        paths: the inputs; older schema versions are upgraded on read.
        on_conflict: ``"fail"`` (raise, write nothing), ``"first"`` (keep the row of the
            earliest input listed) or ``"keep-all"`` (keep every differing row).

    Returns:
        The merged rows and a report.

    Raises:
        UsageError: no inputs, or an unknown policy.
        LeaderboardError: an input is missing, corrupt or of a newer schema (named), or the
            inputs hold different datasets.
        MergeConflictError: conflicts under ``"fail"``; the error lists them.
    """
    if not paths:
        raise UsageError("Nothing to merge: give at least one leaderboard file.")
    if on_conflict not in POLICIES:
        raise UsageError(f"Unknown conflict policy {on_conflict!r}.", hint="Use one of " + ", ".join(POLICIES) + ".")
    inputs: list[InputSummary] = []
    versions: dict[tuple[Any, ...], list[tuple[int, dict[str, Any]]]] = {}
    datasets: dict[str, Path] = {}
    for index, path in enumerate(map(Path, paths)):
        table = read_leaderboard(path)
        with pa.OSFile(str(path), "rb") as source:
            version = _schema_version(ipc.open_file(source).schema, path)
        inputs.append(InputSummary(path, table.num_rows, version))
        for row in table.to_pylist():
            datasets.setdefault(row["dataset"], path)
            versions.setdefault(tuple(row[k] for k in _KEY), []).append((index, row))
    if len(datasets) > 1:
        where = ", ".join(f"{name} ({path})" for name, path in sorted(datasets.items()))
        raise LeaderboardError(
            f"The inputs hold more than one dataset: {where}.",
            hint="A leaderboard file holds one dataset; merge each dataset's files separately.",
        )

    kept: list[dict[str, Any]] = []
    conflicts: list[Conflict] = []
    duplicates = 0
    for key, found in versions.items():
        rows = [row for _, row in found]
        differences = _differences(rows)
        if not differences:
            kept.append(min(rows, key=lambda r: r["created_at"]))
            duplicates += len(rows) - 1
            continue
        # Identical copies within a conflict still count once each.
        distinct: list[tuple[int, dict[str, Any]]] = []
        for index, row in found:
            if any(not _differences([row, other]) for _, other in distinct):
                duplicates += 1
            else:
                distinct.append((index, row))
        conflicts.append(
            Conflict(key, tuple(inputs[i].path for i, _ in distinct), _differences([r for _, r in distinct]))
        )
        kept.extend([distinct[0][1]] if on_conflict == "first" else [r for _, r in distinct])
    if conflicts and on_conflict == "fail":
        shown = "\n".join("  " + c.describe() for c in conflicts[:5])
        more = f"\n  … and {len(conflicts) - 5} more" if len(conflicts) > 5 else ""
        raise MergeConflictError(
            f"{len(conflicts)} row(s) were recorded with different values; nothing was written:\n{shown}{more}",
            hint="Check which machine is right, or pass --on-conflict first (keep the earliest input's "
            "row) or --on-conflict keep-all (keep both).",
        )
    kept.sort(key=lambda r: tuple(r[c] for c in _ORDER))
    table = pa.Table.from_pylist(kept, schema=SCHEMA) if kept else SCHEMA.empty_table()
    return MergeResult(table, tuple(inputs), duplicates, tuple(conflicts), on_conflict)


def write_merged(result: MergeResult, out: Path) -> None:
    """Write the merged rows to ``out`` atomically, as a current-schema leaderboard file."""
    table = result.table.combine_chunks()
    atomic_write(Path(out), lambda sink: _write_ipc(sink, table))
