"""The spread between patients of per-patient (``eval_unit=volume``) rows, pooled over seeds.

A volume row's (``eval_unit`` ``"volume"``) value is a mean over test patients; its
``metric_details`` hold every patient's value (:mod:`medganbench.core.volumes`). Seeds tell how much a model's mean moves from one
training to the next; the patients tell how much one model's result varies from one patient to
the next, which a mean over seeds hides. :func:`patient_values` reads the per-patient values of
every run's volume rows, and :func:`pooled_spread` pools them over a configuration's seeds into
one standard deviation between patients.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from medganbench.leaderboard.columns import MetricColumn
from medganbench.leaderboard.schema import rows_from_table

__all__ = ["PatientKey", "PatientSpread", "column_spreads", "patient_values", "pooled_spread"]

#: ``(run_id, direction, column)``: where a run's per-patient values of one column are.
PatientKey = tuple[str, str, MetricColumn]


class _Group(Protocol):
    """What :func:`column_spreads` needs of a group (a ranked or aggregated one)."""

    @property
    def key(self) -> dict[str, Any]: ...

    @property
    def metrics(self) -> tuple[MetricColumn, ...]: ...


@dataclass(frozen=True)
class PatientSpread:
    """How one configuration's per-patient values spread, over its seeds.

    Attributes:
        n_patients: patients per run (the smallest number, if runs differ).
        sd: pooled standard deviation between patients,
            ``sqrt(sum_r sum_p (x_rp - mean_r)^2 / sum_r (n_r - 1))`` over runs ``r`` and their
            finite patient values ``x_rp``: the spread between patients within a run, not the
            spread of the runs' means; ``None`` when no run has two patients.
        n_runs: the runs it pools.
    """

    n_patients: int
    sd: float | None
    n_runs: int


def patient_values(table: pa.Table) -> dict[PatientKey, list[float]]:
    """The finite per-patient values of every ``status == "ok"`` row with ``eval_unit`` ``"volume"``.

    As in :func:`~medganbench.leaderboard.ranking.ranked_groups`, when a run has several rows
    for one column the most recent (``created_at``) counts. Rows whose details hold no
    per-patient values are left out.
    """
    latest: dict[PatientKey, tuple[datetime, list[float]]] = {}
    ok = table.filter(pc.equal(table["status"], "ok"))
    for row in rows_from_table(ok):
        try:
            details = json.loads(row.metric_details)
        except ValueError:
            continue
        patients = details.get("patients") if isinstance(details, dict) else None
        if row.eval_unit != "volume" or not isinstance(patients, Mapping):
            continue
        values = [
            float(v)
            for v in patients.values()
            if isinstance(v, int | float) and math.isfinite(float(v))
        ]
        column = MetricColumn.of(row)
        key = (row.run_id, row.direction, column)
        if key not in latest or row.created_at >= latest[key][0]:
            latest[key] = (row.created_at, values)
    return {k: v for k, (_, v) in latest.items()}


def pooled_spread(runs: Sequence[Sequence[float]]) -> PatientSpread | None:
    """Pool the per-patient values of several runs (see :class:`PatientSpread`).

    Returns:
        ``None`` when no run has a patient value.
    """
    kept = [list(r) for r in runs if r]
    if not kept:
        return None
    squares = sum(sum((x - sum(r) / len(r)) ** 2 for x in r) for r in kept)
    freedom = sum(len(r) - 1 for r in kept)
    return PatientSpread(
        n_patients=min(len(r) for r in kept),
        sd=math.sqrt(squares / freedom) if freedom else None,
        n_runs=len(kept),
    )


def column_spreads(
    patients: Mapping[PatientKey, list[float]], run_ids: Sequence[str], group: _Group
) -> tuple[PatientSpread | None, ...]:
    """Per column of ``group``, the :func:`pooled_spread` of ``run_ids``' per-patient values
    (``None`` for a column without any)."""
    direction = str(group.key["direction"])
    return tuple(
        pooled_spread([patients[k] for r in run_ids if (k := (r, direction, c)) in patients])
        for c in group.metrics
    )
