"""The upgrades of older leaderboard schemas, one step per version (used by
:func:`medganbench.leaderboard.versions.to_current_schema`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pyarrow as pa

from medganbench.core.params import DATA_LOCATION_ARGS, canonical_json


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


def _upgrade_v2_to_v3(table: pa.Table) -> pa.Table:
    """v3 added ``track`` before the budget columns and ``provenance`` after
    ``medganbench_version``.

    Every row before v3 was trained under a budget by ``medganbench run`` (there was no other
    way to make one), so its track is ``"budgeted"``; which packages provided its components
    was not recorded, so its provenance is the empty object: unknown, not a guess.

    Rows of v1 and v2 may carry where their data were on the machine that ran them
    (``dataset_args.root``, a path that can name a patient): location arguments were kept off
    rows only from late in v2's life. Those arguments
    (:data:`~medganbench.core.params.DATA_LOCATION_ARGS`) leave ``dataset_args`` here, so no
    merge, export or published site passes such a path on; the run id never depended on them.
    """
    n = table.num_rows
    index = table.schema.get_field_index("dataset_args")
    stripped = [_without_locations(text) for text in table.column("dataset_args").to_pylist()]
    table = table.set_column(index, table.schema.field(index), pa.array(stripped, pa.string()))
    table = table.add_column(
        table.schema.get_field_index("budget_steps"), "track", pa.array(["budgeted"] * n)
    )
    return table.add_column(
        table.schema.get_field_index("medganbench_version") + 1,
        "provenance",
        pa.array(["{}"] * n, pa.string()),
    )


def _upgrade_v3_to_v4(table: pa.Table) -> pa.Table:
    """v4 made the two evaluation axes columns: ``eval_unit`` and ``eval_grid`` after
    ``eval_split``.

    Until v3 they were keys of ``metric_args``: a per-patient row carried ``"eval_unit":
    "volume"``, a native-grid one also ``"eval_grid": "native"``; a row without them was scored
    per slice on the ``--image-size`` grid. Each row's columns come from those keys (defaults
    ``"slice"`` and ``"image_size"``), and the keys leave ``metric_args``, which keeps only the
    metric's own arguments (canonical JSON, as the runner writes it). ``metric_details`` lost
    its ``eval_unit`` key too (the column says it); the rest of the details, the per-patient
    values and ``grid`` included, is kept as it was.
    """
    units, grids, args_out, details_out = [], [], [], []
    for args_json, details_json in zip(
        table.column("metric_args").to_pylist(),
        table.column("metric_details").to_pylist(),
        strict=True,
    ):
        args = _json_object(args_json)
        if args is None:
            # Not a JSON object: left for the row check to refuse, naming the column.
            units.append("slice")
            grids.append("image_size")
            args_out.append(args_json)
        else:
            units.append(str(args.pop("eval_unit", "slice")))
            grids.append(str(args.pop("eval_grid", "image_size")))
            args_out.append(canonical_json(args))
        details = _json_object(details_json)
        if details is not None and "eval_unit" in details:
            del details["eval_unit"]
            details_json = canonical_json(details)
        details_out.append(details_json)
    at = table.schema.get_field_index("eval_split") + 1
    table = table.add_column(at, "eval_unit", pa.array(units, pa.string()))
    table = table.add_column(at + 1, "eval_grid", pa.array(grids, pa.string()))
    for name, values in (("metric_args", args_out), ("metric_details", details_out)):
        index = table.schema.get_field_index(name)
        table = table.set_column(index, table.schema.field(index), pa.array(values, pa.string()))
    return table


def _upgrade_v4_to_v5(table: pa.Table) -> pa.Table:
    """v5 recorded which checkpoint was scored: ``protocol`` after ``eval_grid`` and
    ``selected_step`` after ``steps_done``.

    Before v5 every run was scored with the weights it had at the end of its budget (there was
    no other protocol), so its protocol is ``"final"`` and its selected step ``steps_done``.
    """
    n = table.num_rows
    table = table.add_column(
        table.schema.get_field_index("eval_grid") + 1,
        "protocol",
        pa.array(["final"] * n, pa.string()),
    )
    return table.add_column(
        table.schema.get_field_index("steps_done") + 1, "selected_step", table.column("steps_done")
    )


def _upgrade_v5_to_v6(table: pa.Table) -> pa.Table:
    """v6 recorded the devices of a run: ``device_seconds`` after ``train_seconds``, and
    ``world_size``, ``per_device_batch``, ``global_batch`` after ``device``.

    Before v6 every run trained on one device, so its world size is 1 and its device seconds
    its training seconds. Its batch is the ``batch_size`` of its model arguments where they
    hold one (every built-in model declares it; external outputs have none): null otherwise.
    """
    n = table.num_rows
    batches: list[int | None] = []
    for track, args_json in zip(
        table.column("track").to_pylist(), table.column("model_args").to_pylist(), strict=True
    ):
        args = _json_object(args_json) if track == "budgeted" else None
        batch = args.get("batch_size") if args is not None else None
        is_count = isinstance(batch, int) and not isinstance(batch, bool) and batch > 0
        batches.append(batch if is_count else None)
    table = table.add_column(
        table.schema.get_field_index("train_seconds") + 1,
        "device_seconds",
        table.column("train_seconds"),
    )
    at = table.schema.get_field_index("device") + 1
    table = table.add_column(at, "world_size", pa.array([1] * n, pa.int64()))
    table = table.add_column(at + 1, "per_device_batch", pa.array(batches, pa.int64()))
    return table.add_column(at + 2, "global_batch", pa.array(batches, pa.int64()))


def _upgrade_v6_to_v7(table: pa.Table) -> pa.Table:
    """v7 recorded the cost of one output: ``eval_seconds_per_image`` and ``sampling_steps``
    after ``eval_seconds``. Rows before v7 did not measure either: null."""
    n = table.num_rows
    at = table.schema.get_field_index("eval_seconds") + 1
    table = table.add_column(at, "eval_seconds_per_image", pa.nulls(n, pa.float64()))
    return table.add_column(at + 1, "sampling_steps", pa.nulls(n, pa.int64()))


def _without_locations(text: Any) -> Any:
    """``dataset_args`` JSON without :data:`~medganbench.core.params.DATA_LOCATION_ARGS`
    (canonical JSON where one was removed; anything else unchanged, for the row check)."""
    args = _json_object(text)
    if args is None or not any(name in args for name in DATA_LOCATION_ARGS):
        return text
    return canonical_json({k: v for k, v in args.items() if k not in DATA_LOCATION_ARGS})


def _json_object(text: Any) -> dict[str, Any] | None:
    """``text`` parsed, where it is a JSON object; else ``None``."""
    if not isinstance(text, str):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


# Upgrade steps: ``UPGRADES[n]`` maps a table of schema version ``n`` to version ``n + 1``.
UPGRADES: dict[int, Callable[[pa.Table], pa.Table]] = {
    1: _upgrade_v1_to_v2,
    2: _upgrade_v2_to_v3,
    3: _upgrade_v3_to_v4,
    4: _upgrade_v4_to_v5,
    5: _upgrade_v5_to_v6,
    6: _upgrade_v6_to_v7,
}
