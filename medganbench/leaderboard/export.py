"""Exporting a leaderboard: all rows as CSV or Parquet, the ranked tables as Markdown, and the
seed aggregation as one flat Arrow table for notebooks (:func:`seed_table`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from medganbench.errors import UsageError
from medganbench.fileio import atomic_write, write_all
from medganbench.leaderboard.naming import PLAIN, Naming
from medganbench.leaderboard.ranking import COMPARABLE_KEYS
from medganbench.leaderboard.render import markdown
from medganbench.leaderboard.schema import SCHEMA
from medganbench.leaderboard.seeds import DEFAULT_CONFIDENCE, aggregate_groups

EXPORT_FORMATS: tuple[str, ...] = ("csv", "md", "parquet")


def export(
    table: pa.Table,
    fmt: str,
    out: str | Path | IO[bytes],
    by: str | None = None,
    *,
    runs: bool = False,
    naming: Naming = PLAIN,
) -> None:
    """Export a leaderboard table.

    A file is written atomically (temporary sibling, then ``os.replace``); parent directories
    are created. A binary stream (standard output) is written as it is.

    Args:
        table: a leaderboard table (see :func:`~medganbench.leaderboard.store.read_leaderboard`).
        fmt: ``"csv"`` (all rows and columns, ``eval_unit`` and ``eval_grid`` included,
            every value at full precision: it is data, not display), ``"parquet"`` (all rows,
            schema metadata kept) or ``"md"`` (rounded as
            :mod:`~medganbench.leaderboard.numbers` says; one markdown table per comparable
            group: by default one row per model configuration aggregated over seeds, see
            :mod:`medganbench.leaderboard.seeds`).
        out: the file to write, or a binary stream to write to.
        by: for ``"md"``, the metric to rank by; ignored otherwise.
        runs: for ``"md"``, one row per run instead of the aggregate over seeds; ignored
            otherwise.
        naming: for ``"md"``, how model arguments and directions are named (only arguments
            that differ from the defaults, directions by modality); CSV and Parquet hold every
            column as recorded.

    Raises:
        UsageError: unknown ``fmt``; for ``"md"``, unknown ``by``.
    """
    write: Callable[[IO[bytes]], None]
    if fmt == "csv":
        write = lambda sink: pa_csv.write_csv(table, sink)  # noqa: E731
    elif fmt == "parquet":
        write = lambda sink: pq.write_table(table, sink)  # noqa: E731
    elif fmt == "md":
        # Rank before opening anything, so a bad ``by`` leaves no file behind.
        text = markdown(table, by=by, runs=runs, naming=naming).encode("utf-8")
        write = lambda sink: write_all(sink, text)  # noqa: E731
    else:
        raise UsageError(
            f"Unknown export format {fmt!r}.", hint="Use one of " + "|".join(EXPORT_FORMATS) + "."
        )
    if isinstance(out, (str, Path)):
        atomic_write(Path(out), write)
    else:
        write(out)


def _seed_table_schema() -> pa.Schema:
    key_fields = [pa.field(name, SCHEMA.field(name).type) for name in COMPARABLE_KEYS]
    return pa.schema(
        key_fields
        + [
            pa.field("model", pa.string()),
            pa.field("model_version", pa.string()),
            pa.field("model_args", pa.string()),
            pa.field("precision", pa.string()),
            pa.field("metric", pa.string()),
            pa.field("metric_version", pa.string()),
            pa.field("metric_args", pa.string()),
            pa.field("eval_unit", pa.string()),
            pa.field("eval_grid", pa.string()),
            pa.field("higher_is_better", pa.bool_()),
            pa.field("ranked_by", pa.bool_()),
            pa.field("n_seeds", pa.int64()),
            pa.field("seeds", pa.list_(pa.int64())),
            pa.field("mean", pa.float64()),
            pa.field("std", pa.float64()),
            pa.field("ci_low", pa.float64()),
            pa.field("ci_high", pa.float64()),
            pa.field("rank", pa.int64()),
            pa.field("single_seed", pa.bool_()),
            pa.field("run_ids", pa.list_(pa.string())),
        ]
    )


SEED_TABLE_SCHEMA: pa.Schema = _seed_table_schema()


def seed_table(
    table_or_path: pa.Table | str | Path,
    by: str | None = None,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
) -> pa.Table:
    """The seed aggregation as one flat table, for notebooks: ``seed_table(path).to_pandas()``.

    One row per (group, entry, metric column) for which the entry has at least one finite
    value. ``rank`` is the entry's rank by its group's ranking column (the row where
    ``ranked_by`` is true), repeated on each of the entry's rows so that filtering by metric
    keeps it. ``n_seeds``, ``seeds`` and ``run_ids`` are those of the runs with a value for that
    metric; ``std``, ``ci_low`` and ``ci_high`` are null and ``single_seed`` is true where
    ``n_seeds == 1``.

    Args:
        table_or_path: a leaderboard table or the path of a leaderboard file.
        by: metric name to rank by (see :func:`aggregate_groups`).
        confidence: coverage of the bootstrap intervals.

    Returns:
        A table with :data:`SEED_TABLE_SCHEMA`: the :data:`COMPARABLE_KEYS` columns, then
        ``model, model_version, model_args, precision, metric, metric_version, metric_args,
        eval_unit, eval_grid, higher_is_better, ranked_by, n_seeds, seeds, mean, std, ci_low,
        ci_high, rank, single_seed, run_ids``; rows in group order, then entry order, then metric order.

    Raises:
        LeaderboardError: the file cannot be read or is not a leaderboard.
        UsageError: ``by`` is not a metric of any group.
    """
    rows: list[dict[str, Any]] = []
    for group in aggregate_groups(table_or_path, by=by, confidence=confidence):
        for entry in group.entries:
            for column, summary in zip(group.metrics, entry.summaries, strict=True):
                if summary is None:
                    continue
                rows.append(
                    {
                        **group.key,
                        "model": entry.model,
                        "model_version": entry.model_version,
                        "model_args": entry.model_args,
                        "precision": entry.precision,
                        "metric": column.metric,
                        "metric_version": column.version,
                        "metric_args": column.args,
                        "eval_unit": column.eval_unit,
                        "eval_grid": column.eval_grid,
                        "higher_is_better": column.higher_is_better,
                        "ranked_by": column == group.ranked_by,
                        "n_seeds": summary.n,
                        "seeds": list(summary.seeds),
                        "mean": summary.mean,
                        "std": summary.std,
                        "ci_low": summary.ci_low,
                        "ci_high": summary.ci_high,
                        "rank": entry.rank,
                        "single_seed": summary.single_seed,
                        "run_ids": list(summary.run_ids),
                    }
                )
    return pa.Table.from_pylist(rows, schema=SEED_TABLE_SCHEMA)
