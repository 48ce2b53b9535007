"""Which leaderboard rows are comparable, and how they are ranked.

Rows are ranked together only when they agree on every :data:`COMPARABLE_KEYS` value; within
such a group each metric at one version, one set of arguments, one evaluation unit and one grid
(the ``eval_unit`` and ``eval_grid`` columns) is its own column
(:class:`~medganbench.leaderboard.columns.MetricColumn`). Two rank
rules exist, and their wording lives here so that the terminal, the markdown export and the site
say the same thing:

* per run (:func:`ranked_groups`, ``--runs``): competition ranking (:func:`competition_ranks`);
* per configuration over seeds (:mod:`medganbench.leaderboard.seeds`): ranking by confidence
  interval (:func:`interval_ranks`), worded by :func:`interval_rule`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from medganbench.errors import LeaderboardError, UsageError
from medganbench.leaderboard.columns import MetricColumn
from medganbench.leaderboard.devices import Replicates, combine_replicates
from medganbench.leaderboard.schema import SCHEMA, rows_from_table

# Rows are ranked together only if all of these are equal. ``direction`` is included on top of
# the data/budget/split keys because A→B and B→A scores are measured in different target
# domains (different units and windows), so ranking them against each other is meaningless.
# ``track`` keeps outputs made elsewhere (``external``: no budget, scored by ``medganbench
# score``) apart from runs trained here under a budget: they are never ranked together.
# ``protocol`` keeps the weights at the end of the budget (``final``) apart from the checkpoint
# chosen on the validation split (``best:METRIC@val``): choosing is an advantage of its own.
#: The track of reader-study rows (``medganbench study score``): grouped apart, never ranked.
READER_STUDY = "reader-study"

COMPARABLE_KEYS: tuple[str, ...] = (
    "dataset",
    "dataset_version",
    "dataset_fingerprint",
    "image_size",
    "budget_steps",
    "budget_kimg",
    "budget_seconds",
    "eval_split",
    "direction",
    "track",
    "protocol",
)


def interval_rule(confidence: float) -> str:
    """The seed rank rule in words, e.g. ``"... whose 95% intervals overlap share a rank"``."""
    percent = f"{confidence * 100:g}%"
    return (
        f"mean ± std [{percent} bootstrap CI of the mean] over seeds; "
        f"entries whose {percent} intervals overlap share a rank"
    )


def sample_size(details_json: str) -> str | None:
    """``"120/120"`` (real/generated images) from a row's ``metric_details``, if it records them."""
    try:
        details = json.loads(details_json)
    except ValueError:
        return None
    if not isinstance(details, dict) or "n_real" not in details or "n_generated" not in details:
        return None
    return f"{details['n_real']}/{details['n_generated']}"


def sample_size_warnings(groups: Sequence[RankedGroup]) -> list[str]:
    """One line per group column that ranks rows computed on different numbers of images.

    FID and KID are biased by the number of images (FID strongly, as ``1/N``), so ranking a
    run scored on 60 images against one scored on 600 compares the sample sizes as much as the
    models; ``fid-inf`` extrapolates the bias away.
    """
    lines = []
    for group in groups:
        for index, column in enumerate(group.metrics):
            sizes = sorted(
                {s for r in group.rows if r.sample_sizes and (s := r.sample_sizes[index])}
            )
            if len(sizes) > 1:
                k = group.key
                where = f"{k['dataset']} {k['image_size']}px {k['direction']}"
                lines.append(
                    f"{column.label} in {where} ranks rows scored on different numbers of images "
                    f"(real/generated: {', '.join(sizes)}); the metric is biased by N, so compare "
                    "rows of equal N, or fid-inf."
                )
    return lines


def competition_ranks(values: Sequence[float], higher_is_better: bool) -> list[int]:
    """Rank = 1 + number of strictly better values, so ties share a rank ("1224")."""
    return [
        1 + sum(1 for other in values if (other > v if higher_is_better else other < v))
        for v in values
    ]


def interval_ranks(intervals: Sequence[tuple[float, float]], higher_is_better: bool) -> list[int]:
    """Rank = 1 + number of intervals entirely better than this one.

    "Entirely better" means no overlap: for higher-is-better, the other's low end is above this
    one's high end (lower-is-better: the other's high end is below this one's low end).
    Touching intervals count as overlapping. So entries the data cannot separate share a rank,
    and a point interval ``(v, v)`` reduces this to :func:`competition_ranks`.

    Args:
        intervals: ``(low, high)`` per entry, ``low <= high``.
        higher_is_better: ranking direction.

    Returns:
        One rank per interval, in input order.
    """

    def better(other: tuple[float, float], this: tuple[float, float]) -> bool:
        return other[0] > this[1] if higher_is_better else other[1] < this[0]

    return [1 + sum(1 for other in intervals if better(other, this)) for this in intervals]


@dataclass(frozen=True)
class RankedRow:
    """One run within a group.

    Attributes:
        run_id: the run's id.
        model: model name.
        model_version: model version.
        model_args: canonical JSON of the model arguments.
        seed: the run's seed.
        steps_done: optimiser steps taken.
        kimg_done: thousands of real images shown.
        train_seconds: training wall time.
        device: device the run trained on.
        values: one value per column of the group's ``metrics`` (same order); ``None`` where
            the run has no finite value for that column.
        noise_floors: per column, the row's noise floor (distribution metrics), else ``None``.
        rank: competition rank ("1224") by the group's ``ranked_by`` column, ``None`` if the
            run has no value for it.
        precision: effective training precision (``"fp32"``, ``"bf16"``, ...). Carried so that
            seed aggregation (:mod:`medganbench.leaderboard.seeds`) does not pool runs that
            differ in precision as if they were seed replicates.
        sample_sizes: per column, ``"<n real>/<n generated>"`` where the row's details record
            them (distribution metrics), else ``None``: FID and KID are biased by N.
        devices: every device that recorded the run, sorted; more than one makes ``values``
            the mean of the devices' replicates (:mod:`~medganbench.leaderboard.devices`).
        replicates: per column, the replicates' count and range where two or more devices
            have a value, else ``None``.
        world_size: the devices that trained the run together (``--devices``); like
            ``precision``, runs that differ in it are not seed replicates.
        eval_seconds_per_image: the model's seconds per evaluated output (``None`` where the
            row did not measure it: external outputs, rows before schema v7).
        sampling_steps: network evaluations per output (``None`` where unknown).
    """

    run_id: str
    model: str
    model_version: str
    model_args: str
    seed: int
    steps_done: int
    kimg_done: float
    train_seconds: float
    device: str
    values: tuple[float | None, ...]
    rank: int | None
    noise_floors: tuple[float | None, ...] = ()
    precision: str = "fp32"
    sample_sizes: tuple[str | None, ...] = ()
    devices: tuple[str, ...] = ()
    replicates: tuple[Replicates | None, ...] = ()
    world_size: int = 1
    eval_seconds_per_image: float | None = None
    sampling_steps: int | None = None


@dataclass(frozen=True)
class RankedGroup:
    """Runs that are comparable with each other, ranked.

    Attributes:
        key: the :data:`COMPARABLE_KEYS` values shared by every row of the group.
        metrics: metric columns, in the order they first appear in the file.
        ranked_by: the column the rows are ranked by; ``None`` if the requested metric is not
            in this group (then every rank is ``None``).
        rows: ranked rows first (best first), then unranked ones.
    """

    key: dict[str, Any]
    metrics: tuple[MetricColumn, ...]
    ranked_by: MetricColumn | None
    rows: tuple[RankedRow, ...]


def _sort_key(values: tuple[Any, ...]) -> tuple[tuple[bool, Any], ...]:
    # None sorts first and is never compared with a real value.
    return tuple((v is not None, v) for v in values)


def ranked_groups(table: pa.Table, by: str | None = None) -> list[RankedGroup]:
    """Group comparable runs and rank them.

    Only rows with ``status == "ok"`` take part. Rows form one group when all
    :data:`COMPARABLE_KEYS` are equal; within a group, each (metric, metric_version,
    higher_is_better, metric_args, eval_unit, eval_grid) is its own column
    (:class:`MetricColumn`). If the same run has several rows for one column (the
    run was repeated on one device), the most recent (``created_at``) wins; rows of one run
    from several devices are replicates, averaged into one value per column (see
    :func:`~medganbench.leaderboard.devices.combine_replicates`), so the run counts once. Rows
    of one run trained in different precisions (``precision``: ``auto`` is bf16 on some
    devices, fp32 on others) are separate entries, never averaged.

    Args:
        table: a leaderboard table (see :func:`~medganbench.leaderboard.store.read_leaderboard`).
        by: metric name to rank by; default: in each group, the first metric column. If a
            group has that metric at several versions, the first one to appear is used.

    Returns:
        Groups ordered by their key, ``track=budgeted`` groups before ``external`` ones, and
        ``reader-study`` groups last and never ranked; within each, ranked rows best first
        (ties by model and run id), then unranked rows.

    Raises:
        LeaderboardError: ``table`` lacks leaderboard columns.
        UsageError: ``by`` is not a metric of any group.
    """
    if missing := [name for name in SCHEMA.names if name not in table.column_names]:
        raise LeaderboardError(f"Not a leaderboard table; missing column(s): {', '.join(missing)}.")
    ok = table.filter(pc.equal(table["status"], "ok"))

    # key -> (run_id, precision) -> {"info": latest row, "devices": {device: {column: Measured}}}.
    # The precision the device trained in is part of what a run is here: one run id trains in
    # fp32 or bf16 depending on the device (and on what ``auto`` meant when it ran), and those
    # are different arithmetic, never replicates to average.
    groups: dict[tuple[Any, ...], dict[tuple[str, str], dict[str, Any]]] = {}
    columns: dict[tuple[Any, ...], list[MetricColumn]] = {}
    for row in rows_from_table(ok):
        key = tuple(getattr(row, k) for k in COMPARABLE_KEYS)
        column = MetricColumn.of(row)
        group_columns = columns.setdefault(key, [])
        if column not in group_columns:
            group_columns.append(column)
        run = groups.setdefault(key, {}).setdefault(
            (row.run_id, row.precision), {"info": row, "devices": {}}
        )
        if row.created_at >= run["info"].created_at:
            run["info"] = row
        measured = run["devices"].setdefault(row.device, {})
        previous = measured.get(column)
        if previous is None or row.created_at >= previous[0]:
            measured[column] = (
                row.created_at,
                row.value,
                row.noise_floor,
                sample_size(row.metric_details),
            )

    if by is not None and not any(c.metric == by for cols in columns.values() for c in cols):
        available = sorted({c.metric for cols in columns.values() for c in cols})
        raise UsageError(
            f"Cannot rank by {by!r}: no run on this leaderboard has that metric.",
            hint="Available metrics: " + (", ".join(available) if available else "none"),
        )

    result = []
    # Budgeted groups first, then external ones, then reader studies: a reader meets the
    # budgeted ranking first.
    track = COMPARABLE_KEYS.index("track")
    order = {"budgeted": 0, "external": 1, READER_STUDY: 2}
    for key in sorted(groups, key=lambda k: (order.get(k[track], 3), _sort_key(k))):
        metrics = tuple(columns[key])
        if key[track] == READER_STUDY:
            # Readers' accuracy is best at chance, not at an end of the scale: not ranked.
            ranked_by: MetricColumn | None = None
        elif by is None:
            ranked_by = metrics[0]
        else:
            ranked_by = next((c for c in metrics if c.metric == by), None)
        # A run recorded on several devices counts once: its replicates' mean (NaN scores,
        # which cannot be ranked, count as missing), with their range kept to show.
        rows = [
            (
                run_key,
                run["info"],
                sorted(run["devices"]),
                combine_replicates(run["devices"], metrics),
            )
            for run_key, run in groups[key].items()
        ]
        rank_of: dict[tuple[str, str], int] = {}
        if ranked_by is not None:
            index = metrics.index(ranked_by)
            scored = [
                (run_key, value)
                for run_key, _, _, (values, _, _, _) in rows
                if (value := values[index]) is not None
            ]
            ranks = competition_ranks([v for _, v in scored], ranked_by.higher_is_better)
            rank_of = {run_key: rank for (run_key, _), rank in zip(scored, ranks, strict=True)}
        ranked_rows = [
            RankedRow(
                run_id=info.run_id,
                model=info.model,
                model_version=info.model_version,
                model_args=info.model_args,
                seed=info.seed,
                steps_done=info.steps_done,
                kimg_done=info.kimg_done,
                train_seconds=info.train_seconds,
                device=info.device,
                values=values,
                rank=rank_of.get(run_key),
                noise_floors=floors,
                precision=info.precision,
                sample_sizes=sizes,
                devices=tuple(devices),
                replicates=spreads,
                world_size=info.world_size,
                eval_seconds_per_image=info.eval_seconds_per_image,
                sampling_steps=info.sampling_steps,
            )
            for run_key, info, devices, (values, floors, sizes, spreads) in rows
        ]
        # Ranked first by rank, unranked last; model and run id make the order deterministic.
        ranked_rows.sort(
            key=lambda r: (
                r.rank is None,
                r.rank or 0,
                r.model,
                r.model_version,
                r.run_id,
                r.precision,
            )
        )
        result.append(
            RankedGroup(
                key=dict(zip(COMPARABLE_KEYS, key, strict=True)),
                metrics=metrics,
                ranked_by=ranked_by,
                rows=tuple(ranked_rows),
            )
        )
    return result
