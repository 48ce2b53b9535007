"""Comparable groups and the per-run rank rule."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from medganbench.errors import UsageError
from medganbench.leaderboard.columns import MetricColumn
from medganbench.leaderboard.ranking import RankedGroup, ranked_groups
from tests.leaderboard.rows import T0, label, make_row, table_of


def ranks_by_run(group: RankedGroup) -> dict[str, int | None]:
    return {label(row.run_id): row.rank for row in group.rows}


def test_higher_is_better_metric_ranks_larger_value_first() -> None:
    table = table_of(
        make_row(run_id="low", model="identity", value=18.0),
        make_row(run_id="high", model="lookup", value=25.0),
    )
    (group,) = ranked_groups(table)
    assert [label(r.run_id) for r in group.rows] == ["high", "low"]
    assert ranks_by_run(group) == {"high": 1, "low": 2}


def test_lower_is_better_metric_ranks_smaller_value_first() -> None:
    mae = {"metric": "mae", "higher_is_better": False}
    table = table_of(
        make_row(run_id="low", value=0.1, **mae),
        make_row(run_id="high", value=0.4, **mae),
    )
    (group,) = ranked_groups(table)
    assert [label(r.run_id) for r in group.rows] == ["low", "high"]
    assert group.ranked_by == MetricColumn("mae", "1", False)


def test_by_selects_the_ranking_metric_and_values_line_up_with_columns() -> None:
    table = table_of(
        make_row(run_id="r1", metric="psnr", value=25.0),
        make_row(run_id="r1", metric="mae", value=0.3, higher_is_better=False),
        make_row(run_id="r2", metric="psnr", value=20.0),
        make_row(run_id="r2", metric="mae", value=0.1, higher_is_better=False),
    )
    (by_default,) = ranked_groups(table)
    (by_mae,) = ranked_groups(table, by="mae")
    assert [c.metric for c in by_default.metrics] == ["psnr", "mae"]
    assert [label(r.run_id) for r in by_default.rows] == ["r1", "r2"]  # first metric: psnr
    assert [label(r.run_id) for r in by_mae.rows] == ["r2", "r1"]
    assert by_mae.rows[0].values == (20.0, 0.1)


@pytest.mark.parametrize(
    ("column", "other"),
    [
        ("image_size", 128),
        ("budget_steps", 600),
        ("budget_seconds", 60.0),
        ("dataset_fingerprint", "ffffffffffff"),
        ("eval_split", "val"),
        ("direction", "b2a"),
    ],
)
def test_rows_differing_in_a_comparable_key_land_in_different_groups(
    column: str, other: Any
) -> None:
    table = table_of(
        make_row(run_id="r1", value=20.0), make_row(run_id="r2", value=30.0, **{column: other})
    )
    groups = ranked_groups(table)
    assert len(groups) == 2
    assert sorted(g.key[column] for g in groups if g.key[column] is not None) == sorted(
        v for v in (make_row()[column], other) if v is not None
    )
    # Each run is alone in its group, so each is first: never ranked against the other.
    assert all(len(g.rows) == 1 and g.rows[0].rank == 1 for g in groups)


def test_different_metric_versions_are_separate_columns_never_ranked_together() -> None:
    table = table_of(
        make_row(run_id="old", metric_version="1", value=30.0),
        make_row(run_id="new", metric_version="2", value=20.0),
    )
    (group,) = ranked_groups(table)
    assert [(c.metric, c.version) for c in group.metrics] == [("psnr", "1"), ("psnr", "2")]
    # Ranked by psnr v1: only "old" has it; "new" is unranked and listed last.
    assert [(label(r.run_id), r.rank) for r in group.rows] == [("old", 1), ("new", None)]
    assert group.rows[1].values == (None, 20.0)


def test_ties_share_a_rank_competition_style() -> None:
    table = table_of(
        make_row(run_id="a", value=30.0),
        make_row(run_id="b", value=25.0),
        make_row(run_id="c", value=25.0),
        make_row(run_id="d", value=10.0),
    )
    (group,) = ranked_groups(table)
    assert [r.rank for r in group.rows] == [1, 2, 2, 4]


def test_only_ok_rows_are_ranked() -> None:
    table = table_of(
        make_row(run_id="good", value=20.0),
        make_row(run_id="failed", value=99.0, status="failed"),
    )
    (group,) = ranked_groups(table)
    assert [label(r.run_id) for r in group.rows] == ["good"]


def test_run_without_ranking_metric_is_unranked_and_last() -> None:
    table = table_of(
        make_row(run_id="nan", model="aaa", value=float("nan")),
        make_row(run_id="scored", model="zzz", value=20.0),
    )
    (group,) = ranked_groups(table)
    assert [(label(r.run_id), r.rank) for r in group.rows] == [("scored", 1), ("nan", None)]


def test_repeated_run_uses_latest_value() -> None:
    table = table_of(
        make_row(run_id="r1", value=10.0, created_at=T0),
        make_row(run_id="r1", value=12.0, created_at=T0 + timedelta(hours=1)),
    )
    (group,) = ranked_groups(table)
    assert len(group.rows) == 1 and group.rows[0].values == (12.0,)


def test_unknown_by_raises_usage_error_listing_metrics() -> None:
    table = table_of(
        make_row(metric="psnr"), make_row(run_id="x", metric="mae", higher_is_better=False)
    )
    with pytest.raises(UsageError) as info:
        ranked_groups(table, by="fid")
    assert "mae" in str(info.value) and "psnr" in str(info.value)


def test_metric_arguments_make_separate_columns() -> None:
    table = table_of(
        make_row(
            run_id="r1",
            metric="lpips",
            metric_args='{"net":"alex"}',
            value=0.2,
            higher_is_better=False,
        ),
        make_row(
            run_id="r2",
            metric="lpips",
            metric_args='{"net":"vgg"}',
            value=0.1,
            higher_is_better=False,
        ),
    )
    (group,) = ranked_groups(table)
    assert [c.label for c in group.metrics] == ["lpips ↓ (v1, net=alex)", "lpips ↓ (v1, net=vgg)"]
    # Ranked by the alex column only: the vgg run has no alex value, so it is unranked.
    assert [(label(r.run_id), r.rank) for r in group.rows] == [("r1", 1), ("r2", None)]


# ------------------------------------------------------------------------------- replicates

_XEON = "cpu; Intel(R) Xeon(R) Processor; AVX512; 2 threads; torch 2.14.1"
_EPYC = "cpu; AMD EPYC 7B13; AVX2; 2 threads; torch 2.14.1"


def test_a_run_from_two_devices_counts_once_at_the_mean_of_its_replicates() -> None:
    table = table_of(
        make_row(run_id="r", device=_XEON, value=21.0),
        make_row(run_id="r", device=_EPYC, value=22.0),
        make_row(run_id="s", model="lookup", device=_XEON, value=21.6),
    )
    (group,) = ranked_groups(table)
    assert [label(r.run_id) for r in group.rows] == ["s", "r"]  # 21.6 beats the mean 21.5
    replicated = group.rows[1]
    assert replicated.values == (21.5,) and replicated.devices == (_EPYC, _XEON)
    (spread,) = replicated.replicates
    assert spread is not None and (spread.n, spread.low, spread.high) == (2, 21.0, 22.0)
    assert group.rows[0].replicates == (None,)


def test_within_one_device_the_latest_row_of_a_run_still_wins() -> None:
    table = table_of(
        make_row(run_id="r", device=_XEON, value=20.0, created_at=T0),
        make_row(run_id="r", device=_XEON, value=23.0, created_at=T0 + timedelta(hours=1)),
        make_row(run_id="r", device=_EPYC, value=21.0),
    )
    (group,) = ranked_groups(table)
    assert group.rows[0].values == (22.0,)  # mean of 23 (latest on the Xeon) and 21


def test_a_run_trained_in_two_precisions_is_two_entries_never_averaged() -> None:
    table = table_of(
        make_row(run_id="r", device=_XEON, precision="fp32", value=21.0),
        make_row(run_id="r", device=_XEON, precision="bf16-mixed", value=23.0),
    )
    (group,) = ranked_groups(table)
    entries = sorted((r.precision, r.values, r.rank) for r in group.rows)
    assert entries == [("bf16-mixed", (23.0,), 1), ("fp32", (21.0,), 2)]
