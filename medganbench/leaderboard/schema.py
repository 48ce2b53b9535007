"""The leaderboard's one row type, the Arrow schema derived from it, and older schemas' upgrades.

:class:`LeaderboardRow` is the only definition of a leaderboard column: its field names, types
and nullability give :data:`SCHEMA`, the runner builds rows of it, and readers get rows of it
back (:func:`rows_from_table`). A row checks its values when built, more strictly than pyarrow
would (which silently truncates 1.5 to an int64 1 and reads a naive datetime as UTC), and stores
its JSON columns canonically, so equal arguments give equal strings.

Files record their schema version in the metadata key ``medganbench.schema_version``; files of
an older version are upgraded in memory when read
(:func:`medganbench.leaderboard.versions.to_current_schema`).
"""

from __future__ import annotations

import dataclasses
import json
import numbers
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa

from medganbench.core.params import canonical_json
from medganbench.errors import LeaderboardError
from medganbench.leaderboard.protocols import is_protocol

SCHEMA_VERSION = 7
VERSION_KEY = b"medganbench.schema_version"


def _column(arrow: pa.DataType, *, json_object: bool = False) -> Any:
    """A dataclass field that carries its Arrow type (and whether it holds a JSON object)."""
    return dataclasses.field(metadata={"arrow": arrow, "json": json_object})


_STRING, _INT64, _FLOAT64, _BOOL = pa.string(), pa.int64(), pa.float64(), pa.bool_()
_JSON = {"json_object": True}


@dataclass(frozen=True)
class LeaderboardRow:
    """One leaderboard row: one run's value of one metric in one direction.

    Every field is a column, in this order. ``X | None`` fields are the nullable columns: a
    budget sets any subset of its three limits, and rows upgraded from schema v1 never measured
    the model's size or a noise floor. A null anywhere else is a bug upstream.
    ``model_args``, ``dataset_args``, ``metric_args``, ``metric_details``, ``weights`` and
    ``provenance`` hold JSON objects: pass a JSON string or a mapping; both are stored as canonical JSON.

    Raises (on construction):
        LeaderboardError: a value has the wrong type, or ``track``, ``eval_unit`` or
            ``eval_grid`` is not one of its :data:`CHOICES`, naming the column.
    """

    run_id: str = _column(_STRING)
    created_at: datetime = _column(pa.timestamp("us", tz="UTC"))
    model: str = _column(_STRING)
    model_version: str = _column(_STRING)
    model_args: str = _column(_STRING, **_JSON)
    dataset: str = _column(_STRING)
    dataset_version: str = _column(_STRING)
    dataset_args: str = _column(_STRING, **_JSON)
    dataset_fingerprint: str = _column(_STRING)
    image_size: int = _column(pa.int32())
    direction: str = _column(_STRING)
    eval_split: str = _column(_STRING)
    # Added in schema v4: what one value scores, "slice" (the mean over the split's slices) or
    # "volume" (each patient's slices scored as one volume, the mean over patients), and the
    # grid it was scored on, "image_size" (the run's --image-size) or "native" (each patient's
    # own in-plane size, ``--eval-grid native``). Rows that differ in either are never ranked,
    # averaged or merged together. Until v3 both hid in ``metric_args``.
    eval_unit: str = _column(_STRING)
    eval_grid: str = _column(_STRING)
    # Added in schema v5: which checkpoint was scored. "final" (the weights at the end of the
    # budget) or "best:METRIC@val" (``--select best:METRIC``: the checkpoint with the best
    # validation value of METRIC, scored on the evaluation split); rows of the two protocols
    # are never ranked, averaged or merged together.
    protocol: str = _column(_STRING)
    metric: str = _column(_STRING)
    metric_version: str = _column(_STRING)
    metric_convention: str = _column(_STRING)
    metric_args: str = _column(_STRING, **_JSON)
    metric_details: str = _column(_STRING, **_JSON)
    value: float = _column(_FLOAT64)
    noise_floor: float | None = _column(_FLOAT64)
    weights: str = _column(_STRING, **_JSON)
    higher_is_better: bool = _column(_BOOL)
    seed: int = _column(_INT64)
    # Added in schema v3: "budgeted" (trained here under the budget) or "external" (outputs made
    # elsewhere, scored by ``medganbench score``: no budget, never ranked with budgeted rows);
    # since v7 also "reader-study" (readers' answers on a run's images, ``medganbench study
    # score``: grouped apart and never ranked).
    track: str = _column(_STRING)
    budget_steps: int | None = _column(_INT64)
    budget_kimg: float | None = _column(_FLOAT64)
    budget_seconds: float | None = _column(_FLOAT64)
    steps_done: int = _column(_INT64)
    # Added in schema v5: the training step whose weights were scored (``steps_done`` under
    # the "final" protocol).
    selected_step: int = _column(_INT64)
    kimg_done: float = _column(_FLOAT64)
    train_seconds: float = _column(_FLOAT64)
    # Added in schema v6: devices × training wall seconds (GPU-seconds on GPUs), the cost of
    # the budget on several devices (``train_seconds`` on one).
    device_seconds: float = _column(_FLOAT64)
    eval_seconds: float = _column(_FLOAT64)
    # Added in schema v7: the cost of one output, what a diffusion model and a GAN differ in
    # most. ``eval_seconds_per_image``: wall seconds the model took to make one evaluated
    # image (or volume) of the row's direction (translation or sampling alone, no metric);
    # ``sampling_steps``: network evaluations per output (a GAN's generator pass: 1; a
    # diffusion sampler: its steps; a round trip: both ways; a non-learned baseline: 0). Both
    # are null for external outputs and for rows recorded before v7.
    eval_seconds_per_image: float | None = _column(_FLOAT64)
    sampling_steps: int | None = _column(_INT64)
    peak_memory_mb: float = _column(_FLOAT64)
    device: str = _column(_STRING)
    # Added in schema v6: the devices (processes) that trained the run together, the images
    # each took per step and the images of one optimiser step over all of them; the batches
    # are null where unknown (external outputs; rows from before v6 whose model_args hold no
    # batch_size).
    world_size: int = _column(_INT64)
    per_device_batch: int | None = _column(_INT64)
    global_batch: int | None = _column(_INT64)
    # Effective settings (what the device honoured), added in schema v2.
    precision: str = _column(_STRING)
    channels_last: bool = _column(_BOOL)
    parameters: int | None = _column(_INT64)
    flops_per_step: int | None = _column(_INT64)
    medganbench_version: str = _column(_STRING)
    # Added in schema v3: the distributions that provided the row's model, dataset and metric,
    # ``{"model": {"name": ..., "version": ...} | null, "dataset": ..., "metric": ...}``; ``{}``
    # for rows recorded before v3 (unknown), ``"model": null`` for external outputs.
    provenance: str = _column(_STRING, **_JSON)
    status: str = _column(_STRING)

    def __post_init__(self) -> None:
        for name, value in _checked(self.__dict__, "Leaderboard row").items():
            object.__setattr__(self, name, value)
        _check_choices(self.__dict__, "Leaderboard row")

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any], index: int = 0) -> LeaderboardRow:
        """Build a row from a mapping of column name to value.

        Args:
            row: exactly the columns of :data:`SCHEMA`.
            index: the row's position, named in messages.

        Raises:
            LeaderboardError: ``row`` is not a mapping, misses or adds a column, or has a value
                of the wrong type (the message names the row index and the column).
        """
        if not isinstance(row, Mapping):
            raise LeaderboardError(
                f"Leaderboard row {index} is a {type(row).__name__}, not a mapping."
            )
        if missing := [c.name for c in _COLUMNS if c.name not in row]:
            raise LeaderboardError(
                f"Leaderboard row {index} is missing column(s): {', '.join(missing)}."
            )
        if unknown := sorted(set(row) - set(SCHEMA.names), key=str):
            raise LeaderboardError(
                f"Leaderboard row {index} has unknown column(s): {', '.join(map(str, unknown))}."
            )
        checked = _checked(row, f"Leaderboard row {index},")
        _check_choices(checked, f"Leaderboard row {index},")
        return cls(**checked)

    def as_dict(self) -> dict[str, Any]:
        """Column name → value, in column order."""
        return {c.name: getattr(self, c.name) for c in _COLUMNS}

    def replace(self, **changes: Any) -> LeaderboardRow:
        """A copy with some columns changed (checked like a new row)."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class _Column:
    name: str
    arrow: pa.DataType
    nullable: bool
    json_object: bool


def _columns() -> tuple[_Column, ...]:
    hints = typing.get_type_hints(LeaderboardRow)
    return tuple(
        _Column(
            f.name,
            f.metadata["arrow"],
            type(None) in typing.get_args(hints[f.name]),
            f.metadata["json"],
        )
        for f in dataclasses.fields(LeaderboardRow)
    )


_COLUMNS: tuple[_Column, ...] = _columns()

#: The Arrow schema of a leaderboard file, derived from :class:`LeaderboardRow`.
SCHEMA: pa.Schema = pa.schema(
    [pa.field(c.name, c.arrow, nullable=c.nullable) for c in _COLUMNS],
    metadata={VERSION_KEY: str(SCHEMA_VERSION).encode()},
)
#: Columns holding canonical JSON objects.
JSON_COLUMNS: frozenset[str] = frozenset(c.name for c in _COLUMNS if c.json_object)


def _checked(values: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Every column's value checked and normalised; ``where`` starts the error message."""
    out = {}
    for column in _COLUMNS:
        try:
            out[column.name] = _check_value(column, values[column.name])
        except TypeError as exc:
            raise LeaderboardError(f"{where} column {column.name!r}: {exc}.") from None
    return out


def _check_choices(values: Mapping[str, Any], where: str) -> None:
    """Refuse a value of a :data:`CHOICES` column that is not one of its values, and a
    ``protocol`` that is not one (:func:`is_protocol`)."""
    for name, allowed in CHOICES.items():
        if values[name] not in allowed:
            raise LeaderboardError(
                f"{where} column {name!r}: {values[name]!r} is not one of {', '.join(allowed)}."
            )
    if not is_protocol(values["protocol"]):
        raise LeaderboardError(
            f"{where} column 'protocol': {values['protocol']!r} is neither 'final' nor "
            "'best:METRIC@val'."
        )


def _check_value(column: _Column, value: Any) -> Any:
    """Return ``value`` as stored in ``column``, or raise ``TypeError`` saying what is wrong."""
    if value is None:
        if column.nullable:
            return None
        raise TypeError("must not be None")
    type_ = column.arrow
    if column.json_object:
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
        bits = type_.bit_width - 1
        if not -(2**bits) <= int(value) < 2**bits:
            raise TypeError(f"{value} does not fit the column's {type_} type")
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


def as_rows(rows: Iterable[LeaderboardRow | Mapping[str, Any]]) -> list[LeaderboardRow]:
    """``rows`` as :class:`LeaderboardRow` objects (mappings are checked by
    :meth:`LeaderboardRow.from_mapping`)."""
    return [
        row if isinstance(row, LeaderboardRow) else LeaderboardRow.from_mapping(row, index)
        for index, row in enumerate(rows)
    ]


def rows_to_table(rows: Iterable[LeaderboardRow | Mapping[str, Any]]) -> pa.Table:
    """A table with exactly :data:`SCHEMA` holding ``rows``.

    Raises:
        LeaderboardError: a mapping is not a valid row (see :func:`as_rows`).
    """
    checked = as_rows(rows)
    arrays = [pa.array([getattr(r, c.name) for r in checked], type=c.arrow) for c in _COLUMNS]
    return pa.Table.from_arrays(arrays, schema=SCHEMA)


def rows_from_table(table: pa.Table) -> list[LeaderboardRow]:
    """The rows of a table with :data:`SCHEMA` (see :func:`to_current_schema`), in file order."""
    return [LeaderboardRow(**row) for row in table.to_pylist()]


# --------------------------------------------------------------------------------------------
# Schema versions
# --------------------------------------------------------------------------------------------


#: The values of the ``track`` column ("reader-study": ``study score``, never ranked with others).
TRACKS: tuple[str, ...] = ("budgeted", "external", "reader-study")
#: The values of the ``eval_unit`` column: one value per split of slices, or per patient volume
#: (the mean over patients).
EVAL_UNITS: tuple[str, ...] = ("slice", "volume")
#: The values of the ``eval_grid`` column (and of ``--eval-grid``): the run's image size, or each
#: patient's native in-plane grid.
EVAL_GRIDS: tuple[str, ...] = ("image_size", "native")
#: The string columns that hold one of a few values, and those values.
CHOICES: dict[str, tuple[str, ...]] = {
    "track": TRACKS,
    "eval_unit": EVAL_UNITS,
    "eval_grid": EVAL_GRIDS,
}
