"""Aggregate leaderboard runs over seeds: mean, sample std and a bootstrap confidence interval.

A GAN trained twice with different seeds can differ by more than two models differ from each
other, so one run per model is an anecdote, not a ranking. This module merges the runs of one
model configuration that differ only by seed and ranks the merged entries by their confidence
intervals: entries whose intervals overlap share a rank, because the data cannot tell them apart.

It is built on :func:`medganbench.leaderboard.ranking.ranked_groups`, which already decides which
runs are comparable (same :data:`~medganbench.leaderboard.ranking.COMPARABLE_KEYS`; one column per
metric version, arguments, ``eval_unit`` and ``eval_grid``) and which value of a repeated run
counts; this module only pools inside a group.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

# The interval of the mean over seeds; re-exported here, where they were defined until 0.2.0.
from medganbench.leaderboard.bootstrap import (
    DEFAULT_BOOTSTRAP_SEED,
    DEFAULT_CONFIDENCE,
    DEFAULT_RESAMPLES,
    bootstrap_ci,
)
from medganbench.leaderboard.columns import MetricColumn
from medganbench.leaderboard.patients import PatientSpread, column_spreads, patient_values
from medganbench.leaderboard.ranking import (
    RankedGroup,
    RankedRow,
    interval_ranks,
    ranked_groups,
)
from medganbench.leaderboard.store import read_leaderboard


@dataclass(frozen=True)
class SeedSummary:
    """One metric of one model configuration, over the seeds that have a finite value for it.

    Attributes:
        n: number of runs summarised (at least 1).
        mean: mean over those runs.
        std: sample standard deviation (``ddof=1``); ``None`` when ``n == 1``.
        ci_low: lower end of the percentile bootstrap interval of the mean; ``None`` when
            ``n == 1``.
        ci_high: upper end of that interval; ``None`` when ``n == 1``.
        seeds: the runs' seeds, in the same order as ``run_ids``.
        run_ids: the runs summarised.
    """

    n: int
    mean: float
    std: float | None
    ci_low: float | None
    ci_high: float | None
    seeds: tuple[int, ...]
    run_ids: tuple[str, ...]

    @property
    def single_seed(self) -> bool:
        """True when one run is all there is: the value is a point, not an estimate."""
        return self.n == 1

    @property
    def interval(self) -> tuple[float, float]:
        """The interval used for ranking: the bootstrap CI, or ``(mean, mean)`` for one seed."""
        if self.ci_low is None or self.ci_high is None:
            return (self.mean, self.mean)
        return (self.ci_low, self.ci_high)


@dataclass(frozen=True)
class SeedAggregate:
    """One model configuration within a group: its runs that differ only by seed, merged.

    Attributes:
        model: model name.
        model_version: model version.
        model_args: canonical JSON of the model arguments.
        precision: effective training precision shared by the runs.
        seeds: the runs' seeds, sorted (same order as ``run_ids``).
        run_ids: the merged runs.
        summaries: one per column of the group's ``metrics`` (same order); ``None`` where no
            run has a finite value for that column.
        noise_floors: per column, the mean noise floor of the runs that recorded one, else
            ``None``.
        sample_sizes: per column, the ``"<n real>/<n generated>"`` the runs were scored on
            (several, comma-separated, if they differ), else ``None``.
        steps_done: mean optimiser steps over the runs.
        train_seconds: mean training wall time over the runs.
        devices: the devices the runs trained on, sorted and unique.
        replicated_runs: runs recorded on more than one device; each counts once, as the
            mean of its replicates (:mod:`~medganbench.leaderboard.devices`).
        rank: rank by the group's ``ranked_by`` column (see :func:`aggregate_groups`);
            ``None`` if no run has a value for it.
        patient_spreads: per column, the spread between patients of a per-patient column
            (``eval_unit`` ``"volume"``), pooled over the runs; else ``None``
            (:mod:`~medganbench.leaderboard.patients`).
        world_size: the devices each run trained on together (``--devices``).
        eval_seconds_per_image: mean over the runs that measured it of the model's seconds
            per evaluated output; ``None`` where none did.
        sampling_steps: network evaluations per output (the runs share their arguments, so
            their steps); ``None`` where unknown.
    """

    model: str
    model_version: str
    model_args: str
    precision: str
    seeds: tuple[int, ...]
    run_ids: tuple[str, ...]
    summaries: tuple[SeedSummary | None, ...]
    noise_floors: tuple[float | None, ...]
    steps_done: float
    train_seconds: float
    devices: tuple[str, ...]
    rank: int | None
    sample_sizes: tuple[str | None, ...] = ()
    patient_spreads: tuple[PatientSpread | None, ...] = ()
    replicated_runs: int = 0
    world_size: int = 1
    eval_seconds_per_image: float | None = None
    sampling_steps: int | None = None

    @property
    def n_seeds(self) -> int:
        """Number of merged runs."""
        return len(self.run_ids)

    @property
    def single_seed(self) -> bool:
        """True when the entry rests on one run, so its rank has no uncertainty behind it."""
        return self.n_seeds == 1


@dataclass(frozen=True)
class AggregatedGroup:
    """A :class:`~medganbench.leaderboard.ranking.RankedGroup` with its runs merged over seeds.

    Attributes:
        key: the :data:`~medganbench.leaderboard.ranking.COMPARABLE_KEYS` values of the group.
        metrics: metric columns, as in the ranked group.
        ranked_by: the column entries are ranked by; ``None`` if the requested metric is not in
            this group (then every rank is ``None``).
        entries: ranked entries first (see :func:`aggregate_groups` for the order), then
            unranked ones.
        confidence: the coverage of the intervals in ``entries``.
    """

    key: dict[str, Any]
    metrics: tuple[MetricColumn, ...]
    ranked_by: MetricColumn | None
    entries: tuple[SeedAggregate, ...]
    confidence: float = DEFAULT_CONFIDENCE


def summarise(
    samples: Sequence[tuple[int, str, float | None]],
    confidence: float = DEFAULT_CONFIDENCE,
) -> SeedSummary | None:
    """Summarise one metric over runs.

    Args:
        samples: ``(seed, run_id, value)`` per run; ``None`` or non-finite values are skipped
            (a diverged run has no score, and one NaN would poison the mean).
        confidence: coverage of the bootstrap interval.

    Returns:
        The summary, or ``None`` if no sample has a finite value.
    """
    kept = [(s, r, v) for s, r, v in samples if v is not None and math.isfinite(v)]
    if not kept:
        return None
    values = np.array([v for _, _, v in kept], dtype=np.float64)
    n = len(kept)
    if n >= 2:
        std: float | None = float(np.std(values, ddof=1))
        ci_low, ci_high = bootstrap_ci(values, confidence=confidence)
    else:
        std, ci_low, ci_high = None, None, None
    return SeedSummary(
        n=n,
        mean=float(values.mean()),
        std=std,
        ci_low=ci_low,
        ci_high=ci_high,
        seeds=tuple(s for s, _, _ in kept),
        run_ids=tuple(r for _, r, _ in kept),
    )


def _mean_or_none(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(present)) if present else None


def _aggregate(group: RankedGroup, confidence: float) -> AggregatedGroup:
    # Runs that differ only by seed: same model, version, arguments, precision and devices.
    # Precision and devices are included because bf16 and fp32 runs of one model, or runs on one
    # and on two devices, are different experiments, not replicas.
    by_config: dict[tuple[str, str, str, str, int], list[RankedRow]] = {}
    for row in group.rows:
        key = (row.model, row.model_version, row.model_args, row.precision, row.world_size)
        by_config.setdefault(key, []).append(row)

    width = len(group.metrics)
    drafts: list[SeedAggregate] = []
    for (model, version, args, precision, world_size), rows in by_config.items():
        rows = sorted(rows, key=lambda r: (r.seed, r.run_id))
        drafts.append(
            SeedAggregate(
                model=model,
                model_version=version,
                model_args=args,
                precision=precision,
                world_size=world_size,
                seeds=tuple(r.seed for r in rows),
                run_ids=tuple(r.run_id for r in rows),
                summaries=tuple(
                    summarise([(r.seed, r.run_id, r.values[i]) for r in rows], confidence)
                    for i in range(width)
                ),
                noise_floors=tuple(
                    _mean_or_none([(r.noise_floors or (None,) * width)[i] for r in rows])
                    for i in range(width)
                ),
                steps_done=float(np.mean([r.steps_done for r in rows])),
                train_seconds=float(np.mean([r.train_seconds for r in rows])),
                eval_seconds_per_image=_mean_or_none([r.eval_seconds_per_image for r in rows]),
                sampling_steps=max(
                    (r.sampling_steps for r in rows if r.sampling_steps is not None),
                    default=None,
                ),
                devices=tuple(sorted({d for r in rows for d in (r.devices or (r.device,))})),
                replicated_runs=sum(1 for r in rows if len(r.devices) > 1),
                rank=None,
                sample_sizes=tuple(
                    ", ".join(
                        sorted({s for r in rows if r.sample_sizes and (s := r.sample_sizes[i])})
                    )
                    or None
                    for i in range(width)
                ),
            )
        )

    ranked_means: list[float | None] = [None] * len(drafts)
    if group.ranked_by is not None:
        index = group.metrics.index(group.ranked_by)
        scored = [
            (i, summary)
            for i, d in enumerate(drafts)
            if (summary := d.summaries[index]) is not None
        ]
        found = interval_ranks([s.interval for _, s in scored], group.ranked_by.higher_is_better)
        for (i, summary), rank in zip(scored, found, strict=True):
            drafts[i] = dataclasses.replace(drafts[i], rank=rank)
            ranked_means[i] = summary.mean

    sign = -1.0 if group.ranked_by is not None and group.ranked_by.higher_is_better else 1.0

    def order(i: int) -> tuple[Any, ...]:
        d = drafts[i]
        mean = ranked_means[i]
        # Rank, then best mean first, then names: equal inputs always list in the same order.
        return (
            d.rank is None,
            d.rank or 0,
            0.0 if mean is None else sign * mean,
            d.model,
            d.model_version,
            d.model_args,
            d.precision,
            d.world_size,
        )

    entries = tuple(drafts[i] for i in sorted(range(len(drafts)), key=order))
    return AggregatedGroup(
        key=dict(group.key),
        metrics=group.metrics,
        ranked_by=group.ranked_by,
        entries=entries,
        confidence=confidence,
    )


def _as_table(table_or_path: pa.Table | str | Path) -> pa.Table:
    if isinstance(table_or_path, pa.Table):
        return table_or_path
    return read_leaderboard(Path(table_or_path))


def aggregate_groups(
    table: pa.Table | str | Path,
    by: str | None = None,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
) -> list[AggregatedGroup]:
    """Merge the runs of each comparable group over seeds and rank the merged entries.

    Groups, metric columns and the value that counts for a repeated run are exactly those of
    :func:`~medganbench.leaderboard.ranking.ranked_groups`. Within a group, runs with equal model,
    model version, model arguments and precision form one :class:`SeedAggregate`; every run
    counts once, so a seed run twice under two run ids counts twice.

    Each entry is ranked by the group's ``ranked_by`` column with :func:`interval_ranks` on its
    interval: the bootstrap CI for two or more seeds, the point ``(v, v)`` for one seed. Entries
    without a value for that column are unranked (``None``). Order: rank, then mean (best
    first), then model, model version, model arguments and precision; unranked entries last.
    Per-patient (``eval_unit`` ``"volume"``) columns also get the pooled spread between patients.

    Args:
        table: a leaderboard table (see :func:`~medganbench.leaderboard.store.read_leaderboard`) or
            the path of a leaderboard file.
        by: metric name to rank by, as in :func:`~medganbench.leaderboard.ranking.ranked_groups`.
        confidence: coverage of the bootstrap intervals.

    Returns:
        One aggregated group per ranked group, in the same order.

    Raises:
        LeaderboardError: ``table`` lacks leaderboard columns, or the file cannot be read.
        UsageError: ``by`` is not a metric of any group.
    """
    data = _as_table(table)
    patients = patient_values(data)
    groups = [_aggregate(g, confidence) for g in ranked_groups(data, by=by)]
    return [
        dataclasses.replace(
            g,
            entries=tuple(
                dataclasses.replace(e, patient_spreads=column_spreads(patients, e.run_ids, g))
                for e in g.entries
            ),
        )
        for g in groups
    ]


__all__ = [
    "DEFAULT_BOOTSTRAP_SEED",
    "DEFAULT_CONFIDENCE",
    "DEFAULT_RESAMPLES",
    "AggregatedGroup",
    "SeedAggregate",
    "SeedSummary",
    "aggregate_groups",
    "bootstrap_ci",
    "summarise",
]
