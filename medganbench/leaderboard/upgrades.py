"""The upgrades of older leaderboard schemas, one step per version (used by
:func:`medganbench.leaderboard.schema.to_current_schema`)."""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa


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
    """
    n = table.num_rows
    table = table.add_column(
        table.schema.get_field_index("budget_steps"), "track", pa.array(["budgeted"] * n)
    )
    return table.add_column(
        table.schema.get_field_index("medganbench_version") + 1,
        "provenance",
        pa.array(["{}"] * n, pa.string()),
    )


# Upgrade steps: ``UPGRADES[n]`` maps a table of schema version ``n`` to version ``n + 1``.
UPGRADES: dict[int, Callable[[pa.Table], pa.Table]] = {
    1: _upgrade_v1_to_v2,
    2: _upgrade_v2_to_v3,
}
