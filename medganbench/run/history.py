"""``runs/<run id>/history.arrow``: the training history of one run, written while it trains.

The file holds :data:`~medganbench.core.history.HISTORY_SCHEMA` (one row per
:class:`~medganbench.core.history.HistoryRecord`) as one Arrow IPC file, readable with plain
pyarrow (``pyarrow.ipc.open_file``), pandas (``pd.read_feather``) or polars (``pl.read_ipc``).

It is rewritten whole, atomically, at every checkpoint, after a validation (at most every 10 s:
:data:`~medganbench.run.watch.REWRITE_EVERY_S`), when a loss becomes non-finite and at the end, so someone watching sees it grow and a killed run leaves a
readable file. The same records ride in the checkpoint (:func:`history_state`), and a resumed run
continues from the checkpoint's records: a killed and resumed run writes the same bytes as an
uninterrupted one (the ``seconds`` column is the metered training time, which differs between
any two runs unless the clock is the same; with the same clock the files are equal).

A history file read back (:func:`read_history`: the site, ``medganbench show``) may come from
another machine: it is read without memory-mapping, validated in full and refused unless it has
exactly the history schema.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
from pyarrow import ipc

from medganbench.core.history import HISTORY_KINDS, HISTORY_SCHEMA, HistoryRecord
from medganbench.errors import DataError
from medganbench.fileio import atomic_write

#: The history file in a run folder.
HISTORY_NAME = "history.arrow"
#: The largest history file :func:`read_history` reads (a 10⁶-step run logging 10 losses every
#: 10 steps writes about 40 MB).
MAX_HISTORY_BYTES = 512 * 2**20

_FIELDS = tuple(HISTORY_SCHEMA.names)


def records_to_table(records: Sequence[HistoryRecord]) -> pa.Table:
    """The records as a table of :data:`~medganbench.core.history.HISTORY_SCHEMA`."""
    columns = [
        pa.array([getattr(r, name) for r in records], type=HISTORY_SCHEMA.field(name).type)
        for name in _FIELDS
    ]
    return pa.Table.from_arrays(columns, schema=HISTORY_SCHEMA)


def write_history(path: Path, records: Sequence[HistoryRecord]) -> None:
    """Write ``records`` to ``path`` atomically, as one record batch (same records, same bytes)."""
    table = records_to_table(records)

    def write(sink: Any) -> None:
        with ipc.new_file(sink, HISTORY_SCHEMA) as writer:
            writer.write_table(table, max_chunksize=max(1, table.num_rows))

    atomic_write(path, write)


def read_history(path: Path) -> list[HistoryRecord]:
    """The records of a history file, in file order.

    Raises:
        FileNotFoundError: ``path`` does not exist (callers decide what that means).
        DataError: the file is too large, unreadable, corrupt, or not a history file.
    """
    path = Path(path)
    size = path.stat().st_size
    if size > MAX_HISTORY_BYTES:
        raise DataError(
            f"{path} is {size} bytes, more than a history file may be ({MAX_HISTORY_BYTES})."
        )
    try:
        with open(path, "rb") as source:
            table = ipc.open_file(source).read_all()
        table.validate(full=True)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"Cannot read the history {path}: {exc}") from None
    actual = [(f.name, f.type) for f in table.schema]
    if actual != [(f.name, f.type) for f in HISTORY_SCHEMA]:
        raise DataError(f"{path} is not a medganbench history file (its columns differ).")
    records = [HistoryRecord(**row) for row in table.to_pylist()]
    for index, record in enumerate(records):
        if record.kind not in HISTORY_KINDS or None in vars(record).values():
            raise DataError(f"{path} row {index} is not a history record ({record}).")
    return records


def history_state(records: Sequence[HistoryRecord]) -> dict[str, list[Any]]:
    """The records as plain lists, column by column, for a checkpoint (read back with
    ``torch.load(weights_only=True)``, which accepts plain containers only)."""
    return {name: [getattr(r, name) for r in records] for name in _FIELDS}


def history_from_state(state: Mapping[str, Any]) -> list[HistoryRecord]:
    """The records :func:`history_state` saved.

    Raises:
        DataError: ``state`` does not hold history columns of equal length.
    """
    try:
        columns = [list(state[name]) for name in _FIELDS]
        if len({len(c) for c in columns}) > 1:
            raise ValueError("columns of different lengths")
        return [
            HistoryRecord(int(s), float(k), float(t), str(kind), str(d), str(n), float(v))
            for s, k, t, kind, d, n, v in zip(*columns, strict=True)
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"The checkpoint's history is malformed ({exc}).") from None


def last_values(records: Iterable[HistoryRecord]) -> dict[str, HistoryRecord]:
    """Per curve (:attr:`~medganbench.core.history.HistoryRecord.series`), its last record."""
    last: dict[str, HistoryRecord] = {}
    for record in records:
        last[record.series] = record
    return last


def first_non_finite(records: Iterable[HistoryRecord]) -> HistoryRecord | None:
    """The first loss record that is NaN or infinite (where training diverged), if any."""
    return next(
        (r for r in records if r.kind == "loss" and not math.isfinite(r.value)),
        None,
    )
