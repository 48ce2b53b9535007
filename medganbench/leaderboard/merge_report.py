"""What a leaderboard merge reports: the inputs read, the conflicts found and the result.

Kept apart from the merge itself (:mod:`medganbench.leaderboard.merge`) so that the command line
can print and save a report without knowing how rows are matched.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa

from medganbench.errors import LeaderboardError
from medganbench.fileio import atomic_write
from medganbench.leaderboard.columns import axes_text

#: The columns that identify a row: one run's measurement of one metric configuration, per one
#: evaluation unit on one grid (a run's slice and per-patient rows of one metric are two rows).
KEY_COLUMNS: tuple[str, ...] = (
    "run_id",
    "direction",
    "metric",
    "metric_version",
    "metric_args",
    "eval_unit",
    "eval_grid",
)

RowKey = tuple[str, ...]


class MergeConflictError(LeaderboardError):
    """Inputs disagree about at least one run and the policy is ``fail``; nothing was written.

    Attributes:
        conflicts: every conflict found, ordered by key.
        inputs: what was read from each input.
        duplicates: identical copies that would have been dropped.
    """

    def __init__(
        self,
        conflicts: tuple[Conflict, ...],
        inputs: tuple[InputSummary, ...],
        duplicates: int,
    ) -> None:
        super().__init__(
            f"{len(conflicts)} row key(s) were recorded with different values by different "
            "inputs; nothing was written.",
            hint="Fix the file that is wrong, or choose --on-conflict first (keep the earliest "
            "input's rows) or --on-conflict keep-all (keep every version).",
        )
        self.conflicts = conflicts
        self.inputs = inputs
        self.duplicates = duplicates

    def to_json(self) -> dict[str, Any]:
        """The same report as :meth:`MergeResult.to_json`, with ``written`` false."""
        return _report(self.inputs, self.duplicates, 0, self.conflicts, "fail", None)


@dataclass(frozen=True)
class InputSummary:
    """One input file as read.

    Attributes:
        path: the file, as given.
        rows: rows read from it.
        schema_version_read: the schema version it was written with (older ones are upgraded
            in memory before merging).
    """

    path: Path
    rows: int
    schema_version_read: int


@dataclass(frozen=True)
class ColumnDiff:
    """One column that differs between the versions of a conflicting key.

    Attributes:
        column: the column name.
        values: its value in each version, in the order of :attr:`Conflict.files`.
    """

    column: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Conflict:
    """One key recorded with different values by different inputs.

    Attributes:
        key: the row key, see :data:`KEY_COLUMNS`.
        files: per version, the first input (in the order given) that holds it. A file appears
            twice if it holds two versions itself.
        columns: the columns that differ, with each version's value.
    """

    key: RowKey
    files: tuple[Path, ...]
    columns: tuple[ColumnDiff, ...]

    def describe(self) -> str:
        """One line naming the key, then per differing column each value and its file."""
        run_id, direction, metric, version, args, unit, grid = self.key
        what = f"run {run_id} {direction} {metric} v{version}" + (
            f" {args}" if args != "{}" else ""
        )
        if axes := axes_text(unit, grid):
            what += f" ({axes})"
        diffs = "; ".join(
            f"{d.column}: "
            + " vs ".join(f"{_show(v)} ({f})" for v, f in zip(d.values, self.files, strict=True))
            for d in self.columns
        )
        return f"{what}: {diffs}"

    def to_json(self) -> dict[str, Any]:
        """The conflict as JSON-ready data (timestamps as ISO 8601, NaN and inf as strings)."""
        return {
            "key": dict(zip(KEY_COLUMNS, self.key, strict=True)),
            "files": [str(f) for f in self.files],
            "columns": {d.column: [_jsonable(v) for v in d.values] for d in self.columns},
        }


@dataclass(frozen=True)
class MergeResult:
    """What merging produced.

    Attributes:
        table: the merged rows with exactly :data:`~medganbench.leaderboard.store.SCHEMA`, sorted.
        inputs: what was read from each input, in the order given.
        duplicates: identical copies dropped (across or within inputs).
        conflicts: keys recorded with different values by different inputs, ordered by key;
            resolved by ``policy``.
        rows_out: rows in ``table``.
        policy: the conflict policy applied.
        discarded: versions dropped by the ``first`` policy (0 under the other policies).
        replicated: keys recorded on more than one device or in more than one precision,
            every such row kept (replicates, see :mod:`medganbench.leaderboard.devices`).
    """

    table: pa.Table
    inputs: tuple[InputSummary, ...]
    duplicates: int
    conflicts: tuple[Conflict, ...]
    rows_out: int
    policy: str = "fail"
    discarded: int = 0
    replicated: int = 0

    def to_json(self, out: Path | None = None) -> dict[str, Any]:
        """The merge report as JSON-ready data (what ``--report`` writes).

        Args:
            out: where the merged file was written, if it was.

        Returns:
            ``policy``, ``written``, ``out``, ``inputs``, ``rows_out``, ``duplicates``,
            ``discarded`` and every conflict.
        """
        report = _report(
            self.inputs, self.duplicates, self.discarded, self.conflicts, self.policy, out
        )
        report["rows_out"] = self.rows_out
        report["replicated"] = self.replicated
        return report


def _show(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # strict JSON has no NaN or Infinity
    return value


def _report(
    inputs: tuple[InputSummary, ...],
    duplicates: int,
    discarded: int,
    conflicts: tuple[Conflict, ...],
    policy: str,
    out: Path | None,
) -> dict[str, Any]:
    return {
        "policy": policy,
        "written": out is not None,
        "out": None if out is None else str(out),
        "inputs": [
            {"path": str(i.path), "rows": i.rows, "schema_version_read": i.schema_version_read}
            for i in inputs
        ],
        "rows_out": None,
        "duplicates": duplicates,
        "discarded": discarded,
        "replicated": 0,
        "conflicts": [c.to_json() for c in conflicts],
    }


def write_report(report: dict[str, Any], path: Path) -> None:
    """Write a merge report (``to_json()`` of a result or a :class:`MergeConflictError`).

    Args:
        report: the JSON-ready report.
        path: the ``.json`` file; written atomically, parents created.
    """
    text = (json.dumps(report, indent=2, allow_nan=False) + "\n").encode("utf-8")
    atomic_write(Path(path), lambda sink: sink.write(text))
