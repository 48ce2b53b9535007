"""Leaderboard files: where they are, reading them whole, and appending under a lock.

The file ``<dir>/<dataset>.arrow`` is an Arrow IPC *file* (the random-access format), so plain
pyarrow (``pyarrow.ipc.open_file``), pandas (``pd.read_feather``), polars (``pl.read_ipc``) and
anything else that speaks Arrow can read it without medganbench.

Writing is crash- and concurrency-safe: :func:`append_rows` takes an exclusive lock on a sidecar
``<file>.lock``, reads the current file, writes old plus new rows to a temporary file in the same
directory, fsyncs it and ``os.replace``-s it over the target. Readers therefore see either the
old or the new file, never a partial one; concurrent writers queue on the lock and lose no row;
an error or Ctrl-C at any point leaves the previous file untouched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any

import filelock
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc

from medganbench.core.names import COMPONENT_NAME, RUN_ID, is_component_name
from medganbench.errors import LeaderboardError
from medganbench.fileio import atomic_write
from medganbench.leaderboard.schema import LeaderboardRow, rows_to_table
from medganbench.leaderboard.versions import to_current_schema

# How long a writer waits for another writer before giving up. Appends take milliseconds, and
# the lock is an OS lock released when its holder dies, so hitting this means something is
# badly wrong (a hung process, a dead network filesystem) rather than ordinary contention.
LOCK_TIMEOUT_S = 300.0

_NO_RUNS_HINT = "No runs yet for this dataset; run `medganbench run ...` to add some."


def leaderboard_path(directory: Path, dataset: str) -> Path:
    """Where the leaderboard of ``dataset`` lives.

    Args:
        directory: the leaderboard directory.
        dataset: registered dataset name.

    Returns:
        ``directory / f"{dataset}.arrow"``.

    Raises:
        LeaderboardError: ``dataset`` is not a component name (so it could contain ``..``, a
            path separator, a NUL or a newline).
    """
    # Dataset names are component names; anything else could lead outside the directory.
    if not is_component_name(dataset):
        raise LeaderboardError(
            f"Dataset name {dataset!r} cannot be used as a leaderboard name.",
            hint="Dataset names are lower-case letters, digits and hyphens.",
        )
    return Path(directory) / f"{dataset}.arrow"


def real_path(path: Path) -> Path:
    """The file a leaderboard path stands for: a symlink's target, so that writing replaces the
    file it points to (a shared leaderboard stays shared) rather than the link.

    Raises:
        LeaderboardError: the link leads nowhere it could be read or written (a loop).
    """
    path = Path(path)
    if not path.is_symlink():
        return path
    try:
        return path.resolve(strict=False)
    except (RuntimeError, OSError):  # a loop: RuntimeError before Python 3.13, then OSError
        raise LeaderboardError(
            f"Leaderboard {path} is a loop of symlinks (it leads back to itself); nothing can "
            "be read from or written to it.",
            hint=f"Remove {path}, or point it at the real leaderboard file.",
        ) from None


def lock_for(path: Path, timeout: float = LOCK_TIMEOUT_S) -> filelock.FileLock:
    """The lock every writer of the leaderboard ``path`` holds while it replaces the file."""
    return filelock.FileLock(f"{path}.lock", timeout=timeout)


def _read_file(path: Path) -> pa.Table:
    """Read an IPC file fully into memory and bring it to the current schema.

    The file is read through a plain Python file object (not a memory map), so the returned
    table owns its buffers and does not depend on the file staying open or unchanged, and any
    path Python can open works, a folder name that is not UTF-8 too.

    Raises:
        FileNotFoundError: ``path`` does not exist (callers decide what that means).
        LeaderboardError: the file cannot be read or is not a valid leaderboard.
    """
    try:
        with open(path, "rb") as source:
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
    table = to_current_schema(table, path)
    check_contents(table, path)
    return table


#: Columns whose values become parts of paths (run pages, run folders, leaderboard files), and
#: the check each must pass.
_PATH_COLUMNS = {"run_id": RUN_ID, "dataset": COMPONENT_NAME, "model": COMPONENT_NAME}


def check_contents(table: pa.Table, path: Path) -> None:
    """Refuse a table whose bytes or identifiers are not what medganbench writes.

    Full Arrow validation (offsets, and UTF-8 in every string column), then the columns that
    become parts of paths: run ids are 16 hex digits, datasets and models component names.

    Raises:
        LeaderboardError: naming the file, and the row and value for a bad identifier.
    """
    try:
        table.validate(full=True)
    except (pa.ArrowInvalid, pa.ArrowException) as exc:
        raise LeaderboardError(
            f"Leaderboard {path} is corrupt: {exc}",
            hint="Restore it from a backup or move it aside; medganbench will not overwrite it.",
        ) from None
    for column, pattern in _PATH_COLUMNS.items():
        ok = pc.match_substring_regex(table[column], pattern.pattern)
        if not pc.all(ok).as_py():
            index = pc.index(ok, False).as_py()
            value = table[column][index].as_py()
            raise LeaderboardError(
                f"Leaderboard {path}, row {index}: {column} {value!r} is not a valid {column}; "
                "the file was not used.",
                hint="A leaderboard medganbench wrote never holds such a value: the file was "
                "edited or crafted. Remove the row or the file.",
            )


def read_leaderboard(path: Path) -> pa.Table:
    """Read a leaderboard file.

    Args:
        path: the ``.arrow`` file (see :func:`leaderboard_path`).

    Returns:
        All rows, with exactly :data:`~medganbench.leaderboard.schema.SCHEMA` (older schema
        versions are upgraded in memory).

    Raises:
        LeaderboardError: the file does not exist (with a hint to run something first), is
            corrupt or truncated, or was written by a newer medganbench.
    """
    path = Path(path)
    try:
        return _read_file(path)
    except FileNotFoundError:
        raise LeaderboardError(f"No leaderboard at {path}.", hint=_NO_RUNS_HINT) from None


def write_ipc(sink: IO[bytes], table: pa.Table) -> None:
    """Write ``table`` as an Arrow IPC file to the open binary ``sink``."""
    with ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def write_table(path: Path, table: pa.Table) -> None:
    """Replace ``path`` atomically with ``table`` as one record batch (the caller holds the lock)."""
    # One record batch per file keeps readers fast however many appends happened.
    table = table.combine_chunks()
    atomic_write(path, lambda sink: write_ipc(sink, table))


class AlreadyRecordedError(LeaderboardError):
    """Rows of a run are on the leaderboard already (another process recorded it meanwhile).

    Attributes:
        run_ids: the runs that were already there.
    """

    def __init__(self, path: Path, run_ids: set[str]) -> None:
        super().__init__(
            f"{path} already records run(s) {', '.join(sorted(run_ids))}; nothing was appended."
        )
        self.run_ids = run_ids


def append_rows(
    path: Path,
    rows: Iterable[LeaderboardRow | Mapping[str, Any]],
    *,
    unless_recorded: bool = False,
) -> None:
    """Append rows to a leaderboard file, creating it (and its directory) if needed.

    Rows are :class:`~medganbench.leaderboard.schema.LeaderboardRow` objects, or mappings with
    exactly their columns (checked the same way). An empty ``rows`` is a no-op.

    The append holds an exclusive lock on ``<path>.lock`` while it reads the current file, and
    replaces the file atomically, so concurrent appends from several processes all land and a
    failure at any point leaves the previous file intact.

    Args:
        path: the leaderboard file. A symlink is followed: the file it points to is replaced
            (and locked), so a leaderboard on shared storage stays the shared one.
        rows: the rows to append.
        unless_recorded: refuse, under the lock, if a run of ``rows`` is already recorded (see
            :func:`recorded_run_ids`): two processes that ran the same spec at once record it
            once.

    Raises:
        AlreadyRecordedError: with ``unless_recorded``, a run of ``rows`` is already there.
        LeaderboardError: a row misses a column, has an unknown one, or a value of the wrong
            type; the existing file is corrupt or was written by a newer medganbench; the lock
            cannot be acquired within :data:`LOCK_TIMEOUT_S`.
    """
    path = real_path(path)
    # Validate before taking the lock: a bad row must fail fast and never touch the file.
    new = rows_to_table(rows)
    if new.num_rows == 0:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with lock_for(path):
            # Re-read under the lock: another writer may have replaced the file since we last
            # looked, and concatenating onto a stale copy would drop its rows.
            try:
                old = _read_file(path)
            except FileNotFoundError:
                table = new
            else:
                if unless_recorded:
                    # The check of the run's start, repeated where it cannot race.
                    there = _ok_run_ids(old) & set(new.column("run_id").to_pylist())
                    if there:
                        raise AlreadyRecordedError(path, there)
                table = pa.concat_tables([old, new])
            write_table(path, table)
    except filelock.Timeout:
        raise LeaderboardError(
            f"Timed out after {LOCK_TIMEOUT_S:.0f} s waiting for the lock on {path}.",
            hint=f"Another medganbench process is holding {path}.lock; check for a hung run.",
        ) from None


def recorded_run_ids(path: Path) -> set[str]:
    """The runs a leaderboard file already records: run ids with a row of status ``ok``.

    This is the one "already recorded" rule: a run is not run again, and a sweep skips its trial,
    exactly when this holds. A missing file records nothing. A row from any device counts: a
    replicate on another device is recorded into another leaderboard and merged in
    (:mod:`medganbench.leaderboard.devices`).

    Raises:
        LeaderboardError: the file exists but cannot be read, or is a loop of links (checked
            here so that a run refuses it before it trains).
    """
    path = real_path(path)
    if not path.exists():
        return set()
    return _ok_run_ids(read_leaderboard(path))


def _ok_run_ids(table: pa.Table) -> set[str]:
    ok = table.filter(pc.equal(table["status"], "ok"))
    return set(ok.column("run_id").to_pylist())


__all__ = [
    "LOCK_TIMEOUT_S",
    "AlreadyRecordedError",
    "append_rows",
    "check_contents",
    "leaderboard_path",
    "lock_for",
    "read_leaderboard",
    "real_path",
    "recorded_run_ids",
    "write_ipc",
    "write_table",
]
