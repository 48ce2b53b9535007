"""A leaderboard file's schema version, and bringing a table of any known version to the current
:data:`~medganbench.leaderboard.schema.SCHEMA` (the steps are
:data:`~medganbench.leaderboard.upgrades.UPGRADES`)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from medganbench.errors import LeaderboardError
from medganbench.leaderboard.schema import SCHEMA, SCHEMA_VERSION, VERSION_KEY
from medganbench.leaderboard.upgrades import UPGRADES


def schema_version(schema: pa.Schema, path: Path) -> int:
    """The schema version recorded in a file's metadata.

    Raises:
        LeaderboardError: no version recorded, or not an integer.
    """
    raw = (schema.metadata or {}).get(VERSION_KEY)
    if raw is None:
        raise LeaderboardError(
            f"{path} is not a medganbench leaderboard (no schema version in its metadata)."
        )
    try:
        return int(raw.decode())
    except (UnicodeDecodeError, ValueError):
        raise LeaderboardError(f"{path} has an invalid schema version {raw!r}.") from None


def to_current_schema(table: pa.Table, path: Path) -> pa.Table:
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
    version = schema_version(table.schema, path)
    if version > SCHEMA_VERSION:
        raise LeaderboardError(
            f"{path} was written by a newer medganbench (leaderboard schema v{version}; "
            f"this version understands up to v{SCHEMA_VERSION}).",
            hint="Upgrade medganbench to read or append to it.",
        )
    while version < SCHEMA_VERSION:
        step = UPGRADES.get(version)
        if step is None:
            raise LeaderboardError(
                f"{path} has leaderboard schema v{version}, which this medganbench cannot upgrade."
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
